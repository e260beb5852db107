/** Shared fixtures of the widget tests: a capabilities answer and notebook environments. */
import type { Capabilities, Environment } from '../src/api/types';

export const caps: Capabilities = {
  backends: [
    { name: 'indexed', apiVersion: 'batch/v1', kind: 'Job', creates: ['Job', 'Service'], needsOperator: false, available: true, procsPerWorker: true, gpus: true, chief: false, queue: true, maxWorkers: null, reservedEnv: [], reservedEnvPrefixes: [] },
    { name: 'mpi', apiVersion: 'kubeflow.org/v1', kind: 'MPIJob', creates: ['MPIJob'], needsOperator: true, available: true, procsPerWorker: false, gpus: true, chief: false, queue: false, maxWorkers: null, reservedEnv: [], reservedEnvPrefixes: [] },
    { name: 'tf', apiVersion: 'kubeflow.org/v1', kind: 'TFJob', creates: ['TFJob'], needsOperator: true, available: false, procsPerWorker: true, gpus: true, chief: true, maxWorkers: null, reservedEnv: [], reservedEnvPrefixes: [] }
  ],
  defaults: { backend: 'indexed', image: 'quay.io/jupyter/scipy-notebook:2025-01-01' },
  specSchema: {}
};

export const env: Environment = {
  username: 'alice@example.org',
  namespace: 'teamhub-alice',
  pod: 'jupyter-alice',
  image: 'quay.io/jupyter/scipy-notebook:2025-01-01',
  workingDir: '/home/jovyan',
  teams: ['vision', 'nlp'],
  volumes: [
    { name: 'vision-data', scope: 'vision', mountPath: '/teams/vision/data', readOnly: false },
    { name: 'imagenet', scope: 'global', mountPath: '/datasets/imagenet', readOnly: true, capacity: '1Ti' }
  ],
  mounts: [],
  credentials: [{ name: 'wandb', team: 'vision', mountPath: '/var/run/teamhub/credentials/wandb', keys: ['api-key'], env: ['WANDB_API_KEY'] }],
  env: ['TEAMHUB_TEAMS'],
  profiles: ['cpu-small', 'gpu-a100'],
  images: ['quay.io/jupyter/pytorch-notebook:2025-01-01', 'ghcr.io/acme/*'],
  quota: { cpu: '16', memory: '64Gi', gpus: '2', pods: null }
};

/** `env` on a hub that uses Kueue, reporting what is in use of the quota. */
export const kueueEnv: Environment = {
  ...env,
  quota: { cpu: '32', memory: '64Gi', gpus: null, pods: '20' },
  quotaUsed: { cpu: '2500m', memory: '3Gi', gpus: '0', pods: '3' },
  queues: [
    { name: 'vision', clusterQueue: 'team-vision' },
    { name: 'nlp', clusterQueue: 'team-nlp' }
  ]
};

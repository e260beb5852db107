/**
 * The REST API's shapes (`{base_url}/teamhub/api/`), as `teamhub.server.models` sends them:
 * camelCase keys, like the Kubernetes API. A submission body uses JobSpec's own field names
 * (`procs_per_worker`), the same as the Python API and the `%%job` magic.
 */

export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Cancelled';
export const PHASES: readonly Phase[] = ['Pending', 'Running', 'Succeeded', 'Failed', 'Cancelled'];
export type BackendName = 'indexed' | 'pytorch' | 'tf' | 'mpi';

/** A Kubernetes condition of the job's workload. */
export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface JobStatus {
  phase: Phase;
  reason?: string | null;
  message?: string | null;
  /** Pods running and ready / pods the job runs. */
  ready: number;
  total: number;
  conditions: Condition[];
  replicas: Record<string, Record<string, number>>;
  startTime?: string | null;
  completionTime?: string | null;
  finished: boolean;
}

export interface JobPod {
  name: string;
  /** `worker-1`, `master-0`, `launcher`, `rank-3`: the log prefix. */
  replica: string;
  role: string;
  index: number;
  rank?: number | null;
  phase: string;
  ready: boolean;
  restarts: number;
  node?: string | null;
  created: string;
  reason?: string | null;
  message?: string | null;
}

export interface Job {
  name: string;
  namespace: string;
  backend: string;
  kind: string;
  submission: string;
  uid?: string | null;
  created: string;
  cancelled: boolean;
  /** The spec summary it was submitted with (no code text, env names only). */
  spec: Record<string, unknown>;
  status?: JobStatus | null;
  pods?: JobPod[] | null;
}

export interface JobList {
  jobs: Job[];
}

export interface JobEvent {
  time: string;
  type: string;
  reason: string;
  message: string;
  object: string;
  replica?: string | null;
  count: number;
  /** Why the job is stuck, in plain words (unschedulable, quota, image pull...). */
  explanation?: string | null;
}

export interface EventList {
  events: JobEvent[];
}

/** The body of `POST jobs` (JobSpec's fields; leave a field out for its default). */
export interface JobSpecInput {
  backend?: BackendName;
  script?: string;
  source?: string;
  command?: string | string[];
  workers?: number;
  procs_per_worker?: number;
  cpu?: string;
  memory?: string;
  gpus?: number;
  image?: string;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  deadline?: number;
  name?: string;
  chief?: boolean;
  working_dir?: string;
  /**
   * The Kueue LocalQueue the job waits in: one of `Environment.queues`' names. Left out:
   * the first of the user's queues (none if they have none, or if the backend is one Kueue
   * does not queue); `""`: no queue.
   */
  queue?: string;
}

export interface FieldError {
  /** The spec field (`workers`, `env.FOO`...), `""` for the whole request. */
  field: string;
  message: string;
}

/** Every error response of the API. */
export interface ErrorBody {
  message: string;
  reason?: string | null;
  errors?: FieldError[] | null;
  leftovers?: string[] | null;
  kubeStatus?: number | null;
  kubeReason?: string | null;
}

export interface Volume {
  name: string;
  /** The team, or `global`. */
  scope: string;
  mountPath: string;
  readOnly: boolean;
  capacity?: string | null;
}

export interface Mount {
  name: string;
  mountPath: string;
  readOnly: boolean;
  subPath?: string | null;
}

export interface Credential {
  name: string;
  team: string;
  mountPath: string;
  keys?: string[] | null;
  env: string[];
}

/** Quota limits, or what is in use (Kubernetes quantities); null: no limit. */
export interface Quota {
  cpu?: string | null;
  memory?: string | null;
  gpus?: string | null;
  pods?: string | null;
}

/** A Kueue LocalQueue in the user's namespace (one per team with a ClusterQueue). */
export interface Queue {
  name: string;
  /** The ClusterQueue behind it (the team's share of the cluster). */
  clusterQueue: string;
}

export interface Environment {
  username: string;
  namespace: string;
  pod: string;
  image: string;
  workingDir?: string | null;
  teams: string[];
  volumes: Volume[];
  mounts: Mount[];
  credentials: Credential[];
  env: string[];
  profiles: string[];
  /** fnmatch patterns of the images the user may run; null: any image. */
  images?: string[] | null;
  quota: Quota;
  /**
   * What the namespace's running and pending pods take now (notebook included), with the
   * same keys and format as `quota`; absent from servers that do not report it.
   */
  quotaUsed?: Quota | null;
  /** Kueue queues jobs may wait in (empty when the hub does not use Kueue). */
  queues?: Queue[];
}

export interface BackendInfo {
  name: string;
  apiVersion: string;
  kind: string;
  creates: string[];
  needsOperator: boolean;
  /** Whether the cluster serves its kind (null: could not tell). */
  available?: boolean | null;
  procsPerWorker: boolean;
  gpus: boolean;
  chief: boolean;
  /** Whether Kueue queues this backend's workloads (the spec's `queue`); absent: true. */
  queue?: boolean;
  maxWorkers?: number | null;
  reservedEnv: string[];
  reservedEnvPrefixes: string[];
}

export interface Capabilities {
  backends: BackendInfo[];
  defaults: { backend: string; image: string; workingDir?: string | null };
  specSchema: Record<string, unknown>;
}

/** `GET jobs/{name}/logs` parameters. */
export interface LogOptions {
  /** Replica names (`worker-1`), roles or pod names; default every rank, merged. */
  replica?: string | string[];
  follow?: boolean;
  /** The last N lines of each container. */
  tail?: number;
  /** Seconds, or an RFC 3339 time. */
  since?: number | string;
  previous?: boolean;
  timestamps?: boolean;
  /** Start each line with `[replica] ` (the server's default is true). */
  prefix?: boolean;
}

import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { TeamhubClient } from '../src/api/client';
import type { Capabilities, Environment, Job, JobEvent } from '../src/api/types';
import { activeWarnings, isCodeMountWarning, timelineEvents } from '../src/stores/events';
import { JobsStore } from '../src/stores/jobs';
import { JobDetail } from '../src/widgets/detail';
import { JobsSidebar } from '../src/widgets/sidebar';
import { SubmitForm, buildSpec, cellValues, defaultValues, imageChoices, problemsByField, queueChoices } from '../src/widgets/submit';
import type { SubmitValues } from '../src/widgets/submit';
import { submitFlow } from '../src/widgets/submitflow';
import { TeamPanel, quotaRows } from '../src/widgets/team';
import { fakeServer, job, json, settle, status, textStream } from './helpers';

const poll = { interval: 1000, maxInterval: 4000, backoff: 2 };
const NOW = Date.parse('2025-01-01T12:05:00Z');

afterEach(() => {
  document.body.replaceChildren();
});

const caps: Capabilities = {
  backends: [
    { name: 'indexed', apiVersion: 'batch/v1', kind: 'Job', creates: ['Job', 'Service'], needsOperator: false, available: true, procsPerWorker: true, gpus: true, chief: false, queue: true, maxWorkers: null, reservedEnv: [], reservedEnvPrefixes: [] },
    { name: 'mpi', apiVersion: 'kubeflow.org/v1', kind: 'MPIJob', creates: ['MPIJob'], needsOperator: true, available: true, procsPerWorker: false, gpus: true, chief: false, queue: false, maxWorkers: null, reservedEnv: [], reservedEnvPrefixes: [] },
    { name: 'tf', apiVersion: 'kubeflow.org/v1', kind: 'TFJob', creates: ['TFJob'], needsOperator: true, available: false, procsPerWorker: true, gpus: true, chief: true, maxWorkers: null, reservedEnv: [], reservedEnvPrefixes: [] }
  ],
  defaults: { backend: 'indexed', image: 'quay.io/jupyter/scipy-notebook:2025-01-01' },
  specSchema: {}
};

const env: Environment = {
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
const kueueEnv: Environment = {
  ...env,
  quota: { cpu: '32', memory: '64Gi', gpus: null, pods: '20' },
  quotaUsed: { cpu: '2500m', memory: '3Gi', gpus: '0', pods: '3' },
  queues: [
    { name: 'vision', clusterQueue: 'team-vision' },
    { name: 'nlp', clusterQueue: 'team-nlp' }
  ]
};

function sidebarWith(jobs: () => Job[]) {
  const server = fakeServer(call => {
    if (call.path === 'jobs' && call.method === 'GET') {
      return json({ jobs: jobs() });
    }
    if (call.method === 'DELETE') {
      return new Response(null, { status: 204 });
    }
    return json(job('x', 'Cancelled'));
  });
  const store = new JobsStore(new TeamhubClient(server.fetcher), poll);
  const openJob = vi.fn();
  const confirm = vi.fn(() => Promise.resolve(true));
  const showError = vi.fn();
  const sidebar = new JobsSidebar({ store, openJob, confirm, showError, submit: vi.fn(), now: () => NOW });
  return { sidebar, store, server, openJob, confirm, showError };
}

describe('JobsSidebar', () => {
  it('lists jobs with backend, age, ready/total and a badge; a pending job says why', async () => {
    const { sidebar, store } = sidebarWith(() => [
      job('bert', 'Running'),
      job('big', 'Pending', {
        status: status('Pending', { reason: 'Unschedulable', message: 'worker-0: unschedulable: 0/1 nodes have 8 free nvidia.com/gpu' })
      }),
      job('<img src=x onerror=alert(1)>', 'Succeeded')
    ]);
    Widget.attach(sidebar, document.body);
    await store.refresh();
    const items = sidebar.node.querySelectorAll('.teamhub-JobsSidebar-item');
    expect(items).toHaveLength(3);
    const first = items[0]!;
    expect(first.querySelector('.teamhub-JobsSidebar-backend')!.textContent).toBe('pytorch');
    expect(first.querySelector('.teamhub-JobsSidebar-age')!.textContent).toBe('5m');
    expect(first.querySelector('.teamhub-JobsSidebar-replicas')!.textContent).toBe('2/2 ready');
    expect(first.querySelector('.teamhub-badge')!.textContent).toBe('Running');
    const pending = items[1]!;
    expect(pending.querySelector('.teamhub-badge')!.textContent).toBe('Pending: Unschedulable');
    expect(pending.querySelector('.teamhub-badge-pending')).not.toBeNull();
    expect(pending.querySelector('.teamhub-JobsSidebar-why')!.textContent).toMatch(/8 free nvidia.com\/gpu/);
    // A name is text, never markup.
    expect(items[2]!.querySelector('img')).toBeNull();
    expect(items[2]!.querySelector('.teamhub-JobsSidebar-name')!.textContent).toBe('<img src=x onerror=alert(1)>');
    // Finished jobs cannot be cancelled.
    expect(items[2]!.querySelector<HTMLButtonElement>('.teamhub-action-cancel')!.disabled).toBe(true);
    sidebar.dispose();
    store.dispose();
  });

  it('polls only while shown', async () => {
    vi.useFakeTimers();
    try {
      const { sidebar, store, server } = sidebarWith(() => [job('a')]);
      Widget.attach(sidebar, document.body);
      await vi.advanceTimersByTimeAsync(0);
      expect(server.calls).toHaveLength(1);
      sidebar.hide();
      await vi.advanceTimersByTimeAsync(60000);
      expect(server.calls).toHaveLength(1);
      sidebar.show();
      await vi.advanceTimersByTimeAsync(0);
      expect(server.calls).toHaveLength(2);
      sidebar.dispose();
      store.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it('filters by search text and phase chips', async () => {
    const { sidebar, store } = sidebarWith(() => [job('alpha', 'Running'), job('beta', 'Failed'), job('gamma', 'Pending')]);
    Widget.attach(sidebar, document.body);
    await store.refresh();
    const search = sidebar.node.querySelector<HTMLInputElement>('input[type=search]')!;
    expect(search.getAttribute('aria-label')).toBe('Search jobs');
    search.value = 'ta';
    search.dispatchEvent(new Event('input'));
    const names = () => [...sidebar.node.querySelectorAll('.teamhub-JobsSidebar-name')].map(n => n.textContent);
    expect(names()).toEqual(['beta']);
    search.value = '';
    search.dispatchEvent(new Event('input'));
    const chip = [...sidebar.node.querySelectorAll<HTMLButtonElement>('.teamhub-chip')].find(c => c.textContent === 'Pending')!;
    chip.click();
    expect(chip.getAttribute('aria-pressed')).toBe('true');
    expect(names()).toEqual(['gamma']);
    search.value = 'nothing-like-this';
    search.dispatchEvent(new Event('input'));
    expect(sidebar.node.querySelector('.teamhub-JobsSidebar-status')!.textContent).toBe('No job matches the filter.');
    sidebar.dispose();
    store.dispose();
  });

  it('cancels after confirming, deletes, and opens logs', async () => {
    let jobs = [job('train', 'Running')];
    const { sidebar, store, server, openJob, confirm } = sidebarWith(() => jobs);
    Widget.attach(sidebar, document.body);
    await store.refresh();
    const button = (cls: string) => sidebar.node.querySelector<HTMLButtonElement>(`.teamhub-action-${cls}`)!;
    expect(button('cancel').getAttribute('aria-label')).toBe('Cancel job train');
    button('logs').click();
    expect(openJob).toHaveBeenCalledWith('train');
    button('cancel').click();
    await settle(20);
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(server.calls.some(c => c.method === 'POST' && c.path === 'jobs/train/cancel')).toBe(true);
    jobs = [];
    button('delete').click();
    await settle(20);
    expect(server.calls.some(c => c.method === 'DELETE' && c.path === 'jobs/train')).toBe(true);
    expect(sidebar.node.querySelectorAll('.teamhub-JobsSidebar-item')).toHaveLength(0);
    sidebar.dispose();
    store.dispose();
  });

  it('does nothing when the user does not confirm, and shows action errors', async () => {
    const server = fakeServer(call =>
      call.method === 'GET' ? json({ jobs: [job('t')] }) : json({ message: 'the Kubernetes API refused', reason: 'KubernetesApiError' }, 502)
    );
    const store = new JobsStore(new TeamhubClient(server.fetcher), poll);
    const confirm = vi.fn().mockResolvedValueOnce(false).mockResolvedValueOnce(true);
    const showError = vi.fn();
    const sidebar = new JobsSidebar({ store, openJob: vi.fn(), confirm, showError });
    Widget.attach(sidebar, document.body);
    await store.refresh();
    sidebar.node.querySelector<HTMLButtonElement>('.teamhub-action-cancel')!.click();
    await settle(20);
    expect(server.calls.filter(c => c.method === 'POST')).toHaveLength(0);
    sidebar.node.querySelector<HTMLButtonElement>('.teamhub-action-cancel')!.click();
    await settle(20);
    expect(showError).toHaveBeenCalledWith('Could not cancel t', expect.objectContaining({ message: 'the Kubernetes API refused' }));
    sidebar.dispose();
    store.dispose();
  });

  it('shows a listing error as an alert', async () => {
    const server = fakeServer(() => json({ message: 'this server cannot run jobs: not a teamhub pod' }, 503));
    const store = new JobsStore(new TeamhubClient(server.fetcher), poll);
    const sidebar = new JobsSidebar({ store, openJob: vi.fn(), confirm: vi.fn(), showError: vi.fn() });
    await store.refresh().catch(() => undefined);
    const status = sidebar.node.querySelector('.teamhub-JobsSidebar-status')!;
    expect(status.getAttribute('role')).toBe('alert');
    expect(status.textContent).toBe('Could not list jobs: this server cannot run jobs: not a teamhub pod');
    sidebar.dispose();
    store.dispose();
  });
});

describe('submit form', () => {
  const values = (over: Partial<SubmitValues> = {}): SubmitValues => ({ ...defaultValues(caps), program: 'python train.py', ...over });

  it('builds the request body with JobSpec field names, leaving empty fields out', () => {
    const { spec, problems } = buildSpec(
      values({ workers: '4', procs_per_worker: '2', gpus: '1', cpu: '2', memory: '8Gi', env: 'A=1\n# comment\nB=x=y\n', queue: 'team-a', deadline: '3600' })
    );
    expect(problems).toEqual({});
    expect(spec).toEqual({
      backend: 'indexed',
      command: 'python train.py',
      workers: 4,
      procs_per_worker: 2,
      gpus: 1,
      cpu: '2',
      memory: '8Gi',
      env: { A: '1', B: 'x=y' },
      queue: 'team-a',
      deadline: 3600
    });
    expect(buildSpec(values({ programKind: 'script', program: 'train.py' })).spec.script).toBe('train.py');
  });

  it('sends code (a notebook cell) as the source, exactly as written', () => {
    const code = 'import os\n\nif True:\n    print(os.environ["RANK"])\n';
    expect(buildSpec(values({ programKind: 'source', program: code })).spec).toEqual({
      backend: 'indexed',
      source: code,
      workers: 2,
      procs_per_worker: 1,
      gpus: 0
    });
    expect(buildSpec(values({ programKind: 'source', program: '\n  ' })).problems.program).toEqual(['give the code to run']);
  });

  it('prefills the code of a code cell, and nothing from other cells', () => {
    expect(cellValues('code', 'print(1)\n')).toEqual({ programKind: 'source', program: 'print(1)\n' });
    expect(cellValues('code', '   \n')).toEqual({});
    expect(cellValues('markdown', '# notes')).toEqual({});
  });

  it('edits code in a text area, whose label and error slot follow the kind of program', () => {
    const form = new SubmitForm(values({ programKind: 'source', program: 'print("cell")' }), caps, env, {
      program: ['SyntaxError']
    });
    Widget.attach(form, document.body);
    const code = form.control('program');
    expect(code.tagName).toBe('TEXTAREA');
    expect(code.hidden).toBe(false);
    expect(code.value).toBe('print("cell")');
    expect(form.node.querySelector(`label[for="${code.id}"]`)?.textContent).toBe('Run');
    expect(code.getAttribute('aria-invalid')).toBe('true');
    expect(form.getValue()).toMatchObject({ programKind: 'source', program: 'print("cell")' });

    const kind = form.node.querySelector<HTMLSelectElement>('select[aria-label="What to run"]')!;
    kind.value = 'command';
    kind.dispatchEvent(new Event('change'));
    const line = form.control('program');
    expect(line.tagName).toBe('INPUT');
    expect([line.hidden, code.hidden, code.id]).toEqual([false, true, '']);
    expect(form.node.querySelector(`label[for="${line.id}"]`)?.textContent).toBe('Run');
    expect(line.getAttribute('aria-invalid')).toBe('true');
    (line as HTMLInputElement).value = 'python train.py';
    expect(form.getValue()).toMatchObject({ programKind: 'command', program: 'python train.py' });
    form.dispose();
  });

  it('reports what cannot be sent at all (not numbers, env lines, nothing to run)', () => {
    const { problems } = buildSpec(values({ program: ' ', workers: 'two', env: 'NOEQUALS' }));
    expect(problems.program).toEqual(['give a command to run']);
    expect(problems.workers).toEqual(['must be a whole number (got "two")']);
    expect(problems.env?.[0]).toMatch(/line 1: write NAME=value/);
    // Negative numbers go to the server, whose message is the one shown.
    expect(buildSpec(values({ workers: '-1' })).spec.workers).toBe(-1);
  });

  it('maps server fields to form fields', () => {
    expect(
      problemsByField([
        { field: 'workers', message: 'must be at least 1 (got 0)' },
        { field: 'env.1X', message: 'bad name' },
        { field: 'queue', message: 'bad queue' },
        { field: 'command', message: 'empty' },
        { field: 'mystery', message: 'huh' },
        { field: '', message: 'whole request' }
      ])
    ).toEqual({
      workers: ['must be at least 1 (got 0)'],
      env: ['bad name'],
      queue: ['bad queue'],
      program: ['empty'],
      '': ['mystery: huh', 'whole request']
    });
  });

  it('offers the notebook image and allowed images, and disables what a backend cannot do', () => {
    expect(imageChoices(env).map(i => i.value)).toEqual(['', 'quay.io/jupyter/pytorch-notebook:2025-01-01']);
    const form = new SubmitForm(values(), caps, env);
    Widget.attach(form, document.body);
    const backend = form.control('backend') as HTMLSelectElement;
    expect([...backend.options].map(o => [o.value, o.disabled])).toEqual([
      ['indexed', false],
      ['mpi', false],
      ['tf', true]
    ]);
    backend.value = 'mpi';
    backend.dispatchEvent(new Event('change'));
    expect(form.control('procs_per_worker').disabled).toBe(true);
    expect(form.getValue().procs_per_worker).toBe('');
    expect(form.node.textContent).toContain('Your teams also allow: ghcr.io/acme/*');
    // Every control has a label and a description slot for errors.
    for (const c of form.node.querySelectorAll('input, select, textarea')) {
      const labelled = form.node.querySelector(`label[for="${c.id}"]`) ?? c.getAttribute('aria-label');
      expect(labelled).toBeTruthy();
    }
    form.dispose();
  });

  it('shows server messages beside their fields and keeps what the user typed', async () => {
    const server = fakeServer(call => {
      const body = call.body as { workers: number; gpus?: number };
      if (body.workers < 1) {
        return json({ message: 'workers: must be at least 1 (got 0)', reason: 'InvalidJobSpec', errors: [{ field: 'workers', message: 'must be at least 1 (got 0)' }] }, 400);
      }
      if ((body.gpus ?? 0) > 2) {
        return json({ message: 'quota', reason: 'QuotaExceeded', errors: [{ field: 'gpus', message: '4 GPUs exceed your quota of 2' }] }, 422);
      }
      return json(job('made'), 201);
    });
    const client = new TeamhubClient(server.fetcher);
    const seen: { workers: string; workersError: string; gpusError: string; invalid: string | null }[] = [];
    const answers: ((form: SubmitForm) => SubmitValues)[] = [
      form => ({ ...form.getValue(), program: 'python train.py', workers: '0' }),
      form => ({ ...form.getValue(), workers: '2', gpus: '4' }),
      form => ({ ...form.getValue(), gpus: '1' })
    ];
    const result = await submitFlow(client, caps, env, defaultValues(caps), form => {
      seen.push({
        workers: form.getValue().workers,
        workersError: form.problemText('workers'),
        gpusError: form.problemText('gpus'),
        invalid: form.control('workers').getAttribute('aria-invalid')
      });
      const answer = answers.shift();
      return Promise.resolve(answer ? answer(form) : null);
    });
    expect(result?.name).toBe('made');
    expect(seen).toEqual([
      { workers: '2', workersError: '', gpusError: '', invalid: null },
      { workers: '0', workersError: 'must be at least 1 (got 0)', gpusError: '', invalid: 'true' },
      { workers: '2', workersError: '', gpusError: '4 GPUs exceed your quota of 2', invalid: null }
    ]);
    expect(server.calls).toHaveLength(3);
  });

  it('shows an error without fields at the top, and stops on Cancel', async () => {
    const server = fakeServer(() => json({ message: "backend 'mpi' needs the Kubeflow training operator", reason: 'BackendUnavailable' }, 422));
    const texts: string[] = [];
    let n = 0;
    const result = await submitFlow(new TeamhubClient(server.fetcher), caps, env, { ...defaultValues(caps), program: 'x' }, form => {
      texts.push(form.problemText(''));
      return Promise.resolve(n++ === 0 ? form.getValue() : null);
    });
    expect(result).toBeNull();
    expect(texts).toEqual(['', "backend 'mpi' needs the Kubeflow training operator"]);
  });
});

describe('submit form: Kueue queue', () => {
  const values = (over: Partial<SubmitValues> = {}): SubmitValues => ({ ...defaultValues(caps), program: 'python train.py', ...over });
  const queueRow = (form: SubmitForm) => form.node.querySelector<HTMLElement>('.teamhub-SubmitForm-queue')!;
  const help = (form: SubmitForm) => queueRow(form).querySelector('.teamhub-SubmitForm-help')!.textContent;
  const chooseBackend = (form: SubmitForm, name: string) => {
    const backend = form.control('backend');
    backend.value = name;
    backend.dispatchEvent(new Event('change'));
  };

  it('offers each queue with its ClusterQueue, then none; nothing without queues', () => {
    expect(queueChoices(kueueEnv)).toEqual([
      { value: 'vision', label: 'vision (ClusterQueue team-vision)' },
      { value: 'nlp', label: 'nlp (ClusterQueue team-nlp)' },
      { value: '', label: 'none' }
    ]);
    expect(queueChoices(env)).toEqual([]);
    expect(queueChoices({ ...env, queues: [] })).toEqual([]);
    expect(queueChoices(null)).toEqual([]);
  });

  it('selects the first queue by default and sends the choice as `queue`', () => {
    const form = new SubmitForm(values(), caps, kueueEnv);
    Widget.attach(form, document.body);
    const select = form.control('queue') as HTMLSelectElement;
    expect(select.tagName).toBe('SELECT');
    expect(form.node.querySelector(`label[for="${select.id}"]`)?.textContent).toBe('Queue');
    expect([...select.options].map(o => o.textContent)).toEqual(['vision (ClusterQueue team-vision)', 'nlp (ClusterQueue team-nlp)', 'none']);
    expect([queueRow(form).hidden, select.disabled, select.value]).toEqual([false, false, 'vision']);
    expect(buildSpec(form.getValue()).spec.queue).toBe('vision');
    select.value = 'nlp';
    expect(buildSpec(form.getValue()).spec.queue).toBe('nlp');
    // "none" is sent as "" (no queue), not left out (which would mean the first queue).
    select.value = '';
    const { spec } = buildSpec(form.getValue());
    expect('queue' in spec && spec.queue).toBe('');
    expect(spec.labels).toBeUndefined();
    form.dispose();
  });

  it('keeps the choice when the form is shown again, none included', () => {
    for (const queue of ['nlp', '']) {
      const form = new SubmitForm(values({ queue }), caps, kueueEnv);
      expect(form.control('queue').value).toBe(queue);
      expect(form.getValue().queue).toBe(queue);
      form.dispose();
    }
  });

  it('disables the queue, with a hint, for a backend Kueue does not queue, and sends none', () => {
    const form = new SubmitForm(values(), caps, kueueEnv);
    Widget.attach(form, document.body);
    chooseBackend(form, 'mpi');
    const select = form.control('queue');
    expect(select.disabled).toBe(true);
    expect(help(form)).toBe('Kueue does not queue mpi jobs: this one runs without a queue.');
    expect(select.getAttribute('aria-describedby')).toContain(queueRow(form).querySelector('.teamhub-SubmitForm-help')!.id);
    expect(form.getValue().queue).toBeNull();
    expect('queue' in buildSpec(form.getValue()).spec).toBe(false);
    chooseBackend(form, 'indexed');
    expect([select.disabled, form.getValue().queue]).toEqual([false, 'vision']);
    expect(help(form)).toMatch(/ClusterQueue has room/);
    form.dispose();
  });

  it('hides the queue when the user has none, and leaves it out of the request', () => {
    for (const e of [env, { ...env, queues: [] }, null]) {
      const form = new SubmitForm(values(), caps, e);
      Widget.attach(form, document.body);
      expect(queueRow(form).hidden).toBe(true);
      expect(form.control('queue').disabled).toBe(true);
      expect(form.getValue().queue).toBeNull();
      expect('queue' in buildSpec(form.getValue()).spec).toBe(false);
      form.dispose();
    }
  });

  it("shows the server's message about the queue beside the select", async () => {
    const server = fakeServer(call => {
      const body = call.body as { queue?: string };
      if (body.queue === 'nlp') {
        return json(
          { message: 'queue: not one of your queues', reason: 'InvalidJobSpec', errors: [{ field: 'queue', message: "'nlp' is not one of your queues (vision)" }] },
          400
        );
      }
      return json(job('made'), 201);
    });
    const seen: string[] = [];
    const bodies: unknown[] = [];
    let n = 0;
    const result = await submitFlow(new TeamhubClient(server.fetcher), caps, kueueEnv, values(), form => {
      seen.push(form.problemText('queue'));
      const select = form.control('queue');
      if (n++ === 0) {
        select.value = 'nlp';
      } else {
        expect(select.value).toBe('nlp');
        expect(select.getAttribute('aria-invalid')).toBe('true');
        select.value = 'vision';
      }
      return Promise.resolve(form.getValue());
    });
    bodies.push(...server.calls.map(c => (c.body as { queue?: string }).queue));
    expect(result?.name).toBe('made');
    expect(seen).toEqual(['', "'nlp' is not one of your queues (vision)"]);
    expect(bodies).toEqual(['nlp', 'vision']);
  });
});

describe('TeamPanel', () => {
  it('shows teams, volumes, credential names and quota', async () => {
    const { fetcher } = fakeServer(() => json(env));
    const panel = new TeamPanel(new TeamhubClient(fetcher));
    Widget.attach(panel, document.body);
    await settle(20);
    const text = panel.node.textContent ?? '';
    expect(text).toContain('vision');
    expect(text).toContain('/datasets/imagenet imagenet (global) read-only');
    expect(text).toContain('/teams/vision/data vision-data (vision) read-write');
    expect(text).toContain('wandb (vision) files in /var/run/teamhub/credentials/wandb: api-key · env WANDB_API_KEY');
    const quota = [...panel.node.querySelectorAll('.teamhub-TeamPanel-quota tbody tr')].map(r => r.textContent);
    expect(quota).toEqual(['CPU16', 'Memory64Gi', 'GPUs2', 'Podsno limit']);
    expect(panel.node.querySelector('.teamhub-TeamPanel-quota')!.getAttribute('aria-label')).toBe('Quota limits');
    // No Kueue: no Queues section.
    expect([...panel.node.querySelectorAll('h3')].map(t => t.textContent)).not.toContain('Queues');
    panel.dispose();
  });

  it('reads quota figures as used / limit, CPU in cores', () => {
    expect(quotaRows(kueueEnv.quota, kueueEnv.quotaUsed).map(r => [r.label, r.text, r.spoken])).toEqual([
      ['CPU', '2.5 / 32', '2.5 used of 32'],
      ['Memory', '3Gi / 64Gi', '3Gi used of 64Gi'],
      ['GPUs', '0 / no limit', '0 used, no limit'],
      ['Pods', '3 / 20', '3 used of 20']
    ]);
    // Without usage: the limits alone; a resource the quota does not name: no row.
    expect(quotaRows({ cpu: '500m', pods: null }, null).map(r => [r.label, r.text, r.spoken])).toEqual([
      ['CPU', '0.5', 'limit 0.5'],
      ['Pods', 'no limit', 'no limit']
    ]);
  });

  it('shows what is in use of each limit, labelled, and the queues', async () => {
    const { fetcher } = fakeServer(() => json(kueueEnv));
    const panel = new TeamPanel(new TeamhubClient(fetcher));
    Widget.attach(panel, document.body);
    await settle(20);
    const table = panel.node.querySelector('.teamhub-TeamPanel-quota')!;
    expect(table.getAttribute('aria-label')).toBe('Quota: in use now of each limit');
    expect([...table.querySelectorAll('thead th')].map(t => t.textContent)).toEqual(['Resource', 'Used / limit']);
    const rows = [...table.querySelectorAll('tbody tr')];
    expect(rows.map(r => r.textContent)).toEqual(['CPU2.5 / 32', 'Memory3Gi / 64Gi', 'GPUs0 / no limit', 'Pods3 / 20']);
    expect(rows[0]!.querySelector('th')!.getAttribute('scope')).toBe('row');
    expect(rows[0]!.querySelector('td')!.getAttribute('aria-label')).toBe('2.5 used of 32');
    const queues = panel.node.querySelector('ul[aria-label="Queues"]')!;
    expect([...queues.querySelectorAll('li')].map(l => l.textContent)).toEqual([
      'vision (ClusterQueue team-vision)',
      'nlp (ClusterQueue team-nlp)'
    ]);
    expect(queues.closest('section')!.querySelector('h3')!.textContent).toBe('Queues');
    panel.dispose();
  });

  it('reports an error', async () => {
    const { fetcher } = fakeServer(() => json({ message: 'this server cannot run jobs' }, 503));
    const panel = new TeamPanel(new TeamhubClient(fetcher));
    await panel.refresh();
    expect(panel.node.querySelector('[role=alert]')!.textContent).toBe('Could not read your environment: this server cannot run jobs');
    panel.dispose();
  });
});

describe('JobDetail', () => {
  function detailServer() {
    const streams: ReturnType<typeof textStream>[] = [];
    const server = fakeServer(call => {
      if (call.path.startsWith('jobs/train/logs')) {
        const s = textStream();
        streams.push(s);
        return s.response;
      }
      if (call.path === 'jobs/train/events') {
        return json({
          events: [
            { time: '2025-01-01T12:00:01Z', type: 'Warning', reason: 'FailedScheduling', message: '0/1 nodes available', object: 'Pod/train-worker-1', replica: 'worker-1', count: 3, explanation: 'unschedulable: no node can run this pod now' }
          ]
        });
      }
      return json(
        job('train', 'Running', {
          pods: [
            { name: 'train-master-0', replica: 'master-0', role: 'master', index: 0, rank: 0, phase: 'Running', ready: true, restarts: 0, created: '2025-01-01T12:00:00Z' },
            { name: 'train-worker-0', replica: 'worker-0', role: 'worker', index: 0, rank: 1, phase: 'Pending', ready: false, restarts: 0, created: '2025-01-01T12:00:00Z', reason: 'Unschedulable' }
          ]
        })
      );
    });
    return { server, streams };
  }

  it('shows status, events with explanations, and a tab per rank plus merged', async () => {
    const { server, streams } = detailServer();
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'train', poll });
    Widget.attach(detail, document.body);
    await detail.refresh();
    await settle(10);
    expect(detail.node.querySelector('.teamhub-badge')!.textContent).toBe('Running');
    const event = detail.node.querySelector('.teamhub-event-warning')!;
    expect(event.textContent).toContain('FailedScheduling');
    expect(event.querySelector('.teamhub-event-why')!.textContent).toBe('unschedulable: no node can run this pod now');
    expect(detail.node.querySelector('details')!.hasAttribute('open')).toBe(true);
    const tabs = [...detail.node.querySelectorAll<HTMLButtonElement>('[role=tab]')];
    expect(tabs.map(t => t.textContent)).toEqual(['All ranks', 'master-0', 'worker-0']);
    expect(tabs[0]!.getAttribute('aria-selected')).toBe('true');
    // The merged stream was opened, following, with the default tail.
    expect(server.calls.find(c => c.path.includes('/logs'))!.path).toBe('jobs/train/logs?follow=true&prefix=true&tail=1000');
    streams[0]!.push('[master-0] hello <script>x</script>\n[worker-0] hi\n');
    await settle(10);
    await new Promise(r => setTimeout(r, 0));
    detail.logView.flush();
    expect(detail.model.length).toBe(2);
    expect(detail.logView.node.querySelector('script')).toBeNull();
    // A rank's tab opens that rank's stream only (no prefix), aborting the merged one.
    tabs[2]!.click();
    expect(server.calls.filter(c => c.path.includes('/logs')).map(c => c.path)).toEqual([
      'jobs/train/logs?follow=true&prefix=true&tail=1000',
      'jobs/train/logs?replica=worker-0&follow=true&prefix=false&tail=1000'
    ]);
    expect(server.calls.find(c => c.path.includes('prefix=true'))!.signal!.aborted).toBe(true);
    expect(detail.model.length).toBe(0);
    // Arrow keys move between tabs.
    const selected = detail.node.querySelector<HTMLButtonElement>('[role=tab][aria-selected=true]')!;
    selected.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft' }));
    expect(detail.selectedReplica).toBe('master-0');
    detail.dispose();
  });

  it('re-opens the stream when follow or tail change', async () => {
    const { server } = detailServer();
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'train', poll });
    Widget.attach(detail, document.body);
    await settle(5);
    const follow = detail.node.querySelector<HTMLInputElement>('input[type=checkbox]')!;
    follow.checked = false;
    follow.dispatchEvent(new Event('change'));
    const tail = detail.node.querySelector<HTMLSelectElement>('select')!;
    tail.value = '0';
    tail.dispatchEvent(new Event('change'));
    expect(server.calls.filter(c => c.path.includes('/logs')).map(c => c.path)).toEqual([
      'jobs/train/logs?follow=true&prefix=true&tail=1000',
      'jobs/train/logs?follow=false&prefix=true&tail=1000',
      'jobs/train/logs?follow=false&prefix=true'
    ]);
    detail.dispose();
  });
});

describe("the job's code ConfigMap warning", () => {
  const at = (s: number) => `2025-01-01T12:00:${String(s).padStart(2, '0')}Z`;
  const ev = (s: number, type: string, reason: string, message: string, object = 'Pod/cell-job-0-v9qcb', replica: string | null = 'rank-0'): JobEvent => ({
    time: at(s),
    type,
    reason,
    message,
    object,
    replica,
    count: 1,
    explanation: reason === 'FailedMount' ? `a volume cannot be mounted yet (${message})` : null
  });
  const MISSING = 'MountVolume.SetUp failed for volume "teamhub-job-code" : configmap "cell-job.job" not found';
  const codeMiss = (s: number, object?: string, replica?: string) => ev(s, 'Warning', 'FailedMount', MISSING, object, replica);
  const started = (s: number, object?: string, replica?: string) => ev(s, 'Normal', 'Started', 'Started container job', object, replica);
  const pod = (name: string, replica: string, phase: string) => ({ name, replica, role: 'rank', index: 0, phase, ready: phase === 'Running', restarts: 0, created: at(0) });

  it("recognises a FailedMount of the job's own code ConfigMap only", () => {
    expect(isCodeMountWarning(codeMiss(1), 'cell-job')).toBe(true);
    // kubesim's kubelet words it without the MountVolume prefix
    expect(isCodeMountWarning(ev(1, 'Warning', 'FailedMount', 'configmap "cell-job.job" not found'), 'cell-job')).toBe(true);
    expect(isCodeMountWarning(codeMiss(1), 'cell')).toBe(false);
    expect(isCodeMountWarning(ev(1, 'Warning', 'FailedMount', 'configmap "team-settings" not found'), 'cell-job')).toBe(false);
    expect(isCodeMountWarning(ev(1, 'Warning', 'FailedMount', 'secret "cell-job.job" not found'), 'cell-job')).toBe(false);
    expect(isCodeMountWarning(ev(1, 'Normal', 'FailedMount', MISSING), 'cell-job')).toBe(false);
  });

  it('is cleared once that pod started, or the job runs or succeeded; not before', () => {
    const pending = job('cell-job', 'Pending');
    const cleared = (events: JobEvent[], j: Job | null) => timelineEvents('cell-job', events, j).map(t => t.cleared);
    // Still waiting for the code: a warning like any other.
    expect(cleared([codeMiss(1)], pending)).toEqual([false]);
    expect(cleared([codeMiss(1)], null)).toEqual([false]);
    // Its pod's container started afterwards.
    expect(cleared([codeMiss(1), started(2)], pending)).toEqual([true, false]);
    // Another pod started, this one not yet (and it is not running): still a warning.
    expect(cleared([codeMiss(1), started(2, 'Pod/cell-job-1-s4gmp', 'rank-1')], pending)).toEqual([false, false]);
    // The pod runs (its Started event already gone), or the whole job runs or succeeded.
    expect(cleared([codeMiss(1)], { ...pending, pods: [pod('cell-job-0-v9qcb', 'rank-0', 'Running')] })).toEqual([true]);
    expect(cleared([codeMiss(1)], job('cell-job', 'Running'))).toEqual([true]);
    expect(cleared([codeMiss(1)], job('cell-job', 'Succeeded'))).toEqual([true]);
    // A job that failed or was cancelled without its pod ever starting: the warning may be why.
    expect(cleared([codeMiss(1)], job('cell-job', 'Failed'))).toEqual([false]);
    // Other warnings never clear.
    const other = ev(1, 'Warning', 'FailedMount', 'configmap "team-settings" not found');
    const timeline = timelineEvents('cell-job', [other, codeMiss(1), started(2)], job('cell-job', 'Running'));
    expect(timeline.map(t => t.cleared)).toEqual([false, true, false]);
    expect(activeWarnings(timeline)).toBe(1);
  });

  function cellJobServer() {
    const state = { job: job('cell-job', 'Pending', { backend: 'indexed', kind: 'Job' }), events: [codeMiss(1)] as JobEvent[] };
    const server = fakeServer(call => {
      if (call.path.startsWith('jobs/cell-job/logs')) {
        return textStream().response;
      }
      if (call.path === 'jobs/cell-job/events') {
        return json({ events: state.events });
      }
      return json(state.job);
    });
    return { server, state };
  }

  it('is muted, not counted, and closes the timeline it opened once the pod started', async () => {
    const { server, state } = cellJobServer();
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'cell-job', poll });
    Widget.attach(detail, document.body);
    await detail.refresh();
    const summary = () => detail.node.querySelector('summary')!.textContent;
    const items = () => [...detail.node.querySelectorAll('.teamhub-JobDetail-events li')];
    // While the pod waits, it is a warning: counted, prominent, and the timeline opens.
    expect(summary()).toBe('Conditions and events (1, 1 warning)');
    expect(items()[0]!.classList.contains('teamhub-event-warning')).toBe(true);
    expect(detail.timelineOpen).toBe(true);

    state.job = job('cell-job', 'Running', { backend: 'indexed', kind: 'Job' });
    state.events = [codeMiss(1), ev(2, 'Normal', 'Created', 'Created container: job'), started(2)];
    await detail.refresh();
    expect(summary()).toBe('Conditions and events (3, 1 cleared)');
    const first = items()[0]!;
    expect(first.classList.contains('teamhub-event-warning')).toBe(false);
    expect(first.classList.contains('teamhub-event-cleared')).toBe(true);
    expect(first.textContent).toContain('FailedMount');
    expect(first.querySelector('.teamhub-event-note')!.textContent).toBe(" (cleared: the job's code arrived)");
    expect(first.querySelector('.teamhub-event-why')).toBeNull();
    expect(detail.timelineOpen).toBe(false);

    // A genuine warning later still stands out, and opens the timeline again.
    state.events = [...state.events, ev(3, 'Warning', 'BackOff', 'Back-off restarting failed container job')];
    await detail.refresh();
    expect(summary()).toBe('Conditions and events (4, 1 warning, 1 cleared)');
    expect(items()[3]!.classList.contains('teamhub-event-warning')).toBe(true);
    expect(detail.timelineOpen).toBe(true);
    detail.dispose();
  });

  it('does not open the timeline when the pod had started by the first look', async () => {
    const { server, state } = cellJobServer();
    state.job = job('cell-job', 'Succeeded', { backend: 'indexed', kind: 'Job' });
    state.events = [codeMiss(1), started(2)];
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'cell-job', poll });
    Widget.attach(detail, document.body);
    await detail.refresh();
    expect(detail.node.querySelector('summary')!.textContent).toBe('Conditions and events (2, 1 cleared)');
    expect(detail.timelineOpen).toBe(false);
    detail.dispose();
  });

  it('leaves the timeline as the user set it', async () => {
    const { server, state } = cellJobServer();
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'cell-job', poll });
    Widget.attach(detail, document.body);
    await detail.refresh();
    expect(detail.timelineOpen).toBe(true);
    // The user closes it, then opens it again to read: it stays open after the warning clears.
    const summary = detail.node.querySelector<HTMLElement>('summary')!;
    summary.click();
    summary.click();
    state.job = job('cell-job', 'Running', { backend: 'indexed', kind: 'Job' });
    state.events = [codeMiss(1), started(2)];
    await detail.refresh();
    expect(detail.node.querySelector('.teamhub-event-cleared')).not.toBeNull();
    expect(detail.timelineOpen).toBe(true);
    detail.dispose();
  });
});

import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it } from 'vitest';

import { TeamhubClient } from '../src/api/client';
import { SubmitForm } from '../src/widgets/submit';
import { buildSpec, cellValues, defaultValues, imageChoices, problemsByField, queueChoices } from '../src/widgets/submitvalues';
import type { SubmitValues } from '../src/widgets/submitvalues';
import { submitFlow } from '../src/widgets/submitflow';
import { fakeServer, job, json } from './helpers';
import { caps, env, kueueEnv } from './widget-fixtures';


afterEach(() => {
  document.body.replaceChildren();
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

/**
 * What the submit form's values mean, apart from the form itself: the defaults (from the
 * server's capabilities, or a notebook cell), the job spec they build (checking only what
 * it must: numbers are numbers, env lines are KEY=VALUE), the server's errors sorted by
 * the field they name, and the images and queues the form offers. Pure functions, tested
 * without a DOM.
 */
import type { BackendInfo, BackendName, Capabilities, Environment, JobSpecInput } from '../api/types';

export type FormField =
  | 'backend'
  | 'program'
  | 'workers'
  | 'procs_per_worker'
  | 'cpu'
  | 'memory'
  | 'gpus'
  | 'image'
  | 'env'
  | 'queue'
  | 'name'
  | 'deadline';

/** What the form runs: a command line, a script file, or Python code (e.g. a cell). */
export type ProgramKind = 'command' | 'script' | 'source';

/** What the form holds, as text (so a re-shown form has exactly what the user typed). */
export interface SubmitValues {
  backend: string;
  programKind: ProgramKind;
  program: string;
  workers: string;
  procs_per_worker: string;
  cpu: string;
  memory: string;
  gpus: string;
  image: string;
  env: string;
  /**
   * The queue chosen: a queue name, `''` for none, or null to leave `queue` out of the
   * request (no queue to choose: the user has none, or the backend is not queued).
   */
  queue: string | null;
  name: string;
  deadline: string;
}

export function defaultValues(caps?: Capabilities | null, script?: string): SubmitValues {
  return {
    backend: caps?.defaults.backend ?? 'indexed',
    programKind: script ? 'script' : 'command',
    program: script ?? '',
    workers: '2',
    procs_per_worker: '1',
    cpu: '',
    memory: '',
    gpus: '0',
    image: '',
    env: '',
    queue: null,
    name: '',
    deadline: ''
  };
}

/**
 * The form values that submit a notebook cell: a code cell's source, as Python code every
 * rank runs. Another kind of cell (or an empty one) gives nothing to prefill.
 */
export function cellValues(cellType: string, source: string): Partial<SubmitValues> {
  if (cellType !== 'code' || !source.trim()) {
    return {};
  }
  return { programKind: 'source', program: source };
}

/** Which form field shows a server problem about spec field `field` (`env.FOO` → env). */
export function formFieldOf(field: string): FormField | null {
  const top = field.split('.')[0] ?? '';
  switch (top) {
    case 'backend':
    case 'workers':
    case 'procs_per_worker':
    case 'cpu':
    case 'memory':
    case 'gpus':
    case 'image':
    case 'env':
    case 'name':
    case 'deadline':
    case 'queue':
      return top;
    case 'script':
    case 'source':
    case 'command':
    case 'working_dir':
      return 'program';
    case 'pods':
      return 'workers';
    default:
      return null;
  }
}

export type Problems = Partial<Record<FormField | '', string[]>>;

const NOTHING_TO_RUN: Record<ProgramKind, string> = {
  command: 'give a command to run',
  script: 'give the path of a file to run',
  source: 'give the code to run'
};

/** Groups `{field, message}` problems by the form field showing them (`''`: the form). */
export function problemsByField(errors: readonly { field: string; message: string }[]): Problems {
  const out: Problems = {};
  for (const e of errors) {
    const f = formFieldOf(e.field);
    const key = f ?? '';
    const text = f === null && e.field ? `${e.field}: ${e.message}` : e.message;
    (out[key] ??= []).push(text);
  }
  return out;
}

/**
 * The request body for `values`, or the problems that keep one from being built (a number
 * that is not one, an env line that is not KEY=VALUE). Empty fields are left out (the
 * server's defaults apply).
 */
export function buildSpec(values: SubmitValues): { spec: JobSpecInput; problems: Problems } {
  const spec: JobSpecInput = { backend: values.backend as BackendName };
  const problems: Problems = {};
  const add = (f: FormField, m: string) => (problems[f] ??= []).push(m);
  const program = values.program.trim();
  if (!program) {
    add('program', NOTHING_TO_RUN[values.programKind]);
  } else if (values.programKind === 'script') {
    spec.script = program;
  } else if (values.programKind === 'source') {
    spec.source = values.program; // code as written: indentation matters
  } else {
    spec.command = program;
  }
  const whole = (f: 'workers' | 'procs_per_worker' | 'gpus' | 'deadline'): void => {
    const raw = values[f].trim();
    if (!raw) {
      return;
    }
    if (!/^-?\d+$/.test(raw)) {
      add(f, `must be a whole number (got ${JSON.stringify(raw)})`);
      return;
    }
    spec[f] = Number(raw);
  };
  whole('workers');
  whole('procs_per_worker');
  whole('gpus');
  whole('deadline');
  for (const f of ['cpu', 'memory', 'image', 'name'] as const) {
    const v = values[f].trim();
    if (v) {
      spec[f] = v;
    }
  }
  const env: Record<string, string> = {};
  values.env.split('\n').forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith('#')) {
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) {
      add('env', `line ${i + 1}: write NAME=value (got ${JSON.stringify(line.trim())})`);
      return;
    }
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  });
  if (Object.keys(env).length) {
    spec.env = env;
  }
  if (values.queue !== null) {
    spec.queue = values.queue.trim();
  }
  return { spec, problems };
}

/** Images the form offers: the notebook's own, then allowed patterns without wildcards. */
export function imageChoices(env: Environment | null): { value: string; label: string }[] {
  const out = [{ value: '', label: env ? `The notebook's image (${env.image})` : "The notebook's image" }];
  for (const pattern of env?.images ?? []) {
    if (!/[*?[]/.test(pattern) && pattern !== env?.image) {
      out.push({ value: pattern, label: pattern });
    }
  }
  return out;
}

/**
 * The queues the form offers: each of the user's queues (`name (ClusterQueue cq)`), the
 * first being the server's default, then `none` (`''`: no queue). Empty when the user has
 * no queue (the hub does not use Kueue, or none of their teams has a ClusterQueue).
 */
export function queueChoices(env: Environment | null): { value: string; label: string }[] {
  const queues = env?.queues ?? [];
  if (!queues.length) {
    return [];
  }
  return [...queues.map(q => ({ value: q.name, label: `${q.name} (ClusterQueue ${q.clusterQueue})` })), { value: '', label: 'none' }];
}

/** Whether Kueue queues the backend's workloads (servers that do not say: yes). */
export function backendQueued(info: BackendInfo | undefined): boolean {
  return info?.queue !== false;
}

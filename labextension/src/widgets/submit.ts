/**
 * The submit form: backend, what to run (a command, a script file, or Python code such as a
 * notebook cell), workers, processes per worker, cpu/memory/GPUs, deadline, image (the
 * notebook's, or one the user's teams allow), env, name and Kueue queue (one of the user's
 * queues, or none; the row is hidden when they have none, and disabled for a backend Kueue
 * does not queue).
 * It checks only what it must to build a request (numbers are numbers, env lines are
 * KEY=VALUE); the server validates the spec and its messages are shown beside the fields
 * they name, so the rules live in one place (teamhub.jobs.spec).
 */
import { Widget } from '@lumino/widgets';

import type { Capabilities, Environment } from '../api/types';
import { h, uniqueId } from './dom';
import { backendQueued, imageChoices, queueChoices } from './submitvalues';
import type { FormField, Problems, ProgramKind, SubmitValues } from './submitvalues';


const QUEUE_HELP = 'Kueue starts the job when the queue’s ClusterQueue has room for it.';

interface FieldParts {
  row: HTMLElement;
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  error: HTMLElement;
}

/** Fields laid out in pairs (two to a line); the others take a line of their own. */
const PAIRED: ReadonlySet<FormField> = new Set<FormField>([
  'workers',
  'procs_per_worker',
  'cpu',
  'memory',
  'gpus',
  'deadline',
  'name',
  'queue'
]);

const PROGRAM_PLACEHOLDER: Record<ProgramKind, string> = {
  command: 'a command line, e.g. python train.py --epochs 3',
  script: 'a file in your home, e.g. train.py',
  source: 'Python code, run by every rank'
};

/** The form (the body of the submit dialog). */
export class SubmitForm extends Widget {
  private readonly fields = new Map<FormField, FieldParts>();
  private readonly general: HTMLElement;
  private readonly kindSelect: HTMLSelectElement;
  /** What to run: a one-line input (command, script path) or a code area (source). */
  private readonly programLine: HTMLInputElement;
  private readonly programCode: HTMLTextAreaElement;

  constructor(
    values: SubmitValues,
    readonly caps: Capabilities | null,
    readonly env: Environment | null,
    problems: Problems = {}
  ) {
    super();
    this.addClass('teamhub-SubmitForm');
    this.general = h('div', { class: 'teamhub-SubmitForm-general', role: 'alert' });
    this.node.appendChild(this.general);

    const backend = h(
      'select',
      { class: 'jp-mod-styled', on: { change: () => this.updateBackend() } },
      ...(caps?.backends.length ? caps.backends : [{ name: 'indexed', available: true, needsOperator: false, kind: 'Job' }]).map(b =>
        h(
          'option',
          { attrs: { value: b.name, selected: b.name === values.backend, disabled: b.available === false } },
          `${b.name} (${b.kind})${b.available === false ? ' — not installed in this cluster' : ''}`
        )
      )
    );
    this.field('backend', 'Backend', backend, 'Indexed needs no operator; the others use the Kubeflow training operator.');

    this.kindSelect = h(
      'select',
      { class: 'jp-mod-styled', attrs: { 'aria-label': 'What to run' }, on: { change: () => this.updateProgramKind() } },
      h('option', { attrs: { value: 'command', selected: values.programKind === 'command' } }, 'Command'),
      h('option', { attrs: { value: 'script', selected: values.programKind === 'script' } }, 'Script file'),
      h('option', { attrs: { value: 'source', selected: values.programKind === 'source' } }, 'Python code')
    );
    const code = values.programKind === 'source';
    this.programLine = h('input', {
      class: 'jp-mod-styled',
      attrs: { type: 'text', value: code ? '' : values.program, spellcheck: 'false', 'aria-label': 'Command or script to run' }
    });
    this.programCode = h('textarea', {
      class: 'jp-mod-styled teamhub-SubmitForm-code',
      attrs: { rows: 5, spellcheck: 'false', placeholder: PROGRAM_PLACEHOLDER.source, 'aria-label': 'Python code to run' }
    });
    this.programCode.value = code ? values.program : '';
    this.field('program', 'Run', this.programLine, undefined, this.kindSelect, this.programCode);

    const num = (v: string, min: number) =>
      h('input', { class: 'jp-mod-styled', attrs: { type: 'number', min, step: 1, value: v, inputmode: 'numeric' } });
    const text = (v: string, placeholder: string) =>
      h('input', { class: 'jp-mod-styled', attrs: { type: 'text', value: v, placeholder, spellcheck: 'false' } });
    this.field('workers', 'Workers', num(values.workers, 1));
    this.field('procs_per_worker', 'Processes per worker', num(values.procs_per_worker, 1));
    this.field('cpu', 'CPU per worker', text(values.cpu, 'e.g. 2 or 500m'));
    this.field('memory', 'Memory per worker', text(values.memory, 'e.g. 4Gi'));
    this.field('gpus', 'GPUs per worker', num(values.gpus, 0));
    this.field('deadline', 'Deadline (seconds)', num(values.deadline, 1));

    const images = imageChoices(env);
    const known = images.some(i => i.value === values.image);
    const image = h(
      'select',
      { class: 'jp-mod-styled' },
      ...images.map(i => h('option', { attrs: { value: i.value, selected: i.value === values.image } }, i.label)),
      !known && values.image ? h('option', { attrs: { value: values.image, selected: true } }, values.image) : null
    );
    const patterns = env?.images?.filter(p => /[*?[]/.test(p)) ?? [];
    this.field(
      'image',
      'Image',
      image,
      env?.images === null || env?.images === undefined
        ? 'Any image is allowed.'
        : patterns.length
          ? `Your teams also allow: ${patterns.join(', ')}`
          : undefined
    );
    const envBox = h('textarea', {
      class: 'jp-mod-styled',
      attrs: { rows: 2, placeholder: 'NAME=value, one per line', spellcheck: 'false' }
    });
    envBox.value = values.env;
    this.field('env', 'Environment', envBox, "Added to the notebook's environment, which jobs inherit.");
    this.field('name', 'Name', text(values.name, 'generated if empty'));
    const queues = queueChoices(env);
    const chosen = values.queue ?? queues[0]?.value ?? '';
    const queue = h(
      'select',
      { class: 'jp-mod-styled' },
      ...queues.map(q => h('option', { attrs: { value: q.value, selected: q.value === chosen } }, q.label)),
      queues.length && !queues.some(q => q.value === chosen)
        ? h('option', { attrs: { value: chosen, selected: true } }, chosen)
        : null
    );
    this.field('queue', 'Queue', queue, QUEUE_HELP);
    const queueRow = this.fields.get('queue');
    if (queueRow && !queues.length) {
      // Nothing to choose: the request leaves `queue` out (the job waits in no queue).
      queueRow.row.hidden = true;
      queue.disabled = true;
    }
    this.updateProgramKind();
    this.showProblems(problems);
    this.updateBackend();
  }

  /** What the form holds now. */
  getValue(): SubmitValues {
    // A disabled field (an option the backend cannot honour) is left out of the request.
    const v = (f: FormField) => {
      const c = this.fields.get(f)?.control;
      return !c || c.disabled ? '' : c.value;
    };
    return {
      backend: v('backend'),
      programKind: this.programKind,
      program: v('program'),
      workers: v('workers'),
      procs_per_worker: v('procs_per_worker'),
      cpu: v('cpu'),
      memory: v('memory'),
      gpus: v('gpus'),
      image: v('image'),
      env: v('env'),
      queue: this.queueValue(),
      name: v('name'),
      deadline: v('deadline')
    };
  }

  /** The queue chosen, or null when there is none to choose (see `SubmitValues.queue`). */
  private queueValue(): string | null {
    const c = this.fields.get('queue')?.control;
    return !c || c.disabled ? null : c.value;
  }

  /** What the Run field holds: a command, a script path or code. */
  get programKind(): ProgramKind {
    const kind = this.kindSelect.value;
    return kind === 'script' || kind === 'source' ? kind : 'command';
  }

  /** The control of a field (tests fill the form through these). */
  control(field: FormField): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement {
    const parts = this.fields.get(field);
    if (!parts) {
      throw new Error(`no field ${field}`);
    }
    return parts.control;
  }

  /** The message shown beside a field ('' if none). */
  problemText(field: FormField | ''): string {
    if (field === '') {
      return this.general.textContent ?? '';
    }
    return this.fields.get(field)?.error.textContent ?? '';
  }

  /** Shows problems beside their fields (replacing earlier ones); focuses the first. */
  showProblems(problems: Problems): void {
    this.general.textContent = (problems[''] ?? []).join('\n');
    this.general.hidden = !problems['']?.length;
    let first: HTMLElement | null = null;
    for (const [name, parts] of this.fields) {
      const list = problems[name] ?? [];
      parts.error.textContent = list.join('; ');
      parts.error.hidden = !list.length;
      parts.row.classList.toggle('teamhub-mod-invalid', list.length > 0);
      if (list.length) {
        parts.control.setAttribute('aria-invalid', 'true');
        first ??= parts.control;
      } else {
        parts.control.removeAttribute('aria-invalid');
      }
    }
    if (first) {
      const target = first;
      setTimeout(() => target.focus(), 0);
    }
  }

  /**
   * A row: the label, then a cell holding the control (after `before`; `alternative` is
   * a control shown instead of it in some modes), its help and its error message.
   */
  private field(
    name: FormField,
    label: string,
    control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
    help?: string,
    before?: HTMLElement,
    alternative?: HTMLInputElement | HTMLTextAreaElement
  ): void {
    const id = uniqueId(`teamhub-submit-${name}`);
    const errorId = `${id}-error`;
    const helpId = `${id}-help`;
    control.id = id;
    control.setAttribute('name', name);
    control.setAttribute('aria-describedby', help ? `${errorId} ${helpId}` : errorId);
    const error = h('div', { id: errorId, class: 'teamhub-SubmitForm-error', attrs: { 'aria-live': 'polite' } });
    error.hidden = true;
    if (alternative) {
      alternative.hidden = true;
    }
    const row = h(
      'div',
      {
        class: `teamhub-SubmitForm-row teamhub-SubmitForm-${name} ${PAIRED.has(name) ? 'teamhub-mod-paired' : 'teamhub-mod-wide'}`
      },
      h('label', { attrs: { for: id } }, label),
      h(
        'div',
        { class: 'teamhub-SubmitForm-cell' },
        h('div', { class: 'teamhub-SubmitForm-control' }, before ?? null, control, alternative ?? null),
        help ? h('div', { id: helpId, class: 'teamhub-SubmitForm-help' }, help) : null,
        error
      )
    );
    this.fields.set(name, { row, control, error });
    this.node.appendChild(row);
  }

  /** Shows the one-line input or the code area, as the kind of program asks. */
  private updateProgramKind(): void {
    const parts = this.fields.get('program');
    if (!parts) {
      return;
    }
    const kind = this.programKind;
    const [shown, hidden] = kind === 'source' ? [this.programCode, this.programLine] : [this.programLine, this.programCode];
    if (parts.control !== shown) {
      // The label, the error slot and the problem mark follow the control shown.
      for (const attr of ['id', 'name', 'aria-describedby', 'aria-invalid']) {
        const value = hidden.getAttribute(attr);
        hidden.removeAttribute(attr);
        if (value !== null) {
          shown.setAttribute(attr, value);
        }
      }
      parts.control = shown;
    }
    shown.hidden = false;
    hidden.hidden = true;
    this.programLine.placeholder = PROGRAM_PLACEHOLDER[kind];
    parts.row.classList.toggle('teamhub-mod-code', kind === 'source');
  }

  /** Disables what the chosen backend cannot honour (the server refuses it anyway). */
  private updateBackend(): void {
    const name = this.fields.get('backend')?.control.value;
    const info = this.caps?.backends.find(b => b.name === name);
    const procs = this.fields.get('procs_per_worker')?.control;
    const gpus = this.fields.get('gpus')?.control;
    const workers = this.fields.get('workers')?.control;
    const queue = this.fields.get('queue');
    if (queue && !queue.row.hidden) {
      // A backend Kueue does not queue gets no queue (the server refuses one).
      const queued = backendQueued(info);
      queue.control.disabled = !queued;
      const help = queue.row.querySelector('.teamhub-SubmitForm-help');
      if (help) {
        help.textContent = queued ? QUEUE_HELP : `Kueue does not queue ${info?.name ?? 'this'} jobs: this one runs without a queue.`;
      }
    }
    if (procs) {
      procs.disabled = info ? !info.procsPerWorker : false;
    }
    if (gpus) {
      gpus.disabled = info ? !info.gpus : false;
    }
    if (workers && info?.maxWorkers) {
      workers.setAttribute('max', String(info.maxWorkers));
    } else {
      workers?.removeAttribute('max');
    }
  }
}

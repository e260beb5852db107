/**
 * The jobs store: the user's jobs as the server last listed them, refreshed by a `Poller`,
 * plus the sidebar's filter. Views subscribe to `changed`; they never fetch by themselves.
 */
import { Signal } from '@lumino/signaling';
import type { ISignal } from '@lumino/signaling';

import { ApiError } from '../api/client';
import type { TeamhubClient } from '../api/client';
import type { Job, Phase } from '../api/types';
import { jobPhase } from './format';
import { DEFAULT_POLL, Poller } from './poller';
import type { PollerOptions } from './poller';

export interface JobFilter {
  /** Words that must all appear in the name, backend, phase, reason, queue or labels. */
  text: string;
  /** Phases shown; empty: all. */
  phases: ReadonlySet<Phase>;
}

export const NO_FILTER: JobFilter = { text: '', phases: new Set() };

function haystack(job: Job): string {
  const s = job.status;
  const labels = job.spec['labels'];
  const labelText =
    labels && typeof labels === 'object'
      ? Object.entries(labels as Record<string, unknown>)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ')
      : '';
  const queue = typeof job.spec['queue'] === 'string' ? job.spec['queue'] : '';
  return [job.name, job.backend, job.kind, jobPhase(job), s?.reason ?? '', queue, labelText]
    .join(' ')
    .toLowerCase();
}

/** The jobs matching `filter`, in the order given (the server lists newest first). */
export function filterJobs(jobs: readonly Job[], filter: JobFilter): Job[] {
  const words = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
  return jobs.filter(job => {
    if (filter.phases.size && !filter.phases.has(jobPhase(job))) {
      return false;
    }
    if (!words.length) {
      return true;
    }
    const text = haystack(job);
    return words.every(w => text.includes(w));
  });
}

/** A cheap fingerprint: what a view shows changed iff this changed. */
function fingerprint(jobs: readonly Job[]): string {
  return JSON.stringify(
    jobs.map(j => [
      j.name,
      j.cancelled,
      j.status?.phase,
      j.status?.reason,
      j.status?.message,
      j.status?.ready,
      j.status?.total
    ])
  );
}

export class JobsStore {
  private _jobs: Job[] = [];
  private _error: ApiError | null = null;
  private _loaded = false;
  private _filter: JobFilter = NO_FILTER;
  private _print = '';
  private readonly _changed = new Signal<this, void>(this);
  private readonly _pending = new Set<string>();
  readonly poller: Poller;

  constructor(
    readonly client: TeamhubClient,
    pollOptions: PollerOptions = DEFAULT_POLL
  ) {
    this.poller = new Poller(() => this.fetch(), pollOptions);
  }

  /** Emitted when the jobs, the error, the filter or an action's state changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get jobs(): readonly Job[] {
    return this._jobs;
  }

  /** The jobs the filter lets through. */
  get visibleJobs(): Job[] {
    return filterJobs(this._jobs, this._filter);
  }

  /** The last poll's error (cleared by the next successful one). */
  get error(): ApiError | null {
    return this._error;
  }

  /** Whether the list was read at least once. */
  get loaded(): boolean {
    return this._loaded;
  }

  get filter(): JobFilter {
    return this._filter;
  }

  set filter(value: JobFilter) {
    this._filter = value;
    this._changed.emit();
  }

  get(name: string): Job | undefined {
    return this._jobs.find(j => j.name === name);
  }

  /** Whether an action (cancel, delete) on `name` is under way. */
  busy(name: string): boolean {
    return this._pending.has(name);
  }

  /** Reads the list now (resets the backoff). */
  refresh(): Promise<void> {
    return this.poller.refresh();
  }

  /** Cancels a job, then refreshes. Errors are thrown to the caller (to show them). */
  async cancel(name: string): Promise<void> {
    await this.act(name, () => this.client.cancelJob(name));
  }

  /** Deletes a job for good (it leaves the list at once), then refreshes. */
  async remove(name: string): Promise<void> {
    await this.act(name, async () => {
      await this.client.deleteJob(name);
      this._jobs = this._jobs.filter(j => j.name !== name);
    });
  }

  dispose(): void {
    this.poller.dispose();
    Signal.clearData(this);
  }

  private async act(name: string, action: () => Promise<unknown>): Promise<void> {
    this._pending.add(name);
    this._changed.emit();
    try {
      await action();
    } finally {
      this._pending.delete(name);
      this._changed.emit();
    }
    await this.refresh();
  }

  /** One poll: true when what the views show changed. */
  private async fetch(): Promise<boolean> {
    let jobs: Job[];
    try {
      jobs = await this.client.listJobs();
    } catch (e) {
      const error =
        e instanceof ApiError ? e : new ApiError(0, { message: e instanceof Error ? e.message : String(e) });
      const changed = this._error?.message !== error.message || !this._loaded;
      this._error = error;
      this._loaded = true;
      if (changed) {
        this._changed.emit();
      }
      throw error;
    }
    const print = fingerprint(jobs);
    const changed = print !== this._print || this._error !== null || !this._loaded;
    this._jobs = jobs;
    this._print = print;
    this._error = null;
    this._loaded = true;
    if (changed) {
      this._changed.emit();
    }
    return changed;
  }
}

/**
 * One log stream feeding one `LogModel`: open with options (replica, follow, tail), and
 * re-open when they change (the old request is aborted first, so at most one stream per
 * view is open and the server stops reading the pods' logs for it).
 */
import { Signal } from '@lumino/signaling';
import type { ISignal } from '@lumino/signaling';

import { ApiError } from '../api/client';
import type { TeamhubClient } from '../api/client';
import type { LogOptions } from '../api/types';
import type { LogModel } from './model';

export type StreamState = 'idle' | 'streaming' | 'ended' | 'stopped' | 'error';

export class LogStream {
  private controller: AbortController | null = null;
  private _state: StreamState = 'idle';
  private _error: string | null = null;
  private readonly _stateChanged = new Signal<this, StreamState>(this);
  private generation = 0;

  constructor(
    readonly client: TeamhubClient,
    readonly job: string,
    readonly model: LogModel
  ) {}

  get state(): StreamState {
    return this._state;
  }

  get error(): string | null {
    return this._error;
  }

  get stateChanged(): ISignal<this, StreamState> {
    return this._stateChanged;
  }

  /** (Re)opens the stream: the model is cleared and filled from the new one. */
  open(options: LogOptions): Promise<void> {
    this.abort();
    const generation = ++this.generation;
    const controller = new AbortController();
    this.controller = controller;
    this.model.clear();
    this._error = null;
    this.setState('streaming');
    const prefixed = options.prefix ?? true;
    return this.client
      .streamLogs(
        this.job,
        options,
        lines => {
          if (generation === this.generation) {
            this.model.append(lines, { prefixed });
          }
        },
        controller.signal
      )
      .then(
        () => {
          if (generation === this.generation) {
            this.model.notice(options.follow ? '— the job has finished: end of log —' : '— end of log —');
            this.setState('ended');
          }
        },
        (e: unknown) => {
          if (generation !== this.generation) {
            return;
          }
          if (controller.signal.aborted) {
            this.setState('stopped');
            return;
          }
          this._error = e instanceof ApiError || e instanceof Error ? e.message : String(e);
          this.model.notice(`— log stream failed: ${this._error} —`);
          this.setState('error');
        }
      );
  }

  /** Stops following (the lines already read stay). */
  stop(): void {
    if (this.controller && this._state === 'streaming') {
      this.controller.abort();
    }
  }

  dispose(): void {
    this.abort();
    Signal.clearData(this);
  }

  private abort(): void {
    if (this.controller) {
      this.controller.abort();
      this.controller = null;
    }
  }

  private setState(state: StreamState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }
}

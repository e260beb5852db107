/**
 * Polling with backoff that stops when nobody is looking.
 *
 * Why not a fixed interval: a sidebar left open all day on finished jobs should cost the
 * server (and the Kubernetes API behind it) next to nothing, while a job that just changed
 * should update quickly. So: after a poll that saw a change the interval drops back to
 * `interval`; after one that saw none, or failed, it grows by `backoff` up to `maxInterval`.
 * While hidden (the panel collapsed, the browser tab in the background) nothing is polled;
 * becoming visible polls at once.
 */

export interface PollerOptions {
  /** Milliseconds between polls while things change. */
  interval: number;
  /** The longest wait between polls. */
  maxInterval: number;
  /** Factor the wait grows by after a poll with no change or an error (>= 1). */
  backoff: number;
}

export const DEFAULT_POLL: PollerOptions = { interval: 2000, maxInterval: 30000, backoff: 1.5 };

/** A poll: resolves true when it saw a change; a rejection counts as "back off". */
export type PollTask = () => Promise<boolean>;

export class Poller {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private current: number;
  private visible = false;
  private inFlight: Promise<void> | null = null;
  private disposed = false;
  private polls = 0;

  constructor(
    private readonly task: PollTask,
    readonly options: PollerOptions = DEFAULT_POLL
  ) {
    const { interval, maxInterval, backoff } = options;
    if (!(interval > 0) || !(maxInterval >= interval) || !(backoff >= 1)) {
      throw new RangeError(
        `poller: need 0 < interval <= maxInterval and backoff >= 1 (got ${interval}, ` +
          `${maxInterval}, ${backoff})`
      );
    }
    this.current = interval;
  }

  /** The wait before the next poll (ms). */
  get delay(): number {
    return this.current;
  }

  /** Whether a poll is scheduled (false while hidden or disposed). */
  get scheduled(): boolean {
    return this.timer !== null;
  }

  get isVisible(): boolean {
    return this.visible;
  }

  /** How many polls ran. */
  get count(): number {
    return this.polls;
  }

  /** Shown: poll now and keep polling. Hidden: stop (a poll under way finishes). */
  setVisible(visible: boolean): void {
    if (this.disposed || visible === this.visible) {
      return;
    }
    this.visible = visible;
    if (visible) {
      void this.refresh();
    } else {
      this.clear();
    }
  }

  /** Poll now (e.g. after the user acted), and reset the backoff. */
  refresh(): Promise<void> {
    if (this.disposed) {
      return Promise.resolve();
    }
    this.current = this.options.interval;
    return this.run();
  }

  dispose(): void {
    this.disposed = true;
    this.visible = false;
    this.clear();
  }

  private clear(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private run(): Promise<void> {
    this.clear();
    if (this.inFlight) {
      return this.inFlight;
    }
    this.inFlight = (async () => {
      let changed = false;
      try {
        this.polls += 1;
        changed = await this.task();
      } catch {
        changed = false;
      } finally {
        this.inFlight = null;
      }
      const { interval, maxInterval, backoff } = this.options;
      this.current = changed ? interval : Math.min(maxInterval, this.current * backoff);
      this.schedule();
    })();
    return this.inFlight;
  }

  private schedule(): void {
    this.clear();
    if (this.disposed || !this.visible) {
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, this.current);
  }
}

/**
 * The lines a log view holds: at most `capacity` (a ring buffer), each already split into
 * its replica prefix, plain text and ANSI style ranges. ANSI state carries from one line to
 * the next of the same replica (ranks' lines interleave in the merged view).
 */
import { Signal } from '@lumino/signaling';
import type { ISignal } from '@lumino/signaling';

import { parseLogLine } from '../api/lines';
import { parseAnsi } from './ansi';
import type { Style, StyledRange } from './ansi';
import { RingBuffer } from './ringbuffer';

export interface LogEntry {
  /** The line's position in the whole stream (survives eviction). */
  seq: number;
  /** `worker-1`, or null for an unprefixed line. */
  replica: string | null;
  /** The text without escapes (what search, copy and download see). */
  text: string;
  ranges: StyledRange[];
  /** A line the client added (stream ended, failed), not from the job. */
  notice?: boolean;
}

export interface LogChange {
  /** Lines added by this change. */
  added: number;
  /** Old lines evicted by it. */
  evicted: number;
  /** True when the model was cleared (a new stream). */
  reset: boolean;
}

export const DEFAULT_CAPACITY = 10000;

export class LogModel {
  private readonly buffer: RingBuffer<LogEntry>;
  private readonly styles = new Map<string, Style>();
  private seq = 0;
  private _widest = 0;
  private readonly _changed = new Signal<this, LogChange>(this);
  private readonly _replicas = new Set<string>();

  constructor(capacity: number = DEFAULT_CAPACITY) {
    this.buffer = new RingBuffer<LogEntry>(capacity);
  }

  get changed(): ISignal<this, LogChange> {
    return this._changed;
  }

  get capacity(): number {
    return this.buffer.capacity;
  }

  /** Lines held. */
  get length(): number {
    return this.buffer.length;
  }

  /** Lines evicted to keep within capacity. */
  get dropped(): number {
    return this.buffer.dropped;
  }

  /**
   * Characters in the longest line added since the model was last cleared, its `[replica] `
   * prefix included (evicted lines still count: it is an upper bound, cheap to keep). The
   * view sizes its horizontal scrolling by it.
   */
  get widest(): number {
    return this._widest;
  }

  /** Every replica prefix seen so far, in order of appearance. */
  get replicas(): string[] {
    return [...this._replicas];
  }

  get(index: number): LogEntry | undefined {
    return this.buffer.get(index);
  }

  /** Appends raw lines (`[worker-1] text`, with ANSI escapes) as the server sends them. */
  append(lines: readonly string[], options: { prefixed?: boolean } = {}): void {
    const prefixed = options.prefixed ?? true;
    const entries: LogEntry[] = [];
    for (const raw of lines) {
      const { replica, text } = prefixed ? parseLogLine(raw) : { replica: null, text: raw };
      const key = replica ?? '';
      const parsed = parseAnsi(text, this.styles.get(key) ?? {});
      this.styles.set(key, parsed.end);
      if (replica !== null && replica !== 'teamhub') {
        this._replicas.add(replica);
      }
      entries.push({
        seq: this.seq++,
        replica,
        text: parsed.text,
        ranges: parsed.ranges,
        notice: replica === 'teamhub' ? true : undefined
      });
    }
    this.pushEntries(entries);
  }

  /** Adds a line of the client's own (e.g. "— end of log —"). */
  notice(text: string): void {
    this.pushEntries([{ seq: this.seq++, replica: null, text, ranges: [], notice: true }]);
  }

  clear(): void {
    this.buffer.clear();
    this.styles.clear();
    this._replicas.clear();
    this.seq = 0;
    this._widest = 0;
    this._changed.emit({ added: 0, evicted: 0, reset: true });
  }

  /** The held lines as plain text (copy, download): at most `capacity` lines. */
  toText(withPrefix = true): string {
    const out: string[] = [];
    for (const e of this.buffer) {
      out.push(withPrefix && e.replica ? `[${e.replica}] ${e.text}` : e.text);
    }
    return out.length ? out.join('\n') + '\n' : '';
  }

  /** Indices of the held lines containing `query` (case-insensitive). */
  search(query: string): number[] {
    const q = query.toLowerCase();
    if (!q) {
      return [];
    }
    const out: number[] = [];
    let i = 0;
    for (const e of this.buffer) {
      if (e.text.toLowerCase().includes(q) || (e.replica ?? '').toLowerCase().includes(q)) {
        out.push(i);
      }
      i++;
    }
    return out;
  }

  dispose(): void {
    Signal.clearData(this);
  }

  private pushEntries(entries: LogEntry[]): void {
    if (!entries.length) {
      return;
    }
    for (const e of entries) {
      const width = e.text.length + (e.replica ? e.replica.length + 3 : 0);
      if (width > this._widest) {
        this._widest = width;
      }
    }
    const evicted = this.buffer.pushAll(entries);
    this._changed.emit({ added: entries.length, evicted, reset: false });
  }
}

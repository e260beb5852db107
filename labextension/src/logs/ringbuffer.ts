/**
 * A fixed-capacity ring buffer: the page keeps at most `capacity` log lines whatever the log
 * size; the oldest go first. Index 0 is the oldest line still held; `dropped` counts the
 * lines evicted so far, so `dropped + i` is a line's position in the whole stream.
 */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private size = 0;
  private evicted = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a whole number >= 1 (got ${capacity})`);
    }
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Lines evicted since the buffer was made (or cleared). */
  get dropped(): number {
    return this.evicted;
  }

  /** Appends items; returns how many old ones were evicted to make room. */
  push(...values: T[]): number {
    return this.pushAll(values);
  }

  /** Appends every item of `values` (any number: no argument-count limit). */
  pushAll(values: Iterable<T>): number {
    let evicted = 0;
    for (const value of values) {
      if (this.size < this.capacity) {
        this.items[(this.start + this.size) % this.capacity] = value;
        this.size += 1;
      } else {
        this.items[this.start] = value;
        this.start = (this.start + 1) % this.capacity;
        evicted += 1;
      }
    }
    this.evicted += evicted;
    return evicted;
  }

  /** The item at `index` (0: oldest held), or undefined outside `[0, length)`. */
  get(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      return undefined;
    }
    return this.items[(this.start + index) % this.capacity];
  }

  /** Items `[from, to)` (clamped), oldest first. */
  slice(from = 0, to: number = this.size): T[] {
    const out: T[] = [];
    const end = Math.min(to, this.size);
    for (let i = Math.max(0, from); i < end; i++) {
      out.push(this.items[(this.start + i) % this.capacity] as T);
    }
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.start = 0;
    this.size = 0;
    this.evicted = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.size; i++) {
      yield this.items[(this.start + i) % this.capacity] as T;
    }
  }
}

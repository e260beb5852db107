import { describe, expect, it } from 'vitest';

import { RingBuffer } from '../src/logs/ringbuffer';

describe('RingBuffer', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const b = new RingBuffer<number>(3);
    expect(b.push(1, 2)).toBe(0);
    expect(b.push(3, 4, 5)).toBe(2);
    expect([...b]).toEqual([3, 4, 5]);
    expect(b.dropped).toBe(2);
    expect(b.get(0)).toBe(3);
    expect(b.get(3)).toBeUndefined();
    expect(b.slice(1)).toEqual([4, 5]);
  });

  it('takes any number of items at once and stays bounded', () => {
    const b = new RingBuffer<number>(1000);
    const many = Array.from({ length: 300000 }, (_, i) => i);
    expect(b.pushAll(many)).toBe(299000);
    expect(b.length).toBe(1000);
    expect(b.get(0)).toBe(299000);
    expect(b.get(999)).toBe(299999);
  });

  it('clears', () => {
    const b = new RingBuffer<string>(2);
    b.push('a', 'b', 'c');
    b.clear();
    expect(b.length).toBe(0);
    expect(b.dropped).toBe(0);
    b.push('d');
    expect([...b]).toEqual(['d']);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(2.5)).toThrow(/whole number/);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { Poller } from '../src/stores/poller';

const opts = { interval: 1000, maxInterval: 8000, backoff: 2 };

describe('Poller', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does nothing until shown, then polls at once', async () => {
    const task = vi.fn(() => Promise.resolve(true));
    const p = new Poller(task, opts);
    await vi.advanceTimersByTimeAsync(10000);
    expect(task).not.toHaveBeenCalled();
    p.setVisible(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(task).toHaveBeenCalledTimes(1);
    expect(p.scheduled).toBe(true);
    p.dispose();
  });

  it('backs off while nothing changes, and resets on a change', async () => {
    let changed = false;
    const p = new Poller(() => Promise.resolve(changed), opts);
    p.setVisible(true);
    await vi.advanceTimersByTimeAsync(0);
    const delays = [p.delay];
    for (let i = 0; i < 4; i++) {
      await vi.advanceTimersByTimeAsync(p.delay);
      delays.push(p.delay);
    }
    expect(delays).toEqual([2000, 4000, 8000, 8000, 8000]);
    changed = true;
    await vi.advanceTimersByTimeAsync(p.delay);
    expect(p.delay).toBe(1000);
    p.dispose();
  });

  it('backs off after errors and keeps polling', async () => {
    const task = vi.fn(() => Promise.reject(new Error('down')));
    const p = new Poller(task, opts);
    p.setVisible(true);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(2000);
    await vi.advanceTimersByTimeAsync(4000);
    expect(task).toHaveBeenCalledTimes(3);
    expect(p.delay).toBe(8000);
    p.dispose();
  });

  it('stops polling while hidden and polls at once when shown again', async () => {
    const task = vi.fn(() => Promise.resolve(false));
    const p = new Poller(task, opts);
    p.setVisible(true);
    await vi.advanceTimersByTimeAsync(0);
    p.setVisible(false);
    expect(p.scheduled).toBe(false);
    await vi.advanceTimersByTimeAsync(60000);
    expect(task).toHaveBeenCalledTimes(1);
    p.setVisible(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(task).toHaveBeenCalledTimes(2);
    expect(p.delay).toBe(2000); // shown again: the backoff starts over
    p.dispose();
  });

  it('a poll that ends after hiding schedules nothing', async () => {
    let finish!: (v: boolean) => void;
    const p = new Poller(() => new Promise<boolean>(r => (finish = r)), opts);
    p.setVisible(true);
    p.setVisible(false);
    finish(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(p.scheduled).toBe(false);
    p.dispose();
  });

  it('refresh() joins a poll under way rather than running two', async () => {
    let calls = 0;
    let finish!: (v: boolean) => void;
    const p = new Poller(() => {
      calls++;
      return new Promise<boolean>(r => (finish = r));
    }, opts);
    const a = p.refresh();
    const b = p.refresh();
    finish(true);
    await Promise.all([a, b]);
    expect(calls).toBe(1);
    p.dispose();
  });

  it('stops for good when disposed', async () => {
    const task = vi.fn(() => Promise.resolve(true));
    const p = new Poller(task, opts);
    p.setVisible(true);
    await vi.advanceTimersByTimeAsync(0);
    p.dispose();
    await vi.advanceTimersByTimeAsync(60000);
    expect(task).toHaveBeenCalledTimes(1);
    p.setVisible(true);
    await p.refresh();
    expect(task).toHaveBeenCalledTimes(1);
  });

  it('refuses nonsense options', () => {
    expect(() => new Poller(() => Promise.resolve(true), { interval: 0, maxInterval: 1, backoff: 1 })).toThrow(RangeError);
    expect(() => new Poller(() => Promise.resolve(true), { interval: 10, maxInterval: 5, backoff: 1 })).toThrow(/maxInterval/);
    expect(() => new Poller(() => Promise.resolve(true), { interval: 1, maxInterval: 5, backoff: 0.5 })).toThrow(/backoff/);
  });
});

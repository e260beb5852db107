import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { TeamhubClient } from '../src/api/client';
import type { Job } from '../src/api/types';
import { formatAge, formatTimestamp, jobPhase, replicaCount, replicaSummary, statusLine } from '../src/stores/format';
import { JobsStore, filterJobs } from '../src/stores/jobs';
import { fakeServer, job, json, status } from './helpers';

const poll = { interval: 1000, maxInterval: 4000, backoff: 2 };

function storeWith(list: () => Job[] | Response) {
  const server = fakeServer(call => {
    if (call.method === 'GET' && call.path === 'jobs') {
      const v = list();
      return v instanceof Response ? v : json({ jobs: v });
    }
    if (call.method === 'DELETE') {
      return new Response(null, { status: 204 });
    }
    if (call.path.endsWith('/cancel')) {
      return json(job('x', 'Cancelled'));
    }
    return json({ message: 'no such route' }, 404);
  });
  return { store: new JobsStore(new TeamhubClient(server.fetcher), poll), calls: server.calls };
}

describe('JobsStore', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('emits changed when the list changes and only then', async () => {
    let jobs = [job('a', 'Pending')];
    const { store } = storeWith(() => jobs);
    const seen = vi.fn();
    store.changed.connect(seen);
    await store.refresh();
    expect(store.jobs.map(j => j.name)).toEqual(['a']);
    expect(seen).toHaveBeenCalledTimes(1);
    await store.refresh();
    expect(seen).toHaveBeenCalledTimes(1);
    jobs = [job('a', 'Running')];
    await store.refresh();
    expect(seen).toHaveBeenCalledTimes(2);
    expect(jobPhase(store.jobs[0]!)).toBe('Running');
    store.dispose();
  });

  it('polls only while visible, slowing down when nothing changes', async () => {
    const { store, calls } = storeWith(() => [job('a')]);
    store.poller.setVisible(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2000); // first wait: 1000 * 2 (no change after first)
    expect(calls).toHaveLength(2);
    store.poller.setVisible(false);
    await vi.advanceTimersByTimeAsync(60000);
    expect(calls).toHaveLength(2);
    store.dispose();
  });

  it('keeps the last list and reports the error when a poll fails', async () => {
    let fail = false;
    const { store } = storeWith(() => (fail ? json({ message: 'this server cannot run jobs', reason: 'NotebookEnvironment' }, 503) : [job('a')]));
    await store.refresh();
    fail = true;
    await store.refresh();
    expect(store.error?.status).toBe(503);
    expect(store.error?.message).toBe('this server cannot run jobs');
    expect(store.jobs).toHaveLength(1);
    fail = false;
    await store.refresh();
    expect(store.error).toBeNull();
    store.dispose();
  });

  it('cancels and deletes through the API, marking the job busy meanwhile', async () => {
    let jobs = [job('x'), job('y')];
    const { store, calls } = storeWith(() => jobs);
    await store.refresh();
    const busy: boolean[] = [];
    store.changed.connect(() => busy.push(store.busy('x')));
    await store.cancel('x');
    expect(busy[0]).toBe(true);
    expect(store.busy('x')).toBe(false);
    jobs = [job('y')];
    await store.remove('x');
    expect(store.jobs.map(j => j.name)).toEqual(['y']);
    expect(calls.filter(c => c.method !== 'GET').map(c => `${c.method} ${c.path}`)).toEqual([
      'POST jobs/x/cancel',
      'DELETE jobs/x'
    ]);
    store.dispose();
  });

  it('filters by phase and by words', async () => {
    const { store } = storeWith(() => [
      job('bert-finetune', 'Running'),
      job('resnet', 'Pending', { status: status('Pending', { reason: 'Unschedulable' }) }),
      job('mnist', 'Failed', { backend: 'indexed', spec: { labels: { 'kueue.x-k8s.io/queue-name': 'gpu-a' } } }),
      job('vit', 'Failed', { backend: 'indexed', spec: { queue: 'vision' } })
    ]);
    await store.refresh();
    store.filter = { text: '', phases: new Set(['Pending', 'Failed']) };
    expect(store.visibleJobs.map(j => j.name)).toEqual(['resnet', 'mnist', 'vit']);
    store.filter = { text: 'unschedulable', phases: new Set() };
    expect(store.visibleJobs.map(j => j.name)).toEqual(['resnet']);
    store.filter = { text: 'INDEXED gpu-a', phases: new Set() };
    expect(store.visibleJobs.map(j => j.name)).toEqual(['mnist']);
    store.filter = { text: 'vision', phases: new Set() };
    expect(store.visibleJobs.map(j => j.name)).toEqual(['vit']);
    store.dispose();
  });
});

describe('filterJobs and formatting', () => {
  it('an empty filter keeps every job in order', () => {
    const jobs = [job('b'), job('a')];
    expect(filterJobs(jobs, { text: '  ', phases: new Set() })).toEqual(jobs);
  });

  it('shows a phase with its reason, ready/total and an age', () => {
    const j = job('r', 'Pending', {
      status: status('Pending', { reason: 'Unschedulable', message: 'worker-0: 0/1 nodes have 8 GPUs', ready: 0, total: 2 })
    });
    expect(statusLine(j)).toBe('Pending — Unschedulable: worker-0: 0/1 nodes have 8 GPUs');
    expect(replicaCount(j)).toBe('0/2');
    expect(replicaCount({ ...j, status: null })).toBe('–');
    expect(jobPhase({ ...j, status: null, cancelled: true })).toBe('Cancelled');
    const now = Date.parse('2025-01-01T12:00:00Z');
    expect(formatAge('2025-01-01T11:59:15Z', now)).toBe('45s');
    expect(formatAge('2025-01-01T11:00:00Z', now)).toBe('1h');
    const local = new Date(2025, 0, 2, 3, 4, 5); // a local time, whatever the test's zone
    expect(formatTimestamp(local.toISOString())).toBe('2025-01-02 03:04:05');
    expect(formatTimestamp('not a time')).toBe('?');
    expect(formatAge('2025-01-01T11:00:30Z', now)).toBe('59m');
    expect(formatAge('2024-12-30T12:00:00Z', now)).toBe('2d');
    expect(formatAge('not a time', now)).toBe('?');
  });

  it('says how many pods are ready while a job runs, and how many succeeded once it finished', () => {
    expect(replicaSummary(job('r'))).toBe('2/2 ready');
    const done = (phase: 'Succeeded' | 'Failed', replicas: Record<string, Record<string, number>>) =>
      replicaSummary(job('d', phase, { status: status(phase, { ready: 0, total: 3, replicas }) }));
    expect(done('Succeeded', { Master: { succeeded: 1 }, Worker: { succeeded: 2, active: 0 } })).toBe('3/3 succeeded');
    expect(done('Failed', { rank: { succeeded: 1, failed: 4 } })).toBe('1/3 succeeded, 4 failed');
    expect(replicaSummary(job('c', 'Cancelled'))).toBe('stopped');
    expect(replicaSummary({ ...job('p', 'Pending'), status: null })).toBe('– ready');
  });
});

import { describe, expect, it } from 'vitest';

import { ApiError, TeamhubClient, logsQuery } from '../src/api/client';
import { fakeServer, job, json, textStream } from './helpers';

describe('TeamhubClient', () => {
  it('lists jobs from the {jobs: [...]} body', async () => {
    const { fetcher, calls } = fakeServer(() => json({ jobs: [job('a'), job('b')] }));
    const client = new TeamhubClient(fetcher);
    const jobs = await client.listJobs();
    expect(jobs.map(j => j.name)).toEqual(['a', 'b']);
    expect(calls[0]).toMatchObject({ path: 'jobs', method: 'GET' });
  });

  it('submits the spec as JSON with JobSpec field names', async () => {
    const { fetcher, calls } = fakeServer(() => json(job('train'), 201));
    const client = new TeamhubClient(fetcher);
    const created = await client.submitJob({ backend: 'pytorch', workers: 2, procs_per_worker: 1, command: 'python train.py' });
    expect(created.name).toBe('train');
    expect(calls[0]).toMatchObject({
      path: 'jobs',
      method: 'POST',
      body: { backend: 'pytorch', workers: 2, procs_per_worker: 1, command: 'python train.py' }
    });
  });

  it('turns a 400 into an ApiError with per-field problems', async () => {
    const { fetcher } = fakeServer(() =>
      json(
        {
          message: 'workers: must be at least 1 (got 0)',
          reason: 'InvalidJobSpec',
          errors: [
            { field: 'workers', message: 'must be at least 1 (got 0)' },
            { field: 'env.1X', message: "'1X' is not a valid variable name" },
            { field: 'env.Y', message: 'bad' }
          ]
        },
        400
      )
    );
    const client = new TeamhubClient(fetcher);
    const err = await client.submitJob({ workers: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(400);
    expect(e.reason).toBe('InvalidJobSpec');
    expect(e.byField().get('workers')).toEqual(['must be at least 1 (got 0)']);
    expect(e.byField().get('env')).toHaveLength(2);
  });

  it('keeps the status line when an error body is not JSON', async () => {
    const { fetcher } = fakeServer(() => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const err = (await new TeamhubClient(fetcher).listJobs().catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(err.message).toBe('502 Bad Gateway');
  });

  it('reports a network failure as status 0', async () => {
    const client = new TeamhubClient(() => Promise.reject(new TypeError('Failed to fetch')));
    const err = (await client.listJobs().catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(0);
    expect(err.message).toMatch(/could not be reached: Failed to fetch/);
  });

  it('escapes job names in paths and uses the right methods', async () => {
    const { fetcher, calls } = fakeServer(call =>
      call.method === 'DELETE' ? new Response(null, { status: 204 }) : json(call.path.endsWith('events') ? { events: [] } : job('x'))
    );
    const client = new TeamhubClient(fetcher);
    await client.cancelJob('a/b');
    await client.deleteJob('x');
    await client.getJob('x');
    expect(await client.events('x')).toEqual([]);
    expect(calls.map(c => `${c.method} ${c.path}`)).toEqual([
      'POST jobs/a%2Fb/cancel',
      'DELETE jobs/x',
      'GET jobs/x',
      'GET jobs/x/events'
    ]);
  });

  it('streams log lines as chunks arrive, whole lines only', async () => {
    const stream = textStream();
    const { fetcher, calls } = fakeServer(() => stream.response);
    const client = new TeamhubClient(fetcher);
    const batches: string[][] = [];
    const done = client.streamLogs('train', { follow: true, tail: 100 }, lines => batches.push(lines));
    await new Promise(r => setTimeout(r, 0));
    stream.push('[worker-0] one\n[worker-1] tw');
    await new Promise(r => setTimeout(r, 0));
    expect(batches).toEqual([['[worker-0] one']]);
    stream.push('o\n[worker-0] last');
    stream.end();
    await done;
    expect(batches.flat()).toEqual(['[worker-0] one', '[worker-1] two', '[worker-0] last']);
    expect(calls[0]!.path).toBe('jobs/train/logs?follow=true&tail=100');
  });

  it('stops a followed stream when aborted', async () => {
    const stream = textStream();
    const { fetcher } = fakeServer(() => stream.response);
    const ctrl = new AbortController();
    const seen: string[] = [];
    const done = new TeamhubClient(fetcher).streamLogs('t', { follow: true }, l => seen.push(...l), ctrl.signal);
    stream.push('a\n');
    await new Promise(r => setTimeout(r, 0));
    ctrl.abort();
    // The fake body ignores the signal (a real fetch body errors): end it as the browser would.
    stream.end();
    await done;
    expect(seen).toEqual(['a']);
  });
});

describe('logsQuery', () => {
  it('encodes every option the server reads', () => {
    expect(logsQuery({})).toBe('');
    expect(
      logsQuery({ replica: ['worker-0', 'worker-1'], follow: false, tail: 0, since: 300, previous: true, timestamps: true, prefix: false })
    ).toBe('?replica=worker-0%2Cworker-1&follow=false&previous=true&timestamps=true&prefix=false&tail=0&since=300');
  });

  it('refuses a negative or fractional tail', () => {
    expect(() => logsQuery({ tail: -1 })).toThrow(RangeError);
    expect(() => logsQuery({ tail: 1.5 })).toThrow(/whole number/);
  });
});

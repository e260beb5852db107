/** Test helpers: a fake API server behind a `Fetcher`, and sample jobs. */
import type { Fetcher } from '../src/api/client';
import type { Job, JobStatus, Phase } from '../src/api/types';

export interface Call {
  path: string;
  method: string;
  body: unknown;
  signal?: AbortSignal | null;
}

export type Route = (call: Call) => Response | Promise<Response>;

export function json(data: unknown, status = 200): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

/** A streamed text response whose chunks arrive one by one as `push` is called. */
export function textStream(): {
  response: Response;
  push: (text: string) => void;
  end: () => void;
} {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
    }
  });
  const enc = new TextEncoder();
  return {
    response: new Response(body, { headers: { 'Content-Type': 'text/plain' } }),
    push: text => ctrl.enqueue(enc.encode(text)),
    end: () => ctrl.close()
  };
}

/** A `Fetcher` that records calls and answers from `route`. */
export function fakeServer(route: Route): { fetcher: Fetcher; calls: Call[] } {
  const calls: Call[] = [];
  const fetcher: Fetcher = async (path, init) => {
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const call: Call = { path, method: init.method ?? 'GET', body, signal: init.signal };
    calls.push(call);
    if (init.signal?.aborted) {
      throw new DOMException('aborted', 'AbortError');
    }
    return route(call);
  };
  return { fetcher, calls };
}

export function status(phase: Phase, extra: Partial<JobStatus> = {}): JobStatus {
  return {
    phase,
    reason: null,
    message: null,
    ready: 0,
    total: 2,
    conditions: [],
    replicas: {},
    startTime: null,
    completionTime: null,
    finished: ['Succeeded', 'Failed', 'Cancelled'].includes(phase),
    ...extra
  };
}

export function job(name: string, phase: Phase = 'Running', extra: Partial<Job> = {}): Job {
  return {
    name,
    namespace: 'teamhub-alice',
    backend: 'pytorch',
    kind: 'PyTorchJob',
    submission: `sub-${name}`,
    uid: `uid-${name}`,
    created: '2025-01-01T12:00:00Z',
    cancelled: phase === 'Cancelled',
    spec: { backend: 'pytorch', workers: 2 },
    status: status(phase, phase === 'Running' ? { ready: 2, total: 2 } : {}),
    ...extra
  };
}

/** Lets pending promise callbacks run. */
export async function settle(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) {
    await Promise.resolve();
  }
}

/**
 * The typed client of teamhub's REST API. It is given a `Fetcher` (in JupyterLab, one made
 * from `ServerConnection.makeRequest`, which adds the token and XSRF headers; in tests, a
 * fake), so everything here is plain TypeScript that runs anywhere.
 */
import { LineSplitter } from './lines';
import type {
  Capabilities,
  Environment,
  ErrorBody,
  EventList,
  FieldError,
  Job,
  JobEvent,
  JobList,
  JobSpecInput,
  LogOptions
} from './types';

/** Makes a request to a path under the API root (`jobs`, `jobs/x/logs?follow=true`). */
export type Fetcher = (path: string, init: RequestInit) => Promise<Response>;

/** An error answer of the API (or a network failure, `status` 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody
  ) {
    super(body.message);
    this.name = 'ApiError';
  }

  get reason(): string | null {
    return this.body.reason ?? null;
  }

  /** Per-field problems (`errors` of a 400/403/422), `""` for the request as a whole. */
  get fieldErrors(): FieldError[] {
    return this.body.errors ?? [];
  }

  /** Problems grouped by their field's top-level name (`env.FOO` → `env`). */
  byField(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const e of this.fieldErrors) {
      const key = e.field.split('.')[0] ?? '';
      const list = out.get(key) ?? [];
      list.push(e.message);
      out.set(key, list);
    }
    return out;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: ErrorBody = { message: `${response.status} ${response.statusText}`.trim() };
  try {
    const data: unknown = await response.json();
    if (isErrorBody(data)) {
      body = data;
    }
  } catch {
    // Not JSON (a proxy's error page): keep the status line.
  }
  return new ApiError(response.status, body);
}

function encode(name: string): string {
  return encodeURIComponent(name);
}

/** The query string of a logs request (booleans as `true`/`false`, lists comma-joined). */
export function logsQuery(opts: LogOptions): string {
  const params = new URLSearchParams();
  if (opts.replica !== undefined) {
    const list = Array.isArray(opts.replica) ? opts.replica : [opts.replica];
    if (list.length) {
      params.set('replica', list.join(','));
    }
  }
  for (const key of ['follow', 'previous', 'timestamps', 'prefix'] as const) {
    const v = opts[key];
    if (v !== undefined) {
      params.set(key, v ? 'true' : 'false');
    }
  }
  if (opts.tail !== undefined) {
    if (!Number.isInteger(opts.tail) || opts.tail < 0) {
      throw new RangeError(`tail must be a whole number >= 0 (got ${opts.tail})`);
    }
    params.set('tail', String(opts.tail));
  }
  if (opts.since !== undefined) {
    params.set('since', String(opts.since));
  }
  const q = params.toString();
  return q ? `?${q}` : '';
}

export class TeamhubClient {
  constructor(private readonly fetcher: Fetcher) {}

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetcher(path, init);
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') {
        throw e;
      }
      const message = e instanceof Error ? e.message : String(e);
      throw new ApiError(0, { message: `the server could not be reached: ${message}` });
    }
    if (!response.ok) {
      throw await errorOf(response);
    }
    return response;
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.request(path, init);
    return (await response.json()) as T;
  }

  async listJobs(signal?: AbortSignal): Promise<Job[]> {
    const list = await this.json<JobList>('jobs', { method: 'GET', signal });
    return list.jobs;
  }

  /** A job with its status and pods. */
  getJob(name: string, signal?: AbortSignal): Promise<Job> {
    return this.json<Job>(`jobs/${encode(name)}`, { method: 'GET', signal });
  }

  /** Submits a job; a bad spec is an `ApiError` whose `fieldErrors` name the fields. */
  submitJob(spec: JobSpecInput): Promise<Job> {
    return this.json<Job>('jobs', {
      method: 'POST',
      body: JSON.stringify(spec),
      headers: { 'Content-Type': 'application/json' }
    });
  }

  /** Stops the job's pods (their logs archived first); its record stays. */
  cancelJob(name: string): Promise<Job> {
    return this.json<Job>(`jobs/${encode(name)}/cancel`, { method: 'POST' });
  }

  async deleteJob(name: string): Promise<void> {
    await this.request(`jobs/${encode(name)}`, { method: 'DELETE' });
  }

  async events(name: string, signal?: AbortSignal): Promise<JobEvent[]> {
    const list = await this.json<EventList>(`jobs/${encode(name)}/events`, {
      method: 'GET',
      signal
    });
    return list.events;
  }

  environment(): Promise<Environment> {
    return this.json<Environment>('environment', { method: 'GET' });
  }

  capabilities(): Promise<Capabilities> {
    return this.json<Capabilities>('capabilities', { method: 'GET' });
  }

  /**
   * Streams a job's log, calling `onLines` with each batch of whole lines as it arrives.
   * Resolves when the stream ends (a snapshot read, or a followed job that finished);
   * abort `signal` to stop following. Memory is bounded by the line splitter.
   */
  async streamLogs(
    name: string,
    opts: LogOptions,
    onLines: (lines: string[]) => void,
    signal?: AbortSignal
  ): Promise<void> {
    const response = await this.request(`jobs/${encode(name)}/logs${logsQuery(opts)}`, {
      method: 'GET',
      signal
    });
    const splitter = new LineSplitter();
    const body = response.body;
    if (body === null) {
      const lines = [...splitter.push(await response.text()), ...splitter.end()];
      if (lines.length) {
        onLines(lines);
      }
      return;
    }
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        const lines = splitter.push(value);
        if (lines.length) {
          onLines(lines);
        }
      }
      const rest = splitter.end();
      if (rest.length) {
        onLines(rest);
      }
    } finally {
      reader.releaseLock();
    }
  }
}

/** Small pure helpers the views share: a job's phase, its age, its replica counts. */
import type { Job, Phase } from '../api/types';

/** The job's phase (a job listed without status is Pending until the server says more). */
export function jobPhase(job: Job): Phase {
  if (job.status) {
    return job.status.phase;
  }
  return job.cancelled ? 'Cancelled' : 'Pending';
}

export function isFinished(job: Job): boolean {
  const phase = jobPhase(job);
  return phase === 'Succeeded' || phase === 'Failed' || phase === 'Cancelled';
}

/** `42s`, `5m`, `3h`, `2d` since `created` (an RFC 3339 time); `?` if unreadable. */
export function formatAge(created: string, now: number = Date.now()): string {
  const t = Date.parse(created);
  if (Number.isNaN(t)) {
    return '?';
  }
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) {
    return `${s}s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m}m`;
  }
  const h = Math.floor(m / 60);
  if (h < 48) {
    return `${h}h`;
  }
  return `${Math.floor(h / 24)}d`;
}

/**
 * `created` (an RFC 3339 time) as a local date and time, `2026-11-28 09:36:30`, for views
 * that are not re-rendered as time passes (a relative age would go stale there); `?` if
 * unreadable.
 */
export function formatTimestamp(created: string): string {
  const t = new Date(Date.parse(created));
  if (Number.isNaN(t.getTime())) {
    return '?';
  }
  const pad = (n: number): string => String(n).padStart(2, '0');
  const day = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
  return `${day} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

/** `ready/total` of the job's pods (`–` when the server did not say). */
export function replicaCount(job: Job): string {
  const s = job.status;
  if (!s) {
    return '–';
  }
  return `${s.ready}/${s.total}`;
}

/**
 * What a job's pods are doing, in the sidebar and the detail view: `1/2 ready` while it
 * runs; once it has finished its pods are no longer ready, so how many succeeded (and how
 * many pods failed, retries included); `stopped` once cancelled.
 */
export function replicaSummary(job: Job): string {
  const s = job.status;
  const phase = jobPhase(job);
  if (phase === 'Cancelled') {
    return 'stopped';
  }
  if (!s) {
    return '– ready';
  }
  if (phase !== 'Succeeded' && phase !== 'Failed') {
    return `${s.ready}/${s.total} ready`;
  }
  const count = (key: string) => Object.values(s.replicas ?? {}).reduce((n, r) => n + (r[key] ?? 0), 0);
  const failed = count('failed');
  const summary = `${count('succeeded')}/${s.total} succeeded`;
  return failed ? `${summary}, ${failed} failed` : summary;
}

/** The one-line explanation a badge's tooltip and the sidebar show (e.g. why Pending). */
export function statusLine(job: Job): string {
  const s = job.status;
  const phase = jobPhase(job);
  if (!s) {
    return phase;
  }
  const why = s.reason ? `${s.reason}${s.message ? `: ${s.message}` : ''}` : (s.message ?? '');
  return why ? `${phase} — ${why}` : phase;
}

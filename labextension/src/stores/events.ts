/**
 * Which of a job's warning events still matter.
 *
 * Every job submitted from a script or a cell mounts its code from a ConfigMap,
 * `<job>.job`, which the library creates right after the Job (the ConfigMap is owned by
 * the Job, so it needs the Job's uid). A pod the controller starts in between meets a
 * `FailedMount ... configmap "<job>.job" not found` warning; the kubelet retries and the
 * pod starts a moment later. Once the pod has started (a `Started` event of that pod, the
 * pod running or done, or the whole job running or succeeded), that warning was the
 * ordinary race and is shown muted, not counted; until then it may be a real problem (the
 * ConfigMap was never created) and stays a warning like any other.
 */
import type { Job, JobEvent } from '../api/types';

const CONFIGMAP_MISSING = /configmap "([^"]+)" not found/;

/** Whether `event` is the kubelet failing to mount job `name`'s own code ConfigMap. */
export function isCodeMountWarning(event: JobEvent, name: string): boolean {
  if (event.type !== 'Warning' || event.reason !== 'FailedMount') {
    return false;
  }
  return CONFIGMAP_MISSING.exec(event.message)?.[1] === `${name}.job`;
}

export interface TimelineEvent {
  event: JobEvent;
  /** A warning that no longer matters (the code ConfigMap arrived and the pod started). */
  cleared: boolean;
}

const STARTED_PHASES = new Set(['Running', 'Succeeded']);

/** The events of job `name` (in the server's time order), each marked cleared or not. */
export function timelineEvents(name: string, events: readonly JobEvent[], job: Job | null): TimelineEvent[] {
  const jobStarted = STARTED_PHASES.has(job?.status?.phase ?? '');
  const podStarted = (object: string, after: number): boolean => {
    if (!object.startsWith('Pod/')) {
      return false;
    }
    const podName = object.slice('Pod/'.length);
    if (job?.pods?.some(p => p.name === podName && STARTED_PHASES.has(p.phase))) {
      return true;
    }
    return events.some((e, i) => i > after && e.object === object && e.reason === 'Started');
  };
  return events.map((event, i) => ({
    event,
    cleared: isCodeMountWarning(event, name) && (jobStarted || podStarted(event.object, i))
  }));
}

/** How many warnings still matter. */
export function activeWarnings(timeline: readonly TimelineEvent[]): number {
  return timeline.filter(t => t.event.type === 'Warning' && !t.cleared).length;
}

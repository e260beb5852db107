/** The status badge: the phase in words (never colour alone), its reason as a tooltip. */
import type { Job } from '../api/types';
import { jobPhase, statusLine } from '../stores/format';
import { h } from './dom';

export function statusBadge(job: Job): HTMLElement {
  const phase = jobPhase(job);
  const reason = job.status?.reason;
  const label = phase === 'Pending' && reason ? `Pending: ${reason}` : phase;
  return h(
    'span',
    {
      class: `teamhub-badge teamhub-badge-${phase.toLowerCase()}`,
      title: statusLine(job),
      attrs: { 'aria-label': `Status: ${statusLine(job)}` }
    },
    label
  );
}

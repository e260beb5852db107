import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { TeamhubClient } from '../src/api/client';
import type { Job, JobEvent } from '../src/api/types';
import { activeWarnings, isCodeMountWarning, timelineEvents } from '../src/stores/events';
import { JobsStore } from '../src/stores/jobs';
import { JobDetail } from '../src/widgets/detail';
import { JobsSidebar } from '../src/widgets/sidebar';
import { fakeServer, job, json, settle, status, textStream } from './helpers';

const poll = { interval: 1000, maxInterval: 4000, backoff: 2 };
const NOW = Date.parse('2025-01-01T12:05:00Z');

afterEach(() => {
  document.body.replaceChildren();
});

function sidebarWith(jobs: () => Job[]) {
  const server = fakeServer(call => {
    if (call.path === 'jobs' && call.method === 'GET') {
      return json({ jobs: jobs() });
    }
    if (call.method === 'DELETE') {
      return new Response(null, { status: 204 });
    }
    return json(job('x', 'Cancelled'));
  });
  const store = new JobsStore(new TeamhubClient(server.fetcher), poll);
  const openJob = vi.fn();
  const confirm = vi.fn(() => Promise.resolve(true));
  const showError = vi.fn();
  const sidebar = new JobsSidebar({ store, openJob, confirm, showError, submit: vi.fn(), now: () => NOW });
  return { sidebar, store, server, openJob, confirm, showError };
}

describe('JobsSidebar', () => {
  it('lists jobs with backend, age, ready/total and a badge; a pending job says why', async () => {
    const { sidebar, store } = sidebarWith(() => [
      job('bert', 'Running'),
      job('big', 'Pending', {
        status: status('Pending', { reason: 'Unschedulable', message: 'worker-0: unschedulable: 0/1 nodes have 8 free nvidia.com/gpu' })
      }),
      job('<img src=x onerror=alert(1)>', 'Succeeded')
    ]);
    Widget.attach(sidebar, document.body);
    await store.refresh();
    const items = sidebar.node.querySelectorAll('.teamhub-JobsSidebar-item');
    expect(items).toHaveLength(3);
    const first = items[0]!;
    expect(first.querySelector('.teamhub-JobsSidebar-backend')!.textContent).toBe('pytorch');
    expect(first.querySelector('.teamhub-JobsSidebar-age')!.textContent).toBe('5m');
    expect(first.querySelector('.teamhub-JobsSidebar-replicas')!.textContent).toBe('2/2 ready');
    expect(first.querySelector('.teamhub-badge')!.textContent).toBe('Running');
    const pending = items[1]!;
    expect(pending.querySelector('.teamhub-badge')!.textContent).toBe('Pending: Unschedulable');
    expect(pending.querySelector('.teamhub-badge-pending')).not.toBeNull();
    expect(pending.querySelector('.teamhub-JobsSidebar-why')!.textContent).toMatch(/8 free nvidia.com\/gpu/);
    // A name is text, never markup.
    expect(items[2]!.querySelector('img')).toBeNull();
    expect(items[2]!.querySelector('.teamhub-JobsSidebar-name')!.textContent).toBe('<img src=x onerror=alert(1)>');
    // Finished jobs cannot be cancelled.
    expect(items[2]!.querySelector<HTMLButtonElement>('.teamhub-action-cancel')!.disabled).toBe(true);
    sidebar.dispose();
    store.dispose();
  });

  it('polls only while shown', async () => {
    vi.useFakeTimers();
    try {
      const { sidebar, store, server } = sidebarWith(() => [job('a')]);
      Widget.attach(sidebar, document.body);
      await vi.advanceTimersByTimeAsync(0);
      expect(server.calls).toHaveLength(1);
      sidebar.hide();
      await vi.advanceTimersByTimeAsync(60000);
      expect(server.calls).toHaveLength(1);
      sidebar.show();
      await vi.advanceTimersByTimeAsync(0);
      expect(server.calls).toHaveLength(2);
      sidebar.dispose();
      store.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it('filters by search text and phase chips', async () => {
    const { sidebar, store } = sidebarWith(() => [job('alpha', 'Running'), job('beta', 'Failed'), job('gamma', 'Pending')]);
    Widget.attach(sidebar, document.body);
    await store.refresh();
    const search = sidebar.node.querySelector<HTMLInputElement>('input[type=search]')!;
    expect(search.getAttribute('aria-label')).toBe('Search jobs');
    search.value = 'ta';
    search.dispatchEvent(new Event('input'));
    const names = () => [...sidebar.node.querySelectorAll('.teamhub-JobsSidebar-name')].map(n => n.textContent);
    expect(names()).toEqual(['beta']);
    search.value = '';
    search.dispatchEvent(new Event('input'));
    const chip = [...sidebar.node.querySelectorAll<HTMLButtonElement>('.teamhub-chip')].find(c => c.textContent === 'Pending')!;
    chip.click();
    expect(chip.getAttribute('aria-pressed')).toBe('true');
    expect(names()).toEqual(['gamma']);
    search.value = 'nothing-like-this';
    search.dispatchEvent(new Event('input'));
    expect(sidebar.node.querySelector('.teamhub-JobsSidebar-status')!.textContent).toBe('No job matches the filter.');
    sidebar.dispose();
    store.dispose();
  });

  it('cancels after confirming, deletes, and opens logs', async () => {
    let jobs = [job('train', 'Running')];
    const { sidebar, store, server, openJob, confirm } = sidebarWith(() => jobs);
    Widget.attach(sidebar, document.body);
    await store.refresh();
    const button = (cls: string) => sidebar.node.querySelector<HTMLButtonElement>(`.teamhub-action-${cls}`)!;
    expect(button('cancel').getAttribute('aria-label')).toBe('Cancel job train');
    button('logs').click();
    expect(openJob).toHaveBeenCalledWith('train');
    button('cancel').click();
    await settle(20);
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(server.calls.some(c => c.method === 'POST' && c.path === 'jobs/train/cancel')).toBe(true);
    jobs = [];
    button('delete').click();
    await settle(20);
    expect(server.calls.some(c => c.method === 'DELETE' && c.path === 'jobs/train')).toBe(true);
    expect(sidebar.node.querySelectorAll('.teamhub-JobsSidebar-item')).toHaveLength(0);
    sidebar.dispose();
    store.dispose();
  });

  it('does nothing when the user does not confirm, and shows action errors', async () => {
    const server = fakeServer(call =>
      call.method === 'GET' ? json({ jobs: [job('t')] }) : json({ message: 'the Kubernetes API refused', reason: 'KubernetesApiError' }, 502)
    );
    const store = new JobsStore(new TeamhubClient(server.fetcher), poll);
    const confirm = vi.fn().mockResolvedValueOnce(false).mockResolvedValueOnce(true);
    const showError = vi.fn();
    const sidebar = new JobsSidebar({ store, openJob: vi.fn(), confirm, showError });
    Widget.attach(sidebar, document.body);
    await store.refresh();
    sidebar.node.querySelector<HTMLButtonElement>('.teamhub-action-cancel')!.click();
    await settle(20);
    expect(server.calls.filter(c => c.method === 'POST')).toHaveLength(0);
    sidebar.node.querySelector<HTMLButtonElement>('.teamhub-action-cancel')!.click();
    await settle(20);
    expect(showError).toHaveBeenCalledWith('Could not cancel t', expect.objectContaining({ message: 'the Kubernetes API refused' }));
    sidebar.dispose();
    store.dispose();
  });

  it('shows a listing error as an alert', async () => {
    const server = fakeServer(() => json({ message: 'this server cannot run jobs: not a teamhub pod' }, 503));
    const store = new JobsStore(new TeamhubClient(server.fetcher), poll);
    const sidebar = new JobsSidebar({ store, openJob: vi.fn(), confirm: vi.fn(), showError: vi.fn() });
    await store.refresh().catch(() => undefined);
    const status = sidebar.node.querySelector('.teamhub-JobsSidebar-status')!;
    expect(status.getAttribute('role')).toBe('alert');
    expect(status.textContent).toBe('Could not list jobs: this server cannot run jobs: not a teamhub pod');
    sidebar.dispose();
    store.dispose();
  });
});

describe('JobDetail', () => {
  function detailServer() {
    const streams: ReturnType<typeof textStream>[] = [];
    const server = fakeServer(call => {
      if (call.path.startsWith('jobs/train/logs')) {
        const s = textStream();
        streams.push(s);
        return s.response;
      }
      if (call.path === 'jobs/train/events') {
        return json({
          events: [
            { time: '2025-01-01T12:00:01Z', type: 'Warning', reason: 'FailedScheduling', message: '0/1 nodes available', object: 'Pod/train-worker-1', replica: 'worker-1', count: 3, explanation: 'unschedulable: no node can run this pod now' }
          ]
        });
      }
      return json(
        job('train', 'Running', {
          pods: [
            { name: 'train-master-0', replica: 'master-0', role: 'master', index: 0, rank: 0, phase: 'Running', ready: true, restarts: 0, created: '2025-01-01T12:00:00Z' },
            { name: 'train-worker-0', replica: 'worker-0', role: 'worker', index: 0, rank: 1, phase: 'Pending', ready: false, restarts: 0, created: '2025-01-01T12:00:00Z', reason: 'Unschedulable' }
          ]
        })
      );
    });
    return { server, streams };
  }

  it('shows status, events with explanations, and a tab per rank plus merged', async () => {
    const { server, streams } = detailServer();
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'train', poll });
    Widget.attach(detail, document.body);
    await detail.refresh();
    await settle(10);
    expect(detail.node.querySelector('.teamhub-badge')!.textContent).toBe('Running');
    const event = detail.node.querySelector('.teamhub-event-warning')!;
    expect(event.textContent).toContain('FailedScheduling');
    expect(event.querySelector('.teamhub-event-why')!.textContent).toBe('unschedulable: no node can run this pod now');
    expect(detail.node.querySelector('details')!.hasAttribute('open')).toBe(true);
    const tabs = [...detail.node.querySelectorAll<HTMLButtonElement>('[role=tab]')];
    expect(tabs.map(t => t.textContent)).toEqual(['All ranks', 'master-0', 'worker-0']);
    expect(tabs[0]!.getAttribute('aria-selected')).toBe('true');
    // The merged stream was opened, following, with the default tail.
    expect(server.calls.find(c => c.path.includes('/logs'))!.path).toBe('jobs/train/logs?follow=true&prefix=true&tail=1000');
    streams[0]!.push('[master-0] hello <script>x</script>\n[worker-0] hi\n');
    await settle(10);
    await new Promise(r => setTimeout(r, 0));
    detail.logView.flush();
    expect(detail.model.length).toBe(2);
    expect(detail.logView.node.querySelector('script')).toBeNull();
    // A rank's tab opens that rank's stream only (no prefix), aborting the merged one.
    tabs[2]!.click();
    expect(server.calls.filter(c => c.path.includes('/logs')).map(c => c.path)).toEqual([
      'jobs/train/logs?follow=true&prefix=true&tail=1000',
      'jobs/train/logs?replica=worker-0&follow=true&prefix=false&tail=1000'
    ]);
    expect(server.calls.find(c => c.path.includes('prefix=true'))!.signal!.aborted).toBe(true);
    expect(detail.model.length).toBe(0);
    // Arrow keys move between tabs.
    const selected = detail.node.querySelector<HTMLButtonElement>('[role=tab][aria-selected=true]')!;
    selected.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft' }));
    expect(detail.selectedReplica).toBe('master-0');
    detail.dispose();
  });

  it('re-opens the stream when follow or tail change', async () => {
    const { server } = detailServer();
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'train', poll });
    Widget.attach(detail, document.body);
    await settle(5);
    const follow = detail.node.querySelector<HTMLInputElement>('input[type=checkbox]')!;
    follow.checked = false;
    follow.dispatchEvent(new Event('change'));
    const tail = detail.node.querySelector<HTMLSelectElement>('select')!;
    tail.value = '0';
    tail.dispatchEvent(new Event('change'));
    expect(server.calls.filter(c => c.path.includes('/logs')).map(c => c.path)).toEqual([
      'jobs/train/logs?follow=true&prefix=true&tail=1000',
      'jobs/train/logs?follow=false&prefix=true&tail=1000',
      'jobs/train/logs?follow=false&prefix=true'
    ]);
    detail.dispose();
  });
});

describe("the job's code ConfigMap warning", () => {
  const at = (s: number) => `2025-01-01T12:00:${String(s).padStart(2, '0')}Z`;
  const ev = (s: number, type: string, reason: string, message: string, object = 'Pod/cell-job-0-v9qcb', replica: string | null = 'rank-0'): JobEvent => ({
    time: at(s),
    type,
    reason,
    message,
    object,
    replica,
    count: 1,
    explanation: reason === 'FailedMount' ? `a volume cannot be mounted yet (${message})` : null
  });
  const MISSING = 'MountVolume.SetUp failed for volume "teamhub-job-code" : configmap "cell-job.job" not found';
  const codeMiss = (s: number, object?: string, replica?: string) => ev(s, 'Warning', 'FailedMount', MISSING, object, replica);
  const started = (s: number, object?: string, replica?: string) => ev(s, 'Normal', 'Started', 'Started container job', object, replica);
  const pod = (name: string, replica: string, phase: string) => ({ name, replica, role: 'rank', index: 0, phase, ready: phase === 'Running', restarts: 0, created: at(0) });

  it("recognises a FailedMount of the job's own code ConfigMap only", () => {
    expect(isCodeMountWarning(codeMiss(1), 'cell-job')).toBe(true);
    // kubesim's kubelet words it without the MountVolume prefix
    expect(isCodeMountWarning(ev(1, 'Warning', 'FailedMount', 'configmap "cell-job.job" not found'), 'cell-job')).toBe(true);
    expect(isCodeMountWarning(codeMiss(1), 'cell')).toBe(false);
    expect(isCodeMountWarning(ev(1, 'Warning', 'FailedMount', 'configmap "team-settings" not found'), 'cell-job')).toBe(false);
    expect(isCodeMountWarning(ev(1, 'Warning', 'FailedMount', 'secret "cell-job.job" not found'), 'cell-job')).toBe(false);
    expect(isCodeMountWarning(ev(1, 'Normal', 'FailedMount', MISSING), 'cell-job')).toBe(false);
  });

  it('is cleared once that pod started, or the job runs or succeeded; not before', () => {
    const pending = job('cell-job', 'Pending');
    const cleared = (events: JobEvent[], j: Job | null) => timelineEvents('cell-job', events, j).map(t => t.cleared);
    // Still waiting for the code: a warning like any other.
    expect(cleared([codeMiss(1)], pending)).toEqual([false]);
    expect(cleared([codeMiss(1)], null)).toEqual([false]);
    // Its pod's container started afterwards.
    expect(cleared([codeMiss(1), started(2)], pending)).toEqual([true, false]);
    // Another pod started, this one not yet (and it is not running): still a warning.
    expect(cleared([codeMiss(1), started(2, 'Pod/cell-job-1-s4gmp', 'rank-1')], pending)).toEqual([false, false]);
    // The pod runs (its Started event already gone), or the whole job runs or succeeded.
    expect(cleared([codeMiss(1)], { ...pending, pods: [pod('cell-job-0-v9qcb', 'rank-0', 'Running')] })).toEqual([true]);
    expect(cleared([codeMiss(1)], job('cell-job', 'Running'))).toEqual([true]);
    expect(cleared([codeMiss(1)], job('cell-job', 'Succeeded'))).toEqual([true]);
    // A job that failed or was cancelled without its pod ever starting: the warning may be why.
    expect(cleared([codeMiss(1)], job('cell-job', 'Failed'))).toEqual([false]);
    // Other warnings never clear.
    const other = ev(1, 'Warning', 'FailedMount', 'configmap "team-settings" not found');
    const timeline = timelineEvents('cell-job', [other, codeMiss(1), started(2)], job('cell-job', 'Running'));
    expect(timeline.map(t => t.cleared)).toEqual([false, true, false]);
    expect(activeWarnings(timeline)).toBe(1);
  });

  function cellJobServer() {
    const state = { job: job('cell-job', 'Pending', { backend: 'indexed', kind: 'Job' }), events: [codeMiss(1)] as JobEvent[] };
    const server = fakeServer(call => {
      if (call.path.startsWith('jobs/cell-job/logs')) {
        return textStream().response;
      }
      if (call.path === 'jobs/cell-job/events') {
        return json({ events: state.events });
      }
      return json(state.job);
    });
    return { server, state };
  }

  it('is muted, not counted, and closes the timeline it opened once the pod started', async () => {
    const { server, state } = cellJobServer();
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'cell-job', poll });
    Widget.attach(detail, document.body);
    await detail.refresh();
    const summary = () => detail.node.querySelector('summary')!.textContent;
    const items = () => [...detail.node.querySelectorAll('.teamhub-JobDetail-events li')];
    // While the pod waits, it is a warning: counted, prominent, and the timeline opens.
    expect(summary()).toBe('Conditions and events (1, 1 warning)');
    expect(items()[0]!.classList.contains('teamhub-event-warning')).toBe(true);
    expect(detail.timelineOpen).toBe(true);

    state.job = job('cell-job', 'Running', { backend: 'indexed', kind: 'Job' });
    state.events = [codeMiss(1), ev(2, 'Normal', 'Created', 'Created container: job'), started(2)];
    await detail.refresh();
    expect(summary()).toBe('Conditions and events (3, 1 cleared)');
    const first = items()[0]!;
    expect(first.classList.contains('teamhub-event-warning')).toBe(false);
    expect(first.classList.contains('teamhub-event-cleared')).toBe(true);
    expect(first.textContent).toContain('FailedMount');
    expect(first.querySelector('.teamhub-event-note')!.textContent).toBe(" (cleared: the job's code arrived)");
    expect(first.querySelector('.teamhub-event-why')).toBeNull();
    expect(detail.timelineOpen).toBe(false);

    // A genuine warning later still stands out, and opens the timeline again.
    state.events = [...state.events, ev(3, 'Warning', 'BackOff', 'Back-off restarting failed container job')];
    await detail.refresh();
    expect(summary()).toBe('Conditions and events (4, 1 warning, 1 cleared)');
    expect(items()[3]!.classList.contains('teamhub-event-warning')).toBe(true);
    expect(detail.timelineOpen).toBe(true);
    detail.dispose();
  });

  it('does not open the timeline when the pod had started by the first look', async () => {
    const { server, state } = cellJobServer();
    state.job = job('cell-job', 'Succeeded', { backend: 'indexed', kind: 'Job' });
    state.events = [codeMiss(1), started(2)];
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'cell-job', poll });
    Widget.attach(detail, document.body);
    await detail.refresh();
    expect(detail.node.querySelector('summary')!.textContent).toBe('Conditions and events (2, 1 cleared)');
    expect(detail.timelineOpen).toBe(false);
    detail.dispose();
  });

  it('leaves the timeline as the user set it', async () => {
    const { server, state } = cellJobServer();
    const detail = new JobDetail({ client: new TeamhubClient(server.fetcher), name: 'cell-job', poll });
    Widget.attach(detail, document.body);
    await detail.refresh();
    expect(detail.timelineOpen).toBe(true);
    // The user closes it, then opens it again to read: it stays open after the warning clears.
    const summary = detail.node.querySelector<HTMLElement>('summary')!;
    summary.click();
    summary.click();
    state.job = job('cell-job', 'Running', { backend: 'indexed', kind: 'Job' });
    state.events = [codeMiss(1), started(2)];
    await detail.refresh();
    expect(detail.node.querySelector('.teamhub-event-cleared')).not.toBeNull();
    expect(detail.timelineOpen).toBe(true);
    detail.dispose();
  });
});

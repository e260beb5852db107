/**
 * A job's detail view in the main area: status with its reason, conditions and the events
 * timeline (what keeps a job pending stands out; a warning that no longer matters, such as
 * the brief wait for the job's own code ConfigMap, is muted), and its logs: one tab per
 * rank plus a merged one, a follow toggle, a tail size, search, copy and download. Only the
 * selected tab streams, into a bounded model; status and events are polled while the view
 * is shown.
 */
import { Panel, Widget } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';

import type { TeamhubClient } from '../api/client';
import type { Job, JobEvent, LogOptions } from '../api/types';
import { LogModel } from '../logs/model';
import { LogStream } from '../logs/stream';
import { LogView } from '../logs/view';
import { activeWarnings, timelineEvents } from '../stores/events';
import { formatTimestamp, isFinished, replicaSummary, statusLine } from '../stores/format';
import { Poller } from '../stores/poller';
import type { PollerOptions } from '../stores/poller';
import { statusBadge } from './badge';
import { h, replaceChildren, uniqueId } from './dom';

/** Tail sizes offered (lines per container); 0 means the whole log (still bounded here). */
export const TAIL_SIZES = [100, 1000, 10000, 0];
export const MERGED = '';

export interface JobDetailOptions {
  client: TeamhubClient;
  name: string;
  /** Lines the view keeps (the ring buffer's capacity). */
  capacity?: number;
  poll?: PollerOptions;
  /** Cancels the job after asking; resolves when done. */
  cancel?: (name: string) => Promise<void>;
  /** Saves text as a file download (the plugin uses a Blob link). */
  download?: (filename: string, text: string) => void;
  copy?: (text: string) => Promise<void>;
}

export class JobDetail extends Panel {
  readonly name: string;
  readonly model: LogModel;
  readonly logView: LogView;
  readonly stream: LogStream;
  private readonly client: TeamhubClient;
  private readonly poller: Poller;
  private readonly options: JobDetailOptions;
  private job: Job | null = null;
  private events: JobEvent[] = [];
  private loadError: string | null = null;
  private replica: string = MERGED;
  private tail = 1000;
  private readonly header: HTMLElement;
  private readonly timeline: HTMLDetailsElement;
  private readonly tabs: HTMLElement;
  private readonly followBox: HTMLInputElement;
  private readonly streamState: HTMLElement;
  private readonly searchCount: HTMLElement;
  private opened = false;
  /** The timeline was opened by warnings (not the user), who has not toggled it since. */
  private autoOpened = false;
  private userToggled = false;
  private streamedFinished = false;
  private print = '';

  constructor(options: JobDetailOptions) {
    super();
    this.options = options;
    this.client = options.client;
    this.name = options.name;
    this.id = `teamhub-job-${options.name}`;
    this.addClass('teamhub-JobDetail');
    this.title.label = options.name;
    this.title.caption = `Job ${options.name}`;
    this.title.closable = true;
    this.model = new LogModel(options.capacity);
    this.logView = new LogView({ model: this.model, label: `Logs of job ${options.name}` });
    this.stream = new LogStream(this.client, this.name, this.model);
    this.poller = new Poller(() => this.load(), options.poll ?? { interval: 2000, maxInterval: 20000, backoff: 1.5 });

    this.header = h('div', { class: 'teamhub-JobDetail-header' });
    this.timeline = h('details', {
      class: 'teamhub-JobDetail-timeline',
      on: {
        // A click or Enter/Space on the summary: from now on the user decides.
        click: (e: MouseEvent) => {
          if ((e.target as Element | null)?.closest('summary')) {
            this.userToggled = true;
          }
        }
      }
    });
    this.tabs = h('div', { class: 'teamhub-JobDetail-tabs', role: 'tablist', attrs: { 'aria-label': 'Log of' } });

    const followId = uniqueId('teamhub-follow');
    this.followBox = h('input', {
      id: followId,
      attrs: { type: 'checkbox', checked: true },
      on: { change: () => this.setFollow(this.followBox.checked) }
    });
    const tailSelect = h(
      'select',
      {
        class: 'jp-mod-styled',
        attrs: { 'aria-label': 'Lines to show from the end of each log' },
        on: {
          change: () => {
            this.tail = Number(tailSelect.value);
            this.openStream();
          }
        }
      },
      ...TAIL_SIZES.map(n =>
        h('option', { attrs: { value: n, selected: n === this.tail } }, n ? `last ${n} lines` : 'whole log')
      )
    );
    const searchBox = h('input', {
      class: 'jp-mod-styled teamhub-JobDetail-search',
      attrs: { type: 'search', placeholder: 'Search log', 'aria-label': 'Search the log' },
      on: {
        input: () => this.logView.search(searchBox.value),
        keydown: (e: KeyboardEvent) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            this.logView.step(e.shiftKey ? -1 : 1);
          }
        }
      }
    });
    this.searchCount = h('span', { class: 'teamhub-JobDetail-count', attrs: { 'aria-live': 'polite' } });
    this.streamState = h('span', { class: 'teamhub-JobDetail-state', attrs: { 'aria-live': 'polite' } });
    const button = (label: string, aria: string, run: () => void) =>
      h('button', { class: 'jp-Button teamhub-button', attrs: { type: 'button', 'aria-label': aria }, on: { click: run } }, label);
    const toolbar = h(
      'div',
      { class: 'teamhub-JobDetail-toolbar', role: 'toolbar', attrs: { 'aria-label': 'Log controls' } },
      h('label', { class: 'teamhub-JobDetail-follow', attrs: { for: followId } }, this.followBox, ' Follow'),
      tailSelect,
      searchBox,
      button('↑', 'Previous match', () => this.logView.step(-1)),
      button('↓', 'Next match', () => this.logView.step(1)),
      this.searchCount,
      button('Copy', 'Copy the log shown', () => void this.copy()),
      button('Download', 'Download the log shown', () => this.download()),
      this.streamState
    );
    const chrome = new Widget();
    chrome.addClass('teamhub-JobDetail-chrome');
    chrome.node.append(this.header, this.timeline, this.tabs, toolbar);
    this.addWidget(chrome);
    this.logView.addClass('teamhub-JobDetail-logs');
    this.addWidget(this.logView);

    this.logView.followChanged.connect((_, follow) => {
      this.followBox.checked = follow;
    });
    this.logView.searchChanged.connect(() => {
      const { count, current } = this.logView.searchState;
      this.searchCount.textContent = this.logView.query ? `${count ? current : 0} of ${count}` : '';
    });
    this.stream.stateChanged.connect((_, state) => {
      this.streamState.textContent =
        state === 'streaming' ? (this.followBox.checked ? 'following…' : 'reading…') : state === 'error' ? 'stream failed' : '';
    });
    this.render();
  }

  /** The replica tab shown (`""`: all ranks merged). */
  get selectedReplica(): string {
    return this.replica;
  }

  /** The options of the stream the view opens for the current controls. */
  streamOptions(): LogOptions {
    const opts: LogOptions = { follow: this.followBox.checked, prefix: this.replica === MERGED };
    if (this.replica !== MERGED) {
      opts.replica = this.replica;
    }
    if (this.tail > 0) {
      opts.tail = this.tail;
    }
    return opts;
  }

  selectReplica(replica: string): void {
    if (replica === this.replica) {
      return;
    }
    this.replica = replica;
    this.renderTabs();
    this.openStream();
  }

  /** Reads status and events now. */
  refresh(): Promise<void> {
    return this.poller.refresh();
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.poller.dispose();
    this.stream.dispose();
    super.dispose(); // disposes the log view with the other children
    this.model.dispose();
  }

  protected override onAfterShow(_msg: Message): void {
    this.poller.setVisible(true);
    if (!this.opened) {
      this.openStream();
    }
  }

  protected override onAfterAttach(_msg: Message): void {
    if (this.isVisible) {
      this.onAfterShow(_msg);
    }
  }

  protected override onAfterHide(_msg: Message): void {
    this.poller.setVisible(false);
  }

  protected override onBeforeDetach(_msg: Message): void {
    this.poller.setVisible(false);
  }

  private setFollow(follow: boolean): void {
    this.logView.follow = follow;
    this.openStream();
  }

  /** (Re)opens the log stream for the current tab, tail and follow setting. */
  openStream(): void {
    this.opened = true;
    this.streamedFinished = this.job !== null && isFinished(this.job);
    void this.stream.open(this.streamOptions());
  }

  private async load(): Promise<boolean> {
    let changed = false;
    try {
      const [job, events] = await Promise.all([this.client.getJob(this.name), this.client.events(this.name)]);
      const print = JSON.stringify([job.status, job.pods, events.length, events[events.length - 1]]);
      changed = print !== this.print || this.loadError !== null;
      this.print = print;
      this.job = job;
      this.events = events;
      this.loadError = null;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      changed = message !== this.loadError;
      this.loadError = message;
      if (changed) {
        this.render();
      }
      throw e;
    }
    if (changed) {
      this.render();
      // A job that started after the stream ended (a snapshot of a pending job): read again.
      if (this.stream.state === 'ended' && !this.streamedFinished && this.followBox.checked && this.job && !isFinished(this.job)) {
        this.openStream();
      }
    }
    return changed;
  }

  private render(): void {
    this.renderHeader();
    this.renderTimeline();
    this.renderTabs();
  }

  private renderHeader(): void {
    const job = this.job;
    if (!job) {
      replaceChildren(
        this.header,
        h('h2', { class: 'teamhub-JobDetail-name' }, this.name),
        h('div', { class: this.loadError ? 'teamhub-JobDetail-error' : '', role: this.loadError ? 'alert' : undefined }, this.loadError ?? 'Loading…')
      );
      return;
    }
    const s = job.status;
    const pending = s?.phase === 'Pending' && (s.reason || s.message);
    replaceChildren(
      this.header,
      h('div', { class: 'teamhub-JobDetail-titleRow' }, h('h2', { class: 'teamhub-JobDetail-name' }, job.name), statusBadge(job)),
      h(
        'div',
        { class: 'teamhub-JobDetail-meta' },
        `${job.backend} (${job.kind}) · ${replicaSummary(job)} · created ${formatTimestamp(job.created)}`
      ),
      pending ? h('div', { class: 'teamhub-JobDetail-pending', role: 'status' }, statusLine(job)) : null,
      this.loadError ? h('div', { class: 'teamhub-JobDetail-error', role: 'alert' }, `Could not refresh: ${this.loadError}`) : null,
      this.options.cancel && !isFinished(job)
        ? h(
            'button',
            {
              class: 'jp-Button teamhub-button teamhub-action-cancel',
              attrs: { type: 'button', 'aria-label': `Cancel job ${job.name}` },
              on: {
                click: () => {
                  void this.options.cancel?.(job.name).then(() => this.refresh());
                }
              }
            },
            'Cancel job'
          )
        : null
    );
  }

  /** Whether the events timeline is open. */
  get timelineOpen(): boolean {
    return this.timeline.open;
  }

  private renderTimeline(): void {
    const conditions = this.job?.status?.conditions ?? [];
    const timeline = timelineEvents(this.name, this.events, this.job);
    const warnings = activeWarnings(timeline);
    const cleared = timeline.filter(t => t.cleared).length;
    const counts = [
      String(this.events.length),
      warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : '',
      cleared ? `${cleared} cleared` : ''
    ].filter(Boolean);
    replaceChildren(
      this.timeline,
      h('summary', {}, `Conditions and events (${counts.join(', ')})`),
      conditions.length
        ? h(
            'ul',
            { class: 'teamhub-JobDetail-conditions', attrs: { 'aria-label': 'Conditions' } },
            ...conditions.map(c =>
              h(
                'li',
                {},
                h('strong', {}, `${c.type}=${c.status}`),
                c.reason ? ` ${c.reason}` : '',
                c.message ? `: ${c.message}` : '',
                c.lastTransitionTime ? h('span', { class: 'teamhub-JobDetail-time' }, ` (${c.lastTransitionTime})`) : null
              )
            )
          )
        : null,
      h(
        'ol',
        { class: 'teamhub-JobDetail-events', attrs: { 'aria-label': 'Events' } },
        ...timeline.map(({ event: e, cleared: done }) =>
          h(
            'li',
            {
              class: done
                ? 'teamhub-event teamhub-event-cleared'
                : `teamhub-event teamhub-event-${e.type.toLowerCase()}${e.explanation ? ' teamhub-event-explained' : ''}`
            },
            h('span', { class: 'teamhub-JobDetail-time' }, e.time),
            ' ',
            h('strong', {}, e.reason),
            ` ${e.replica ? `[${e.replica}]` : e.object} ${e.message}`,
            e.count > 1 ? ` (×${e.count})` : '',
            done
              ? h('span', { class: 'teamhub-event-note' }, " (cleared: the job's code arrived)")
              : e.explanation
                ? h('div', { class: 'teamhub-event-why' }, e.explanation)
                : null
          )
        )
      )
    );
    if (warnings && !this.timeline.hasAttribute('data-opened')) {
      this.timeline.open = true;
      this.timeline.setAttribute('data-opened', '');
      this.autoOpened = true;
    } else if (!warnings && this.autoOpened && !this.userToggled) {
      // Opened only for warnings that have cleared since: close it again, and let a
      // later warning open it.
      this.timeline.open = false;
      this.timeline.removeAttribute('data-opened');
      this.autoOpened = false;
    }
  }

  private renderTabs(): void {
    const replicas = [MERGED, ...(this.job?.pods ?? []).map(p => p.replica)];
    const unique = [...new Set(replicas)];
    const tabs = unique.map(r => {
      const selected = r === this.replica;
      const pod = this.job?.pods?.find(p => p.replica === r);
      return h(
        'button',
        {
          class: `teamhub-tab${selected ? ' teamhub-mod-selected' : ''}`,
          role: 'tab',
          title: pod ? `${pod.name}: ${pod.phase}${pod.reason ? ` (${pod.reason})` : ''}` : 'Every rank, merged',
          tabIndex: selected ? 0 : -1,
          attrs: { type: 'button', 'aria-selected': String(selected), 'data-replica': r },
          on: {
            click: () => this.selectReplica(r),
            keydown: (e: KeyboardEvent) => this.onTabKey(e, unique, r)
          }
        },
        r === MERGED ? 'All ranks' : r
      );
    });
    const hadFocus = this.tabs.contains(document.activeElement);
    replaceChildren(this.tabs, ...tabs);
    if (hadFocus) {
      tabs.find(t => t.getAttribute('aria-selected') === 'true')?.focus();
    }
  }

  private onTabKey(e: KeyboardEvent, replicas: string[], current: string): void {
    const i = replicas.indexOf(current);
    let next = -1;
    if (e.key === 'ArrowRight') {
      next = (i + 1) % replicas.length;
    } else if (e.key === 'ArrowLeft') {
      next = (i - 1 + replicas.length) % replicas.length;
    } else if (e.key === 'Home') {
      next = 0;
    } else if (e.key === 'End') {
      next = replicas.length - 1;
    }
    if (next >= 0) {
      e.preventDefault();
      this.selectReplica(replicas[next] as string);
      this.tabs.querySelector<HTMLElement>('[aria-selected="true"]')?.focus();
    }
  }

  private async copy(): Promise<void> {
    const text = this.model.toText(this.replica === MERGED);
    if (this.options.copy) {
      await this.options.copy(text);
    } else {
      await navigator.clipboard.writeText(text);
    }
  }

  private download(): void {
    const text = this.model.toText(this.replica === MERGED);
    const file = `${this.name}${this.replica ? `-${this.replica}` : ''}.log`;
    if (this.options.download) {
      this.options.download(file, text);
      return;
    }
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = h('a', { attrs: { href: url, download: file } });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}

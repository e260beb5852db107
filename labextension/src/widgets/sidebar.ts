/**
 * The "Jobs" sidebar: the user's jobs with backend, age, replicas ready/total and a status
 * badge (a pending job says why), a search box and phase filters, and per-job actions
 * (logs, cancel, delete). It polls only while shown (the store's poller).
 */
import { Widget } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';

import type { Job, Phase } from '../api/types';
import { PHASES } from '../api/types';
import { formatAge, isFinished, jobPhase, replicaSummary } from '../stores/format';
import type { JobsStore } from '../stores/jobs';
import { statusBadge } from './badge';
import { h, replaceChildren } from './dom';

export interface JobsSidebarOptions {
  store: JobsStore;
  /** Opens a job's detail/log view. */
  openJob: (name: string) => void;
  /** Opens the submit dialog. */
  submit?: () => void;
  /** Asks the user to confirm an action; resolves true to go ahead. */
  confirm: (title: string, body: string, action: string) => Promise<boolean>;
  /** Shows an error of an action. */
  showError: (title: string, error: unknown) => void;
  /** Now (ms), for ages; tests pass a fixed clock. */
  now?: () => number;
}

export class JobsSidebar extends Widget {
  readonly store: JobsStore;
  private readonly options: JobsSidebarOptions;
  private readonly list: HTMLUListElement;
  private readonly status: HTMLElement;
  private readonly search: HTMLInputElement;
  private readonly chips = new Map<Phase, HTMLButtonElement>();
  private ageTimer: ReturnType<typeof setInterval> | null = null;

  constructor(options: JobsSidebarOptions) {
    super();
    this.options = options;
    this.store = options.store;
    this.id = 'teamhub-jobs-sidebar';
    this.addClass('teamhub-JobsSidebar');
    this.title.caption = 'Jobs';

    const header = h(
      'div',
      { class: 'teamhub-JobsSidebar-header' },
      h('h2', { class: 'teamhub-JobsSidebar-title' }, 'Jobs'),
      options.submit
        ? h(
            'button',
            {
              class: 'jp-Button teamhub-button teamhub-JobsSidebar-submit',
              attrs: { type: 'button', 'aria-label': 'Submit a job' },
              on: { click: () => options.submit?.() }
            },
            'Submit…'
          )
        : null,
      h(
        'button',
        {
          class: 'jp-Button teamhub-button',
          attrs: { type: 'button', 'aria-label': 'Refresh the job list' },
          on: { click: () => void this.store.refresh() }
        },
        'Refresh'
      )
    );
    this.search = h('input', {
      class: 'jp-mod-styled teamhub-JobsSidebar-search',
      attrs: { type: 'search', placeholder: 'Search jobs', 'aria-label': 'Search jobs' },
      on: { input: () => this.applyFilter() }
    });
    const chipRow = h('div', {
      class: 'teamhub-JobsSidebar-chips',
      role: 'group',
      attrs: { 'aria-label': 'Show only jobs that are' }
    });
    for (const phase of PHASES) {
      const chip = h(
        'button',
        {
          class: `teamhub-chip teamhub-chip-${phase.toLowerCase()}`,
          attrs: { type: 'button', 'aria-pressed': 'false' },
          on: {
            click: () => {
              chip.setAttribute('aria-pressed', String(chip.getAttribute('aria-pressed') !== 'true'));
              this.applyFilter();
            }
          }
        },
        phase
      );
      this.chips.set(phase, chip);
      chipRow.appendChild(chip);
    }
    this.status = h('div', { class: 'teamhub-JobsSidebar-status', attrs: { 'aria-live': 'polite' } });
    this.list = h('ul', { class: 'teamhub-JobsSidebar-list', attrs: { 'aria-label': 'Jobs' } });
    this.node.append(header, this.search, chipRow, this.status, this.list);
    this.store.changed.connect(this.render, this);
    this.render();
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.stopAgeTimer();
    this.store.changed.disconnect(this.render, this);
    super.dispose();
  }

  protected override onAfterShow(_msg: Message): void {
    this.store.poller.setVisible(true);
    this.startAgeTimer();
  }

  protected override onAfterHide(_msg: Message): void {
    this.store.poller.setVisible(false);
    this.stopAgeTimer();
  }

  protected override onAfterAttach(_msg: Message): void {
    if (this.isVisible) {
      this.store.poller.setVisible(true);
      this.startAgeTimer();
    }
  }

  protected override onBeforeDetach(_msg: Message): void {
    this.store.poller.setVisible(false);
    this.stopAgeTimer();
  }

  private startAgeTimer(): void {
    if (this.ageTimer === null) {
      this.ageTimer = setInterval(() => this.render(), 30000);
    }
  }

  private stopAgeTimer(): void {
    if (this.ageTimer !== null) {
      clearInterval(this.ageTimer);
      this.ageTimer = null;
    }
  }

  private applyFilter(): void {
    const phases = new Set<Phase>();
    for (const [phase, chip] of this.chips) {
      if (chip.getAttribute('aria-pressed') === 'true') {
        phases.add(phase);
      }
    }
    this.store.filter = { text: this.search.value, phases };
  }

  /** Rebuilds the list (it is short), keeping keyboard focus on the same control. */
  render(): void {
    const focused = document.activeElement;
    const focusKey =
      focused instanceof HTMLElement && this.list.contains(focused) ? focused.dataset['key'] : undefined;
    const { store } = this;
    const visible = store.visibleJobs;
    let status = '';
    if (store.error) {
      status = `Could not list jobs: ${store.error.message}`;
      this.status.setAttribute('role', 'alert');
    } else {
      this.status.removeAttribute('role');
      if (!store.loaded) {
        status = 'Loading jobs…';
      } else if (!store.jobs.length) {
        status = 'No jobs yet. Submit one from here, a notebook or %%job.';
      } else if (!visible.length) {
        status = 'No job matches the filter.';
      }
    }
    this.status.textContent = status;
    this.status.classList.toggle('teamhub-mod-error', !!store.error);
    const now = (this.options.now ?? Date.now)();
    replaceChildren(this.list, ...visible.map(job => this.item(job, now)));
    if (focusKey) {
      const again = [...this.list.querySelectorAll<HTMLElement>('[data-key]')].find(
        el => el.dataset['key'] === focusKey
      );
      again?.focus();
    }
  }

  private item(job: Job, now: number): HTMLLIElement {
    const phase = jobPhase(job);
    const busy = this.store.busy(job.name);
    const finished = isFinished(job);
    const pendingWhy =
      phase === 'Pending' && (job.status?.message || job.status?.reason)
        ? h('div', { class: 'teamhub-JobsSidebar-why' }, job.status?.message ?? job.status?.reason ?? '')
        : null;
    const action = (label: string, key: string, run: () => void, disabled = false) =>
      h(
        'button',
        {
          class: `jp-Button teamhub-button teamhub-action-${key}`,
          attrs: {
            type: 'button',
            'aria-label': `${label} job ${job.name}`,
            'data-key': `${key}:${job.name}`,
            disabled: disabled || busy
          },
          on: { click: run }
        },
        label
      );
    return h(
      'li',
      {
        class: `teamhub-JobsSidebar-item teamhub-mod-${phase.toLowerCase()}`,
        attrs: { 'data-job': job.name, 'aria-busy': busy ? 'true' : null }
      },
      h(
        'div',
        { class: 'teamhub-JobsSidebar-row' },
        h(
          'button',
          {
            class: 'teamhub-JobsSidebar-name',
            title: `Open ${job.name}`,
            attrs: { type: 'button', 'data-key': `open:${job.name}` },
            on: { click: () => this.options.openJob(job.name) }
          },
          job.name
        ),
        statusBadge(job)
      ),
      h(
        'div',
        { class: 'teamhub-JobsSidebar-meta' },
        h('span', { class: 'teamhub-JobsSidebar-backend', title: job.kind }, job.backend),
        h('span', { class: 'teamhub-JobsSidebar-age', title: `Created ${job.created}` }, formatAge(job.created, now)),
        h(
          'span',
          { class: 'teamhub-JobsSidebar-replicas', title: 'Pods ready / total (once finished: pods that succeeded)' },
          replicaSummary(job)
        )
      ),
      pendingWhy,
      h(
        'div',
        { class: 'teamhub-JobsSidebar-actions' },
        action('Logs', 'logs', () => this.options.openJob(job.name)),
        action('Cancel', 'cancel', () => void this.cancel(job.name), finished),
        action('Delete', 'delete', () => void this.remove(job.name))
      )
    );
  }

  private async cancel(name: string): Promise<void> {
    const ok = await this.options.confirm(
      'Cancel job',
      `Stop every pod of ${name}? Its logs are archived to your home first; the job stays listed as Cancelled.`,
      'Cancel job'
    );
    if (!ok) {
      return;
    }
    try {
      await this.store.cancel(name);
    } catch (e) {
      this.options.showError(`Could not cancel ${name}`, e);
    }
  }

  private async remove(name: string): Promise<void> {
    const ok = await this.options.confirm(
      'Delete job',
      `Delete ${name} and its record for good? Archived logs in your home stay.`,
      'Delete'
    );
    if (!ok) {
      return;
    }
    try {
      await this.store.remove(name);
    } catch (e) {
      this.options.showError(`Could not delete ${name}`, e);
    }
  }
}

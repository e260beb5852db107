/**
 * The Team panel: the user's teams, the volumes they mount (path, read-only or not), the
 * credentials they are entitled to (names and where the files are, never values), allowed
 * profiles and images, the quota (what is in use of each limit) and the Kueue queues jobs
 * may wait in.
 */
import { Widget } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';

import type { TeamhubClient } from '../api/client';
import type { Environment, Quota } from '../api/types';
import { h, replaceChildren } from './dom';

const QUOTA_LABELS: Record<keyof Quota, string> = { cpu: 'CPU', memory: 'Memory', gpus: 'GPUs', pods: 'Pods' };

/** A quota figure as people read it: CPU in cores (`2500m` → `2.5`), others as given. */
export function quotaFigure(key: keyof Quota, value: string): string {
  const milli = key === 'cpu' ? /^(\d+)m$/.exec(value) : null;
  return milli ? String(Number(milli[1]) / 1000) : value;
}

export interface QuotaRow {
  key: keyof Quota;
  label: string;
  /** `2.5 / 32`, `1 / no limit`; the limit alone when usage is not known. */
  text: string;
  /** The same in words, for screen readers (`2.5 used of 32`). */
  spoken: string;
}

/** One row per resource the quota names: what is in use now (if known) of its limit. */
export function quotaRows(quota: Quota, used?: Quota | null): QuotaRow[] {
  const rows: QuotaRow[] = [];
  for (const key of Object.keys(QUOTA_LABELS) as (keyof Quota)[]) {
    const limit = quota[key];
    if (limit === undefined) {
      continue;
    }
    const max = limit === null ? 'no limit' : quotaFigure(key, limit);
    const now = used?.[key];
    const label = QUOTA_LABELS[key];
    if (now === undefined || now === null) {
      rows.push({ key, label, text: max, spoken: limit === null ? 'no limit' : `limit ${max}` });
    } else {
      const n = quotaFigure(key, now);
      rows.push({ key, label, text: `${n} / ${max}`, spoken: limit === null ? `${n} used, no limit` : `${n} used of ${max}` });
    }
  }
  return rows;
}

export class TeamPanel extends Widget {
  private env: Environment | null = null;
  private error: string | null = null;
  private loaded = false;
  private readonly body: HTMLElement;

  constructor(private readonly client: TeamhubClient) {
    super();
    this.id = 'teamhub-team-panel';
    this.addClass('teamhub-TeamPanel');
    this.title.caption = 'Team';
    this.body = h('div', { class: 'teamhub-TeamPanel-body', attrs: { 'aria-live': 'polite' } });
    this.node.append(
      h(
        'div',
        { class: 'teamhub-JobsSidebar-header' },
        h('h2', { class: 'teamhub-JobsSidebar-title' }, 'Team'),
        h(
          'button',
          {
            class: 'jp-Button teamhub-button',
            attrs: { type: 'button', 'aria-label': 'Refresh team information' },
            on: { click: () => void this.refresh() }
          },
          'Refresh'
        )
      ),
      this.body
    );
    this.render();
  }

  get environment(): Environment | null {
    return this.env;
  }

  async refresh(): Promise<void> {
    try {
      this.env = await this.client.environment();
      this.error = null;
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
    this.loaded = true;
    this.render();
  }

  protected override onAfterShow(_msg: Message): void {
    if (!this.loaded) {
      void this.refresh();
    }
  }

  protected override onAfterAttach(_msg: Message): void {
    if (this.isVisible && !this.loaded) {
      void this.refresh();
    }
  }

  private section(title: string, ...content: (Node | string | null)[]): HTMLElement {
    return h('section', { class: 'teamhub-TeamPanel-section' }, h('h3', {}, title), ...content);
  }

  private render(): void {
    const env = this.env;
    if (!env) {
      replaceChildren(
        this.body,
        h('p', { role: this.error ? 'alert' : undefined, class: this.error ? 'teamhub-mod-error' : '' }, this.error ? `Could not read your environment: ${this.error}` : 'Loading…')
      );
      return;
    }
    const list = (label: string, items: (Node | string)[], empty: string) =>
      items.length
        ? h('ul', { attrs: { 'aria-label': label } }, ...items.map(i => h('li', {}, i)))
        : h('p', { class: 'teamhub-TeamPanel-empty' }, empty);
    const quota = quotaRows(env.quota, env.quotaUsed);
    const withUsage = env.quotaUsed !== undefined && env.quotaUsed !== null;
    const queues = env.queues ?? [];
    replaceChildren(
      this.body,
      this.error ? h('p', { role: 'alert', class: 'teamhub-mod-error' }, `Could not refresh: ${this.error}`) : null,
      h('p', { class: 'teamhub-TeamPanel-user' }, `${env.username} · namespace ${env.namespace}`),
      this.section('Teams', list('Teams', env.teams, 'You are in no team.')),
      this.section(
        'Volumes',
        list(
          'Volumes',
          env.volumes.map(v =>
            h(
              'span',
              {},
              h('code', {}, v.mountPath),
              ` ${v.name} (${v.scope}) `,
              h('span', { class: `teamhub-tag ${v.readOnly ? 'teamhub-tag-ro' : 'teamhub-tag-rw'}` }, v.readOnly ? 'read-only' : 'read-write'),
              v.capacity ? ` ${v.capacity}` : ''
            )
          ),
          'No team volumes.'
        )
      ),
      this.section(
        'Credentials',
        list(
          'Credentials',
          env.credentials.map(c =>
            h(
              'span',
              {},
              h('strong', {}, c.name),
              ` (${c.team}) files in `,
              h('code', {}, c.mountPath),
              c.keys?.length ? `: ${c.keys.join(', ')}` : '',
              c.env.length ? ` · env ${c.env.join(', ')}` : ''
            )
          ),
          'No team credentials.'
        )
      ),
      this.section(
        'Quota',
        quota.length
          ? h(
              'table',
              {
                class: 'teamhub-TeamPanel-quota',
                attrs: { 'aria-label': withUsage ? 'Quota: in use now of each limit' : 'Quota limits' }
              },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  h('th', { attrs: { scope: 'col' } }, 'Resource'),
                  h('th', { attrs: { scope: 'col' } }, withUsage ? 'Used / limit' : 'Limit')
                )
              ),
              h(
                'tbody',
                {},
                ...quota.map(r =>
                  h(
                    'tr',
                    { attrs: { 'data-resource': r.key } },
                    h('th', { attrs: { scope: 'row' } }, r.label),
                    h('td', { attrs: { 'aria-label': r.spoken } }, r.text)
                  )
                )
              )
            )
          : h('p', { class: 'teamhub-TeamPanel-empty' }, 'No quota.')
      ),
      queues.length
        ? this.section(
            'Queues',
            list(
              'Queues',
              queues.map(q => h('span', {}, h('code', {}, q.name), ' (ClusterQueue ', h('code', {}, q.clusterQueue), ')')),
              ''
            )
          )
        : null,
      this.section('Profiles', list('Profiles', env.profiles, 'No profiles.')),
      this.section(
        'Images',
        env.images === null || env.images === undefined
          ? h('p', {}, 'Any image.')
          : list('Allowed images', env.images.map(i => h('code', {}, i)), 'No image besides the notebook’s.')
      )
    );
  }
}

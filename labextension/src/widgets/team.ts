/**
 * The Team panel: the user's teams, the volumes they mount (path, read-only or not), the
 * credentials they are entitled to (names and where the files are, never values), allowed
 * profiles and images, and the quota.
 */
import { Widget } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';

import type { TeamhubClient } from '../api/client';
import type { Environment } from '../api/types';
import { h, replaceChildren } from './dom';

const QUOTA_LABELS: Record<string, string> = { cpu: 'CPU', memory: 'Memory', gpus: 'GPUs', pods: 'Pods' };

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
    const quotaRows = (Object.entries(env.quota) as [string, string | null | undefined][]).filter(
      ([, v]) => v !== undefined
    );
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
        quotaRows.length
          ? h(
              'table',
              { class: 'teamhub-TeamPanel-quota', attrs: { 'aria-label': 'Quota limits' } },
              h('thead', {}, h('tr', {}, h('th', { attrs: { scope: 'col' } }, 'Resource'), h('th', { attrs: { scope: 'col' } }, 'Limit'))),
              h(
                'tbody',
                {},
                ...quotaRows.map(([k, v]) =>
                  h('tr', {}, h('th', { attrs: { scope: 'row' } }, QUOTA_LABELS[k] ?? k), h('td', {}, v ?? 'no limit'))
                )
              )
            )
          : h('p', { class: 'teamhub-TeamPanel-empty' }, 'No quota.')
      ),
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

import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it } from 'vitest';

import { TeamhubClient } from '../src/api/client';
import { TeamPanel, quotaRows } from '../src/widgets/team';
import { fakeServer, json, settle } from './helpers';
import { env, kueueEnv } from './widget-fixtures';


afterEach(() => {
  document.body.replaceChildren();
});

describe('TeamPanel', () => {
  it('shows teams, volumes, credential names and quota', async () => {
    const { fetcher } = fakeServer(() => json(env));
    const panel = new TeamPanel(new TeamhubClient(fetcher));
    Widget.attach(panel, document.body);
    await settle(20);
    const text = panel.node.textContent ?? '';
    expect(text).toContain('vision');
    expect(text).toContain('/datasets/imagenet imagenet (global) read-only');
    expect(text).toContain('/teams/vision/data vision-data (vision) read-write');
    expect(text).toContain('wandb (vision) files in /var/run/teamhub/credentials/wandb: api-key · env WANDB_API_KEY');
    const quota = [...panel.node.querySelectorAll('.teamhub-TeamPanel-quota tbody tr')].map(r => r.textContent);
    expect(quota).toEqual(['CPU16', 'Memory64Gi', 'GPUs2', 'Podsno limit']);
    expect(panel.node.querySelector('.teamhub-TeamPanel-quota')!.getAttribute('aria-label')).toBe('Quota limits');
    // No Kueue: no Queues section.
    expect([...panel.node.querySelectorAll('h3')].map(t => t.textContent)).not.toContain('Queues');
    panel.dispose();
  });

  it('reads quota figures as used / limit, CPU in cores', () => {
    expect(quotaRows(kueueEnv.quota, kueueEnv.quotaUsed).map(r => [r.label, r.text, r.spoken])).toEqual([
      ['CPU', '2.5 / 32', '2.5 used of 32'],
      ['Memory', '3Gi / 64Gi', '3Gi used of 64Gi'],
      ['GPUs', '0 / no limit', '0 used, no limit'],
      ['Pods', '3 / 20', '3 used of 20']
    ]);
    // Without usage: the limits alone; a resource the quota does not name: no row.
    expect(quotaRows({ cpu: '500m', pods: null }, null).map(r => [r.label, r.text, r.spoken])).toEqual([
      ['CPU', '0.5', 'limit 0.5'],
      ['Pods', 'no limit', 'no limit']
    ]);
  });

  it('shows what is in use of each limit, labelled, and the queues', async () => {
    const { fetcher } = fakeServer(() => json(kueueEnv));
    const panel = new TeamPanel(new TeamhubClient(fetcher));
    Widget.attach(panel, document.body);
    await settle(20);
    const table = panel.node.querySelector('.teamhub-TeamPanel-quota')!;
    expect(table.getAttribute('aria-label')).toBe('Quota: in use now of each limit');
    expect([...table.querySelectorAll('thead th')].map(t => t.textContent)).toEqual(['Resource', 'Used / limit']);
    const rows = [...table.querySelectorAll('tbody tr')];
    expect(rows.map(r => r.textContent)).toEqual(['CPU2.5 / 32', 'Memory3Gi / 64Gi', 'GPUs0 / no limit', 'Pods3 / 20']);
    expect(rows[0]!.querySelector('th')!.getAttribute('scope')).toBe('row');
    expect(rows[0]!.querySelector('td')!.getAttribute('aria-label')).toBe('2.5 used of 32');
    const queues = panel.node.querySelector('ul[aria-label="Queues"]')!;
    expect([...queues.querySelectorAll('li')].map(l => l.textContent)).toEqual([
      'vision (ClusterQueue team-vision)',
      'nlp (ClusterQueue team-nlp)'
    ]);
    expect(queues.closest('section')!.querySelector('h3')!.textContent).toBe('Queues');
    panel.dispose();
  });

  it('reports an error', async () => {
    const { fetcher } = fakeServer(() => json({ message: 'this server cannot run jobs' }, 503));
    const panel = new TeamPanel(new TeamhubClient(fetcher));
    await panel.refresh();
    expect(panel.node.querySelector('[role=alert]')!.textContent).toBe('Could not read your environment: this server cannot run jobs');
    panel.dispose();
  });
});

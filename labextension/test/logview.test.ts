import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it } from 'vitest';

import { LogModel } from '../src/logs/model';
import { LogView, renderRow, replicaColour, segments } from '../src/logs/view';

const XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

function mount(model: LogModel, height = 180): LogView {
  const view = new LogView({ model, rowHeight: 18, overscan: 2 });
  Object.defineProperty(view.node, 'clientHeight', { configurable: true, get: () => height });
  Widget.attach(view, document.body);
  view.flush();
  return view;
}

afterEach(() => {
  document.body.replaceChildren();
  delete (window as unknown as Record<string, unknown>)['__pwned'];
});

describe('LogModel', () => {
  it('holds at most its capacity and counts what it dropped', () => {
    const model = new LogModel(100);
    model.append(Array.from({ length: 250 }, (_, i) => `[worker-${i % 2}] line ${i}`));
    expect(model.length).toBe(100);
    expect(model.dropped).toBe(150);
    expect(model.get(0)).toMatchObject({ seq: 150, replica: 'worker-0', text: 'line 150' });
    expect(model.replicas).toEqual(['worker-0', 'worker-1']);
  });

  it('keeps ANSI state per replica in the merged stream', () => {
    const model = new LogModel();
    model.append(['[worker-0] \x1b[31mred starts', '[worker-1] plain', '[worker-0] still red']);
    expect(model.get(1)!.ranges).toEqual([]);
    expect(model.get(2)!.ranges).toEqual([{ start: 0, end: 9, style: { fg: 1 } }]);
  });

  it('knows its widest line (prefix included) until cleared', () => {
    const model = new LogModel(2);
    model.append(['[rank-0] ' + 'x'.repeat(50), 'short', 'also short']);
    expect(model.length).toBe(2);
    expect(model.widest).toBe('[rank-0] '.length + 50); // an upper bound: the line is gone
    model.clear();
    expect(model.widest).toBe(0);
  });

  it('marks the server stream-failure line as a notice', () => {
    const model = new LogModel();
    model.append(['[teamhub] log stream failed: boom']);
    expect(model.get(0)).toMatchObject({ notice: true, text: 'log stream failed: boom' });
    expect(model.replicas).toEqual([]);
  });

  it('gives plain text for copy and download, and searches case-insensitively', () => {
    const model = new LogModel();
    model.append(['[worker-0] Epoch 1', '[worker-1] \x1b[32mepoch 2\x1b[0m', 'no prefix']);
    expect(model.toText()).toBe('[worker-0] Epoch 1\n[worker-1] epoch 2\nno prefix\n');
    expect(model.toText(false)).toBe('Epoch 1\nepoch 2\nno prefix\n');
    expect(model.search('EPOCH')).toEqual([0, 1]);
    expect(model.search('')).toEqual([]);
  });
});

describe('log rendering is inert', () => {
  it('shows markup in a log line as text and never creates elements from it', () => {
    const model = new LogModel();
    model.append([`[worker-0] ${XSS}`, `[<b>evil</b>] ${XSS}`]);
    const view = mount(model);
    const rows = view.node.querySelectorAll('.teamhub-LogView-line');
    expect(rows).toHaveLength(2);
    expect(rows[0]!.textContent).toBe(`[worker-0] ${XSS}`);
    expect(rows[1]!.textContent).toBe(`[<b>evil</b>] ${XSS}`);
    expect(view.node.querySelector('img, script, b')).toBeNull();
    expect((window as unknown as Record<string, unknown>)['__pwned']).toBeUndefined();
    view.dispose();
  });

  it('keeps markup inert inside ANSI-coloured and search-highlighted text', () => {
    const row = renderRow(
      { seq: 0, replica: 'worker-1', text: `x ${XSS}`, ranges: [{ start: 0, end: 6, style: { fg: 'rgb(1, 2, 3)' } }] },
      'onerror',
      18
    );
    expect(row.textContent).toBe(`[worker-1] x ${XSS}`);
    expect(row.querySelector('img, script')).toBeNull();
    expect(row.querySelector('mark')!.textContent).toBe('onerror');
    const coloured = row.querySelector<HTMLElement>('span[style]')!;
    expect(coloured.style.color).toBe('rgb(1, 2, 3)');
    expect(coloured.textContent).toBe('x <img');
  });

  it('cuts text at colour and match boundaries', () => {
    const segs = segments('abcdef', [{ start: 1, end: 4, style: { bold: true } }], 'cd');
    expect(segs.map(s => [s.text, !!s.range, s.match])).toEqual([
      ['a', false, false],
      ['b', true, false],
      ['cd', true, true],
      ['ef', false, false]
    ]);
  });
});

describe('LogView virtualisation', () => {
  it('renders only the rows in sight, however many lines are held', () => {
    const model = new LogModel(100000);
    model.append(Array.from({ length: 50000 }, (_, i) => `[rank-0] line ${i}`));
    const view = mount(model, 180); // 10 rows in sight
    const rows = view.node.querySelectorAll('.teamhub-LogView-line');
    expect(rows.length).toBeLessThanOrEqual(10 + 2 * 2 + 1);
    expect(rows.length).toBeGreaterThanOrEqual(10);
    // Following: the last line is rendered.
    expect(rows[rows.length - 1]!.textContent).toBe('[rank-0] line 49999');
    const spacer = view.node.querySelector<HTMLElement>('.teamhub-LogView-spacer')!;
    expect(spacer.style.height).toBe(`${50000 * 18}px`);
    view.dispose();
  });

  it('scrolls sideways as far as the longest line held, whichever rows are rendered', () => {
    const model = new LogModel();
    model.append([`[rank-1] ${'w'.repeat(300)}`, ...Array.from({ length: 1000 }, (_, i) => `[rank-0] line ${i}`)]);
    const view = mount(model, 180); // following: the long first line is far out of sight
    expect(view.renderedRange[0]).toBeGreaterThan(0);
    const spacer = view.node.querySelector<HTMLElement>('.teamhub-LogView-spacer')!;
    expect(spacer.style.width).toBe('calc(309ch + 16px)');
    // The rank prefix is its own element (the stylesheet keeps it in sight sideways).
    const row = view.node.querySelector('.teamhub-LogView-line')!;
    expect(row.firstElementChild?.className).toMatch(/^teamhub-LogView-replica /);
    view.dispose();
  });

  it('stops following when the user scrolls up, resumes at the bottom', () => {
    const model = new LogModel();
    model.append(Array.from({ length: 100 }, (_, i) => `l${i}`));
    const view = mount(model, 180);
    const changes: boolean[] = [];
    view.followChanged.connect((_, f) => changes.push(f));
    view.node.scrollTop = 0;
    view.node.dispatchEvent(new Event('scroll'));
    expect(view.follow).toBe(false);
    view.flush();
    expect(view.node.querySelector('.teamhub-LogView-line')!.textContent).toBe('l0');
    model.append(['new']);
    view.flush();
    expect(view.node.scrollTop).toBe(0); // not dragged to the bottom
    view.node.scrollTop = 101 * 18 - 180;
    view.node.dispatchEvent(new Event('scroll'));
    expect(view.follow).toBe(true);
    expect(changes).toEqual([false, true]);
    view.dispose();
  });

  it('keeps the rows being read in place while old lines are evicted', () => {
    const model = new LogModel(100);
    model.append(Array.from({ length: 100 }, (_, i) => `l${i}`));
    const view = mount(model, 180);
    view.follow = false;
    view.node.scrollTop = 50 * 18;
    view.node.dispatchEvent(new Event('scroll'));
    view.flush();
    model.append(Array.from({ length: 10 }, (_, i) => `n${i}`));
    view.flush();
    expect(view.node.scrollTop).toBe(40 * 18);
    expect(model.get(40)!.text).toBe('l50');
    view.dispose();
  });

  it('searches, highlights and steps through matches', () => {
    const model = new LogModel();
    model.append(Array.from({ length: 200 }, (_, i) => (i % 50 === 0 ? `ERROR at ${i}` : `ok ${i}`)));
    const view = mount(model, 180);
    expect(view.search('error')).toBe(4);
    expect(view.searchState).toEqual({ count: 4, current: 4 });
    expect(view.follow).toBe(false);
    view.flush();
    expect(view.node.querySelector('.teamhub-LogView-current')!.textContent).toBe('ERROR at 150');
    view.step(1);
    view.flush();
    expect(view.searchState.current).toBe(1);
    expect(view.node.querySelector('.teamhub-LogView-current')!.textContent).toBe('ERROR at 0');
    expect(view.node.querySelector('.teamhub-LogView-current mark')!.textContent).toBe('ERROR');
    view.dispose();
  });

  it('is labelled and keyboard scrollable', () => {
    const model = new LogModel();
    model.append(Array.from({ length: 100 }, (_, i) => `l${i}`));
    const view = mount(model, 180);
    expect(view.node.getAttribute('role')).toBe('log');
    expect(view.node.getAttribute('aria-label')).toBe('Job log');
    expect(view.node.tabIndex).toBe(0);
    view.node.dispatchEvent(new KeyboardEvent('keydown', { key: 'Home' }));
    expect(view.follow).toBe(false);
    expect(view.node.scrollTop).toBe(0);
    view.node.dispatchEvent(new KeyboardEvent('keydown', { key: 'End' }));
    expect(view.follow).toBe(true);
    view.dispose();
  });

  it('gives each replica a stable colour', () => {
    expect(replicaColour('worker-1')).toBe(replicaColour('worker-1'));
    const slots = new Set(Array.from({ length: 16 }, (_, i) => replicaColour(`worker-${i}`)));
    expect(slots.size).toBeGreaterThan(1);
  });
});

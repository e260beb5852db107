/**
 * A virtualised log view: however many lines the model holds, the page has DOM nodes only
 * for the rows in sight (plus `overscan` either side). Rows have a fixed height and do not
 * wrap (like a terminal), so a row's position is its index times the row height. Long
 * lines scroll sideways: the scrollable width is that of the longest line held (not only
 * of the rows rendered, so it does not change while scrolling up and down), and each
 * row's `[replica]` prefix stays in sight. Text goes in with `textContent` only: markup in
 * a log line shows as the characters it is made of.
 *
 * Follow: new lines keep the view at the bottom; scrolling up stops following, scrolling
 * back to the bottom resumes it (`followChanged` tells the toolbar).
 */
import { Signal } from '@lumino/signaling';
import type { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';

import type { StyledRange } from './ansi';
import { styleClasses } from './ansi';
import type { LogChange, LogEntry, LogModel } from './model';

export interface LogViewOptions {
  model: LogModel;
  /** Pixels per row (rows never wrap). */
  rowHeight?: number;
  /** Rows rendered beyond each edge of the viewport. */
  overscan?: number;
  /** What screen readers call the view. */
  label?: string;
}

const REPLICA_COLOURS = 8;
/** Horizontal padding of a row (px), as in the stylesheet (`.teamhub-LogView-line`). */
const ROW_PADDING = 8;

/** A stable colour slot for a replica name, so each rank keeps its colour. */
export function replicaColour(replica: string): number {
  let h = 0;
  for (let i = 0; i < replica.length; i++) {
    h = (h * 31 + replica.charCodeAt(i)) | 0;
  }
  return Math.abs(h) % REPLICA_COLOURS;
}

interface Segment {
  text: string;
  range?: StyledRange;
  match: boolean;
}

/** Cuts `text` at style-range and search-match boundaries. */
export function segments(text: string, ranges: readonly StyledRange[], query: string): Segment[] {
  const cuts = new Set<number>([0, text.length]);
  for (const r of ranges) {
    cuts.add(r.start);
    cuts.add(r.end);
  }
  const matches: [number, number][] = [];
  if (query) {
    const hay = text.toLowerCase();
    const q = query.toLowerCase();
    for (let i = hay.indexOf(q); i >= 0; i = hay.indexOf(q, i + q.length)) {
      matches.push([i, i + q.length]);
      cuts.add(i);
      cuts.add(i + q.length);
    }
  }
  const points = [...cuts].filter(p => p >= 0 && p <= text.length).sort((a, b) => a - b);
  const out: Segment[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i] as number;
    const end = points[i + 1] as number;
    if (end <= start) {
      continue;
    }
    out.push({
      text: text.slice(start, end),
      range: ranges.find(r => r.start <= start && end <= r.end),
      match: matches.some(([a, b]) => a <= start && end <= b)
    });
  }
  return out;
}

/** One row's DOM (exported for tests): only text nodes carry the line's content. */
export function renderRow(entry: LogEntry, query: string, rowHeight: number): HTMLElement {
  const row = document.createElement('div');
  row.className = 'teamhub-LogView-line';
  if (entry.notice) {
    row.classList.add('teamhub-LogView-notice');
  }
  row.style.height = `${rowHeight}px`;
  row.style.lineHeight = `${rowHeight}px`;
  row.dataset['seq'] = String(entry.seq);
  if (entry.replica) {
    const prefix = document.createElement('span');
    prefix.className = `teamhub-LogView-replica teamhub-replica-${replicaColour(entry.replica)}`;
    prefix.textContent = `[${entry.replica}] `;
    row.appendChild(prefix);
  }
  for (const seg of segments(entry.text, entry.ranges, query)) {
    let node: HTMLElement | Text;
    if (seg.range) {
      const span = document.createElement('span');
      span.className = styleClasses(seg.range.style).join(' ');
      const { fg, bg } = seg.range.style;
      if (typeof fg === 'string') {
        span.style.color = fg;
      }
      if (typeof bg === 'string') {
        span.style.backgroundColor = bg;
      }
      span.textContent = seg.text;
      node = span;
    } else {
      node = document.createTextNode(seg.text);
    }
    if (seg.match) {
      const mark = document.createElement('mark');
      mark.className = 'teamhub-LogView-match';
      mark.appendChild(node);
      node = mark;
    }
    row.appendChild(node);
  }
  return row;
}

export class LogView extends Widget {
  readonly model: LogModel;
  readonly rowHeight: number;
  readonly overscan: number;
  private readonly spacer: HTMLDivElement;
  private readonly rows: HTMLDivElement;
  private _follow = true;
  private _query = '';
  private matches: number[] = [];
  private current = -1;
  private frame: number | null = null;
  /** The scrollTop we set last: a scroll event finding it there is ours, not the user's. */
  private expectedTop = -1;
  private readonly _followChanged = new Signal<this, boolean>(this);
  private readonly _searchChanged = new Signal<this, void>(this);
  /** The range of rows in the DOM (for tests and diagnostics). */
  renderedRange: [number, number] = [0, 0];

  constructor(options: LogViewOptions) {
    super();
    this.model = options.model;
    this.rowHeight = options.rowHeight ?? 18;
    this.overscan = options.overscan ?? 20;
    this.addClass('teamhub-LogView');
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'log');
    // Announcing every line would drown a screen reader; the toolbar announces state.
    this.node.setAttribute('aria-live', 'off');
    this.node.setAttribute('aria-label', options.label ?? 'Job log');
    this.spacer = document.createElement('div');
    this.spacer.className = 'teamhub-LogView-spacer';
    this.rows = document.createElement('div');
    this.rows.className = 'teamhub-LogView-rows';
    this.node.append(this.spacer, this.rows);
    this.model.changed.connect(this.onModelChanged, this);
    this.node.addEventListener('scroll', this);
    this.node.addEventListener('keydown', this);
  }

  /** Emitted when following starts or stops (by the user's scrolling, too). */
  get followChanged(): ISignal<this, boolean> {
    return this._followChanged;
  }

  /** Emitted when the search query or the current match changed. */
  get searchChanged(): ISignal<this, void> {
    return this._searchChanged;
  }

  get follow(): boolean {
    return this._follow;
  }

  set follow(value: boolean) {
    if (value === this._follow) {
      return;
    }
    this._follow = value;
    this._followChanged.emit(value);
    if (value) {
      this.scheduleRender();
    }
  }

  get query(): string {
    return this._query;
  }

  /** Matches of the current query among the held lines, and the one shown (1-based). */
  get searchState(): { count: number; current: number } {
    return { count: this.matches.length, current: this.current + 1 };
  }

  /** Highlights `query` and jumps to its last match (the newest). */
  search(query: string): number {
    this._query = query;
    this.matches = this.model.search(query);
    this.current = this.matches.length ? this.matches.length - 1 : -1;
    if (this.current >= 0) {
      this.reveal(this.matches[this.current] as number);
    }
    this._searchChanged.emit();
    this.scheduleRender();
    return this.matches.length;
  }

  /** Moves to the next (1) or previous (-1) match, wrapping around. */
  step(direction: 1 | -1): void {
    if (!this.matches.length) {
      return;
    }
    const n = this.matches.length;
    this.current = (((this.current + direction) % n) + n) % n;
    this.reveal(this.matches[this.current] as number);
    this._searchChanged.emit();
  }

  /** Scrolls so that held line `index` is in view (and stops following). */
  reveal(index: number): void {
    this.follow = false;
    const height = this.viewportHeight();
    const top = index * this.rowHeight;
    this.setScrollTop(Math.max(0, top - Math.floor(height / 2)));
    this.scheduleRender();
  }

  /** Renders now (tests call this instead of waiting for an animation frame). */
  flush(): void {
    if (this.frame !== null) {
      cancelFrame(this.frame);
      this.frame = null;
    }
    this.render();
  }

  handleEvent(event: Event): void {
    if (event.type === 'scroll') {
      this.onScroll();
    } else if (event.type === 'keydown') {
      this.onKeyDown(event as KeyboardEvent);
    }
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    if (this.frame !== null) {
      cancelFrame(this.frame);
      this.frame = null;
    }
    this.node.removeEventListener('scroll', this);
    this.node.removeEventListener('keydown', this);
    this.model.changed.disconnect(this.onModelChanged, this);
    super.dispose();
  }

  protected override onAfterAttach(_msg: Message): void {
    this.scheduleRender();
  }

  protected override onAfterShow(_msg: Message): void {
    this.scheduleRender();
  }

  protected override onResize(_msg: Widget.ResizeMessage): void {
    this.scheduleRender();
  }

  private onModelChanged(_: LogModel, change: LogChange): void {
    if (change.reset) {
      this.matches = [];
      this.current = -1;
      this.setScrollTop(0);
    } else if (change.evicted && !this._follow) {
      // Keep the lines the user is reading where they are while old ones go.
      this.setScrollTop(Math.max(0, this.node.scrollTop - change.evicted * this.rowHeight));
    }
    if (this._query && (change.evicted || change.reset || change.added)) {
      const before = this.matches.length;
      this.matches = this.model.search(this._query);
      this.current = Math.min(Math.max(this.current, 0), this.matches.length - 1);
      if (before !== this.matches.length) {
        this._searchChanged.emit();
      }
    }
    this.scheduleRender();
  }

  private onScroll(): void {
    const top = this.node.scrollTop;
    if (top !== this.expectedTop) {
      this.expectedTop = -1;
      const bottom = top + this.viewportHeight() >= this.contentHeight() - 2;
      if (bottom !== this._follow) {
        this.follow = bottom;
      }
    }
    this.scheduleRender();
  }

  private onKeyDown(event: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.viewportHeight() / this.rowHeight) - 1);
    let delta = 0;
    switch (event.key) {
      case 'End':
        this.follow = true;
        event.preventDefault();
        return;
      case 'Home':
        this.follow = false;
        this.setScrollTop(0);
        this.scheduleRender();
        event.preventDefault();
        return;
      case 'PageDown':
        delta = page;
        break;
      case 'PageUp':
        delta = -page;
        break;
      case 'ArrowDown':
        delta = 1;
        break;
      case 'ArrowUp':
        delta = -1;
        break;
      default:
        return;
    }
    event.preventDefault();
    if (delta < 0) {
      this.follow = false;
    }
    this.node.scrollTop = Math.max(0, this.node.scrollTop + delta * this.rowHeight);
    this.scheduleRender();
  }

  private viewportHeight(): number {
    return this.node.clientHeight || this.rowHeight * 40;
  }

  private contentHeight(): number {
    return this.model.length * this.rowHeight;
  }

  private setScrollTop(value: number): void {
    this.node.scrollTop = value;
    this.expectedTop = this.node.scrollTop;
  }

  private scheduleRender(): void {
    if (this.frame !== null || this.isDisposed) {
      return;
    }
    this.frame = requestFrame(() => {
      this.frame = null;
      this.render();
    });
  }

  private render(): void {
    if (this.isDisposed) {
      return;
    }
    const total = this.model.length;
    this.spacer.style.height = `${this.contentHeight()}px`;
    // The font is monospaced: `ch` is a character's width (plus the rows' padding).
    this.spacer.style.width = `calc(${this.model.widest}ch + ${2 * ROW_PADDING}px)`;
    const height = this.viewportHeight();
    if (this._follow) {
      this.setScrollTop(Math.max(0, this.contentHeight() - height));
    }
    const top = this.node.scrollTop;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - this.overscan);
    const last = Math.min(total, Math.ceil((top + height) / this.rowHeight) + this.overscan);
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const entry = this.model.get(i);
      if (entry) {
        const row = renderRow(entry, this._query, this.rowHeight);
        if (this.current >= 0 && this.matches[this.current] === i) {
          row.classList.add('teamhub-LogView-current');
        }
        fragment.appendChild(row);
      }
    }
    this.rows.style.transform = `translateY(${first * this.rowHeight}px)`;
    this.rows.replaceChildren(fragment);
    this.renderedRange = [first, last];
  }
}

function requestFrame(fn: () => void): number {
  if (typeof requestAnimationFrame === 'function') {
    return requestAnimationFrame(fn);
  }
  return setTimeout(fn, 16) as unknown as number;
}

function cancelFrame(handle: number): void {
  if (typeof cancelAnimationFrame === 'function') {
    cancelAnimationFrame(handle);
  } else {
    clearTimeout(handle);
  }
}

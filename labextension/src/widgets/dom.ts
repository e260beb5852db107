/**
 * Building DOM nodes from data. Text always goes in as `textContent` (never parsed as
 * markup), so anything the server or a job prints stays inert. The lint config forbids
 * `innerHTML` and its relatives everywhere.
 */

export type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  title?: string;
  role?: string;
  id?: string;
  tabIndex?: number;
  /** `aria-*` and `data-*` attributes, and other plain attributes (`for`, `type`...). */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (event: HTMLElementEventMap[K]) => void }>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) {
    el.className = props.class;
  }
  if (props.title !== undefined) {
    el.title = props.title;
  }
  if (props.role) {
    el.setAttribute('role', props.role);
  }
  if (props.id) {
    el.id = props.id;
  }
  if (props.tabIndex !== undefined) {
    el.tabIndex = props.tabIndex;
  }
  for (const [k, v] of Object.entries(props.attrs ?? {})) {
    if (v === null || v === undefined || v === false) {
      continue;
    }
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const [type, handler] of Object.entries(props.on ?? {})) {
    el.addEventListener(type, handler as EventListener);
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  while (parent.firstChild) {
    parent.removeChild(parent.firstChild);
  }
  append(parent, ...children);
}

let counter = 0;

/** A DOM id unique in the page (for `aria-describedby`, `label for`). */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

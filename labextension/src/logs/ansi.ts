/**
 * ANSI escape sequences in log lines: SGR colours and styles become ranges over the plain
 * text (rendered as classes bound to JupyterLab's theme variables, so colours follow the
 * light/dark theme); every other escape (cursor moves, OSC titles and hyperlinks) is
 * dropped. The text itself is never interpreted any other way: the view writes it with
 * `textContent`.
 */

/** A colour: 0–15 (the theme's ANSI palette) or an `rgb(r, g, b)` string. */
export type Colour = number | string;

export interface Style {
  fg?: Colour;
  bg?: Colour;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface StyledRange {
  start: number;
  end: number;
  style: Style;
}

export interface ParsedLine {
  /** The text without escapes. */
  text: string;
  /** Styled ranges (unstyled text has none). */
  ranges: StyledRange[];
  /** The style in force at the end of the line (it carries on to the next line). */
  end: Style;
}

// CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), and other two-byte escapes.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;?:]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

function isEmpty(style: Style): boolean {
  return Object.keys(style).length === 0;
}

function clean(style: Style): Style {
  const out: Style = {};
  for (const [k, v] of Object.entries(style) as [keyof Style, unknown][]) {
    if (v !== undefined && v !== false) {
      (out as Record<string, unknown>)[k] = v;
    }
  }
  return out;
}

const CUBE = [0, 95, 135, 175, 215, 255];

function colour256(n: number): Colour | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) {
    return undefined;
  }
  if (n < 16) {
    return n;
  }
  if (n < 232) {
    const i = n - 16;
    const r = CUBE[Math.floor(i / 36)] ?? 0;
    const g = CUBE[Math.floor(i / 6) % 6] ?? 0;
    const b = CUBE[i % 6] ?? 0;
    return `rgb(${r}, ${g}, ${b})`;
  }
  const v = 8 + (n - 232) * 10;
  return `rgb(${v}, ${v}, ${v})`;
}

function byte(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined;
}

/** Applies one SGR parameter list to `style` (a copy). */
export function applySgr(style: Style, params: string): Style {
  const out: Style = { ...style };
  const codes = params === '' ? [0] : params.split(/[;:]/).map(p => (p === '' ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] ?? 0;
    if (c === 0) {
      for (const k of Object.keys(out)) {
        delete out[k as keyof Style];
      }
    } else if (c === 1) {
      out.bold = true;
    } else if (c === 2) {
      out.dim = true;
    } else if (c === 3) {
      out.italic = true;
    } else if (c === 4) {
      out.underline = true;
    } else if (c === 7) {
      out.inverse = true;
    } else if (c === 22) {
      delete out.bold;
      delete out.dim;
    } else if (c === 23) {
      delete out.italic;
    } else if (c === 24) {
      delete out.underline;
    } else if (c === 27) {
      delete out.inverse;
    } else if (c >= 30 && c <= 37) {
      out.fg = c - 30;
    } else if (c >= 90 && c <= 97) {
      out.fg = c - 90 + 8;
    } else if (c >= 40 && c <= 47) {
      out.bg = c - 40;
    } else if (c >= 100 && c <= 107) {
      out.bg = c - 100 + 8;
    } else if (c === 39) {
      delete out.fg;
    } else if (c === 49) {
      delete out.bg;
    } else if (c === 38 || c === 48) {
      const key = c === 38 ? 'fg' : 'bg';
      let colour: Colour | undefined;
      if (codes[i + 1] === 5) {
        colour = colour256(codes[i + 2] ?? -1);
        i += 2;
      } else if (codes[i + 1] === 2) {
        const [r, g, b] = [byte(codes[i + 2]), byte(codes[i + 3]), byte(codes[i + 4])];
        colour = r !== undefined && g !== undefined && b !== undefined ? `rgb(${r}, ${g}, ${b})` : undefined;
        i += 4;
      }
      if (colour !== undefined) {
        out[key] = colour;
      }
    }
  }
  return clean(out);
}

/** Parses one line that starts in style `start`. */
export function parseAnsi(line: string, start: Style = {}): ParsedLine {
  let style = start;
  let text = '';
  const ranges: StyledRange[] = [];
  let last = 0;
  const emit = (chunk: string): void => {
    if (!chunk) {
      return;
    }
    const from = text.length;
    text += chunk;
    if (!isEmpty(style)) {
      const prev = ranges[ranges.length - 1];
      if (prev && prev.end === from && prev.style === style) {
        prev.end = text.length;
      } else {
        ranges.push({ start: from, end: text.length, style });
      }
    }
  };
  ESCAPE.lastIndex = 0;
  for (let m = ESCAPE.exec(line); m !== null; m = ESCAPE.exec(line)) {
    emit(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === 'm') {
      style = applySgr(style, m[1] ?? '');
    }
  }
  emit(line.slice(last));
  return { text, ranges, end: style };
}

/** CSS classes for a style (colours 0–15 come from the theme's `--jp-ansi-*` palette). */
export function styleClasses(style: Style): string[] {
  const out: string[] = [];
  const [fg, bg] = style.inverse ? [style.bg, style.fg] : [style.fg, style.bg];
  if (typeof fg === 'number') {
    out.push(`teamhub-ansi-fg-${fg}`);
  }
  if (typeof bg === 'number') {
    out.push(`teamhub-ansi-bg-${bg}`);
  }
  if (style.inverse && fg === undefined) {
    out.push('teamhub-ansi-inverse-fg');
  }
  if (style.inverse && bg === undefined) {
    out.push('teamhub-ansi-inverse-bg');
  }
  for (const k of ['bold', 'dim', 'italic', 'underline'] as const) {
    if (style[k]) {
      out.push(`teamhub-ansi-${k}`);
    }
  }
  return out;
}

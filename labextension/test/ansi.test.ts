import { describe, expect, it } from 'vitest';

import { applySgr, parseAnsi, styleClasses } from '../src/logs/ansi';

describe('parseAnsi', () => {
  it('turns SGR colours into ranges over the plain text', () => {
    const p = parseAnsi('\x1b[31merror\x1b[0m: disk \x1b[1;32mok\x1b[m');
    expect(p.text).toBe('error: disk ok');
    expect(p.ranges).toEqual([
      { start: 0, end: 5, style: { fg: 1 } },
      { start: 12, end: 14, style: { bold: true, fg: 2 } }
    ]);
    expect(p.end).toEqual({});
  });

  it('carries the style in force to the next line', () => {
    const a = parseAnsi('\x1b[33mwarn');
    const b = parseAnsi('still yellow\x1b[39m plain', a.end);
    expect(b.ranges).toEqual([{ start: 0, end: 12, style: { fg: 3 } }]);
  });

  it('drops other escapes and control characters, keeps tabs', () => {
    const p = parseAnsi('\x1b[2K\x1b[1Gprogress\x1b]0;title\x07 50%\r\x07\tdone\x1b');
    expect(p.text).toBe('progress 50%\tdone');
    expect(p.ranges).toEqual([]);
  });

  it('maps 256 colours and true colour', () => {
    expect(applySgr({}, '38;5;9')).toEqual({ fg: 9 });
    expect(applySgr({}, '38;5;196')).toEqual({ fg: 'rgb(255, 0, 0)' });
    expect(applySgr({}, '48;5;244')).toEqual({ bg: 'rgb(128, 128, 128)' });
    expect(applySgr({}, '38;2;10;20;30')).toEqual({ fg: 'rgb(10, 20, 30)' });
    // Out-of-range values are ignored, never passed on.
    expect(applySgr({}, '38;2;999;0;0')).toEqual({});
    expect(applySgr({ fg: 1, bold: true }, '22;39')).toEqual({});
  });

  it('names theme classes for palette colours', () => {
    expect(styleClasses({ fg: 1, bg: 12, bold: true, underline: true })).toEqual([
      'teamhub-ansi-fg-1',
      'teamhub-ansi-bg-12',
      'teamhub-ansi-bold',
      'teamhub-ansi-underline'
    ]);
    expect(styleClasses({ inverse: true, fg: 2 })).toEqual(['teamhub-ansi-bg-2', 'teamhub-ansi-inverse-fg']);
  });
});

import { describe, expect, it } from 'vitest';

import { LineSplitter, parseLogLine } from '../src/api/lines';

describe('LineSplitter', () => {
  it('carries a partial line to the next chunk', () => {
    const s = new LineSplitter();
    expect(s.push('[worker-0] hel')).toEqual([]);
    expect(s.push('lo\n[worker-1] a\n[wor')).toEqual(['[worker-0] hello', '[worker-1] a']);
    expect(s.push('ker-1] b\r\n')).toEqual(['[worker-1] b']);
    expect(s.end()).toEqual([]);
  });

  it('returns a last line without a newline at the end', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb')).toEqual(['a']);
    expect(s.end()).toEqual(['b']);
  });

  it('decodes UTF-8 split across chunks', () => {
    const s = new LineSplitter();
    const bytes = new TextEncoder().encode('é€\n');
    expect(s.push(bytes.slice(0, 1))).toEqual([]);
    expect(s.push(bytes.slice(1, 3))).toEqual([]);
    expect(s.push(bytes.slice(3))).toEqual(['é€']);
  });

  it('cuts a line that never ends into bounded pieces', () => {
    const s = new LineSplitter(10);
    const out = s.push('x'.repeat(25));
    expect(out).toEqual(['x'.repeat(10), 'x'.repeat(10)]);
    expect(s.end()).toEqual(['x'.repeat(5)]);
  });

  it('refuses a non-positive line limit', () => {
    expect(() => new LineSplitter(0)).toThrow(/maxLineLength/);
  });
});

describe('parseLogLine', () => {
  it('splits the replica prefix', () => {
    expect(parseLogLine('[worker-1] loss=0.3')).toEqual({ replica: 'worker-1', text: 'loss=0.3' });
    expect(parseLogLine('[master-0] ')).toEqual({ replica: 'master-0', text: '' });
  });

  it('leaves lines without a prefix (or with markup) alone', () => {
    expect(parseLogLine('no prefix')).toEqual({ replica: null, text: 'no prefix' });
    expect(parseLogLine('[<img src=x>] hi')).toEqual({ replica: null, text: '[<img src=x>] hi' });
  });
});

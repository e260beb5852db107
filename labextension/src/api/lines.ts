/**
 * Splitting a chunked text stream into lines, with bounded memory: a partial line is carried
 * to the next chunk, and a line longer than `maxLineLength` is cut into pieces (a log that
 * never prints a newline must not grow one string without end).
 */

export const DEFAULT_MAX_LINE = 16 * 1024;

export class LineSplitter {
  private carry = '';
  private readonly decoder = new TextDecoder('utf-8');

  constructor(readonly maxLineLength: number = DEFAULT_MAX_LINE) {
    if (!(maxLineLength > 0)) {
      throw new Error(`maxLineLength must be positive (got ${maxLineLength})`);
    }
  }

  /** The whole lines completed by `chunk` (bytes or text), without their newline. */
  push(chunk: Uint8Array | string): string[] {
    const text =
      typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const parts = (this.carry + text).split('\n');
    this.carry = parts.pop() ?? '';
    const out: string[] = [];
    for (const part of parts) {
      this.cut(part.endsWith('\r') ? part.slice(0, -1) : part, out);
    }
    if (this.carry.length > this.maxLineLength) {
      const rest: string[] = [];
      this.cut(this.carry, rest);
      this.carry = rest.pop() ?? '';
      out.push(...rest);
    }
    return out;
  }

  /** The last line if the stream ended without a newline. */
  end(): string[] {
    const tail = this.carry + this.decoder.decode();
    this.carry = '';
    if (!tail) {
      return [];
    }
    const out: string[] = [];
    this.cut(tail, out);
    return out;
  }

  private cut(line: string, out: string[]): void {
    if (line.length <= this.maxLineLength) {
      out.push(line);
      return;
    }
    for (let i = 0; i < line.length; i += this.maxLineLength) {
      out.push(line.slice(i, i + this.maxLineLength));
    }
  }
}

/** A log line split into its `[replica] ` prefix (if any) and its text. */
export interface LogLine {
  replica: string | null;
  text: string;
}

const PREFIX = /^\[([A-Za-z0-9][A-Za-z0-9._-]{0,252})\] /;

export function parseLogLine(line: string): LogLine {
  const m = PREFIX.exec(line);
  if (!m) {
    return { replica: null, text: line };
  }
  return { replica: m[1] ?? null, text: line.slice(m[0].length) };
}

import { LIMITS } from './limits.js';

/**
 * Bounded, terminal-safe text for anything that reaches a message: values read from hostile files
 * (pickle object graphs that share sub-lists, keys with newlines or ANSI escapes, shapes with a
 * million dimensions) are rendered with depth, count and length bounds, control characters escaped,
 * so no message can grow without bound, span lines, or drive the terminal.
 */

/** C0/C1 controls, DEL, line/paragraph separators, bidi overrides and isolates. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const escapeChar = (c: string): string => {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** One line of text, control characters escaped, at most `max` characters (saying how many were cut). */
export function escapeText(s: string, max = LIMITS.messageChars): string {
  const cut = s.length > max;
  const head = cut ? s.slice(0, max) : s;
  const out = head.replace(CONTROL, escapeChar);
  return cut ? `${out}… (${s.length - max} more characters)` : out;
}

export interface RenderOptions { depth?: number; items?: number; chars?: number }

/**
 * A short repr of any value (pickle objects, JSON): at most `depth` levels, `items` entries per
 * container, `chars` characters in all. Work is bounded by items^depth, whatever the object graph.
 */
export function render(v: unknown, opts: RenderOptions = {}): string {
  const depth = opts.depth ?? 3;
  const items = opts.items ?? 6;
  const chars = opts.chars ?? 120;
  const go = (x: unknown, d: number): string => {
    if (x === null || x === undefined) return 'None';
    if (typeof x === 'string') return `'${escapeText(x, chars)}'`;
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    if (typeof x === 'bigint') { const s = x.toString(); return s.length > 24 ? `${s.slice(0, 12)}…(${s.length} digits)` : s; }
    if (x instanceof Uint8Array) return `bytes(${x.length})`;
    const kindOf = (): [string, string, unknown[]] | null => {
      if (Array.isArray(x)) return [Object.isFrozen(x) ? '(' : '[', Object.isFrozen(x) ? ')' : ']', x];
      if (x instanceof Set) return ['{', '}', [...take(x.values(), items + 1)]];
      return null;
    };
    const k = kindOf();
    if (k) {
      if (d >= depth) return `${k[0]}…${k[1]}`;
      const list = k[2];
      const shown = list.slice(0, items).map((e) => go(e, d + 1));
      const size = Array.isArray(x) ? x.length : (x as Set<unknown>).size;
      if (size > items) shown.push(`…${size - items} more`);
      return `${k[0]}${shown.join(', ')}${k[1]}`;
    }
    if (x instanceof Map) {
      if (d >= depth) return '{…}';
      const shown = [...take(x.entries(), items)].map(([a, b]) => `${go(a, d + 1)}: ${go(b, d + 1)}`);
      if (x.size > items) shown.push(`…${x.size - items} more`);
      return `{${shown.join(', ')}}`;
    }
    if (typeof x === 'object') {
      const o = x as { kind?: unknown; qualname?: unknown; constructor?: { name?: unknown } };
      if (typeof o.qualname === 'string') return escapeText(o.qualname, chars);
      if (typeof o.kind === 'string') return `<${escapeText(o.kind, 40)}>`;
      return '<object>';
    }
    return `<${typeof x}>`;
  };
  return escapeText(go(v, 0), Math.max(chars, 4 * chars));
}

function* take<T>(it: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) { const r = it.next(); if (r.done) return; yield r.value; }
}

/** A tensor shape for messages: `[1, 3, 512, 1024]`, at most 8 dimensions shown. */
export function shapeText(shape: readonly unknown[]): string {
  if (!Array.isArray(shape)) return render(shape);
  const shown = shape.slice(0, 8).map((d) => (typeof d === 'number' ? String(d) : render(d, { depth: 1, chars: 24 })));
  if (shape.length > 8) shown.push(`…(${shape.length} dims)`);
  return `[${shown.join(', ')}]`;
}

/**
 * JSON for a terminal or a file: JSON.stringify escapes C0 controls but leaves DEL, C1 controls,
 * line separators and bidi overrides raw; they can only occur inside strings, where \uXXXX is valid.
 */
export function safeJson(v: unknown, space?: number): string {
  return JSON.stringify(v, null, space).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The same characters, less the line end and tab that output text is made of. */
// eslint-disable-next-line no-control-regex
const STREAM_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
/** A progress bar's own redraw (carriage return, erase line), the one control sequence this tool writes. */
const BAR_REDRAW = '\r\x1b[K';

/**
 * Multi-line output text with every control and bidi character escaped as `\uXXXX` (valid inside a JSON
 * string too), newlines and tabs kept. Whatever a command prints (names of images, classes recorded in a
 * model, tensors, case folders) then cannot drive the terminal, whichever code path printed it.
 */
export function escapeStreamText(s: string): string {
  const esc = (t: string): string => t.replace(STREAM_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return s.includes(BAR_REDRAW) ? s.split(BAR_REDRAW).map(esc).join(BAR_REDRAW) : esc(s);
}

/** Makes every string written to stdout and stderr go through escapeStreamText (the CLI does, at start). */
export function guardStreams(): void {
  for (const stream of [process.stdout, process.stderr] as (NodeJS.WriteStream & { bisenetGuarded?: boolean })[]) {
    if (stream.bisenetGuarded) continue;
    stream.bisenetGuarded = true;
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => write(typeof chunk === 'string' ? escapeStreamText(chunk) : chunk, ...rest)) as typeof stream.write;
  }
}

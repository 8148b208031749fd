/**
 * The image list of a `segment` run: files, directories (their PNG and JPEG files, not recursing) and
 * glob patterns (`*`, `?`, `[…]`, `**` for any depth, as a shell would expand them when it does not),
 * in the order given, each directory's and pattern's matches sorted by name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../util/errors.js';
import { escapeText } from '../util/render.js';

export const IMAGE_EXTS = ['.png', '.jpg', '.jpeg'];
/** At most this many images in one run, and this many directory entries looked at to find them. */
export const MAX_INPUTS = 1_000_000;
const MAX_SCANNED = 1_000_000;
const MAX_DEPTH = 64;
/** A pattern's walk ends with an error after this long. */
const MAX_WALK_MS = 20_000;

const isImageName = (name: string): boolean => !name.startsWith('.') && IMAGE_EXTS.includes(path.extname(name).toLowerCase());
const hasGlob = (s: string): boolean => /[*?[]/.test(s);

type Token = { t: 'lit'; c: number } | { t: 'one' } | { t: 'star' } | { t: 'set'; neg: boolean; ranges: number[] };

/**
 * One path segment of a glob as tokens: `*` (any run of characters), `?` (one), `[abc]`, `[a-z]`, `[!x]`/`[^x]`
 * (one from a set; a `]` first is literal; an unclosed `[` is literal), everything else literal. Characters are
 * code points. A reversed range (`[z-a]`) is a usage error.
 */
function parseSegment(seg: string, pattern: string): Token[] {
  const cps = Array.from(seg, (ch) => ch.codePointAt(0)!);
  const out: Token[] = [];
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === 0x2a) { if (out.at(-1)?.t !== 'star') out.push({ t: 'star' }); continue; } // ** inside a segment is one *
    if (c === 0x3f) { out.push({ t: 'one' }); continue; }
    if (c === 0x5b) {
      let j = i + 1;
      const neg = cps[j] === 0x21 || cps[j] === 0x5e;
      if (neg) j++;
      const first = j;
      while (j < cps.length && (cps[j] !== 0x5d || j === first)) j++;
      if (j >= cps.length) { out.push({ t: 'lit', c }); continue; } // no closing ]: a literal [
      const ranges: number[] = [];
      for (let k = first; k < j; k++) {
        const lo = cps[k]!;
        if (cps[k + 1] === 0x2d && k + 2 < j) {
          const hi = cps[k + 2]!;
          if (hi < lo) fail('usage', `${escapeText(pattern, 200)}: the range ${escapeText(String.fromCodePoint(lo), 10)}-${escapeText(String.fromCodePoint(hi), 10)} in [${escapeText(String.fromCodePoint(...cps.slice(first, j)), 60)}] is reversed; write it low to high`);
          ranges.push(lo, hi);
          k += 2;
        } else ranges.push(lo, lo);
      }
      out.push({ t: 'set', neg, ranges });
      i = j;
      continue;
    }
    out.push({ t: 'lit', c });
  }
  return out;
}

function matchesOne(tok: Token, c: number): boolean {
  if (tok.t === 'one') return true;
  if (tok.t === 'lit') return tok.c === c;
  if (tok.t !== 'set') return false;
  let hit = false;
  for (let k = 0; k < tok.ranges.length && !hit; k += 2) hit = c >= tok.ranges[k]! && c <= tok.ranges[k + 1]!;
  return hit !== tok.neg;
}

/**
 * Whether a file name matches a segment's tokens, without backtracking beyond the last `*`: time at most
 * name × pattern length (each `*` restarts the match after it only), however many `*` the pattern holds.
 * `*`, `?` and sets never match a leading dot (a pattern starting with `.` matches hidden names).
 */
export function matchSegment(tokens: readonly Token[], name: string): boolean {
  const s = Array.from(name, (ch) => ch.codePointAt(0)!);
  if (s[0] === 0x2e && !(tokens[0]?.t === 'lit' && tokens[0].c === 0x2e)) return false;
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    const tok = tokens[p];
    if (tok && tok.t === 'star') { starP = p++; starI = i; continue; }
    if (tok && matchesOne(tok, s[i]!)) { p++; i++; continue; }
    if (starP < 0) return false;
    p = starP + 1;
    i = ++starI;
  }
  while (tokens[p]?.t === 'star') p++;
  return p === tokens.length;
}

/** Compiles a pattern's segment (exported for the tests). */
export function compileSegment(seg: string, pattern = seg): (name: string) => boolean {
  const tokens = parseSegment(seg, pattern);
  return (name) => matchSegment(tokens, name);
}

/**
 * Files matching a glob pattern, sorted. Every directory is read at most once and every (directory, pattern
 * position) pair visited at most once, so `a/**\/**\/**\/x` costs what `a/**\/x` costs; the walk is bounded by
 * directory entries looked at, depth and time, each with its own error.
 */
export function expandGlob(pattern: string, bounds: { entries?: number; depth?: number; ms?: number } = {}): string[] {
  if (pattern.includes('\0')) fail('usage', 'a pattern with a NUL character');
  const maxEntries = bounds.entries ?? MAX_SCANNED;
  const maxDepth = bounds.depth ?? MAX_DEPTH;
  const deadline = performance.now() + (bounds.ms ?? MAX_WALK_MS);
  const parts = pattern.split(/[\\/]+/).filter((p, k, all) => !(p === '**' && all[k - 1] === '**')); // **/** is **
  const firstGlob = parts.findIndex(hasGlob);
  const base = parts.slice(0, firstGlob).join('/') || (pattern.startsWith('/') ? '/' : '.');
  const rest = parts.slice(firstGlob);
  if (rest.at(-1) === '**') fail('usage', `${escapeText(pattern, 200)}: a pattern cannot end in **; add the file part (e.g. **/*.png)`);
  const matchers = rest.map((seg) => (seg === '**' ? null : compileSegment(seg, pattern)));
  const found = new Set<string>();
  const listings = new Map<string, fs.Dirent[]>();
  const visited = new Set<string>();
  let scanned = 0;
  const list = (dir: string): fs.Dirent[] => {
    const known = listings.get(dir);
    if (known) return known;
    if (performance.now() > deadline) fail('usage', `${escapeText(pattern, 200)}: looking for matches took longer than ${Math.round((bounds.ms ?? MAX_WALK_MS) / 1000)} s; name a narrower pattern`);
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { entries = []; }
    scanned += entries.length;
    if (scanned > maxEntries) fail('usage', `${escapeText(pattern, 200)}: more than ${maxEntries} directory entries to look through; name a narrower pattern`);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    listings.set(dir, entries);
    return entries;
  };
  // An explicit stack, not recursion: depth is bounded by maxDepth, and ** over a deep chain cannot overflow.
  const stack: [string, number, number][] = [[base, 0, 0]];
  while (stack.length) {
    const [dir, i, depth] = stack.pop()!;
    const key = `${i}\0${dir}`;
    if (visited.has(key)) continue;
    visited.add(key);
    if (depth > maxDepth) fail('usage', `${escapeText(pattern, 200)}: deeper than ${maxDepth} directories`);
    const entries = list(dir);
    const m = matchers[i];
    const last = i === rest.length - 1;
    const next: [string, number, number][] = [];
    if (m === null) {
      next.push([dir, i + 1, depth]); // ** matches no directory too
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) next.push([path.join(dir, e.name), i, depth + 1]);
    } else {
      for (const e of entries) {
        if (!m(e.name)) continue;
        const p = dir === '.' ? e.name : path.join(dir, e.name);
        if (last) {
          if (e.isFile() || (e.isSymbolicLink() && fs.statSync(p, { throwIfNoEntry: false })?.isFile())) found.add(p);
          if (found.size > MAX_INPUTS) fail('usage', `${escapeText(pattern, 200)}: more than ${MAX_INPUTS} images`);
        } else if (e.isDirectory()) next.push([p, i + 1, depth + 1]);
      }
    }
    for (let k = next.length - 1; k >= 0; k--) stack.push(next[k]!);
  }
  return [...found].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every image that the arguments name, in order, each once. */
export function expandInputs(args: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (p: string): void => {
    const key = path.resolve(p);
    if (seen.has(key)) return;
    seen.add(key);
    out.push(p);
    if (out.length > MAX_INPUTS) fail('usage', `more than ${MAX_INPUTS} images in one run`);
  };
  for (const arg of args) {
    const st = fs.statSync(arg, { throwIfNoEntry: false });
    if (st?.isDirectory()) {
      const names = fs.readdirSync(arg).filter(isImageName).sort();
      if (names.length === 0) fail('usage', `${escapeText(arg, 300)}: a directory with no .png, .jpg or .jpeg files (directories are not searched recursively; use a pattern such as '${path.join(arg, '**', '*.png')}')`);
      for (const n of names) add(path.join(arg, n));
    } else if (st) {
      add(arg);
    } else if (hasGlob(arg)) {
      const matches = expandGlob(arg);
      if (matches.length === 0) fail('usage', `${escapeText(arg, 300)}: matches no file`);
      for (const m of matches) add(m);
    } else {
      fail('io', `image not found: ${escapeText(arg, 300)}`);
    }
  }
  if (out.length === 0) fail('usage', 'no images given');
  return out;
}

/** The output stem of an image: its file name without the extension. */
export function stemOf(file: string): string {
  const base = path.basename(file);
  const ext = path.extname(base);
  return ext ? base.slice(0, -ext.length) : base;
}

/**
 * The image list of a `segment` run: files, directories (their PNG and JPEG files, not recursing) and
 * glob patterns (`*`, `?`, `[…]`, `**` for any depth, as a shell would expand them when it does not),
 * in the order given, each directory's and pattern's matches sorted by name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../util/errors.js';

export const IMAGE_EXTS = ['.png', '.jpg', '.jpeg'];
/** At most this many images in one run, and this many directory entries looked at to find them. */
export const MAX_INPUTS = 1_000_000;
const MAX_SCANNED = 10_000_000;
const MAX_DEPTH = 64;

const isImageName = (name: string): boolean => !name.startsWith('.') && IMAGE_EXTS.includes(path.extname(name).toLowerCase());
const hasGlob = (s: string): boolean => /[*?[]/.test(s);

/** A glob segment as a regular expression (`*` and `?` never match `/`, nor a leading dot). */
function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      let cls = seg.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${seg.startsWith('.') ? '' : '(?!\\.)'}${re}$`);
}

/** Files matching a glob pattern, sorted. */
export function expandGlob(pattern: string): string[] {
  const parts = pattern.split(/[\\/]+/);
  const firstGlob = parts.findIndex(hasGlob);
  const base = parts.slice(0, firstGlob).join('/') || (pattern.startsWith('/') ? '/' : '.');
  const rest = parts.slice(firstGlob);
  const found: string[] = [];
  let scanned = 0;
  const walk = (dir: string, i: number, depth: number): void => {
    if (depth > MAX_DEPTH) fail('usage', `${pattern}: deeper than ${MAX_DEPTH} directories`);
    const seg = rest[i]!;
    const last = i === rest.length - 1;
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    scanned += entries.length;
    if (scanned > MAX_SCANNED) fail('usage', `${pattern}: more than ${MAX_SCANNED} directory entries to look through`);
    if (seg === '**') {
      if (last) fail('usage', `${pattern}: a pattern cannot end in **; add the file part (e.g. **/*.png)`);
      walk(dir, i + 1, depth); // ** matches no directory too
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) walk(path.join(dir, e.name), i, depth + 1);
      return;
    }
    const re = segmentRegex(seg);
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (!re.test(e.name)) continue;
      const p = dir === '.' ? e.name : path.join(dir, e.name);
      if (last) {
        if (e.isFile() || (e.isSymbolicLink() && fs.statSync(p, { throwIfNoEntry: false })?.isFile())) found.push(p);
      } else if (e.isDirectory()) walk(p, i + 1, depth + 1);
      if (found.length > MAX_INPUTS) fail('usage', `${pattern}: more than ${MAX_INPUTS} images`);
    }
  };
  walk(base, 0, 0);
  return found;
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
      if (names.length === 0) fail('usage', `${arg}: a directory with no .png, .jpg or .jpeg files (directories are not searched recursively; use a pattern such as '${path.join(arg, '**', '*.png')}')`);
      for (const n of names) add(path.join(arg, n));
    } else if (st) {
      add(arg);
    } else if (hasGlob(arg)) {
      const matches = expandGlob(arg);
      if (matches.length === 0) fail('usage', `${arg}: matches no file`);
      for (const m of matches) add(m);
    } else {
      fail('io', `image not found: ${arg}`);
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

/**
 * The one check every command's outputs go through, before any work:
 *
 * - an output may never be, contain, or be contained in an input (real paths compared, links resolved,
 *   hard links too), with or without --force;
 * - an output that exists (a dangling link included) is replaced only with --force;
 * - two outputs of one command may not name the same path;
 * - every output's directory must exist (and be a directory), and a file output may not be a directory,
 *   before anything is written.
 *
 * Writing then goes through src/util/fs.ts (a temporary beside each target, renamed into place; a group
 * of outputs renamed only when all are complete).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from './errors.js';
import { escapeText } from './render.js';

export interface OutputSpec {
  /** the path as the user gave it (or as derived from what they gave) */
  path: string;
  /** how the message names it: `--json`, `--out`, `mask` */
  what: string;
  /** a directory that replaces whatever is there as a whole (a tfjs model) */
  dir?: boolean;
  /** the directory may be created by the command itself (segment's --out-dir): its parent must exist */
  parentMayBeCreated?: boolean;
}

const show = (p: string): string => escapeText(p, 300);

/** The real path of `p`, whether it exists or not: the real path of its deepest existing ancestor plus the rest. */
export function realPathOf(p: string): string {
  const abs = path.resolve(p);
  try { return fs.realpathSync(abs); } catch { /* not there (or a dangling link): resolve the parent */ }
  const parent = path.dirname(abs);
  if (parent === abs) return abs;
  return path.join(realPathOf(parent), path.basename(abs));
}

/** The path that a rename onto `p` replaces: the real parent plus the name (a link there is replaced, not followed). */
function placeOf(p: string): string {
  const abs = path.resolve(p);
  return path.join(realPathOf(path.dirname(abs)), path.basename(abs));
}

const inside = (child: string, parent: string): boolean => child !== parent && child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);

interface InputInfo { given: string; real: string; isDir: boolean; id: string }

function inputInfo(given: string): InputInfo | null {
  let st: fs.Stats;
  try { st = fs.statSync(given); } catch { return null; } // a missing input is the reader's error, later
  return { given, real: realPathOf(given), isDir: st.isDirectory(), id: `${st.dev}:${st.ino}` };
}

/**
 * Checks the outputs of one command against each other, the inputs and the file system. `inputs` are
 * every file or directory the command reads (models, checkpoints, images, golden sets, data directories);
 * those that do not exist are skipped (their reader reports them).
 */
export function checkOutputs(outputs: readonly OutputSpec[], inputs: readonly (string | undefined)[], force: boolean): void {
  const ins = inputs.filter((x): x is string => typeof x === 'string' && x.length > 0).map(inputInfo).filter((x): x is InputInfo => x !== null);
  const byReal = new Map(ins.map((i) => [i.real, i]));
  const byId = new Map(ins.map((i) => [i.id, i]));
  const dirs = ins.filter((i) => i.isDir);
  const seen = new Map<string, OutputSpec>();
  for (const o of outputs) {
    if (o.path.length === 0 || o.path.includes('\0')) fail('usage', `${o.what}: not a usable path`);
    const place = placeOf(o.path);
    const real = realPathOf(o.path);
    const keys = place === real ? [place] : [place, real];
    for (const key of keys) {
      const prev = seen.get(key);
      if (prev) fail('usage', `${prev.what} ${show(prev.path)} and ${o.what} ${show(o.path)} name the same file; give each output its own path`);
    }
    for (const key of keys) seen.set(key, o);
    let st: fs.Stats | undefined;
    try { st = fs.statSync(o.path); } catch { st = undefined; }
    const same = keys.map((k) => byReal.get(k)).find(Boolean) ?? (st ? byId.get(`${st.dev}:${st.ino}`) : undefined);
    if (same) fail('usage', `${o.what} ${show(o.path)} is the input ${show(same.given)}; an output never replaces an input (not even with --force): choose another path`);
    // A directory output replaced as a whole may not hold an input; a file output that exists as a directory is refused below.
    if (o.dir || st?.isDirectory()) {
      for (const i of ins) if (keys.some((k) => inside(i.real, k))) fail('usage', `${o.what} ${show(o.path)} holds the input ${show(i.given)}; an output never replaces an input (not even with --force): choose another path`);
    }
    for (const i of dirs) if (keys.some((k) => inside(k, i.real))) fail('usage', `${o.what} ${show(o.path)} lies inside the input ${show(i.given)}; write outputs outside the inputs`);
    const exists = st !== undefined || isLink(o.path);
    if (exists && !force) fail('usage', `${show(o.path)} already exists (use --force to replace it)`);
    if (st?.isDirectory() && !o.dir) fail('usage', `${o.what} ${show(o.path)}: is a directory; name a file`);
    if (st && !st.isDirectory() && o.dir) fail('usage', `${o.what} ${show(o.path)}: exists and is not a directory`);
    const dir = path.dirname(path.resolve(o.path));
    let dst: fs.Stats | undefined;
    try { dst = fs.statSync(dir); } catch { dst = undefined; }
    if (!dst && o.parentMayBeCreated) {
      const up = path.dirname(dir);
      if (!isDir(up)) fail('io', `${o.what} ${show(o.path)}: directory ${show(dir)} does not exist, nor its parent`);
      continue;
    }
    if (!dst) fail('io', `${o.what} ${show(o.path)}: output directory ${show(dir)} does not exist`);
    if (!dst.isDirectory()) fail('io', `${o.what} ${show(o.path)}: ${show(dir)} is not a directory`);
  }
}

function isLink(p: string): boolean { try { return fs.lstatSync(p).isSymbolicLink(); } catch { return false; } }
function isDir(p: string): boolean { try { return fs.statSync(p).isDirectory(); } catch { return false; } }

/** A model argument as inputs: the path, and for a `model.json` its directory (the shards beside it are read too). */
export function modelInputs(model: string | undefined): string[] {
  if (!model) return [];
  return path.basename(model).toLowerCase() === 'model.json' || path.basename(model).toLowerCase() === 'tensorrt.json' ? [model, path.dirname(model)] : [model];
}

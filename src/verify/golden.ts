import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy, readNpyShape } from '../checkpoint/npy.js';
import { LIMITS } from '../util/limits.js';
import { fail } from '../util/errors.js';
import { pathExists, readFileChecked, resolveInside } from '../util/fs.js';
import { parseJsonBounded } from '../util/json.js';
import type { NdArray } from '../util/ndarray.js';

/**
 * A golden set is a directory holding `input.npy` and one `<output>.npy` per reference output
 * (`logits.npy`, `labels.npy`, `aux2.npy`…), as PyTorch produced them; NCHW float32 (labels int64).
 * A directory without `input.npy` whose subdirectories are golden sets is a collection of cases.
 */
export interface GoldenCase {
  name: string;
  dir: string;
  input: NdArray;
  /** output name → reference file (read on demand) */
  references: Map<string, string>;
  manifest: Record<string, unknown> | null;
}

function isCaseDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'input.npy'));
}

/** A golden file by name: its real path must stay inside the case directory (no links out of it). */
const inside = (dir: string, f: string): string => resolveInside(dir, f, 'golden file', dir);

/** Checks an input's shape from its header, before its data is read (the model-run estimate of `verify`). */
export type ShapeCheck = (input: { shape: number[] }, label: string) => void;

function readCase(dir: string, name: string, checkShape?: ShapeCheck): GoldenCase {
  const file = inside(dir, 'input.npy');
  checkShape?.(readNpyShape(file), `${dir}/input.npy`);
  const input = readNpy(file, LIMITS.modelMemory);
  const references = new Map<string, string>();
  for (const f of fs.readdirSync(dir).sort()) {
    if (f.endsWith('.npy') && f !== 'input.npy') references.set(f.slice(0, -4), inside(dir, f));
  }
  const mf = path.join(dir, 'manifest.json');
  const manifest = pathExists(mf) ? parseManifest(readFileChecked(inside(dir, 'manifest.json'), 'manifest'), mf) : null;
  return { name, dir, input, references, manifest };
}

const isDir = (p: string): boolean => { try { return fs.statSync(p).isDirectory(); } catch { return false; } };

/**
 * The checkpoint a golden set's manifest names, or null: a relative path, resolved against the working
 * directory or the project the set belongs to (two levels up), whose real path stays inside that base;
 * an absolute path, `..` or a link out of the base is refused.
 */
export function manifestCheckpoint(goldenDir: string): string | null {
  const mf = path.join(goldenDir, 'manifest.json');
  if (!pathExists(mf)) return null;
  const m = parseManifest(readFileChecked(mf, 'manifest'), mf);
  if (typeof m.checkpoint !== 'string') return null;
  for (const base of [process.cwd(), path.resolve(goldenDir, '..', '..')]) {
    if (!pathExists(path.resolve(base, m.checkpoint))) continue;
    return resolveInside(base, m.checkpoint, 'checkpoint', mf);
  }
  resolveInside(process.cwd(), m.checkpoint, 'checkpoint', mf); // refuses absolute and climbing paths even when absent
  return null;
}

export function loadGolden(dir: string, checkShape?: ShapeCheck): GoldenCase[] {
  let st: fs.Stats;
  try { st = fs.statSync(dir); } catch { return fail('io', `golden directory not found: ${dir}`); }
  if (!st.isDirectory()) fail('io', `${dir}: not a directory (a golden set is a directory with input.npy and reference outputs)`);
  if (isCaseDir(dir)) return [readCase(dir, path.basename(path.resolve(dir)), checkShape)];
  const cases = fs.readdirSync(dir).sort().map((d) => path.join(dir, d)).filter((d) => isDir(d) && isCaseDir(d));
  if (cases.length === 0) fail('io', `${dir}: no golden cases (expected input.npy here or in subdirectories)`);
  // A case folder that is a link must stay inside the set (its real path under the set's): no case is read from elsewhere.
  for (const d of cases) resolveInside(dir, path.basename(d), 'golden case', dir);
  return cases.map((d) => readCase(d, path.basename(d), checkShape));
}

export function readReference(file: string): NdArray {
  return readNpy(file, LIMITS.modelMemory);
}

/**
 * A golden manifest: JSON with optional `checkpoint` (path), `family`, `n_classes` and `files`
 * (name → {shape, dtype, sha256?}). Anything else in it is kept but not interpreted.
 */
export function parseManifest(bytes: Uint8Array, label: string): Record<string, unknown> {
  let m: unknown;
  m = parseJsonBounded(Buffer.from(bytes).toString('utf8'), label, 'manifest');
  if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('format', `${label}: a manifest must be a JSON object`);
  const o = m as Record<string, unknown>;
  for (const k of ['checkpoint', 'family', 'source']) {
    if (k in o && typeof o[k] !== 'string') fail('format', `${label}: "${k}" must be a string`);
  }
  if ('n_classes' in o && !(Number.isInteger(o.n_classes) && (o.n_classes as number) > 0)) fail('format', `${label}: "n_classes" must be a positive integer`);
  if ('files' in o) {
    const files = o.files;
    if (typeof files !== 'object' || files === null || Array.isArray(files)) fail('format', `${label}: "files" must be an object`);
    for (const [name, f] of Object.entries(files as Record<string, unknown>)) {
      const spec = f as { shape?: unknown; dtype?: unknown };
      if (typeof spec !== 'object' || spec === null) fail('format', `${label}: files.${name} must be an object`);
      if ('shape' in spec && !(Array.isArray(spec.shape) && spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0))) fail('format', `${label}: files.${name}.shape must be a list of sizes`);
      if ('dtype' in spec && typeof spec.dtype !== 'string') fail('format', `${label}: files.${name}.dtype must be a string`);
    }
  }
  return o;
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy } from '../checkpoint/npy.js';
import { fail } from '../util/errors.js';
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

function readCase(dir: string, name: string): GoldenCase {
  const input = readNpy(path.join(dir, 'input.npy'));
  const references = new Map<string, string>();
  for (const f of fs.readdirSync(dir).sort()) {
    if (f.endsWith('.npy') && f !== 'input.npy') references.set(f.slice(0, -4), path.join(dir, f));
  }
  let manifest: Record<string, unknown> | null = null;
  const mf = path.join(dir, 'manifest.json');
  if (fs.existsSync(mf)) {
    try { manifest = JSON.parse(fs.readFileSync(mf, 'utf8')) as Record<string, unknown>; } catch { fail('format', `${mf}: not valid JSON`); }
  }
  return { name, dir, input, references, manifest };
}

export function loadGolden(dir: string): GoldenCase[] {
  let st: fs.Stats;
  try { st = fs.statSync(dir); } catch { return fail('io', `golden directory not found: ${dir}`); }
  if (!st.isDirectory()) fail('io', `${dir}: not a directory (a golden set is a directory with input.npy and reference outputs)`);
  if (isCaseDir(dir)) return [readCase(dir, path.basename(path.resolve(dir)))];
  const cases = fs.readdirSync(dir).sort().map((d) => path.join(dir, d)).filter((d) => fs.statSync(d).isDirectory() && isCaseDir(d));
  if (cases.length === 0) fail('io', `${dir}: no golden cases (expected input.npy here or in subdirectories)`);
  return cases.map((d) => readCase(d, path.basename(d)));
}

export function readReference(file: string): NdArray {
  return readNpy(file);
}

/**
 * `verify --layers`: the golden set's inputs through the model and through the reference
 * interpreter on the golden set's checkpoint, compared tensor by tensor (src/diff/).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diffModels, type DiffReport } from '../diff/index.js';
import { fail } from '../util/errors.js';
import { asFloat32Input } from './index.js';
import { loadGolden } from './golden.js';

/** The checkpoint a golden set's manifest names: relative to the working directory, the set, or the repository holding `golden/`. */
export function goldenCheckpointOf(goldenDir: string): string {
  const cases = loadGolden(goldenDir);
  const named = cases.map((c) => c.manifest?.checkpoint).find((c): c is string => typeof c === 'string');
  if (!named) fail('usage', `${goldenDir}: its manifest names no checkpoint; give --checkpoint for --layers`);
  const dir = cases[0]!.dir;
  for (const base of [process.cwd(), dir, path.resolve(dir, '..', '..'), path.resolve(goldenDir, '..', '..')]) {
    const p = path.resolve(base, named!);
    if (fs.existsSync(p)) return p;
  }
  return fail('io', `${goldenDir}: the checkpoint its manifest names (${named}) is not found; give --checkpoint`);
}

export async function verifyLayers(model: string, goldenDir: string, opts: { checkpoint?: string; runtime?: string; layers?: string[]; threads?: number; device?: string }): Promise<DiffReport> {
  const checkpoint = opts.checkpoint ?? goldenCheckpointOf(goldenDir);
  const cases = loadGolden(goldenDir);
  return diffModels({ path: checkpoint, runtime: 'reference' }, { path: model, runtime: opts.runtime },
    { source: `golden ${goldenDir}`, arrays: cases.map((c) => asFloat32Input(c.input)) }, { layers: opts.layers, threads: opts.threads, device: opts.device });
}

/**
 * The tfjs cases of `npm run bench` (scripts/bench.mjs calls `benchTargets(checkpoint, workDir)`
 * when the library exports it). It converts, so it lives above the runtimes, not in one of them.
 */
import * as path from 'node:path';
import { convertCheckpoint } from '../convert.js';
import { writeDirAtomic } from '../util/fs.js';

/**
 * Converts the checkpoint to both tfjs formats under `workDir` and returns the cases to time in
 * tfjs-wasm. tfjs-cpu is left out: ~100 s per 512×1024 inference on a laptop-class core.
 */
export async function benchTargets(checkpoint: string, workDir: string): Promise<{ runtime: string; model: string; runs: number }[]> {
  const cases: { runtime: string; model: string; runs: number }[] = [];
  for (const to of ['tfjs-graph', 'tfjs-layers'] as const) {
    const dir = path.join(workDir, to);
    writeDirAtomic(dir, convertCheckpoint(checkpoint, { to }).files!);
    cases.push({ runtime: 'tfjs-wasm', model: dir, runs: 3 });
  }
  return cases;
}

import type { Runner } from '../runtime/types.js';
import { fail } from '../util/errors.js';
import { toFloat32, type NdArray } from '../util/ndarray.js';
import { compareOutputs, DEFAULT_TOLERANCE, type OutputStats, type Tolerance } from './compare.js';
import { loadGolden, manifestCheckpoint, readReference } from './golden.js';

export { DEFAULT_TOLERANCE, type OutputStats, type Tolerance } from './compare.js';

export interface CaseReport {
  case: string;
  inputShape: number[];
  outputs: OutputStats[];
  /** reference outputs the model does not produce (e.g. booster heads of a model exported without them) */
  skipped: string[];
  pass: boolean;
  /** milliseconds the runner took for this case */
  ms?: number;
  /** the checkpoint the case's manifest names, where it exists here (null: none named or found) */
  checkpoint?: string | null;
}

export interface VerifyReport {
  model: string;
  runtime: string;
  device: string;
  golden: string;
  tolerance: Tolerance;
  cases: CaseReport[];
  pass: boolean;
}

/** The checkpoint a case's manifest names and that exists here, or null (a manifest naming none, or one outside the set's project). */
function checkpointOf(dir: string): string | null {
  try { return manifestCheckpoint(dir); } catch { return null; }
}

/** The model's inputs as float32, whatever float type the golden file holds. */
export function asFloat32Input(a: NdArray): NdArray {
  if (a.dtype === 'float32') return a;
  if (!['float16', 'bfloat16', 'float64'].includes(a.dtype)) fail('usage', `input has dtype ${a.dtype}; expected float32`);
  return { dtype: 'float32', shape: a.shape, data: toFloat32(a) };
}

/**
 * Runs every golden case through a runner and compares each output the model produces with the
 * reference of the same name. Where the reference holds `labels` but the model has none, the
 * model's logits are reduced by argmax and compared with them.
 */
export async function verifyGolden(runner: Runner, modelPath: string, goldenDir: string, tol: Tolerance = DEFAULT_TOLERANCE,
  check: (input: Pick<NdArray, 'shape'>, label: string) => void = () => {}): Promise<VerifyReport> {
  // Each case's input is checked from its header (a huge input is refused before it is read), as loadGolden reads it.
  const cases = loadGolden(goldenDir, check);
  const reports: CaseReport[] = [];
  for (const c of cases) {
    const input = asFloat32Input(c.input);
    const t0 = performance.now();
    const outputs = await runner.run({ [runner.inputNames[0]!]: input });
    const ms = performance.now() - t0;
    const refs = new Map([...c.references].map(([name, file]) => [name, () => readReference(file)] as const));
    const { stats, skipped } = compareOutputs(outputs, refs, tol);
    if (stats.length === 0) fail('usage', `${c.dir}: none of the reference outputs (${[...c.references.keys()].join(', ')}) is an output of the model (${runner.outputNames.join(', ')})`);
    reports.push({ case: c.name, inputShape: input.shape, outputs: stats, skipped, pass: stats.every((s) => s.pass), ms, checkpoint: checkpointOf(c.dir) });
  }
  return {
    model: modelPath, runtime: runner.runtime, device: runner.device, golden: goldenDir, tolerance: tol,
    cases: reports, pass: reports.every((r) => r.pass),
  };
}

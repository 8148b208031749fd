import { checkInputShape } from './ir/shapes.js';
import { bisenetv2 } from './models/bisenetv2.js';
import { loadRunner, type RunnerOptions } from './runtime/index.js';
import type { NdArray } from './util/ndarray.js';
import { asFloat32Input } from './verify/index.js';

/** Checks an input against what any BiSeNetV2 takes (N×3×H×W, H and W multiples of 32). */
export function checkModelInput(input: NdArray, label: string): void {
  checkInputShape(bisenetv2({ numClasses: 1 }), input.shape, label);
}

export async function inferArrays(modelPath: string, input: NdArray, opts: RunnerOptions & { runtime?: string } = {}): Promise<Record<string, NdArray>> {
  const x = asFloat32Input(input);
  checkModelInput(x, 'input');
  const runner = await loadRunner(modelPath, opts.runtime, opts);
  try {
    return await runner.run({ [runner.inputNames[0]!]: x });
  } finally {
    await runner.dispose();
  }
}

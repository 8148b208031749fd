import { checkInputShape } from '../ir/shapes.js';
import { bisenetv2 } from '../models/bisenetv2.js';
import { loadRunner, type RunnerOptions } from '../runtime/index.js';
import type { NdArray } from '../util/ndarray.js';
import { checkRunMemory, modelCost, modelLoadBytes, modelRunBytes, UNKNOWN_CLASSES, type ModelCost } from '../model-file/memory.js';
import { asFloat32Input } from '../verify/index.js';

export { modelCost, type ModelCost } from '../model-file/memory.js';

/**
 * Checks an input against what any BiSeNetV2 takes (N×3×H×W, H and W multiples of 32) and, given the model's
 * cost (`modelCost`, read once), against the memory budget for holding the model and running it on this input.
 */
export function checkModelInput(input: Pick<NdArray, 'shape'>, label: string, cost?: ModelCost): void {
  checkInputShape(bisenetv2({ numClasses: 1 }), input.shape, label);
  const [n, , h, w] = input.shape as [number, number, number, number];
  const classes = cost?.classes ?? UNKNOWN_CLASSES;
  // The model's own copies (ours, the runtime's) count too: one budget for loading and running.
  const held = cost ? modelLoadBytes(cost.bytes) : 0;
  checkRunMemory(label, held + modelRunBytes(n, h, w, classes), `running the model on ${n}×3×${h}×${w} (${classes} classes)`);
}

/** Runs a model on one input; `cost`: the model's, where the caller has read it already (else read here). */
export async function inferArrays(modelPath: string, input: NdArray, opts: RunnerOptions & { runtime?: string; cost?: ModelCost } = {}): Promise<Record<string, NdArray>> {
  const x = asFloat32Input(input);
  checkModelInput(x, 'input', opts.cost ?? modelCost(modelPath));
  const runner = await loadRunner(modelPath, opts.runtime, opts);
  try {
    return await runner.run({ [runner.inputNames[0]!]: x });
  } finally {
    await runner.dispose();
  }
}

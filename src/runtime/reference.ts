/**
 * The `reference` runtime: a checkpoint (.pth, .safetensors, .pdparams) read by the project's own
 * readers, ported strictly, and run by the float64 reference interpreter (src/reference/). No
 * Python, no onnxruntime: the oracle when no golden set exists.
 */
import { loadCheckpoint } from '../checkpoint/index.js';
import type { Graph } from '../ir/graph.js';
import { modelFor, portWeights, summarize, type Ported } from '../port/index.js';
import { interpret, type Tensor64 } from '../reference/interpreter.js';
import { fail } from '../util/errors.js';
import type { NdArray } from '../util/ndarray.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';

/** File names a checkpoint goes by: the model-file room's (kept here for library users). */

/** A checkpoint ported with its booster heads when it has them, and the IR it runs. */
export function referenceModel(file: string): { ported: Ported; graph: Graph } {
  const ckpt = loadCheckpoint(file);
  const summary = summarize(ckpt);
  const ported = portWeights(ckpt, { aux: summary.family !== null && summary.hasBooster && summary.problems.length === 0 });
  return { ported, graph: modelFor(ported) };
}

function asNdArray(t: Tensor64, dtype: 'float32' | 'float64'): NdArray {
  return { dtype, shape: t.shape.slice(), data: dtype === 'float32' ? Float32Array.from(t.data) : t.data };
}

export const reference: RuntimeInfo = {
  id: 'reference',
  // A checkpoint given where a model is expected stays a user error unless the reference is asked for (default: false in the registry).
  async load(modelPath: string, opts: RunnerOptions): Promise<Runner> {
    const { ported, graph } = referenceModel(modelPath);
    const irNames = new Set(graph.nodes.filter((n) => n.attrs.op !== 'argmax').map((n) => n.name));
    const exposed = opts.expose === undefined ? [] : opts.expose === 'all' ? [...irNames] : opts.expose.filter((n) => irNames.has(n));
    return {
      runtime: 'reference',
      device: 'CPU, JavaScript float64 (reference interpreter)',
      inputNames: [graph.input.name],
      outputNames: graph.outputs.map((o) => o.name),
      exposed,
      async run(inputs) {
        const x = inputs[graph.input.name] ?? Object.values(inputs)[0];
        if (!x) fail('usage', `no input given (the model takes ${graph.input.name})`);
        if (x!.dtype !== 'float32' && x!.dtype !== 'float64') fail('usage', `inputs of dtype ${x!.dtype} are not supported; use float32`);
        const { outputs, tensors } = interpret(graph, ported.weights, { shape: x!.shape, data: x!.data as Float32Array }, { keep: exposed });
        const out: Record<string, NdArray> = {};
        // Outputs as float32, like every runner's; intermediates keep float64, for comparisons.
        for (const [name, t] of outputs) out[name] = asNdArray(t, 'float32');
        for (const name of exposed) if (!(name in out)) out[name] = asNdArray(tensors.get(name)!, 'float64');
        return out;
      },
      async dispose() { /* nothing held but memory */ },
    };
  },
};

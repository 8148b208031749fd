/**
 * The reference each runtime's rows are compared with: a dense stack of 3×3 convolutions, built as an IR
 * graph and emitted by the project's own emitters, so each runtime runs it in its own model format.
 */
import { GraphBuilder, nodeParams, type Graph } from '../ir/graph.js';
import type { WeightMap } from '../ir/fold.js';
import { numel } from '../util/ndarray.js';

/**
 * Eight 3×3 convs (64 → 64 channels, bias, ReLU) on 1×64×128×256: the width and resolution of BiSeNetV2's
 * detail branch at 1/4 of a 512×1024 frame, 9.66 G multiply-adds. Dense same-size convs with a 64-wide
 * inner product are a common, well-tuned case for CPU and GPU conv kernels, so what a runtime reaches on
 * this stack is a "this machine, this runtime" reference. It is not an upper bound: onnxruntime's 1×1 convs
 * (plain GEMMs) beat its 3×3 ones, and the stack's end-to-end time includes fetching its 8 MiB output, so a
 * model's labels-only row can run faster end to end than the stack does. Bench reports a ratio to it, never
 * a percentage of it.
 */
export const CONV_STACK = { channels: 64, depth: 8, height: 128, width: 256 } as const;

export function convStackGraph(channels: number = CONV_STACK.channels, depth: number = CONV_STACK.depth): Graph {
  const g = new GraphBuilder('input', channels);
  let x = 'input';
  for (let i = 0; i < depth; i++) {
    x = g.conv(`stack.${i}.conv`, x, channels, { kernel: 3, bias: true });
    x = g.unary(`stack.${i}.relu`, 'relu', x);
  }
  return {
    name: 'conv-stack', input: { name: 'input', channels }, outputs: [{ name: 'output', tensor: x, dtype: 'float32', channels }], nodes: g.nodes,
    sizeMultiple: 1, metadata: { family: 'conv-stack', num_classes: String(channels) },
  };
}

/** Deterministic weights scaled so activations stay O(1) through the stack (no overflow, no all-zero ReLUs). */
export function convStackWeights(graph: Graph): WeightMap {
  const weights: WeightMap = new Map();
  let seed = 1;
  for (const n of graph.nodes) {
    for (const p of nodeParams(n)) {
      const fanIn = p.shape.slice(1).reduce((a, b) => a * b, 1) || 1;
      const scale = p.role === 'bias' ? 0.01 : Math.sqrt(2 / fanIn);
      weights.set(p.name, Float32Array.from({ length: numel(p.shape) }, () => Math.sin(seed++ * 12.9898) * scale));
    }
  }
  return weights;
}

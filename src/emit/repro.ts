import { GraphBuilder, type Graph } from '../ir/graph.js';
import type { WeightMap } from '../ir/fold.js';
import type { NdArray } from '../util/ndarray.js';
import { emitOnnx } from './onnx.js';

/**
 * The smallest model that shows onnxruntime-web 1.30's WebGPU bug: one grouped 3×3 convolution with
 * `perGroup` output channels per group (BiSeNetV2's GE layers have 6), nothing else. In the EP's
 * default (NHWC) layout its output is wrong; with `preferredLayout: 'NCHW'`, or emitted with
 * `groupedConv: 'depthwise'`, it matches onnxruntime on the CPU. `scripts/ort-webgpu-repro.mjs` runs it.
 */
export interface ReproOptions {
  channels?: number;
  perGroup?: number;
  size?: number;
  form?: 'native' | 'depthwise';
}

/** A seeded, reproducible uniform in [-1, 1). */
function uniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export function groupedConvRepro(opts: ReproOptions = {}): { graph: Graph; onnx: Uint8Array; input: NdArray } {
  const c = opts.channels ?? 16;
  const m = opts.perGroup ?? 6;
  const size = opts.size ?? 32;
  const b = new GraphBuilder('input', c);
  const y = b.conv('grouped', 'input', c * m, { kernel: 3, groups: c, bias: true });
  const graph: Graph = {
    name: `grouped_conv_${c}x${m}`,
    input: { name: 'input', channels: c },
    outputs: [b.output('output', y)],
    nodes: b.nodes,
    sizeMultiple: 1,
    metadata: { num_classes: String(c * m), purpose: 'onnxruntime-web WebGPU grouped-conv reproduction' },
  };
  const weights: WeightMap = new Map([
    ['grouped.weight', uniform(c * m * 9, 1)],
    ['grouped.bias', uniform(c * m, 2)],
  ]);
  const onnx = emitOnnx(graph, weights, { groupedConv: opts.form ?? 'native' });
  return { graph, onnx, input: { dtype: 'float32', shape: [1, c, size, size], data: uniform(c * size * size, 3) } };
}

/** Arithmetic cost of a graph at one input size: the multiply-accumulates of its convolutions. */
import type { Graph } from './graph.js';
import { inferShapes } from './shapes.js';

/**
 * Multiply-accumulates of every conv for an N×C×H×W input: out_channels · out_H · out_W ·
 * (in_channels / groups) · k² per image, times N. Convs dominate BiSeNetV2 (the rest — pools,
 * resizes, adds — is well under 1 % of the arithmetic), so this is the count papers quote
 * (24.6 G at 1×3×512×1024 for the 19-class model). One MAC is two floating-point operations.
 */
export function convMacs(graph: Graph, inputShape: readonly number[]): number {
  const shapes = inferShapes(graph, inputShape);
  let total = 0;
  for (const n of graph.nodes) {
    if (n.attrs.op !== 'conv') continue;
    const [batch, c, oh, ow] = shapes.get(n.name)! as [number, number, number, number];
    total += batch * c * oh * ow * (n.attrs.inChannels / n.attrs.groups) * n.attrs.kernel * n.attrs.kernel;
  }
  return total;
}

/** GFLOP/s achieved when `macs` multiply-accumulates take `ms` milliseconds. */
export function gflops(macs: number, ms: number): number {
  return ms > 0 ? (2 * macs) / (ms * 1e6) : NaN;
}

import { loadCheckpoint, type Checkpoint } from './checkpoint/index.js';
import { emitOnnx } from './emit/onnx.js';
import type { Graph } from './ir/graph.js';
import type { Family } from './models/bisenetv2.js';
import { modelFor, portWeights, type Ported } from './port/index.js';
import { fail } from './util/errors.js';

export type Target = 'onnx';
export const TARGETS: Target[] = ['onnx'];

export interface ConvertOptions {
  to: Target;
  family?: Family;
  numClasses?: number;
  /** Export the booster heads as extra outputs. */
  aux?: boolean;
  /** Add an argmax `labels` output. */
  labels?: boolean;
  opset?: number;
}

export interface Converted {
  checkpoint: Checkpoint;
  ported: Ported;
  graph: Graph;
  /** Files to write: one for ONNX. */
  bytes: Uint8Array;
}

/** Reads, ports and emits: the whole conversion, as a library call. */
export function convertCheckpoint(file: string, opts: ConvertOptions): Converted {
  if (!TARGETS.includes(opts.to)) fail('usage', `unknown target ${opts.to}; available: ${TARGETS.join(', ')}`);
  const checkpoint = loadCheckpoint(file);
  const ported = portWeights(checkpoint, { family: opts.family, aux: opts.aux, numClasses: opts.numClasses });
  const graph = modelFor(ported, { labels: opts.labels, aux: opts.aux });
  const bytes = emitOnnx(graph, ported.weights, { opset: opts.opset });
  return { checkpoint, ported, graph, bytes };
}

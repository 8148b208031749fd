import { loadCheckpoint, type Checkpoint } from './checkpoint/index.js';
import { emitOnnx } from './emit/onnx.js';
import { emitTensorrt } from './emit/tensorrt.js';
import type { Quantization } from './emit/tfjs-common.js';
import { emitTfjsGraph } from './emit/tfjs-graph.js';
import { emitTfjsLayers } from './emit/tfjs-layers.js';
import type { Graph } from './ir/graph.js';
import type { Family } from './models/bisenetv2.js';
import { modelFor, portWeights, type Ported } from './port/index.js';
import { modelMetadataFor, type Dataset } from './presets.js';
import { fail } from './util/errors.js';

export type Target = 'onnx' | 'tfjs-layers' | 'tfjs-graph' | 'tensorrt';
export const TARGETS: Target[] = ['onnx', 'tfjs-layers', 'tfjs-graph', 'tensorrt'];
/** Targets written as a directory (model.json and weight shards; TensorRT's model.onnx and build script) rather than one file. */
export const DIRECTORY_TARGETS: Target[] = ['tfjs-layers', 'tfjs-graph', 'tensorrt'];

export interface ConvertOptions {
  to: Target;
  /** Convert even with NaN/Inf weights or negative running variances (see PortOptions). */
  allowNonfinite?: boolean;
  family?: Family;
  numClasses?: number;
  /** Export the booster heads as extra outputs. */
  aux?: boolean;
  /** Add an argmax `labels` output. */
  labels?: boolean;
  opset?: number;
  /** tfjs targets: store weights quantized per tensor (float16, uint8 or uint16). */
  quantize?: Quantization;
  /** tfjs targets: largest weight shard, in bytes (default 4 MiB). */
  shardBytes?: number;
  /** onnx: grouped convs as channel repeat + depthwise (avoids onnxruntime-web's WebGPU bug). */
  groupedConv?: 'native' | 'depthwise';
  /** tensorrt: input size `1x3x512x1024`, or a `min:opt:max` profile. */
  shapes?: string;
  /** Preprocessing preset recorded in the model's metadata (default: from the class count). */
  dataset?: Dataset | 'none';
}

export interface Converted {
  checkpoint: Checkpoint;
  ported: Ported;
  graph: Graph;
  /** The model file: the .onnx bytes, or a tfjs model's model.json. */
  bytes: Uint8Array;
  /** Directory targets (tfjs): every file of the directory by name, model.json included. */
  files?: Map<string, Uint8Array>;
}

/** Reads, ports and emits: the whole conversion, as a library call. */
export function convertCheckpoint(file: string, opts: ConvertOptions): Converted {
  if (!TARGETS.includes(opts.to)) fail('usage', `unknown target ${opts.to}; available: ${TARGETS.join(', ')}`);
  const checkpoint = loadCheckpoint(file);
  const ported = portWeights(checkpoint, { family: opts.family, aux: opts.aux, numClasses: opts.numClasses, allowNonfinite: opts.allowNonfinite });
  const graph = modelFor(ported, { labels: opts.labels, aux: opts.aux });
  const metadata = modelMetadataFor(ported.family, ported.numClasses, opts.dataset);
  if (opts.shapes !== undefined && opts.to !== 'tensorrt') fail('usage', '--shapes applies to the tensorrt target only');
  if (opts.groupedConv && opts.groupedConv !== 'native' && opts.to !== 'onnx') fail('usage', '--grouped-conv applies to the onnx target only');
  if (opts.to === 'onnx') {
    if (opts.quantize) fail('usage', '--quantize applies to the tfjs targets only');
    const bytes = emitOnnx(graph, ported.weights, { opset: opts.opset, groupedConv: opts.groupedConv, metadata });
    return { checkpoint, ported, graph, bytes };
  }
  if (opts.to === 'tensorrt') {
    if (opts.quantize) fail('usage', '--quantize applies to the tfjs targets only (TensorRT takes --fp16/--int8 when building: see build_engine.sh)');
    const files = emitTensorrt(graph, ported.weights, { shapes: opts.shapes, opset: opts.opset, metadata });
    return { checkpoint, ported, graph, bytes: files.get('model.onnx')!, files };
  }
  const emit = opts.to === 'tfjs-layers' ? emitTfjsLayers : emitTfjsGraph;
  const files = emit(graph, ported.weights, { quantize: opts.quantize, shardBytes: opts.shardBytes, metadata });
  return { checkpoint, ported, graph, bytes: files.get('model.json')!, files };
}

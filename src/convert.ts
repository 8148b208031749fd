import { loadCheckpoint, type Checkpoint } from './checkpoint/index.js';
import { EMITTERS } from './emit/emitters.js';
import { joinChunks } from './emit/onnx.js';
import { isTarget, OPTION_FLAGS, TARGET_IDS, TARGETS, type EmitOption, type Target } from './emit/targets.js';
import type { Quantization } from './emit/tfjs-common.js';
import type { Graph } from './ir/graph.js';
import type { Family } from './models/bisenetv2.js';
import { modelFor, portWeights, type Ported } from './port/index.js';
import { modelMetadataFor, type Dataset } from './presets.js';
import { fail } from './util/errors.js';

export { TARGET_IDS, TARGETS, type Target } from './emit/targets.js';
/** Targets written as a directory rather than one file (from the target table). */
export const DIRECTORY_TARGETS: Target[] = TARGET_IDS.filter((t) => TARGETS[t].directory);

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
  /** Also output these IR tensors (or 'all' the target holds), after the model's own outputs. */
  expose?: 'all' | string[];
}

export interface Converted {
  checkpoint: Checkpoint;
  ported: Ported;
  graph: Graph;
  /** The model file: the .onnx bytes, or a tfjs model's model.json (for ONNX, joined on first use). */
  readonly bytes: Uint8Array;
  /** The model file as pieces in order, where the emitter gives it so (ONNX): write these, no copy. */
  chunks?: Uint8Array[];
  /** The model file's size in bytes. */
  byteLength: number;
  /** Directory targets (tfjs): every file of the directory by name, model.json included. */
  files?: Map<string, Uint8Array>;
}

/** `--quantize applies to the tfjs-layers and tfjs-graph targets only`, from the target table. */
function notApplicable(option: EmitOption): never {
  const where = TARGET_IDS.filter((t) => (TARGETS[t].options as EmitOption[]).includes(option));
  const list = where.length > 1 ? `${where.slice(0, -1).join(', ')} and ${where[where.length - 1]}` : where[0];
  return fail('usage', `${OPTION_FLAGS[option]} applies to the ${list} target${where.length > 1 ? 's' : ''} only`);
}

/** Reads, ports and emits: the whole conversion, as a library call. */
export function convertCheckpoint(file: string, opts: ConvertOptions): Converted {
  if (!isTarget(opts.to)) fail('usage', `unknown target ${opts.to}; available: ${TARGET_IDS.join(', ')}`);
  const target = TARGETS[opts.to];
  const given: Record<EmitOption, unknown> = { opset: opts.opset, quantize: opts.quantize, shardBytes: opts.shardBytes,
    groupedConv: opts.groupedConv === 'native' ? undefined : opts.groupedConv, shapes: opts.shapes, expose: opts.expose };
  for (const [option, value] of Object.entries(given) as [EmitOption, unknown][]) {
    if (value !== undefined && !(target.options as EmitOption[]).includes(option)) notApplicable(option);
  }
  const checkpoint = loadCheckpoint(file);
  const ported = portWeights(checkpoint, { family: opts.family, aux: opts.aux, numClasses: opts.numClasses, allowNonfinite: opts.allowNonfinite });
  const graph = modelFor(ported, { labels: opts.labels, aux: opts.aux });
  const metadata = modelMetadataFor(ported.family, ported.numClasses, opts.dataset);
  const out = EMITTERS[opts.to](graph, ported.weights, { opset: opts.opset, quantize: opts.quantize, shardBytes: opts.shardBytes,
    groupedConv: opts.groupedConv, shapes: opts.shapes, expose: opts.expose, metadata });
  if (out instanceof Uint8Array) return { checkpoint, ported, graph, bytes: out, byteLength: out.byteLength };
  if (Array.isArray(out)) {
    let joined: Uint8Array | undefined;
    return { checkpoint, ported, graph, chunks: out, byteLength: out.reduce((n, c) => n + c.byteLength, 0), get bytes() { return joined ??= joinChunks(out); } };
  }
  const main = out.get(target.main!)!;
  return { checkpoint, ported, graph, bytes: main, byteLength: main.byteLength, files: out };
}

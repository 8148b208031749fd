import { loadCheckpoint, type Checkpoint } from '../checkpoint/index.js';
import { provenanceOf } from '../checkpoint/provenance.js';
import { EMITTERS } from '../emit/emitters.js';
import { joinChunks } from '../emit/onnx.js';
import { isTarget, OPTION_FLAGS, TARGET_IDS, TARGETS, type EmitOption, type Target } from '../emit/targets.js';
import type { Quantization } from '../emit/tfjs-common.js';
import type { Graph } from '../ir/graph.js';
import type { Family } from '../models/bisenetv2.js';
import { detectFamily, LAYOUTS, modelFor, portWeights, type Ported } from '../port/index.js';
import { modelMetadataFor, type Dataset } from '../model-file/presets.js';
import { fail } from '../util/errors.js';
import { formatBytes } from '../util/limits.js';
import { checkRunMemory, modelLoadBytes } from '../model-file/memory.js';
import { validateCalibration, type Calibration, type Statistic } from '../emit/calibration.js';
import { matchKeepFloat, type Precision } from '../emit/onnx-precision.js';
import { readFileChecked } from '../util/fs.js';
import { parseJsonBounded } from '../util/json.js';

export { TARGET_IDS, TARGETS, type Target } from '../emit/targets.js';
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
  /** onnx, tensorrt: fp32 (default), fp16, or int8 (needs `calibration`). */
  precision?: Precision;
  /** int8: calib.json's path (from bisenet calibrate), or its parsed content. */
  calibration?: string | Calibration;
  /** int8: which recorded threshold sets the activation scales (default entropy). */
  statistic?: Statistic;
  /** int8: conv layers kept in float, as names or `*` patterns. */
  keepFloat?: string[];
  /** int8 onnx: Q/DQ pairs on conv outputs too, which onnxruntime fuses into integer convolutions. */
  qdqOutputs?: boolean;
  /** More metadata recorded in the model (e.g. the choice `bisenet quantize` made). */
  metadata?: Record<string, string>;
  /**
   * The model is converted to be run in memory (segment, eval, serve, calibrate), under this label: before any
   * weight is read, holding the checkpoint's tensors as float32 is held to the model-memory budget
   * (--max-memory), so that a checkpoint of very many classes (small on disk: zeros deflate) is refused
   * before it is ported, not after.
   */
  inMemory?: string;
}

/** Reads and checks calib.json. */
export function readCalibration(file: string): Calibration {
  return validateCalibration(parseJsonBounded(readFileChecked(file, 'calibration').toString('utf8'), file, 'calibration'), file);
}

/** The int8 options' consistency, and the calibration's fit to the model. */
function precisionOptions(opts: ConvertOptions, graph: Graph, family: string, numClasses: number): { calibration?: Calibration; keepFloat?: string[] } {
  const p = opts.precision ?? 'fp32';
  if (p !== 'int8') {
    const stray = opts.calibration !== undefined ? '--calibration' : opts.statistic !== undefined ? '--statistic' : opts.keepFloat?.length ? '--keep-float' : opts.qdqOutputs ? '--qdq-outputs' : null;
    if (stray) fail('usage', `${stray} applies to --precision int8 only`);
    return {};
  }
  if (opts.calibration === undefined) fail('usage', '--precision int8 needs --calibration calib.json (write it with bisenet calibrate)');
  const label = typeof opts.calibration === 'string' ? opts.calibration : 'calibration';
  const calibration = typeof opts.calibration === 'string' ? readCalibration(opts.calibration) : opts.calibration!;
  const m = calibration.model;
  if ((m.family !== null && m.family !== family) || (m.num_classes !== null && m.num_classes !== numClasses)) {
    fail('usage', `${label} was made for a ${m.family} model with ${m.num_classes} classes, this checkpoint is ${family} with ${numClasses}; run bisenet calibrate on it`);
  }
  const convs = graph.nodes.filter((n) => n.attrs.op === 'conv').map((n) => n.name);
  return { calibration, keepFloat: opts.keepFloat?.length ? [...matchKeepFloat(opts.keepFloat, convs)] : [] };
}

export interface Converted {
  checkpoint: Checkpoint;
  ported: Ported;
  graph: Graph;
  /** What the model records (preset, classes, the checkpoint's sha256…), as the emitters wrote it. */
  metadata: Record<string, string>;
  /** The model file: the .onnx bytes, or a tfjs model's model.json (for ONNX, joined on first use). */
  readonly bytes: Uint8Array;
  /** The model file as pieces in order, where the emitter gives it so (ONNX): write these, no copy. */
  chunks?: Uint8Array[];
  /** The model file's size in bytes. */
  byteLength: number;
  /** Directory targets (tfjs): every file of the directory by name, model.json included. */
  files?: Map<string, Uint8Array>;
}

/** What a model converted in memory records, as a model file's metadata would say it (segment, eval and serve read it). */
export function recordedOf(c: Converted): Record<string, unknown> {
  return { ...c.graph.metadata, ...c.metadata, num_classes: c.ported.numClasses };
}

/** `--quantize applies to the tfjs-layers and tfjs-graph targets only`, from the target table. */
function notApplicable(option: EmitOption): never {
  const where = TARGET_IDS.filter((t) => (TARGETS[t].options as EmitOption[]).includes(option));
  const list = where.length > 1 ? `${where.slice(0, -1).join(', ')} and ${where[where.length - 1]}` : where[0];
  return fail('usage', `${OPTION_FLAGS[option]} applies to the ${list} target${where.length > 1 ? 's' : ''} only`);
}

/**
 * The model-memory budget against the weights a checkpoint's model will hold, as float32, from their shapes alone
 * (nothing is read yet): its tensors, less the booster heads' where the model leaves them out.
 */
function checkHoldable(checkpoint: Checkpoint, label: string, aux: boolean): void {
  const family = detectFamily(checkpoint).family;
  const booster = family && !aux ? new RegExp(LAYOUTS[family]!.boosterKeys) : null;
  let bytes = 0;
  for (const t of checkpoint.tensors.values()) if (!booster?.test(t.name)) bytes += 4 * t.shape.reduce((a, b) => a * b, 1);
  checkRunMemory(label, modelLoadBytes(bytes), `holding the model's weights (${formatBytes(bytes)} as float32, before the checkpoint is converted)`,
    'raise --max-memory if this machine has the memory');
}

/** Reads, ports and emits: the whole conversion, as a library call. */
export function convertCheckpoint(file: string, opts: ConvertOptions): Converted {
  if (!isTarget(opts.to)) fail('usage', `unknown target ${opts.to}; available: ${TARGET_IDS.join(', ')}`);
  const target = TARGETS[opts.to];
  const given: Record<EmitOption, unknown> = { opset: opts.opset, quantize: opts.quantize, shardBytes: opts.shardBytes,
    groupedConv: opts.groupedConv === 'native' ? undefined : opts.groupedConv, shapes: opts.shapes, expose: opts.expose,
    precision: opts.precision === 'fp32' ? undefined : opts.precision, calibration: opts.calibration, statistic: opts.statistic, keepFloat: opts.keepFloat?.length ? opts.keepFloat : undefined,
    qdqOutputs: opts.qdqOutputs || undefined };
  for (const [option, value] of Object.entries(given) as [EmitOption, unknown][]) {
    if (value !== undefined && !(target.options as EmitOption[]).includes(option)) notApplicable(option);
  }
  const checkpoint = loadCheckpoint(file);
  if (opts.inMemory !== undefined) checkHoldable(checkpoint, opts.inMemory, opts.aux ?? false);
  const ported = portWeights(checkpoint, { family: opts.family, aux: opts.aux, numClasses: opts.numClasses, allowNonfinite: opts.allowNonfinite });
  const graph = modelFor(ported, { labels: opts.labels, aux: opts.aux });
  // The checkpoint's sha256 (verify tells a golden set of another checkpoint by it) and, where a card beside it
  // says so, that its weights are random (segment warns that such masks mean nothing).
  const prov = provenanceOf(file);
  const metadata: Record<string, string> = { ...modelMetadataFor(ported.family, ported.numClasses, opts.dataset), checkpoint_sha256: prov.sha256,
    ...(prov.weights ? { weights: prov.weights } : {}), ...(opts.metadata ?? {}) };
  const prec = precisionOptions(opts, graph, ported.family, ported.numClasses);
  const out = EMITTERS[opts.to](graph, ported.weights, { opset: opts.opset, quantize: opts.quantize, shardBytes: opts.shardBytes,
    groupedConv: opts.groupedConv, shapes: opts.shapes, expose: opts.expose, metadata,
    precision: opts.precision, calibration: prec.calibration, statistic: opts.statistic, keepFloat: prec.keepFloat, qdqOutputs: opts.qdqOutputs });
  if (out instanceof Uint8Array) return { checkpoint, ported, graph, metadata, bytes: out, byteLength: out.byteLength };
  if (Array.isArray(out)) {
    let joined: Uint8Array | undefined;
    return { checkpoint, ported, graph, metadata, chunks: out, byteLength: out.reduce((n, c) => n + c.byteLength, 0), get bytes() { return joined ??= joinChunks(out); } };
  }
  const main = out.get(target.main!)!;
  return { checkpoint, ported, graph, metadata, bytes: main, byteLength: main.byteLength, files: out };
}

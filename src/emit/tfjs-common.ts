/**
 * What the two TensorFlow.js emitters share: weight layouts (OIHW → HWIO, depthwise → k×k×C×m),
 * padding plans, conv+ReLU fusion, weight quantization and sharding as tfjs defines them in
 * `weightsManifest`, and the metadata every tfjs model of ours carries.
 *
 * Pure data code: no tfjs import and nothing Node-specific, so the browser entry (src/tfjs-custom-layers.ts)
 * may import the constants below.
 */
import { foldBatchNorm, type WeightMap } from '../ir/fold.js';
import { nodeParams, type ConvAttrs, type Graph, type Node, type Pads } from '../ir/graph.js';
import { fail } from '../util/errors.js';
import { floatToHalf } from '../util/ndarray.js';

/** Class name of the custom layer the layers format uses for resizes tfjs-layers cannot express. */
export const RESIZE_LAYER_CLASS = 'BisenetResize';
/** Average pooling that excludes zero padding from each window's count (PaddleSeg's BGA pool). */
export const EXCLUSIVE_POOL_LAYER_CLASS = 'BisenetAvgPoolExclusive';
/** Key of our block inside `userDefinedMetadata` of model.json. */
export const METADATA_KEY = 'bisenet';
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

export type Quantization = 'float16' | 'uint8' | 'uint16';
export const QUANTIZATIONS: Quantization[] = ['float16', 'uint8', 'uint16'];

export interface TfjsEmitOptions {
  /** Store float weights quantized, per tensor, as tfjs-core's decodeWeights understands. */
  quantize?: Quantization;
  /**
   * Which weights to quantize (by their name in the manifest), where `quantize` is set; default all
   * float weights. Like the tfjs converter's name patterns.
   */
  quantizeFilter?: (name: string, shape: number[]) => boolean;
  /** Upper bound on the size of one weight shard file, in bytes (default 4 MiB). */
  shardBytes?: number;
  /** Extra entries for userDefinedMetadata.bisenet (preprocessing, class names…). */
  metadata?: Record<string, string>;
  /** Also make these IR tensors (or all the model holds) outputs, after the model's own (listed in the metadata's outputs too). */
  expose?: import('./expose.js').Expose;
}

/** What our models record in model.json's `userDefinedMetadata.bisenet`. */
export interface BisenetTfjsMetadata {
  producer: string;
  family: string;
  num_classes: number;
  /** tensors are NHWC inside tfjs */
  layout: 'NHWC';
  input: string;
  /** output names, in the order the model returns them */
  outputs: string[];
  size_multiple: number;
  quantization: Quantization | 'none';
  [key: string]: unknown;
}

/** The class count: channels of the model's first float output (its logits). */
export function numClasses(graph: Graph): number {
  const logits = graph.outputs.find((o) => o.dtype === 'float32');
  if (!logits) fail('usage', `model ${graph.name} has no float output`);
  return logits!.channels!;
}

/**
 * The metadata a tfjs model records. `producer` is passed in by the emitters: this module is also loaded by the
 * browser pages (the format constants above), so it reads no file (the package version comes from package.json).
 */
export function modelMetadata(graph: Graph, opts: TfjsEmitOptions, producer: string): BisenetTfjsMetadata {
  return {
    ...(opts.metadata ?? {}),
    producer,
    family: graph.metadata.family ?? 'unknown',
    num_classes: numClasses(graph),
    layout: 'NHWC',
    input: graph.input.name,
    outputs: graph.outputs.map((o) => o.name),
    size_multiple: graph.sizeMultiple,
    quantization: opts.quantize ?? 'none',
  };
}

// ---------------------------------------------------------------------------------------------
// Weight layouts

export type ConvKind = 'plain' | 'depthwise';

/**
 * A conv is plain (groups 1) or depthwise (groups = input channels, output = C·m). Any other
 * grouping has no tfjs op; BiSeNetV2 has none (its GE layers' Conv(C→6C, groups=C) is depthwise
 * with multiplier 6), so it is refused rather than approximated.
 */
export function convKind(name: string, a: ConvAttrs): ConvKind {
  if (a.groups === 1) return 'plain';
  if (a.groups === a.inChannels && a.outChannels % a.groups === 0) return 'depthwise';
  return fail('usage', `${name}: grouped conv (${a.inChannels}→${a.outChannels}, groups ${a.groups}) is neither plain nor depthwise; TensorFlow.js has no op for it`);
}

/** PyTorch conv weight O×I×kh×kw → TensorFlow kh×kw×I×O (HWIO). */
export function oihwToHwio(w: Float32Array, o: number, i: number, kh: number, kw: number): Float32Array {
  if (w.length !== o * i * kh * kw) throw new Error(`weight has ${w.length} values, expected ${o}×${i}×${kh}×${kw}`);
  const out = new Float32Array(w.length);
  for (let oo = 0; oo < o; oo++) {
    for (let ii = 0; ii < i; ii++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((y * kw + x) * i + ii) * o + oo] = w[((oo * i + ii) * kh + y) * kw + x]!;
        }
      }
    }
  }
  return out;
}

/**
 * PyTorch depthwise weight (C·m)×1×kh×kw → TensorFlow kh×kw×C×m. Output channel c·m + j of a
 * PyTorch grouped conv reads input channel c, as TF's depthwise output channel c·m + j does, so
 * the channel order of the result needs no permutation.
 */
export function depthwiseToHwcm(w: Float32Array, c: number, m: number, kh: number, kw: number): Float32Array {
  if (w.length !== c * m * kh * kw) throw new Error(`weight has ${w.length} values, expected ${c * m}×1×${kh}×${kw}`);
  const out = new Float32Array(w.length);
  for (let cc = 0; cc < c; cc++) {
    for (let j = 0; j < m; j++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((y * kw + x) * c + cc) * m + j] = w[((cc * m + j) * kh + y) * kw + x]!;
        }
      }
    }
  }
  return out;
}

/** The kernel of a conv node in TF layout, with its shape. */
export function tfKernel(name: string, a: ConvAttrs, w: Float32Array): { kind: ConvKind; data: Float32Array; shape: number[] } {
  const kind = convKind(name, a);
  const k = a.kernel;
  if (kind === 'plain') return { kind, data: oihwToHwio(w, a.outChannels, a.inChannels, k, k), shape: [k, k, a.inChannels, a.outChannels] };
  const m = a.outChannels / a.inChannels;
  return { kind, data: depthwiseToHwcm(w, a.inChannels, m, k, k), shape: [k, k, a.inChannels, m] };
}

// ---------------------------------------------------------------------------------------------
// Padding

/**
 * How to express PyTorch's explicit pads in TF terms. 'same' only where it is exactly the same
 * (stride 1, odd kernel, symmetric (k−1)/2): TF 'same' with stride 2 on even sizes pads only
 * bottom/right, so strided layers get an explicit pad and a 'valid' op.
 */
export type PadPlan = { kind: 'valid' } | { kind: 'same' } | { kind: 'explicit'; pads: Pads };

export function padPlan(kernel: number, stride: number, pads: Pads): PadPlan {
  if (pads.every((p) => p === 0)) return { kind: 'valid' };
  const half = (kernel - 1) / 2;
  if (stride === 1 && kernel % 2 === 1 && pads.every((p) => p === half)) return { kind: 'same' };
  return { kind: 'explicit', pads };
}

// ---------------------------------------------------------------------------------------------
// Graph preparation shared by both emitters

export interface PreparedGraph {
  graph: Graph;
  weights: WeightMap;
  /** relu node → the conv it is fused into (conv's only consumer is that relu) */
  fusedRelu: Map<string, string>;
  /** conv node → fused activation */
  convActivation: Map<string, 'relu'>;
  /** tensors known to be ≥ 0 (ReLU outputs, fused or not) */
  nonNegative: Set<string>;
  consumers: Map<string, number>;
  /** channels of every tensor */
  channels: Map<string, number>;
}

/** Checks weights, folds BatchNorm into convs, and plans conv+ReLU fusion. */
export function prepareGraph(graph: Graph, weights: WeightMap): PreparedGraph {
  for (const p of graph.nodes.flatMap(nodeParams)) {
    if (!weights.has(p.name)) fail('layout', `no weights for ${p.name}`);
  }
  const folded = foldBatchNorm(graph, weights);
  const consumers = new Map<string, number>();
  for (const n of folded.graph.nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  for (const o of folded.graph.outputs) consumers.set(o.tensor, (consumers.get(o.tensor) ?? 0) + 1);
  const byName = new Map(folded.graph.nodes.map((n) => [n.name, n]));
  const fusedRelu = new Map<string, string>();
  const convActivation = new Map<string, 'relu'>();
  const nonNegative = new Set<string>();
  for (const n of folded.graph.nodes) {
    if (n.attrs.op !== 'relu') continue;
    nonNegative.add(n.name);
    const src = byName.get(n.inputs[0]!);
    if (src?.attrs.op === 'conv' && consumers.get(src.name) === 1) {
      fusedRelu.set(n.name, src.name);
      convActivation.set(src.name, 'relu');
    }
  }
  const channels = new Map<string, number>([[graph.input.name, graph.input.channels]]);
  for (const n of folded.graph.nodes) {
    const a = n.attrs;
    const first = channels.get(n.inputs[0]!)!;
    channels.set(n.name, a.op === 'conv' ? a.outChannels : a.op === 'batchnorm' ? a.channels : a.op === 'argmax' ? 1
      : a.op === 'concat' ? n.inputs.reduce((s, i) => s + channels.get(i)!, 0) : first);
  }
  return { graph: folded.graph, weights: folded.weights, fusedRelu, convActivation, nonNegative, consumers, channels };
}

/** Nodes in emission order with fused ReLUs dropped; `tensor()` maps an IR tensor to the emitted one. */
export function emittedNodes(p: PreparedGraph): { nodes: Node[]; tensor: (t: string) => string } {
  const tensor = (t: string): string => p.fusedRelu.get(t) ?? t;
  return { nodes: p.graph.nodes.filter((n) => !p.fusedRelu.has(n.name)), tensor };
}

// ---------------------------------------------------------------------------------------------
// Weights: quantization and shards

export interface TfjsWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
  /** false for structural constants (shapes, axes, pad values): never quantized */
  quantizable: boolean;
}

export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: Quantization; scale?: number; min?: number };
}

export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightsManifestEntry[];
}

/**
 * Affine quantization of one tensor to uint8/uint16 as the tfjs converter does it: the range is
 * widened to include 0 and nudged so that 0 is exactly representable; dequantized value is
 * q·scale + min (tfjs-core io.decodeWeights).
 */
export function quantizeAffine(data: Float32Array, dtype: 'uint8' | 'uint16'): { q: Uint8Array | Uint16Array; scale: number; min: number } {
  const qmax = dtype === 'uint8' ? 255 : 65535;
  const q = dtype === 'uint8' ? new Uint8Array(data.length) : new Uint16Array(data.length);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    if (data.length === 0) return { q, scale: 1, min: 0 };
    fail('usage', 'cannot quantize a tensor holding non-finite values');
  }
  if (lo === hi) return { q, scale: 1, min: lo }; // every value is `lo`: all codes 0
  lo = Math.min(lo, 0);
  hi = Math.max(hi, 0);
  const scale = (hi - lo) / qmax;
  const zeroPoint = Math.round(-lo / scale);
  const min = -zeroPoint * scale;
  const max = min + qmax * scale;
  for (let i = 0; i < data.length; i++) {
    const v = Math.min(max, Math.max(min, data[i]!));
    q[i] = Math.min(qmax, Math.max(0, Math.round((v - min) / scale)));
  }
  return { q, scale, min };
}

/** Largest finite float16. */
export const FLOAT16_MAX = 65504;

function float16Bytes(name: string, data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // Values that round beyond 65504 would become ±∞ and every output NaN.
    if (!(Math.abs(v) < FLOAT16_MAX + 16)) fail('usage', `weight ${name} holds ${v}, beyond float16's range (±${FLOAT16_MAX}); use --quantize uint16 or no quantization`);
    out[i] = floatToHalf(v);
  }
  return out;
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Encodes weights into one manifest group whose concatenated bytes are split into shards of at
 * most `shardBytes` (a tensor may straddle shards: tfjs concatenates a group's shards first).
 */
export function encodeWeights(weights: TfjsWeight[], opts: TfjsEmitOptions): { manifest: WeightsManifestGroup[]; files: Map<string, Uint8Array> } {
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes < 1024) fail('usage', `shard size must be an integer of at least 1024 bytes, got ${shardBytes}`);
  if (opts.quantize !== undefined && !QUANTIZATIONS.includes(opts.quantize)) fail('usage', `unknown quantization ${opts.quantize}; available: ${QUANTIZATIONS.join(', ')}`);
  const entries: WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const w of weights) {
    if (seen.has(w.name)) throw new Error(`duplicate weight ${w.name}`);
    seen.add(w.name);
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (n !== w.data.length) throw new Error(`weight ${w.name}: shape [${w.shape.join(', ')}] holds ${n} values, data has ${w.data.length}`);
    const entry: WeightsManifestEntry = { name: w.name, shape: w.shape, dtype: w.dtype };
    if (opts.quantize && w.quantizable && w.dtype === 'float32' && (opts.quantizeFilter?.(w.name, w.shape) ?? true)) {
      const data = w.data as Float32Array;
      if (opts.quantize === 'float16') {
        entry.quantization = { dtype: 'float16' };
        chunks.push(bytesOf(float16Bytes(w.name, data)));
      } else {
        const { q, scale, min } = quantizeAffine(data, opts.quantize);
        entry.quantization = { dtype: opts.quantize, scale, min };
        chunks.push(bytesOf(q));
      }
    } else {
      chunks.push(bytesOf(w.data));
    }
    entries.push(entry);
  }
  const total = chunks.reduce((s, c) => s + c.byteLength, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) { all.set(c, off); off += c.byteLength; }
  const count = Math.ceil(total / shardBytes); // no shard at all for a model without weights
  const files = new Map<string, Uint8Array>();
  const paths: string[] = [];
  for (let s = 0; s < count; s++) {
    const name = `group1-shard${s + 1}of${count}.bin`;
    paths.push(name);
    files.set(name, all.slice(s * shardBytes, Math.min(total, (s + 1) * shardBytes)));
  }
  return { manifest: [{ paths, weights: entries }], files };
}

/** model.json plus shards, as a directory's files. */
export function modelFiles(modelJson: Record<string, unknown>, shards: Map<string, Uint8Array>): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>([['model.json', new TextEncoder().encode(`${JSON.stringify(modelJson)}\n`)]]);
  for (const [k, v] of shards) files.set(k, v);
  return files;
}

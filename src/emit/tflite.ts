/**
 * The TFLite (LiteRT) target: one `.tflite` FlatBuffer (schema `TFL3`) written from the IR with the
 * project's own FlatBuffers writer (src/util/flatbuffer.ts). Builtin ops only, so that every TFLite
 * runtime and delegate runs it. NHWC throughout; the input size is fixed when converting (`--shapes`,
 * default 1x3x512x1024): TFLite models carry static shapes, and the resizes' target sizes are constants.
 *
 * Lowering, per IR op:
 *   - conv: CONV_2D (filter O×H×W×I) or DEPTHWISE_CONV_2D (filter 1×H×W×C·m), BatchNorm folded, a
 *     following ReLU fused (fused_activation_function RELU). Padding: SAME only where exact (stride 1,
 *     odd kernel, symmetric); otherwise PAD (zeros, the IR's pads) + VALID (TFLite's SAME pads
 *     bottom/right on strided layers, PyTorch both sides).
 *   - batchnorm not after a conv (the CE block's): MUL by γ/√(σ²+ε), ADD β − μ·that.
 *   - relu not fused: RELU. sigmoid: LOGISTIC. add, mul: ADD, MUL (broadcasting the 1×1 context).
 *   - concat: CONCATENATION on axis 3. globalavgpool: MEAN over axes 1, 2, keep_dims.
 *   - maxpool: PAD (zeros, where the input is a ReLU's output, ≥ 0) or PADV2 (−∞), then MAX_POOL_2D VALID.
 *   - avgpool: PAD + a DEPTHWISE_CONV_2D of 1/k² weights, VALID (count_include_pad; LiteRT's WebGPU
 *     delegate miscounts PAD + AVERAGE_POOL_2D); excluding padding, that average is multiplied by
 *     k²/(cells inside), a constant of the fixed size. Unpadded: AVERAGE_POOL_2D.
 *   - resize bilinear: RESIZE_BILINEAR, half_pixel_centers (version 3), align_corners false.
 *     nearest: RESIZE_NEAREST_NEIGHBOR, neither flag (floor of out·in/out: PyTorch's nearest).
 *   - argmax: ARG_MAX over axis 3, int32 labels N×H×W.
 * The one-operator lowerings (RELU, LOGISTIC, ADD, MUL, MEAN) are rows of ./ops.ts; the others are the code paths below.
 * `--quantize float16`: conv filters and biases stored as FLOAT16 constants, each followed by a
 * DEQUANTIZE to float32 (computation stays float32), as TFLite's float16 post-training quantization does.
 * Tensors take their IR names (a conv's carries its fused ReLU's value, as in tfjs); outputs take theirs.
 * The model's metadata (the ONNX metadata_props' keys and values) is one JSON object in the `metadata`
 * entry named `bisenet`; a SignatureDef `serving_default` names the input and outputs.
 */
import type { WeightMap } from '../ir/fold.js';
import { PRODUCER } from '../util/version.js';
import type { Graph, Node, Pads } from '../ir/graph.js';
import { inferShapes } from '../ir/shapes.js';
import { fail } from '../util/errors.js';
import { fb, writeFlatbuffer, type FbTable, type FbValue } from '../util/flatbuffer.js';
import { floatToHalf } from '../util/ndarray.js';
import { exposedTensors, type Expose } from './expose.js';
import type { Calibration, Statistic, TensorRange } from './calibration.js';
import { lower, type CodePaths, type TfliteField, type TfliteRow } from './ops.js';
import { parseShapes } from './tensorrt.js';
import { convKind, depthwiseToHwcm, emittedNodes, FLOAT16_MAX, padPlan, prepareGraph, type PreparedGraph } from './tfjs-common.js';

export const TFLITE_METADATA_KEY = 'bisenet';
export const TFLITE_SIGNATURE_KEY = 'serving_default';
export const DEFAULT_TFLITE_SHAPE = '1x3x512x1024';

/** TFLite's BuiltinOperator codes the emitter writes, and the version each needs for the options used. */
export const TFLITE_OPS = {
  ADD: { code: 0, version: 1 },
  AVERAGE_POOL_2D: { code: 1, version: 1 },
  CONCATENATION: { code: 2, version: 1 },
  CONV_2D: { code: 3, version: 1 },
  DEPTHWISE_CONV_2D: { code: 4, version: 1 },
  DEQUANTIZE: { code: 6, version: 3 }, // version 3: float16 input
  LOGISTIC: { code: 14, version: 1 },
  MAX_POOL_2D: { code: 17, version: 1 },
  MUL: { code: 18, version: 1 },
  RELU: { code: 19, version: 1 },
  RESIZE_BILINEAR: { code: 23, version: 3 }, // version 3: half_pixel_centers
  PAD: { code: 34, version: 1 },
  MEAN: { code: 40, version: 1 },
  ARG_MAX: { code: 56, version: 1 },
  PADV2: { code: 60, version: 1 },
  RESIZE_NEAREST_NEIGHBOR: { code: 97, version: 1 },
  QUANTIZE: { code: 114, version: 1 },
} as const;
export type TfliteOp = keyof typeof TFLITE_OPS;

/** The version each op needs with int8 tensors (TFLite's op_version rules: int8 kernels, per-channel conv filters). */
const INT8_VERSIONS: Partial<Record<TfliteOp, number>> = {
  ADD: 2, AVERAGE_POOL_2D: 2, CONCATENATION: 2, CONV_2D: 3, DEPTHWISE_CONV_2D: 3, DEQUANTIZE: 2, LOGISTIC: 2, MAX_POOL_2D: 2,
  MUL: 2, RELU: 2, RESIZE_BILINEAR: 3, PAD: 2, MEAN: 2, ARG_MAX: 2, PADV2: 2, RESIZE_NEAREST_NEIGHBOR: 2, QUANTIZE: 1,
};

/** BuiltinOptions union members (type index) of the options tables written. */
const OPTIONS = {
  Conv2DOptions: 1, DepthwiseConv2DOptions: 2, Pool2DOptions: 5, ConcatenationOptions: 10, AddOptions: 11,
  ResizeBilinearOptions: 15, MulOptions: 21, PadOptions: 22, ReducerOptions: 27, DequantizeOptions: 38,
  ArgMaxOptions: 40, PadV2Options: 43, ResizeNearestNeighborOptions: 74,
} as const;

/** TFLite TensorType values. */
export const TENSOR_TYPE = { FLOAT32: 0, FLOAT16: 1, INT32: 2, INT64: 4, INT8: 9 } as const;
const PADDING = { SAME: 0, VALID: 1 } as const;
const ACT = { NONE: 0, RELU: 1 } as const;

export interface TfliteEmitOptions {
  /** `NxCxHxW`: the one input size the model takes (default 1x3x512x1024). */
  shapes?: string;
  quantize?: 'float16';
  /** Integer TFLite: int8 weights and activations from these calibrated ranges (see `int8Emit`). */
  int8?: {
    calibration: Calibration; statistic: Statistic; keepFloat?: Set<string>;
    /** the output resizes in int8 too (every op integer, as a delegate that runs only integer ops wants); default: float32 */
    fullyInteger?: boolean;
  };
  metadata?: Record<string, string>;
  expose?: Expose;
}

/** A tensor's quantization: real = scale · (q − zero point), per tensor or per channel along `dim`. */
export interface Quant { scale: number[]; zeroPoint: number[]; dim?: number }

interface TensorDef { name: string; shape: number[]; type: number; buffer: number; quant?: Quant }
interface OpDef { op: TfliteOp; inputs: number[]; outputs: number[]; options?: { type: number; table: FbTable } }

class Builder {
  readonly tensors: TensorDef[] = [];
  readonly buffers: Uint8Array[] = [new Uint8Array(0)]; // buffer 0: the empty sentinel
  readonly ops: OpDef[] = [];
  private readonly byName = new Map<string, number>();

  tensor(name: string, shape: number[], type: number = TENSOR_TYPE.FLOAT32, data?: Uint8Array, quant?: Quant): number {
    if (this.byName.has(name)) throw new Error(`duplicate tensor name ${name}`);
    let buffer = 0;
    if (data) { buffer = this.buffers.length; this.buffers.push(data); }
    this.tensors.push({ name, shape, type, buffer, quant });
    this.byName.set(name, this.tensors.length - 1);
    return this.tensors.length - 1;
  }
  index(name: string): number {
    const i = this.byName.get(name);
    if (i === undefined) throw new Error(`unknown tensor ${name}`);
    return i;
  }
  has(name: string): boolean { return this.byName.has(name); }
  rename(i: number, name: string): void {
    if (this.byName.has(name)) throw new Error(`duplicate tensor name ${name}`);
    this.byName.delete(this.tensors[i]!.name);
    this.tensors[i]!.name = name;
    this.byName.set(name, i);
  }
  quantOf(i: number): Quant | undefined { return this.tensors[i]!.quant; }
  typeOf(i: number): number { return this.tensors[i]!.type; }
  shapeOf(i: number): number[] { return this.tensors[i]!.shape; }
  op(op: TfliteOp, inputs: number[], outputs: number[], options?: OpDef['options']): void {
    this.ops.push({ op, inputs, outputs, options });
  }
  f32(name: string, shape: number[], data: Float32Array): number {
    return this.tensor(name, shape, TENSOR_TYPE.FLOAT32, bytesOf(Float32Array.from(data)));
  }
  i32(name: string, shape: number[], data: number[]): number {
    if (this.has(name)) return this.index(name);
    return this.tensor(name, shape, TENSOR_TYPE.INT32, bytesOf(Int32Array.from(data)));
  }
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const opts = (type: number, fields: (FbValue | undefined)[]) => ({ type, table: fb.table(fields) });

/** PyTorch OIHW → TFLite OHWI. */
function oihwToOhwi(w: Float32Array, o: number, i: number, k: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let oo = 0; oo < o; oo++) for (let ii = 0; ii < i; ii++) for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) {
    out[((oo * k + y) * k + x) * i + ii] = w[((oo * i + ii) * k + y) * k + x]!;
  }
  return out;
}

interface Ctx {
  b: Builder;
  prepared: PreparedGraph;
  nhwc: Map<string, number[]>;
  quantize?: 'float16';
  int8?: TfliteEmitOptions['int8'];
  /** conv → the ReLU fused into it (whose value, and calibrated range, its output holds) */
  fusedInto: Map<string, string>;
  /** int8 tensor → its float32 value (DEQUANTIZEd once, for convs kept in float; the input's is the float input) */
  floatOf: Map<number, number>;
  /** IR tensor → emitted tensor name (a fused conv's output is its ReLU's; outputs take the output's name). */
  name: (t: string) => string;
}

/** The [low, high] a statistic takes from a calibrated range, for an asymmetric quantizer (widened to contain 0). */
export function asymmetricRange(r: TensorRange, s: Statistic): [number, number] {
  let [lo, hi] = s === 'minmax' ? [r.min, r.max] : s === 'percentile' ? [r.percentile.low, r.percentile.high]
    : [Math.max(r.min, -r.entropy), Math.min(r.max, r.entropy)];
  lo = Math.min(lo, 0);
  hi = Math.max(hi, 0);
  return [lo, hi];
}

/** int8 asymmetric per-tensor parameters for [lo, hi] ∋ 0: scale (hi − lo) / 255, zero point −128 − round(lo / scale). */
export function int8Params(lo: number, hi: number): Quant {
  // A tensor that was all zeros: any positive scale represents it; 0 is then code −128.
  if (!(hi - lo > 0)) return { scale: [1], zeroPoint: [-128] };
  const scale = Math.fround((hi - lo) / 255);
  const zp = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale: [scale], zeroPoint: [zp] };
}

/**
 * The quantization of an IR tensor's value, from the calibration. `step` is the producer's accumulator step
 * where it has one (a conv's s_in · max s_w): integer kernels requantize by step / scale, which XNNPACK
 * takes only below 256. So a tensor that was 0 on every calibration image (a channel group a ReLU always
 * zeroes) takes scale = step (a scale of 1 there, before a conv of large folded weights, made LiteRT fail
 * to prepare the trained model), and a range narrower than 255 steps is widened to 255 steps (same low end).
 */
function calibrated(ctx: Ctx, irTensor: string, step?: number): Quant {
  const r = ctx.int8!.calibration.tensors[irTensor];
  if (!r) fail('usage', `the calibration has no range for tensor ${irTensor}; it was made for another model (run bisenet calibrate on this one)`);
  const [lo, hi] = asymmetricRange(r!, ctx.int8!.statistic);
  if (step === undefined || !(step > 0)) return int8Params(lo, hi);
  if (!(hi - lo > 0)) return { scale: [Math.fround(step)], zeroPoint: [-128] };
  const q = int8Params(lo, hi);
  if (q.scale[0]! * 255 >= step) return q;
  return int8Params(lo, lo + step);
}

const sameQuant = (a: Quant | undefined, b: Quant | undefined): boolean =>
  a !== undefined && b !== undefined && a.scale.length === 1 && b.scale.length === 1 && a.scale[0] === b.scale[0] && a.zeroPoint[0] === b.zeroPoint[0];

/** An activation tensor: float32, or int8 with `q` in an int8 model. */
function act(ctx: Ctx, name: string, shape: number[], q: () => Quant): number {
  return ctx.int8 ? ctx.b.tensor(name, shape, TENSOR_TYPE.INT8, undefined, q()) : ctx.b.tensor(name, shape);
}

/** Symmetric int8 per channel along `axis` of `shape` (zero point 0, scale max|w| / 127; 1 for an all-zero channel). */
export function quantizeAxis(w: Float32Array, shape: number[], axis: number): { q: Int8Array; scales: number[] } {
  const channels = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const chan = (i: number) => Math.floor(i / inner) % channels;
  const max = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) max[chan(i)] = Math.max(max[chan(i)]!, Math.abs(w[i]!));
  const scales = Array.from(max, (m) => (m > 0 ? Math.fround(m / 127) : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / scales[chan(i)]!)));
  return { q, scales };
}

/** A conv's filter and bias: float (or float16) constants, or int8 per channel + int32 biases scaled s_in · s_w. */
function convConstants(ctx: Ctx, name: string, input: number, filterShape: number[], filter: Float32Array, axis: number, bias: Float32Array): [number, number] {
  if (!ctx.int8) return [weight(ctx, `${name}/filter`, filterShape, filter), weight(ctx, `${name}/bias`, [bias.length], bias)];
  const inScale = ctx.b.quantOf(input)!.scale[0]!;
  const { q, scales } = quantizeAxis(filter, filterShape, axis);
  const f = ctx.b.tensor(`${name}/filter`, filterShape, TENSOR_TYPE.INT8, bytesOf(q), { scale: scales, zeroPoint: scales.map(() => 0), dim: axis });
  const bs = scales.map((s) => Math.fround(inScale * s));
  const bq = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const v = Math.round(bias[c]! / bs[c]!);
    if (!(Math.abs(v) <= 2 ** 31 - 1)) fail('usage', `conv ${name}: bias ${bias[c]} does not fit int32 at scale ${bs[c]}; this layer cannot take int8 with this calibration: keep it in float (--keep-float ${name}) or recalibrate`);
    bq[c] = v;
  }
  const bt = ctx.b.tensor(`${name}/bias`, [bias.length], TENSOR_TYPE.INT32, bytesOf(bq), { scale: bs, zeroPoint: bs.map(() => 0), dim: 0 });
  return [f, bt];
}

/** `x` requantized to `q` (QUANTIZE int8 → int8) where its parameters differ (ops whose inputs must share the output's). */
function requantize(ctx: Ctx, x: number, name: string, q: Quant): number {
  if (!ctx.int8 || sameQuant(ctx.b.quantOf(x), q)) return x;
  const out = ctx.b.tensor(name, ctx.b.shapeOf(x), TENSOR_TYPE.INT8, undefined, q);
  ctx.b.op('QUANTIZE', [x], [out]);
  return out;
}

/** A float constant: float32, or float16 + DEQUANTIZE where quantizing. */
function weight(ctx: Ctx, name: string, shape: number[], data: Float32Array): number {
  if (ctx.quantize !== 'float16') return ctx.b.f32(name, shape, data);
  const half = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!(Math.abs(v) < FLOAT16_MAX + 16)) fail('usage', `weight ${name} holds ${v}, beyond float16's range (±${FLOAT16_MAX}); convert without --quantize`);
    half[i] = floatToHalf(v);
  }
  const q = ctx.b.tensor(`${name}/float16`, shape, TENSOR_TYPE.FLOAT16, bytesOf(half));
  const out = ctx.b.tensor(name, shape);
  ctx.b.op('DEQUANTIZE', [q], [out], opts(OPTIONS.DequantizeOptions, []));
  return out;
}

function pad(ctx: Ctx, name: string, x: number, pads: Pads, fill?: number): number {
  const [t, l, bo, r] = pads;
  const [n, h, w, c] = ctx.b.shapeOf(x) as [number, number, number, number];
  const paddings = ctx.b.i32(`${name}/paddings`, [4, 2], [0, 0, t, bo, l, r, 0, 0]);
  // int8: PAD fills with the zero point (real 0), the output shares the input's parameters.
  const q = ctx.b.quantOf(x);
  const out = act(ctx, name, [n, h + t + bo, w + l + r, c], () => q!);
  if (fill === undefined) {
    ctx.b.op('PAD', [x, paddings], [out], opts(OPTIONS.PadOptions, []));
  } else {
    // int8: −∞ is the lowest code.
    const value = q ? ctx.b.tensor(`${name}/value`, [], TENSOR_TYPE.INT8, Uint8Array.of(fill === -Infinity ? 0x80 : 0), q)
      : ctx.b.f32(`${name}/value`, [], Float32Array.of(fill));
    if (q && fill !== -Infinity) throw new Error('int8 PADV2 pads with −∞ only');
    ctx.b.op('PADV2', [x, paddings, value], [out], opts(OPTIONS.PadV2Options, []));
  }
  return out;
}

/** Where a node's lowering reads and writes: its input tensors, its output's name and NHWC shape. */
interface Io { ins: number[]; outName: string; shape: number[] }
type Handlers = CodePaths<'tflite', Ctx, Io>;

const conv: Handlers['conv'] = (ctx, n, { ins, outName, shape }) => {
  const { b, prepared } = ctx;
  const a = n.attrs;
  const x = ins[0]!;
  const w = prepared.weights;
  const kind = convKind(n.name, a);
  const k = a.kernel;
  const raw = w.get(`${n.name}.weight`)!;
  const plan = padPlan(k, a.stride, a.pads);
  // A conv kept in float (--keep-float) in an int8 model: DEQUANTIZE its input, float32 conv, QUANTIZE its output.
  const keep = ctx.int8?.keepFloat?.has(n.name) ?? false;
  const cc: Ctx = keep ? { ...ctx, int8: undefined } : ctx;
  let xin = x;
  if (keep) {
    xin = ctx.floatOf.get(x) ?? b.tensor(`${b.tensors[x]!.name}/float`, b.shapeOf(x));
    if (!ctx.floatOf.has(x)) { b.op('DEQUANTIZE', [x], [xin]); ctx.floatOf.set(x, xin); }
  }
  const input = plan.kind === 'explicit' ? pad(cc, `${n.name}/pad`, xin, plan.pads) : xin;
  // Filters: O×H×W×I (output channels on axis 0) or 1×H×W×C·m (axis 3), per-channel int8 along that axis.
  const [filter, bias] = convConstants(cc, n.name, input,
    kind === 'plain' ? [a.outChannels, k, k, a.inChannels] : [1, k, k, a.outChannels],
    kind === 'plain' ? oihwToOhwi(raw, a.outChannels, a.inChannels, k) : depthwiseToHwcm(raw, a.inChannels, a.outChannels / a.inChannels, k, k),
    kind === 'plain' ? 0 : 3, a.bias ? w.get(`${n.name}.bias`)! : new Float32Array(a.outChannels));
  const fused = prepared.convActivation.get(n.name) === 'relu' ? ACT.RELU : ACT.NONE;
  const padding = plan.kind === 'same' ? PADDING.SAME : PADDING.VALID;
  const q = () => calibrated(ctx, ctx.fusedInto.get(n.name) ?? n.name, keep ? undefined : b.quantOf(bias)!.scale.reduce((m, v) => Math.max(m, v), 0));
  const final = act(ctx, outName, shape, q);
  const out = keep ? b.tensor(`${outName}/float`, shape) : final;
  if (kind === 'plain') {
    b.op('CONV_2D', [input, filter, bias], [out], opts(OPTIONS.Conv2DOptions,
      [fb.i8(padding), fb.i32(a.stride), fb.i32(a.stride), fb.i8(fused), fb.i32(1), fb.i32(1)]));
  } else {
    b.op('DEPTHWISE_CONV_2D', [input, filter, bias], [out], opts(OPTIONS.DepthwiseConv2DOptions,
      [fb.i8(padding), fb.i32(a.stride), fb.i32(a.stride), fb.i32(a.outChannels / a.inChannels), fb.i8(fused), fb.i32(1), fb.i32(1)]));
  }
  // (a conv kept in float that reads this one reads its float value)
  if (keep) { b.op('QUANTIZE', [out], [final]); ctx.floatOf.set(final, out); }
};

const pooling: Handlers['maxpool' | 'avgpool'] = (ctx, n, { ins, outName, shape }) => {
  const { b, prepared } = ctx;
  const a = n.attrs;
  const x = ins[0]!;
  const padded = a.pads.some((p) => p > 0)
    ? pad(ctx, `${n.name}/pad`, x, a.pads, a.op === 'maxpool' && !prepared.nonNegative.has(n.inputs[0]!) ? -Infinity : undefined)
    : x;
  const pool = (name: string) => {
    // int8: MAX_POOL_2D and AVERAGE_POOL_2D keep their input's parameters; the depthwise mean takes the calibrated range.
    const out = act(ctx, name, shape, () => (a.op === 'maxpool' || padded === x ? b.quantOf(x)! : calibrated(ctx, n.name)));
    if (a.op === 'maxpool' || padded === x) {
      b.op(a.op === 'maxpool' ? 'MAX_POOL_2D' : 'AVERAGE_POOL_2D', [padded], [out], opts(OPTIONS.Pool2DOptions,
        [fb.i8(PADDING.VALID), fb.i32(a.stride), fb.i32(a.stride), fb.i32(a.kernel), fb.i32(a.kernel), fb.i8(ACT.NONE)]));
      return out;
    }
    // The average of a zero-padded window as a depthwise conv of 1/k² weights (float32 even with
    // --quantize float16): LiteRT's WebGPU delegate folds a PAD into the AVERAGE_POOL_2D after it and
    // then leaves the padding out of the count (measured: the BGA's detail pool 26 % off).
    const c = shape[3]!;
    const [filter, bias] = ctx.int8
      ? convConstants(ctx, `${n.name}/mean`, padded, [1, a.kernel, a.kernel, c], new Float32Array(a.kernel * a.kernel * c).fill(1 / (a.kernel * a.kernel)), 3, new Float32Array(c))
      : [b.f32(`${n.name}/mean_filter`, [1, a.kernel, a.kernel, c], new Float32Array(a.kernel * a.kernel * c).fill(1 / (a.kernel * a.kernel))),
        b.f32(`${n.name}/mean_bias`, [c], new Float32Array(c))];
    b.op('DEPTHWISE_CONV_2D', [padded, filter, bias], [out], opts(OPTIONS.DepthwiseConv2DOptions,
      [fb.i8(PADDING.VALID), fb.i32(a.stride), fb.i32(a.stride), fb.i32(1), fb.i8(ACT.NONE), fb.i32(1), fb.i32(1)]));
    return out;
  };
  if (a.op === 'maxpool' || a.countIncludePad || a.pads.every((p) => p === 0)) { pool(outName); return; }
  // Excluding padding: the zero-padded mean × k² / (cells of the window inside the input).
  const mean = pool(`${n.name}/padded_mean`);
  const [, ho, wo] = shape as [number, number, number, number];
  const [, hi, wi] = b.shapeOf(x) as [number, number, number, number];
  const inside = (o: number, size: number, before: number) => {
    const lo = o * a.stride - before;
    return Math.min(lo + a.kernel, size) - Math.max(lo, 0);
  };
  const factor = new Float32Array(ho * wo);
  for (let y = 0; y < ho; y++) for (let xx = 0; xx < wo; xx++) factor[y * wo + xx] = (a.kernel * a.kernel) / (inside(y, hi, a.pads[0]) * inside(xx, wi, a.pads[1]));
  let share: number;
  if (ctx.int8) {
    const fq = int8Params(0, factor.reduce((m, v) => Math.max(m, v), 0));
    const codes = Int8Array.from(factor, (v) => Math.max(-128, Math.min(127, Math.round(v / fq.scale[0]!) + fq.zeroPoint[0]!)));
    share = b.tensor(`${n.name}/inside_share`, [1, ho, wo, 1], TENSOR_TYPE.INT8, bytesOf(codes), fq);
  } else {
    share = b.f32(`${n.name}/inside_share`, [1, ho, wo, 1], factor);
  }
  b.op('MUL', [mean, share], [act(ctx, outName, shape, () => calibrated(ctx, n.name))], opts(OPTIONS.MulOptions, [fb.i8(ACT.NONE)]));
};

/** The ops lowered in code; the others are rows of ./ops.ts. */
export const TFLITE_CODE_PATHS: Handlers = {
  conv,
  batchnorm: (ctx, n, { ins, outName, shape }) => {
    const { b } = ctx;
    const a = n.attrs;
    const x = ins[0]!;
    const w = ctx.prepared.weights;
    const g = w.get(`${n.name}.weight`)!, be = w.get(`${n.name}.bias`)!, mu = w.get(`${n.name}.running_mean`)!, v = w.get(`${n.name}.running_var`)!;
    const s = new Float32Array(a.channels), t = new Float32Array(a.channels);
    for (let c = 0; c < a.channels; c++) {
      const sc = g[c]! / Math.sqrt(v[c]! + a.eps);
      s[c] = sc;
      t[c] = be[c]! - mu[c]! * sc;
    }
    if (ctx.int8) {
      // int8: the per-channel affine as a 1×1 depthwise conv (per-channel int8 scales, one op, one calibrated output).
      const [f, bi] = convConstants(ctx, n.name, x, [1, 1, 1, a.channels], s, 3, t);
      b.op('DEPTHWISE_CONV_2D', [x, f, bi], [act(ctx, outName, shape, () => calibrated(ctx, n.name))], opts(OPTIONS.DepthwiseConv2DOptions,
        [fb.i8(PADDING.VALID), fb.i32(1), fb.i32(1), fb.i32(1), fb.i8(ACT.NONE), fb.i32(1), fb.i32(1)]));
      return;
    }
    const scaled = b.tensor(`${n.name}/scaled`, shape);
    b.op('MUL', [x, b.f32(`${n.name}/scale`, [a.channels], s)], [scaled], opts(OPTIONS.MulOptions, [fb.i8(ACT.NONE)]));
    b.op('ADD', [scaled, b.f32(`${n.name}/shift`, [a.channels], t)], [b.tensor(outName, shape)], opts(OPTIONS.AddOptions, [fb.i8(ACT.NONE)]));
  },
  maxpool: pooling,
  avgpool: pooling,
  concat: (ctx, n, { ins, outName, shape }) => {
    const { b } = ctx;
    // int8: every input shares the output's parameters (requantized where it does not).
    const out = act(ctx, outName, shape, () => calibrated(ctx, n.name));
    const q = b.quantOf(out);
    const inputs = q ? ins.map((t, i) => requantize(ctx, t, `${n.name}/input${i}`, q)) : ins;
    b.op('CONCATENATION', inputs, [out], opts(OPTIONS.ConcatenationOptions, [fb.i32(3), fb.i8(ACT.NONE)]));
  },
  resize: (ctx, n, { ins, outName, shape }) => {
    const { b, prepared } = ctx;
    const a = n.attrs;
    let x = ins[0]!;
    const size = b.i32(`${n.name}/size`, [2], [shape[1]!, shape[2]!]);
    // int8: a resize keeps its input's parameters (values interpolate within the input's range).
    // int8: the resize that makes a float output (the logits' ×8 upsampling) runs in float32 on its DEQUANTIZEd
    // input unless `fullyInteger` (interpolating int8 codes measured 99.14 % label agreement against 99.50 %).
    const floatOut = ctx.int8 !== undefined && !ctx.int8.fullyInteger && prepared.graph.outputs.some((o) => o.name === outName && o.dtype === 'float32');
    if (floatOut) {
      const f = ctx.floatOf.get(x) ?? b.tensor(`${b.tensors[x]!.name}/float`, b.shapeOf(x));
      if (!ctx.floatOf.has(x)) { b.op('DEQUANTIZE', [x], [f]); ctx.floatOf.set(x, f); }
      x = f;
    }
    const out = floatOut ? b.tensor(outName, shape) : act(ctx, outName, shape, () => b.quantOf(x)!);
    if (a.mode === 'bilinear') {
      b.op('RESIZE_BILINEAR', [x, size], [out], opts(OPTIONS.ResizeBilinearOptions, [undefined, undefined, fb.bool(false), fb.bool(true)]));
    } else {
      b.op('RESIZE_NEAREST_NEIGHBOR', [x, size], [out], opts(OPTIONS.ResizeNearestNeighborOptions, [fb.bool(false), fb.bool(false)]));
    }
  },
  argmax: (ctx, n, { ins: [x], outName, shape }) => {
    const { b } = ctx;
    b.op('ARG_MAX', [x!, b.i32('const/channel_axis', [1], [3])], [b.tensor(outName, shape, TENSOR_TYPE.INT32)],
      opts(OPTIONS.ArgMaxOptions, [fb.i8(TENSOR_TYPE.INT32)]));
  },
};

const field = (f: TfliteField): FbValue => ('i8' in f ? fb.i8(f.i8) : 'i32' in f ? fb.i32(f.i32) : fb.bool(f.bool));

/** A row of ./ops.ts: one operator on the inputs and the row's constants; in an int8 model, its output quantized as the row says. */
const row = (ctx: Ctx, n: Node, r: TfliteRow, { ins, outName, shape }: Io): void => {
  const { b } = ctx;
  const inputs = [...ins, ...(r.consts ?? []).map((c) => b.i32(c.name, [...c.shape], [...c.values]))];
  const q = r.int8Output;
  const out = act(ctx, outName, shape, () => (q === 'calibrated' ? calibrated(ctx, n.name)
    : q === 'calibrated-input-step' ? calibrated(ctx, n.name, b.quantOf(ins[0]!)!.scale[0])
      : { scale: [...q.scale], zeroPoint: [...q.zeroPoint] }));
  const table = r.options && OPTIONS[r.options.table as keyof typeof OPTIONS];
  if (!(r.op in TFLITE_OPS) || (r.options && table === undefined)) throw new Error(`ops.ts: ${r.op} (${r.options?.table ?? 'no options'}) is not an operator the TFLite emitter writes`);
  b.op(r.op as TfliteOp, inputs, [out], r.options ? opts(table!, r.options.fields.map(field)) : undefined);
};

function emitNode(ctx: Ctx, n: Node): void {
  const io = { ins: n.inputs.map((i) => ctx.b.index(ctx.name(i))), outName: ctx.name(n.name), shape: ctx.nhwc.get(n.name)! };
  lower('tflite', TFLITE_CODE_PATHS, row, ctx, n, io);
}

/** The NHWC shape of an NCHW one (labels N×H×W stay as they are). */
const toNhwc = (s: number[]): number[] => (s.length === 4 ? [s[0]!, s[2]!, s[3]!, s[1]!] : s.slice());

/** Emits the `.tflite` file. */
export function emitTflite(graph: Graph, weights: WeightMap, o: TfliteEmitOptions = {}): Uint8Array {
  const inputShape = parseShapes(o.shapes ?? DEFAULT_TFLITE_SHAPE, graph);
  if (!inputShape.static) fail('usage', `--shapes ${o.shapes}: a TFLite model takes one input size (e.g. 1x3x512x1024), not a min:opt:max profile`);
  const prepared = prepareGraph(graph, weights);
  const nchw = inferShapes(prepared.graph, inputShape.opt);
  const nhwc = new Map([...nchw].map(([k, v]) => [k, toNhwc(v)]));
  const { nodes, tensor } = emittedNodes(prepared);
  // A conv with a fused ReLU writes the ReLU's value under the conv's name (as in tfjs; bisenet diff reads it so);
  // a model output's tensor takes the output's name.
  const outputName = new Map(prepared.graph.outputs.map((out) => [tensor(out.tensor), out.name]));
  if (o.int8 && o.quantize) fail('usage', '--quantize float16 and --precision int8 exclude each other');
  // int8: the float input is quantized once at the entry; every reader of the input reads that.
  const quantizedInput = `${graph.input.name}/int8`;
  const name = (t: string): string => (o.int8 && t === graph.input.name ? quantizedInput : outputName.get(tensor(t)) ?? tensor(t));
  const b = new Builder();
  const fusedInto = new Map([...prepared.fusedRelu].map(([relu, conv]) => [conv, relu]));
  const ctx: Ctx = { b, prepared, nhwc, quantize: o.quantize, int8: o.int8, fusedInto, floatOf: new Map(), name };
  const input = b.tensor(graph.input.name, nhwc.get(graph.input.name)!);
  if (o.int8) {
    const q = act(ctx, quantizedInput, nhwc.get(graph.input.name)!, () => calibrated(ctx, graph.input.name));
    b.op('QUANTIZE', [input], [q]);
    ctx.floatOf.set(q, input);
  }
  for (const n of nodes) emitNode(ctx, n);

  const outputs = prepared.graph.outputs.map((out) => ({ name: out.name, index: b.index(name(out.tensor)) }));
  const exposed = exposedTensors(prepared.graph, nodes.map((n) => n.name), o.expose, 'tflite');
  for (const t of exposed) outputs.push({ name: t, index: b.index(t) });
  // int8: float outputs at the exit: each int8 output keeps its name with `/int8` added and a DEQUANTIZE writes the name.
  for (const out of outputs) {
    if (b.typeOf(out.index) !== TENSOR_TYPE.INT8) continue;
    const own = b.tensors[out.index]!.name;
    b.rename(out.index, `${own}/int8`);
    const float = b.tensor(own, b.shapeOf(out.index));
    b.op('DEQUANTIZE', [out.index], [float]);
    out.index = float;
  }

  const metadata: Record<string, string> = {
    ...graph.metadata, ...(o.metadata ?? {}), producer: PRODUCER, layout: 'NHWC',
    input: graph.input.name, input_shape: JSON.stringify(inputShape.opt), outputs: JSON.stringify(outputs.map((x) => x.name)),
    quantization: o.quantize ?? 'none', target: 'tflite',
  };
  if (o.int8) {
    const cal = o.int8.calibration;
    metadata.precision = 'int8';
    metadata.quantization = JSON.stringify({
      scheme: 'TFLite integer: int8 weights symmetric per output channel; int8 activations asymmetric per tensor; int32 biases; float input and outputs',
      statistic: o.int8.statistic, calibration: { source: cal.model.source, images: cal.images.count, dir: cal.images.dir },
      float_convs: [...(o.int8.keepFloat ?? [])], output_resize: o.int8.fullyInteger ? 'int8' : 'float32',
    });
  }
  return encodeModel(b, [input], outputs, metadata, graph.name, Boolean(o.int8));
}

function encodeModel(b: Builder, inputs: number[], outputs: { name: string; index: number }[], metadata: Record<string, string>, graphName: string, int8: boolean): Uint8Array {
  const usedOps = [...new Set(b.ops.map((op) => op.op))];
  const opIndex = new Map(usedOps.map((op, i) => [op, i]));
  const metaBuffer = b.buffers.length;
  b.buffers.push(new TextEncoder().encode(JSON.stringify(metadata)));
  const operatorCodes = usedOps.map((op) => {
    const { code } = TFLITE_OPS[op];
    const version = (int8 ? INT8_VERSIONS[op] : undefined) ?? TFLITE_OPS[op].version;
    // deprecated_builtin_code holds codes below 127 (older readers take it); builtin_code always.
    return fb.table([fb.i8(Math.min(code, 127)), undefined, fb.i32(version), fb.i32(code)]);
  });
  // QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details 4–5, quantized_dimension 6.
  const quant = (q: Quant) => fb.table([undefined, undefined, fb.f32s(q.scale), fb.i64s(q.zeroPoint), undefined, undefined, q.dim ? fb.i32(q.dim) : undefined]);
  const tensors = b.tensors.map((t) => fb.table([fb.i32s(t.shape), fb.i8(t.type), fb.u32(t.buffer), fb.str(t.name), t.quant ? quant(t.quant) : undefined]));
  const operators = b.ops.map((op) => fb.table([
    fb.u32(opIndex.get(op.op)!), fb.i32s(op.inputs), fb.i32s(op.outputs),
    op.options ? fb.u8(op.options.type) : undefined, op.options?.table,
  ]));
  const subgraph = fb.table([fb.tables(tensors), fb.i32s(inputs), fb.i32s(outputs.map((x) => x.index)), fb.tables(operators), fb.str(graphName)]);
  const tensorMap = (name: string, index: number) => fb.table([fb.str(name), fb.u32(index)]);
  const signature = fb.table([
    fb.tables(inputs.map((i) => tensorMap(b.tensors[i]!.name, i))),
    fb.tables(outputs.map((x) => tensorMap(x.name, x.index))),
    fb.str(TFLITE_SIGNATURE_KEY), undefined, fb.u32(0),
  ]);
  const buffers = b.buffers.map((d) => fb.table(d.byteLength ? [fb.bytes(d, 16)] : []));
  const model = fb.table([
    fb.u32(3), fb.tables(operatorCodes), fb.tables([subgraph]), fb.str(PRODUCER), fb.tables(buffers),
    undefined, fb.tables([fb.table([fb.str(TFLITE_METADATA_KEY), fb.u32(metaBuffer)])]), fb.tables([signature]),
  ]);
  const total = b.buffers.reduce((s, d) => s + d.byteLength + 32, 0) + 64 * (b.tensors.length + b.ops.length) + 4096;
  return writeFlatbuffer(model, 'TFL3', total);
}

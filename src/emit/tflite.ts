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
} as const;
export type TfliteOp = keyof typeof TFLITE_OPS;

/** BuiltinOptions union members (type index) of the options tables written. */
const OPTIONS = {
  Conv2DOptions: 1, DepthwiseConv2DOptions: 2, Pool2DOptions: 5, ConcatenationOptions: 10, AddOptions: 11,
  ResizeBilinearOptions: 15, MulOptions: 21, PadOptions: 22, ReducerOptions: 27, DequantizeOptions: 38,
  ArgMaxOptions: 40, PadV2Options: 43, ResizeNearestNeighborOptions: 74,
} as const;

/** TFLite TensorType values. */
export const TENSOR_TYPE = { FLOAT32: 0, FLOAT16: 1, INT32: 2, INT64: 4 } as const;
const PADDING = { SAME: 0, VALID: 1 } as const;
const ACT = { NONE: 0, RELU: 1 } as const;

export interface TfliteEmitOptions {
  /** `NxCxHxW`: the one input size the model takes (default 1x3x512x1024). */
  shapes?: string;
  quantize?: 'float16';
  metadata?: Record<string, string>;
  expose?: Expose;
}

interface TensorDef { name: string; shape: number[]; type: number; buffer: number }
interface OpDef { op: TfliteOp; inputs: number[]; outputs: number[]; options?: { type: number; table: FbTable } }

class Builder {
  readonly tensors: TensorDef[] = [];
  readonly buffers: Uint8Array[] = [new Uint8Array(0)]; // buffer 0: the empty sentinel
  readonly ops: OpDef[] = [];
  private readonly byName = new Map<string, number>();

  tensor(name: string, shape: number[], type: number = TENSOR_TYPE.FLOAT32, data?: Uint8Array): number {
    if (this.byName.has(name)) throw new Error(`duplicate tensor name ${name}`);
    let buffer = 0;
    if (data) { buffer = this.buffers.length; this.buffers.push(data); }
    this.tensors.push({ name, shape, type, buffer });
    this.byName.set(name, this.tensors.length - 1);
    return this.tensors.length - 1;
  }
  index(name: string): number {
    const i = this.byName.get(name);
    if (i === undefined) throw new Error(`unknown tensor ${name}`);
    return i;
  }
  has(name: string): boolean { return this.byName.has(name); }
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
  /** IR tensor → emitted tensor name (a fused conv's output is its ReLU's; outputs take the output's name). */
  name: (t: string) => string;
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
  const out = ctx.b.tensor(name, [n, h + t + bo, w + l + r, c]);
  if (fill === undefined) {
    ctx.b.op('PAD', [x, paddings], [out], opts(OPTIONS.PadOptions, []));
  } else {
    const value = ctx.b.f32(`${name}/value`, [], Float32Array.of(fill));
    ctx.b.op('PADV2', [x, paddings, value], [out], opts(OPTIONS.PadV2Options, []));
  }
  return out;
}

function emitNode(ctx: Ctx, n: Node): void {
  const { b, prepared } = ctx;
  const a = n.attrs;
  const ins = n.inputs.map((i) => b.index(ctx.name(i)));
  const x = ins[0]!;
  const outName = ctx.name(n.name);
  const shape = ctx.nhwc.get(n.name)!;
  const w = prepared.weights;
  switch (a.op) {
    case 'conv': {
      const kind = convKind(n.name, a);
      const k = a.kernel;
      const raw = w.get(`${n.name}.weight`)!;
      const filter = kind === 'plain'
        ? weight(ctx, `${n.name}/filter`, [a.outChannels, k, k, a.inChannels], oihwToOhwi(raw, a.outChannels, a.inChannels, k))
        : weight(ctx, `${n.name}/filter`, [1, k, k, a.outChannels], depthwiseToHwcm(raw, a.inChannels, a.outChannels / a.inChannels, k, k));
      const bias = weight(ctx, `${n.name}/bias`, [a.outChannels], a.bias ? w.get(`${n.name}.bias`)! : new Float32Array(a.outChannels));
      const plan = padPlan(k, a.stride, a.pads);
      const input = plan.kind === 'explicit' ? pad(ctx, `${n.name}/pad`, x, plan.pads) : x;
      const act = prepared.convActivation.get(n.name) === 'relu' ? ACT.RELU : ACT.NONE;
      const padding = plan.kind === 'same' ? PADDING.SAME : PADDING.VALID;
      const out = b.tensor(outName, shape);
      if (kind === 'plain') {
        b.op('CONV_2D', [input, filter, bias], [out], opts(OPTIONS.Conv2DOptions,
          [fb.i8(padding), fb.i32(a.stride), fb.i32(a.stride), fb.i8(act), fb.i32(1), fb.i32(1)]));
      } else {
        b.op('DEPTHWISE_CONV_2D', [input, filter, bias], [out], opts(OPTIONS.DepthwiseConv2DOptions,
          [fb.i8(padding), fb.i32(a.stride), fb.i32(a.stride), fb.i32(a.outChannels / a.inChannels), fb.i8(act), fb.i32(1), fb.i32(1)]));
      }
      return;
    }
    case 'batchnorm': {
      const g = w.get(`${n.name}.weight`)!, be = w.get(`${n.name}.bias`)!, mu = w.get(`${n.name}.running_mean`)!, v = w.get(`${n.name}.running_var`)!;
      const s = new Float32Array(a.channels), t = new Float32Array(a.channels);
      for (let c = 0; c < a.channels; c++) {
        const sc = g[c]! / Math.sqrt(v[c]! + a.eps);
        s[c] = sc;
        t[c] = be[c]! - mu[c]! * sc;
      }
      const scaled = b.tensor(`${n.name}/scaled`, shape);
      b.op('MUL', [x, b.f32(`${n.name}/scale`, [a.channels], s)], [scaled], opts(OPTIONS.MulOptions, [fb.i8(ACT.NONE)]));
      b.op('ADD', [scaled, b.f32(`${n.name}/shift`, [a.channels], t)], [b.tensor(outName, shape)], opts(OPTIONS.AddOptions, [fb.i8(ACT.NONE)]));
      return;
    }
    case 'relu': b.op('RELU', [x], [b.tensor(outName, shape)]); return;
    case 'sigmoid': b.op('LOGISTIC', [x], [b.tensor(outName, shape)]); return;
    case 'add': b.op('ADD', ins, [b.tensor(outName, shape)], opts(OPTIONS.AddOptions, [fb.i8(ACT.NONE)])); return;
    case 'mul': b.op('MUL', ins, [b.tensor(outName, shape)], opts(OPTIONS.MulOptions, [fb.i8(ACT.NONE)])); return;
    case 'concat':
      b.op('CONCATENATION', ins, [b.tensor(outName, shape)], opts(OPTIONS.ConcatenationOptions, [fb.i32(3), fb.i8(ACT.NONE)]));
      return;
    case 'globalavgpool':
      b.op('MEAN', [x, b.i32('const/spatial_axes', [2], [1, 2])], [b.tensor(outName, shape)], opts(OPTIONS.ReducerOptions, [fb.bool(true)]));
      return;
    case 'maxpool': case 'avgpool': {
      const padded = a.pads.some((p) => p > 0)
        ? pad(ctx, `${n.name}/pad`, x, a.pads, a.op === 'maxpool' && !prepared.nonNegative.has(n.inputs[0]!) ? -Infinity : undefined)
        : x;
      const pool = (name: string) => {
        const out = b.tensor(name, shape);
        if (a.op === 'maxpool' || padded === x) {
          b.op(a.op === 'maxpool' ? 'MAX_POOL_2D' : 'AVERAGE_POOL_2D', [padded], [out], opts(OPTIONS.Pool2DOptions,
            [fb.i8(PADDING.VALID), fb.i32(a.stride), fb.i32(a.stride), fb.i32(a.kernel), fb.i32(a.kernel), fb.i8(ACT.NONE)]));
          return out;
        }
        // The average of a zero-padded window as a depthwise conv of 1/k² weights (float32 even with
        // --quantize float16): LiteRT's WebGPU delegate folds a PAD into the AVERAGE_POOL_2D after it and
        // then leaves the padding out of the count (measured: the BGA's detail pool 26 % off).
        const c = shape[3]!;
        const filter = b.f32(`${n.name}/mean_filter`, [1, a.kernel, a.kernel, c], new Float32Array(a.kernel * a.kernel * c).fill(1 / (a.kernel * a.kernel)));
        const bias = b.f32(`${n.name}/mean_bias`, [c], new Float32Array(c));
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
      b.op('MUL', [mean, b.f32(`${n.name}/inside_share`, [1, ho, wo, 1], factor)], [b.tensor(outName, shape)], opts(OPTIONS.MulOptions, [fb.i8(ACT.NONE)]));
      return;
    }
    case 'resize': {
      const size = b.i32(`${n.name}/size`, [2], [shape[1]!, shape[2]!]);
      const out = b.tensor(outName, shape);
      if (a.mode === 'bilinear') {
        b.op('RESIZE_BILINEAR', [x, size], [out], opts(OPTIONS.ResizeBilinearOptions, [undefined, undefined, fb.bool(false), fb.bool(true)]));
      } else {
        b.op('RESIZE_NEAREST_NEIGHBOR', [x, size], [out], opts(OPTIONS.ResizeNearestNeighborOptions, [fb.bool(false), fb.bool(false)]));
      }
      return;
    }
    case 'argmax':
      b.op('ARG_MAX', [x, b.i32('const/channel_axis', [1], [3])], [b.tensor(outName, shape, TENSOR_TYPE.INT32)],
        opts(OPTIONS.ArgMaxOptions, [fb.i8(TENSOR_TYPE.INT32)]));
      return;
  }
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
  const name = (t: string): string => outputName.get(tensor(t)) ?? tensor(t);
  const b = new Builder();
  const input = b.tensor(graph.input.name, nhwc.get(graph.input.name)!);
  const ctx: Ctx = { b, prepared, nhwc, quantize: o.quantize, name };
  for (const n of nodes) emitNode(ctx, n);

  const outputs = prepared.graph.outputs.map((out) => ({ name: out.name, index: b.index(name(out.tensor)) }));
  const exposed = exposedTensors(prepared.graph, nodes.map((n) => n.name), o.expose, 'tflite');
  for (const t of exposed) outputs.push({ name: t, index: b.index(t) });

  const metadata: Record<string, string> = {
    ...graph.metadata, ...(o.metadata ?? {}), producer: PRODUCER, layout: 'NHWC',
    input: graph.input.name, input_shape: JSON.stringify(inputShape.opt), outputs: JSON.stringify(outputs.map((x) => x.name)),
    quantization: o.quantize ?? 'none', target: 'tflite',
  };
  return encodeModel(b, [input], outputs, metadata, graph.name);
}

function encodeModel(b: Builder, inputs: number[], outputs: { name: string; index: number }[], metadata: Record<string, string>, graphName: string): Uint8Array {
  const usedOps = [...new Set(b.ops.map((op) => op.op))];
  const opIndex = new Map(usedOps.map((op, i) => [op, i]));
  const metaBuffer = b.buffers.length;
  b.buffers.push(new TextEncoder().encode(JSON.stringify(metadata)));
  const operatorCodes = usedOps.map((op) => {
    const { code, version } = TFLITE_OPS[op];
    // deprecated_builtin_code holds codes below 127 (older readers take it); builtin_code always.
    return fb.table([fb.i8(Math.min(code, 127)), undefined, fb.i32(version), fb.i32(code)]);
  });
  const tensors = b.tensors.map((t) => fb.table([fb.i32s(t.shape), fb.i8(t.type), fb.u32(t.buffer), fb.str(t.name)]));
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

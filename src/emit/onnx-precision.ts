/**
 * Reduced precision for the ONNX emitter, as passes over the emitted nodes and initializers:
 *
 * - fp16: every float initializer (but Resize's `scales`, which ONNX keeps float32) stored as float16,
 *   the model's input cast to float16 at its entry and every float output cast back to float32 at
 *   its exit, so callers feed and read float32 as before. Intermediate tensors keep their IR names.
 * - int8 (QDQ): for each conv not kept in float, its weight becomes int8, symmetric per output channel
 *   (scale max|W_c| / 127, zero point 0) behind a DequantizeLinear with `axis` 0, and its input
 *   activation passes a QuantizeLinear/DequantizeLinear pair, per tensor, symmetric (zero point 0,
 *   scale = the calibration threshold / 127): the placement TensorRT's explicit quantization expects
 *   (quantize the inputs of convolutions; it fuses the rest). Biases stay float32 (TensorRT
 *   quantizes them itself) or, with `int32Bias`, become int32 with scale s_x·s_w[c] (onnxruntime's
 *   QDQ form). Resize, sigmoid, the products and argmax are never quantized.
 */
import { onnxProto, type OnnxProto } from '../util/onnx-proto.js';
import { threshold, type Calibration, type Statistic } from './calibration.js';
import { FLOAT16_MAX } from './tfjs-common.js';
import { floatToHalf } from '../util/ndarray.js';
import { fail } from '../util/errors.js';

const { onnx } = onnxProto;
type INode = OnnxProto.onnx.INodeProto;
type ITensor = OnnxProto.onnx.ITensorProto;
const DT = onnx.TensorProto.DataType;

export type Precision = 'fp32' | 'fp16' | 'int8';
export const PRECISIONS: Precision[] = ['fp32', 'fp16', 'int8'];

export interface Int8Options {
  calibration: Calibration;
  statistic: Statistic;
  /** conv node names left in float (`--keep-float`, or chosen by `bisenet quantize`) */
  keepFloat: Set<string>;
  /** int32 biases behind a DequantizeLinear (onnxruntime's QDQ form) instead of float32 ones (TensorRT's) */
  int32Bias: boolean;
  /**
   * Also a Q/DQ pair on each quantized conv's output (scale from its calibrated range): the form onnxruntime
   * fuses into QLinearConv (integer kernels on the CPU); default: conv inputs only (TensorRT's placement).
   */
  quantizeOutputs?: boolean;
}

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const floatData = (t: ITensor): Float32Array => {
  const r = t.rawData!;
  return new Float32Array(r.buffer.slice(r.byteOffset, r.byteOffset + r.byteLength));
};

/** Renames every read of tensor `from` to `to`. */
function rewire(nodes: INode[], from: string, to: string, except?: INode): void {
  for (const n of nodes) {
    if (n === except) continue;
    n.input = (n.input ?? []).map((i) => (i === from ? to : i));
  }
}

/**
 * fp16 in place: initializers, an input Cast and output Casts. `floatOutputs` are the graph's float
 * outputs, each the output of one node; returns nothing (nodes and initializers are changed).
 */
export function toFloat16(nodes: INode[], initializers: Map<string, ITensor>, input: string, floatOutputs: string[]): void {
  const keep32 = new Set(nodes.filter((n) => n.opType === 'Resize').map((n) => n.input?.[2] ?? '').filter(Boolean));
  for (const [name, t] of initializers) {
    if (t.dataType !== DT.FLOAT || keep32.has(name)) continue;
    const f = floatData(t);
    const h = new Uint16Array(f.length);
    for (let i = 0; i < f.length; i++) {
      const v = f[i]!;
      if (!(Math.abs(v) < FLOAT16_MAX + 16)) fail('usage', `weight ${name} holds ${v}, beyond float16's range (±${FLOAT16_MAX}); convert with --precision fp32`);
      h[i] = floatToHalf(v);
    }
    initializers.set(name, { ...t, dataType: DT.FLOAT16, rawData: bytes(h) });
  }
  const cast = (name: string, from: string, to: string, type: number): INode =>
    ({ opType: 'Cast', name, input: [from], output: [to], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: type }] });
  rewire(nodes, input, `${input}.fp16`);
  nodes.unshift(cast(`${input}.to_fp16`, input, `${input}.fp16`, DT.FLOAT16));
  for (const o of floatOutputs) {
    const producer = nodes.find((n) => n.output?.includes(o));
    if (!producer) throw new Error(`no node makes output ${o}`);
    producer.output = producer.output!.map((x) => (x === o ? `${o}.fp16` : x));
    rewire(nodes, o, `${o}.fp16`);
    nodes.push(cast(`${o}.to_fp32`, `${o}.fp16`, o, DT.FLOAT));
  }
}

/** Per-output-channel symmetric int8: codes in [−127, 127] and one scale per channel. */
export function quantizePerChannel(w: Float32Array, channels: number): { q: Int8Array; scales: Float32Array } {
  const per = w.length / channels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs(w[i]!));
    // An all-zero channel quantizes to zeros under any scale; 1 keeps DequantizeLinear well defined.
    const s = m > 0 ? m / 127 : 1;
    scales[c] = s;
    const sf = scales[c]!; // the float32 scale the runtime will multiply by
    for (let i = c * per; i < (c + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / sf)));
  }
  return { q, scales };
}

/** The activation scale of a tensor: threshold / 127 (1 for a tensor that was all zeros). */
export function activationScale(c: Calibration, tensor: string, s: Statistic): number {
  const r = c.tensors[tensor];
  if (!r) fail('usage', `the calibration has no range for tensor ${tensor}; it was made for another model (run bisenet calibrate on this one)`);
  const t = threshold(r!, s);
  return t > 0 ? t / 127 : 1;
}

/** Conv nodes an int8 model quantizes and those it keeps in float, by IR name. */
export function int8Plan(nodes: INode[], keepFloat: Set<string>): { quantized: string[]; float: string[] } {
  const convs = nodes.filter((n) => n.opType === 'Conv').map((n) => n.name!);
  return { quantized: convs.filter((c) => !keepFloat.has(c)), float: convs.filter((c) => keepFloat.has(c)) };
}

/** int8 QDQ in place (see the module comment). */
export function insertQdq(nodes: INode[], initializers: Map<string, ITensor>, o: Int8Options): void {
  const scalar = (name: string, dataType: number, data: ArrayBufferView, dims: number[] = []): string => {
    if (!initializers.has(name)) initializers.set(name, { name, dims, dataType, rawData: bytes(data) });
    return name;
  };
  const quantizedActs = new Map<string, { dq: string; scale: number }>();
  const qdqNodes: INode[] = [];
  const outputQdq: INode[] = [];
  const producer = new Map<string, INode>();
  for (const n of nodes) for (const out of n.output ?? []) producer.set(out, n);
  for (const conv of nodes.filter((n) => n.opType === 'Conv')) {
    const name = conv.name!;
    if (o.keepFloat.has(name)) continue;
    const x = conv.input![0]!;
    if (producer.get(x)?.opType === 'Gather') fail('usage', 'int8 models are written with native grouped convs; leave out --grouped-conv depthwise');
    let act = quantizedActs.get(x);
    if (!act) {
      const scale = activationScale(o.calibration, x, o.statistic);
      const s = scalar(`${x}.act_scale`, DT.FLOAT, Float32Array.of(scale));
      const z = scalar(`${x}.act_zero_point`, DT.INT8, Int8Array.of(0));
      const q = `${x}.quantized`;
      const dq = `${x}.dequantized`;
      qdqNodes.push({ opType: 'QuantizeLinear', name: `${x}.QuantizeLinear`, input: [x, s, z], output: [q], attribute: [] },
        { opType: 'DequantizeLinear', name: `${x}.DequantizeLinear`, input: [q, s, z], output: [dq], attribute: [] });
      act = { dq, scale: Math.fround(scale) };
      quantizedActs.set(x, act);
    }
    conv.input![0] = act.dq;
    // Weights: int8 per output channel, dequantized in the graph (axis 0 = output channels).
    const wName = conv.input![1]!;
    const wt = initializers.get(wName);
    if (!wt || wt.dataType !== DT.FLOAT) throw new Error(`conv ${name}: no float32 weight ${wName}`);
    const channels = Number(wt.dims![0]);
    const { q, scales } = quantizePerChannel(floatData(wt), channels);
    initializers.delete(wName);
    scalar(`${wName}_quantized`, DT.INT8, q, wt.dims!.map(Number));
    scalar(`${wName}_scale`, DT.FLOAT, scales, [channels]);
    scalar(`${wName}_zero_point`, DT.INT8, new Int8Array(channels), [channels]);
    qdqNodes.push({ opType: 'DequantizeLinear', name: `${wName}.DequantizeLinear`, input: [`${wName}_quantized`, `${wName}_scale`, `${wName}_zero_point`], output: [wName],
      attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] });
    if (o.quantizeOutputs) {
      const y = conv.output![0]!;
      const scale = activationScale(o.calibration, y, o.statistic);
      const s = scalar(`${y}.out_scale`, DT.FLOAT, Float32Array.of(scale));
      const z = scalar(`${y}.out_zero_point`, DT.INT8, Int8Array.of(0));
      // The conv writes `<y>.conv`; the Q/DQ pair gives back `<y>`, so every reader (and the IR name) is unchanged.
      conv.output = [`${y}.conv`];
      outputQdq.push({ opType: 'QuantizeLinear', name: `${y}.out.QuantizeLinear`, input: [`${y}.conv`, s, z], output: [`${y}.out_quantized`], attribute: [] },
        { opType: 'DequantizeLinear', name: `${y}.out.DequantizeLinear`, input: [`${y}.out_quantized`, s, z], output: [y], attribute: [] });
    }
    const bName = conv.input![2];
    if (o.int32Bias && bName) {
      const bt = initializers.get(bName)!;
      const b = floatData(bt);
      const bs = new Float32Array(channels);
      const bq = new Int32Array(channels);
      let fits = true;
      for (let c = 0; c < channels; c++) {
        bs[c] = act.scale * scales[c]!;
        const v = Math.round(b[c]! / bs[c]!);
        if (!(Math.abs(v) < 2 ** 31 - 1)) { fits = false; break; }
        bq[c] = v;
      }
      if (fits) {
        initializers.delete(bName);
        scalar(`${bName}_quantized`, DT.INT32, bq, [channels]);
        scalar(`${bName}_scale`, DT.FLOAT, bs, [channels]);
        scalar(`${bName}_zero_point`, DT.INT32, new Int32Array(channels), [channels]);
        qdqNodes.push({ opType: 'DequantizeLinear', name: `${bName}.DequantizeLinear`, input: [`${bName}_quantized`, `${bName}_scale`, `${bName}_zero_point`], output: [bName],
          attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] });
      }
    }
  }
  // Q/DQ nodes go right after their input's producer (graph order must stay topological): simplest, before each consumer.
  const order: INode[] = [];
  const placed = new Set<INode>();
  const byOutput = new Map<string, INode>();
  for (const n of [...qdqNodes, ...outputQdq]) byOutput.set(n.output![0]!, n);
  const convOf = new Map(nodes.filter((n) => n.opType === 'Conv').map((n) => [n.output![0]!, n]));
  const place = (n: INode): void => {
    if (placed.has(n)) return;
    for (const i of n.input ?? []) { const p = byOutput.get(i) ?? convOf.get(i); if (p && p !== n) place(p); }
    placed.add(n);
    order.push(n);
  };
  for (const n of [...nodes, ...outputQdq]) place(n);
  nodes.splice(0, nodes.length, ...order);
}

/** Conv names matched by `--keep-float` patterns (comma-separated globs: `*` any run of characters); each must match one. */
export function matchKeepFloat(patterns: string[], convs: string[]): Set<string> {
  const out = new Set<string>();
  for (const p of patterns) {
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    const hit = convs.filter((c) => re.test(c));
    if (!hit.length) fail('usage', `--keep-float ${p}: matches no conv of the model (e.g. ${convs.slice(0, 3).join(', ')}, … ${convs[convs.length - 1]})`);
    for (const h of hit) out.add(h);
  }
  return out;
}

/**
 * The `.tflite` checker: a bounds-checked reader of TFLite's FlatBuffer (schema `TFL3`) that a file
 * must pass before LiteRT (C++ compiled to wasm) sees it. A `.tflite` file is untrusted input: every
 * offset, vtable, vector and string must lie inside the file; buffers must lie inside it and not
 * overlap; there must be one subgraph whose operators are builtin ops of the set the tflite target
 * writes (no custom ops), wired in order (each input a graph input, a constant or an earlier output:
 * no cycles, every output produced once); and each operator's output shape is computed here from its
 * inputs and constants and must be the one declared, within the tensor budget and within the
 * amplification bounds ONNX and tfjs models get (resize growth, pads, broadcasts: ../runtime/model-bounds.ts).
 * A file that fails gets exit 2 and one line; nothing in it is trusted before it passes.
 */
import { fail } from '../util/errors.js';
import { constantTensorBudget, MAX_AMPLIFICATION, MAX_PAD, product } from './bounds.js';

/** TFLite TensorType → bytes per element, for the types a BiSeNet model may hold. */
const TYPE_BYTES: Record<number, { name: string; bytes: number }> = {
  0: { name: 'float32', bytes: 4 }, 1: { name: 'float16', bytes: 2 }, 2: { name: 'int32', bytes: 4 }, 4: { name: 'int64', bytes: 8 },
  9: { name: 'int8', bytes: 1 },
};
const FLOAT32 = 0, FLOAT16 = 1, INT32 = 2, INT8 = 9;

/** BuiltinOperator codes accepted (those the tflite target writes), with the highest version accepted and their options' union type. */
const OPS: Record<number, { name: string; maxVersion: number; options: number }> = {
  0: { name: 'ADD', maxVersion: 2, options: 11 },
  1: { name: 'AVERAGE_POOL_2D', maxVersion: 2, options: 5 },
  2: { name: 'CONCATENATION', maxVersion: 2, options: 10 },
  3: { name: 'CONV_2D', maxVersion: 3, options: 1 },
  4: { name: 'DEPTHWISE_CONV_2D', maxVersion: 3, options: 2 },
  6: { name: 'DEQUANTIZE', maxVersion: 3, options: 38 },
  14: { name: 'LOGISTIC', maxVersion: 2, options: 0 },
  17: { name: 'MAX_POOL_2D', maxVersion: 2, options: 5 },
  18: { name: 'MUL', maxVersion: 2, options: 21 },
  19: { name: 'RELU', maxVersion: 2, options: 0 },
  23: { name: 'RESIZE_BILINEAR', maxVersion: 3, options: 15 },
  34: { name: 'PAD', maxVersion: 2, options: 22 },
  40: { name: 'MEAN', maxVersion: 2, options: 27 },
  56: { name: 'ARG_MAX', maxVersion: 2, options: 40 },
  60: { name: 'PADV2', maxVersion: 2, options: 43 },
  97: { name: 'RESIZE_NEAREST_NEIGHBOR', maxVersion: 2, options: 74 },
  114: { name: 'QUANTIZE', maxVersion: 2, options: 0 },
};

/** Ops whose int8 output must carry its input's scale and zero point (the TFLite quantization spec). */
const SAME_QUANT = new Set(['AVERAGE_POOL_2D', 'MAX_POOL_2D', 'RESIZE_BILINEAR', 'RESIZE_NEAREST_NEIGHBOR', 'PAD', 'PADV2', 'CONCATENATION']);

/** Each options table's fields and their sizes (TFLite's schema); others are refused. */
const OPTION_FIELDS: Record<string, number[]> = {
  CONV_2D: [1, 4, 4, 1, 4, 4, 1], DEPTHWISE_CONV_2D: [1, 4, 4, 4, 1, 4, 4], AVERAGE_POOL_2D: [1, 4, 4, 4, 4, 1], MAX_POOL_2D: [1, 4, 4, 4, 4, 1],
  CONCATENATION: [4, 1], ADD: [1, 1], MUL: [1], RESIZE_BILINEAR: [4, 4, 1, 1], RESIZE_NEAREST_NEIGHBOR: [1, 1], MEAN: [1], ARG_MAX: [1],
  PAD: [], PADV2: [], DEQUANTIZE: [], QUANTIZE: [],
};

/** At most this many tensors, operators, buffers (BiSeNetV2 has a few hundred). */
const MAX_ITEMS = 100_000;
const MAX_RANK = 6;

export interface TfliteTensorInfo { name: string; shape: number[]; type: string }
export interface TfliteInfo {
  inputs: TfliteTensorInfo[];
  /** the outputs, named as the SignatureDef names them (else the tensor's name) */
  outputs: TfliteTensorInfo[];
  /** every float32 tensor operators produce, by name (what --expose may ask for) */
  produced: TfliteTensorInfo[];
  /** the `bisenet` metadata entry, parsed as a flat string map (empty when absent) */
  metadata: Record<string, string>;
  /** the outputs' tensor indices, in order */
  outputIndices: number[];
  /** where the uoffsets to the subgraph's outputs and the SignatureDef's outputs are (for exposing intermediates) */
  layout: { subgraphOutputsSlot: number | null; signatureOutputsSlot: number | null };
  tensorIndex: Map<string, number>;
}

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly label: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  bad(what: string): never { return fail('format', `${this.label}: not a valid TFLite model: ${what}`); }
  need(pos: number, n: number, what: string): void {
    if (!(pos >= 0 && n >= 0 && pos + n <= this.bytes.length)) this.bad(`${what} lies outside the file (at ${pos}, ${n} bytes)`);
  }
  u8(p: number): number { this.need(p, 1, 'a value'); return this.view.getUint8(p); }
  u16(p: number): number { this.need(p, 2, 'a value'); return this.view.getUint16(p, true); }
  i32(p: number): number { this.need(p, 4, 'a value'); return this.view.getInt32(p, true); }
  u32(p: number): number { this.need(p, 4, 'a value'); return this.view.getUint32(p, true); }
  u64(p: number): bigint { this.need(p, 8, 'a value'); return this.view.getBigUint64(p, true); }
  f32(p: number): number { this.need(p, 4, 'a value'); return this.view.getFloat32(p, true); }
  /** A table at `pos`: its vtable checked to lie in the file, its fields inside the table's declared size. */
  table(pos: number, what: string): Table {
    this.need(pos, 4, what);
    // Alignment as FlatBuffers' verifier (which LiteRT runs) requires it: tables on 4, vtables on 2.
    if (pos % 4) this.bad(`${what} is not aligned (at ${pos})`);
    const vt = pos - this.i32(pos);
    if (vt % 2) this.bad(`${what}'s vtable is not aligned (at ${vt})`);
    this.need(vt, 4, `${what}'s vtable`);
    const vtSize = this.u16(vt);
    const size = this.u16(vt + 2);
    if (vtSize < 4 || vtSize % 2) this.bad(`${what}'s vtable has size ${vtSize}`);
    this.need(vt, vtSize, `${what}'s vtable`);
    if (size < 4) this.bad(`${what} has size ${size}`);
    this.need(pos, size, what);
    return new Table(this, pos, vt, vtSize, size, what);
  }
  /** The target of a uoffset stored at `at`. */
  deref(at: number, what: string): number {
    const target = at + this.u32(at);
    this.need(target, 4, what);
    return target;
  }
}

class Table {
  constructor(readonly r: Reader, readonly pos: number, readonly vt: number, readonly vtSize: number, readonly size: number, readonly what: string) {}
  /** Position of field `id` (absent: null), checked to hold `bytes` inside the table. */
  field(id: number, bytes: number): number | null {
    const slot = 4 + 2 * id;
    if (slot + 2 > this.vtSize) return null;
    const off = this.r.u16(this.vt + slot);
    if (off === 0) return null;
    if (off + bytes > this.size) this.r.bad(`${this.what}: field ${id} lies outside its table`);
    if ((this.pos + off) % bytes) this.r.bad(`${this.what}: field ${id} is not aligned`);
    return this.pos + off;
  }
  /**
   * The fields this table may hold, with their sizes (offsets: 4): any other field present is refused,
   * and each present one must lie inside the table, aligned (LiteRT's verifier checks every field it knows).
   */
  only(sizes: readonly number[]): this {
    for (let id = 0; 4 + 2 * id + 2 <= this.vtSize; id++) {
      if (this.r.u16(this.vt + 4 + 2 * id) === 0) continue;
      if (id >= sizes.length) this.r.bad(`${this.what} holds field ${id}, which this checker does not support`);
      this.field(id, sizes[id]!);
    }
    return this;
  }
  u8(id: number, dflt = 0): number { const p = this.field(id, 1); return p === null ? dflt : this.r.u8(p); }
  i8(id: number, dflt = 0): number { const p = this.field(id, 1); return p === null ? dflt : this.r.view.getInt8(p); }
  i32(id: number, dflt = 0): number { const p = this.field(id, 4); return p === null ? dflt : this.r.i32(p); }
  u32(id: number, dflt = 0): number { const p = this.field(id, 4); return p === null ? dflt : this.r.u32(p); }
  u64(id: number): bigint { const p = this.field(id, 8); return p === null ? 0n : this.r.u64(p); }
  has(id: number): boolean { return this.field(id, 4) !== null; }
  /** A vector's position and length, its elements (`elem` bytes each) inside the file. */
  vector(id: number, elem: number, what: string): { start: number; length: number; at: number } | null {
    const p = this.field(id, 4);
    if (p === null) return null;
    const v = this.r.deref(p, what);
    if (v % 4) this.r.bad(`${what} is not aligned (at ${v})`);
    const length = this.r.u32(v);
    if (length > MAX_ITEMS && elem > 1) this.r.bad(`${what} has ${length} entries`);
    this.r.need(v + 4, length * elem, what);
    return { start: v + 4, length, at: v };
  }
  ints(id: number, what: string): number[] {
    const v = this.vector(id, 4, what);
    if (!v) return [];
    return Array.from({ length: v.length }, (_, i) => this.r.i32(v.start + 4 * i));
  }
  tables(id: number, what: string): Table[] {
    const v = this.vector(id, 4, what);
    if (!v) return [];
    return Array.from({ length: v.length }, (_, i) => this.r.table(this.r.deref(v.start + 4 * i, `${what} ${i}`), `${what} ${i}`));
  }
  sub(id: number, what: string): Table | null {
    const p = this.field(id, 4);
    return p === null ? null : this.r.table(this.r.deref(p, what), what);
  }
  string(id: number, what: string, max = 4096): string | null {
    const v = this.vector(id, 1, what);
    if (!v) return null;
    if (v.length > max) this.r.bad(`${what} is ${v.length} bytes long`);
    if (this.r.u8(v.start + v.length) !== 0) this.r.bad(`${what} is not terminated`);
    return new TextDecoder('utf-8', { fatal: false }).decode(this.r.bytes.subarray(v.start, v.start + v.length));
  }
}

/** A tensor's quantization parameters (checked: scales positive and finite, zero points in the type's range). */
interface Q { scale: number[]; zeroPoint: number[]; dim: number }
interface T { name: string; shape: number[]; type: number; data: Uint8Array | null; q: Q | null }

const fmt = (s: number[]): string => `[${s.slice(0, 8).join(', ')}${s.length > 8 ? ', …' : ''}]`;

/** Output size of a windowed op (conv, pool) as TFLite computes it. */
function windowOut(size: number, k: number, stride: number, dilation: number, padding: number): number {
  const eff = (k - 1) * dilation + 1;
  return padding === 0 ? Math.ceil(size / stride) : Math.floor((size - eff) / stride) + 1;
}

/** Checks a `.tflite` file; returns what the runtime needs. Throws BisenetError (exit 2) on anything wrong. */
export function checkTflite(bytes: Uint8Array, label: string): TfliteInfo {
  const r = new Reader(bytes, label);
  if (bytes.length < 8) r.bad('the file is shorter than a FlatBuffer header');
  const ident = String.fromCharCode(...bytes.subarray(4, 8));
  if (ident !== 'TFL3') fail('format', `${label}: not a TFLite model (file identifier ${JSON.stringify(ident)}, expected "TFL3")`);
  const model = r.table(r.deref(0, 'the root table'), 'the model').only([4, 4, 4, 4, 4, 4, 4, 4]);
  model.string(3, 'the model description');
  model.ints(5, 'the metadata buffer list');
  if (model.u32(0) !== 3) r.bad(`schema version ${model.u32(0)}, expected 3`);
  // Buffers: inside the file (the reader checks), not overlapping, no external data.
  const bufferTables = model.tables(4, 'buffer');
  const ranges: [number, number, number][] = [];
  const buffers = bufferTables.map((b, i) => {
    b.only([4, 8, 8]);
    if (b.u64(1) !== 0n || b.u64(2) !== 0n) r.bad(`buffer ${i} refers to data outside the FlatBuffer (offset/size), which is not supported`);
    const v = b.vector(0, 1, `buffer ${i}'s data`);
    if (!v || v.length === 0) return null;
    ranges.push([v.start, v.start + v.length, i]);
    return bytes.subarray(v.start, v.start + v.length);
  });
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) if (ranges[i]![0] < ranges[i - 1]![1]) r.bad(`buffers ${ranges[i - 1]![2]} and ${ranges[i]![2]} overlap`);
  // Operator codes: builtin, in the set, versions known.
  const codes = model.tables(1, 'operator code').map((c, i) => {
    c.only([1, 4, 4, 4]);
    if (c.has(1)) r.bad(`operator code ${i} is a custom op (${JSON.stringify(c.string(1, 'custom code', 64))}); only builtin ops are accepted`);
    const code = Math.max(c.i8(0), c.i32(3));
    const op = OPS[code];
    if (!op) r.bad(`operator code ${i} is builtin op ${code}, which a BiSeNet model does not use (accepted: ${Object.values(OPS).map((o) => o.name).join(', ')})`);
    const version = c.i32(2, 1);
    if (version < 1 || version > op!.maxVersion) r.bad(`operator ${op!.name} has version ${version} (accepted: 1–${op!.maxVersion})`);
    return code;
  });
  const subgraphs = model.tables(2, 'subgraph');
  if (subgraphs.length !== 1) r.bad(`${subgraphs.length} subgraphs, expected 1`);
  const sg = subgraphs[0]!.only([4, 4, 4, 4, 4, 4]);
  sg.string(4, 'the subgraph name');
  const budget = constantTensorBudget();
  const tensorTables = sg.tables(0, 'tensor');
  const tensors: T[] = tensorTables.map((t, i) => {
    t.only([4, 1, 4, 4, 4, 1, 4, 4, 1]);
    t.ints(7, `tensor ${i}'s shape signature`);
    const name = t.string(3, `tensor ${i}'s name`, 1024) ?? `tensor ${i}`;
    const shape = t.ints(0, `tensor ${i}'s shape`);
    if (shape.length > MAX_RANK) r.bad(`tensor ${name} has rank ${shape.length}`);
    if (shape.some((d) => d < 1)) r.bad(`tensor ${name} has shape ${fmt(shape)} (dimensions must be ≥ 1: dynamic shapes are not supported)`);
    const type = t.i8(1);
    const tb = TYPE_BYTES[type];
    if (!tb) r.bad(`tensor ${name} has type ${type} (accepted: float32, float16, int32, int64, int8)`);
    if (t.has(6)) r.bad(`tensor ${name} is sparse, which is not supported`);
    const qt = t.sub(4, `tensor ${name}'s quantization`);
    let q: Q | null = null;
    if (qt) {
      qt.only([4, 4, 4, 4, 1, 4, 4]);
      if (qt.u8(4) !== 0 || qt.has(5)) r.bad(`tensor ${name} has custom quantization details, which are not supported`);
      const floats = (id: number, what: string): number[] => {
        const v = qt.vector(id, 4, what);
        return v ? Array.from({ length: v.length }, (_, k) => r.f32(v.start + 4 * k)) : [];
      };
      const scale = floats(2, `tensor ${name}'s scales`);
      const zv = qt.vector(3, 8, `tensor ${name}'s zero points`);
      if (zv && zv.start % 8) r.bad(`tensor ${name}'s zero points are not aligned`);
      const zeroPoint = zv ? Array.from({ length: zv.length }, (_, k) => Number(r.view.getBigInt64(zv.start + 8 * k, true))) : [];
      for (const [id, what] of [[0, 'min'], [1, 'max']] as const) if (floats(id, `tensor ${name}'s ${what}`).some((v) => !Number.isFinite(v))) r.bad(`tensor ${name}'s quantization ${what} is not finite`);
      const dim = qt.i32(6);
      if (scale.length || zeroPoint.length) {
        if (type !== INT8 && type !== INT32) r.bad(`tensor ${name} is ${tb?.name ?? type} with quantization parameters (only int8 and int32 tensors are quantized)`);
        if (!scale.every((v) => Number.isFinite(v) && v > 0)) r.bad(`tensor ${name} has a quantization scale that is not positive and finite`);
        if (zeroPoint.length !== scale.length) r.bad(`tensor ${name} has ${scale.length} scales and ${zeroPoint.length} zero points`);
        const [lo, hi] = type === INT8 ? [-128, 127] : [0, 0];
        if (!zeroPoint.every((z) => z >= lo && z <= hi)) r.bad(`tensor ${name} has a zero point outside ${lo}–${hi}`);
        if (!(dim >= 0 && dim < Math.max(shape.length, 1))) r.bad(`tensor ${name}'s quantized_dimension ${dim} is not an axis of its shape ${fmt(shape)}`);
        if (scale.length !== 1 && scale.length !== shape[dim]) r.bad(`tensor ${name} has ${scale.length} scales, expected 1 or ${shape[dim]} (its dimension ${dim})`);
        q = { scale, zeroPoint, dim };
      }
    }
    if (type === INT8 && !q) r.bad(`tensor ${name} is int8 without quantization parameters`);
    if (t.u8(5)) r.bad(`tensor ${name} is a variable`);
    if (product(shape) * tb!.bytes > budget) r.bad(`tensor ${name} of shape ${fmt(shape)} needs more than the tensor budget (${(budget / 2 ** 20).toFixed(0)} MiB; --max-memory)`);
    const bi = t.u32(2);
    if (bi >= buffers.length && bi !== 0) r.bad(`tensor ${name} refers to buffer ${bi} of ${buffers.length}`);
    const data = buffers[bi] ?? null;
    if (data && data.length !== product(shape) * tb!.bytes) r.bad(`tensor ${name} holds ${data.length} bytes, its shape ${fmt(shape)} needs ${product(shape) * tb!.bytes}`);
    return { name, shape, type, data, q };
  });
  const idx = (i: number, what: string): number => {
    if (!Number.isInteger(i) || i < 0 || i >= tensors.length) r.bad(`${what} refers to tensor ${i} of ${tensors.length}`);
    return i;
  };
  const inputs = sg.ints(1, 'subgraph inputs').map((i) => idx(i, 'the subgraph input'));
  const outputs = sg.ints(2, 'subgraph outputs').map((i) => idx(i, 'the subgraph output'));
  if (inputs.length !== 1) r.bad(`${inputs.length} inputs, expected 1`);
  const inT = tensors[inputs[0]!]!;
  if (inT.data || inT.type !== 0 || inT.shape.length !== 4) r.bad(`the input ${inT.name} must be a float32 N×H×W×C tensor without data`);
  const defined = new Set<number>(inputs);
  tensors.forEach((t, i) => { if (t.data) defined.add(i); });
  const produced: number[] = [];
  const ops = sg.tables(3, 'operator');
  const constInts = (i: number, what: string): number[] => {
    const t = tensors[i]!;
    if (!t.data || t.type !== 2) r.bad(`${what} (${t.name}) must be a constant int32 tensor`);
    const dv = new DataView(t.data!.buffer, t.data!.byteOffset, t.data!.byteLength);
    return Array.from({ length: t.data!.length / 4 }, (_, k) => dv.getInt32(4 * k, true));
  };
  ops.forEach((op, k) => {
    op.only([4, 4, 4, 1, 4, 4, 1, 4, 4, 8, 8, 1, 4, 4]);
    if (op.has(7) || op.has(8) || op.u8(11) !== 0 || op.has(12)) r.bad(`operator ${k} carries variable inputs, intermediates or second options, which are not supported`);
    const ci = op.u32(0);
    if (ci >= codes.length) r.bad(`operator ${k} uses operator code ${ci} of ${codes.length}`);
    const code = codes[ci]!;
    const info = OPS[code]!;
    const what = `operator ${k} (${info.name})`;
    const ins = op.ints(1, `${what}'s inputs`).map((i) => idx(i, what));
    const outs = op.ints(2, `${what}'s outputs`).map((i) => idx(i, what));
    for (const i of ins) if (!defined.has(i)) r.bad(`${what} reads ${tensors[i]!.name} before any operator writes it (operators out of order, or a cycle)`);
    if (outs.length !== 1) r.bad(`${what} has ${outs.length} outputs, expected 1`);
    if (op.has(5) || op.u64(9) !== 0n) r.bad(`${what} carries custom options`);
    const optType = op.u8(3);
    if (optType !== 0 && optType !== info.options) r.bad(`${what} carries options of type ${optType}, expected ${info.options}`);
    const o = optType ? op.sub(4, `${what}'s options`) : null;
    o?.only(OPTION_FIELDS[info.name] ?? []);
    const optI = (id: number, dflt = 0) => (o ? o.i32(id, dflt) : dflt);
    const optB = (id: number, dflt = 0) => (o ? o.u8(id, dflt) : dflt);
    const arity = (n: number[]) => { if (!n.includes(ins.length)) r.bad(`${what} has ${ins.length} inputs`); };
    const sh = (n: number) => tensors[ins[n]!]!.shape;
    // Activations are float32, or int8 (integer TFLite); an op's activation inputs share one type, its output takes it.
    const typeIn = (n: number) => tensors[ins[n]!]!.type;
    const act = typeIn(0);
    if (act !== FLOAT32 && act !== INT8 && info.name !== 'DEQUANTIZE') r.bad(`${what}: input 0 must be float32 or int8`);
    // Per-channel int8 parameters belong to conv filters only; every other int8 operand is per tensor.
    ins.forEach((i, n) => {
      const tq = tensors[i]!;
      const filter = n === 1 && (info.name === 'CONV_2D' || info.name === 'DEPTHWISE_CONV_2D');
      if (tq.type === INT8 && tq.q!.scale.length > 1 && !filter) r.bad(`${what}: input ${tq.name} is quantized per channel; only conv filters are`);
    });
    const floatIn = (n: number) => { if (typeIn(n) !== act) r.bad(`${what}: input ${n} must be ${TYPE_BYTES[act]!.name} as input 0 is`); };
    const rank4 = (n: number) => { if (sh(n).length !== 4) r.bad(`${what}: input ${n} must be 4-D, is ${fmt(sh(n))}`); return sh(n) as [number, number, number, number]; };
    let out: number[];
    let outType = act;
    switch (info.name) {
      case 'CONV_2D': case 'DEPTHWISE_CONV_2D': {
        arity([3]);
        const [n, h, w, c] = rank4(0);
        const f = rank4(1);
        const dw = info.name === 'DEPTHWISE_CONV_2D';
        if (act === FLOAT32) { floatIn(1); floatIn(2); } else {
          // int8: int8 filter symmetric per output channel (zero point 0, on its output-channel axis), int32 bias scaled s_in · s_w.
          const ft = tensors[ins[1]!]!, bt = tensors[ins[2]!]!;
          const axis = dw ? 3 : 0;
          if (ft.type !== INT8 || bt.type !== INT32 || !bt.q) r.bad(`${what}: an int8 conv takes an int8 filter and an int32 bias, both quantized`);
          const fq = ft.q!, bq = bt.q!, sIn = tensors[ins[0]!]!.q!.scale[0]!;
          if (fq.zeroPoint.some((z) => z !== 0)) r.bad(`${what}: filter zero points must be 0`);
          if (fq.scale.length > 1 && fq.dim !== axis) r.bad(`${what}: filter ${ft.name} is quantized along dimension ${fq.dim}, its output channels are dimension ${axis}`);
          if (bq.scale.length !== fq.scale.length) r.bad(`${what}: bias ${bt.name} has ${bq.scale.length} scales, the filter ${fq.scale.length}`);
          bq.scale.forEach((bs, i) => {
            const want = sIn * fq.scale[i]!;
            if (Math.abs(bs - want) > 1e-6 * Math.max(bs, want)) r.bad(`${what}: bias scale ${bs} is not input scale × filter scale (${want})`);
          });
        }
        const strideW = optI(1), strideH = optI(2);
        const dil = dw ? [optI(5, 1), optI(6, 1)] : [optI(4, 1), optI(5, 1)]; // [w, h]
        if (strideW < 1 || strideH < 1 || strideW > 64 || strideH > 64 || dil.some((d) => d < 1 || d > 64)) r.bad(`${what}: strides or dilations out of range`);
        const oc = dw ? f[3] : f[0];
        if (dw ? (f[0] !== 1 || oc % c !== 0 || optI(3) !== oc / c) : f[3] !== c) r.bad(`${what}: filter ${fmt(f)} does not fit input ${fmt(sh(0))}`);
        if (product(sh(2)) !== oc || sh(2).length !== 1) r.bad(`${what}: bias ${fmt(sh(2))} does not fit ${oc} output channels`);
        const pad = optB(0) === 0 ? 0 : 1;
        out = [n, windowOut(h, f[1], strideH, dil[1]!, pad), windowOut(w, f[2], strideW, dil[0]!, pad), oc];
        break;
      }
      case 'AVERAGE_POOL_2D': case 'MAX_POOL_2D': {
        arity([1]); floatIn(0);
        const [n, h, w, c] = rank4(0);
        const sw = optI(1), shh = optI(2), fw = optI(3), fh = optI(4);
        if ([sw, shh, fw, fh].some((v) => v < 1 || v > 1024)) r.bad(`${what}: window or strides out of range`);
        const pad = optB(0) === 0 ? 0 : 1;
        out = [n, windowOut(h, fh, shh, 1, pad), windowOut(w, fw, sw, 1, pad), c];
        break;
      }
      case 'ADD': case 'MUL': {
        arity([2]); floatIn(0); floatIn(1);
        const a = sh(0), b = sh(1);
        const rank = Math.max(a.length, b.length);
        out = Array.from({ length: rank }, (_, i) => {
          const x = a[a.length - rank + i] ?? 1, y = b[b.length - rank + i] ?? 1;
          if (x !== y && x !== 1 && y !== 1) r.bad(`${what}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
          return Math.max(x, y);
        });
        break;
      }
      case 'LOGISTIC': case 'RELU': arity([1]); floatIn(0); out = sh(0).slice(); break;
      case 'DEQUANTIZE': {
        arity([1]);
        if (act !== FLOAT16 && act !== INT8) r.bad(`${what}: input must be float16 or int8`);
        outType = FLOAT32;
        out = sh(0).slice();
        break;
      }
      case 'QUANTIZE': {
        arity([1]);
        outType = INT8;
        out = sh(0).slice();
        break;
      }
      case 'CONCATENATION': {
        if (ins.length < 1) r.bad(`${what} has no inputs`);
        ins.forEach((_, i) => floatIn(i));
        const rank = sh(0).length;
        const axis = optI(0) < 0 ? optI(0) + rank : optI(0);
        if (axis < 0 || axis >= rank) r.bad(`${what}: axis ${optI(0)} out of range`);
        out = sh(0).slice();
        out[axis] = 0;
        for (let i = 0; i < ins.length; i++) {
          const s = sh(i);
          if (s.length !== rank || s.some((d, j) => j !== axis && d !== sh(0)[j])) r.bad(`${what}: input shapes ${fmt(sh(0))} and ${fmt(s)} do not concatenate`);
          out[axis]! += s[axis]!;
        }
        break;
      }
      case 'MEAN': {
        arity([2]); floatIn(0);
        const rank = sh(0).length;
        const axes = constInts(ins[1]!, `${what}'s axes`).map((a) => (a < 0 ? a + rank : a));
        if (axes.some((a) => a < 0 || a >= rank)) r.bad(`${what}: axes out of range`);
        const keep = optB(0);
        out = keep ? sh(0).map((d, i) => (axes.includes(i) ? 1 : d)) : sh(0).filter((_, i) => !axes.includes(i));
        break;
      }
      case 'RESIZE_BILINEAR': case 'RESIZE_NEAREST_NEIGHBOR': {
        arity([2]); floatIn(0);
        const [n, h, w, c] = rank4(0);
        const size = constInts(ins[1]!, `${what}'s size`);
        if (size.length !== 2 || size.some((v) => v < 1)) r.bad(`${what}: size ${fmt(size)} must be two positive sizes`);
        if ((size[0]! * size[1]!) / (h * w) > MAX_AMPLIFICATION) r.bad(`${what}: resizing ${h}×${w} to ${size[0]}×${size[1]} grows the tensor more than ${MAX_AMPLIFICATION}×`);
        out = [n, size[0]!, size[1]!, c];
        break;
      }
      case 'PAD': case 'PADV2': {
        arity(info.name === 'PAD' ? [2] : [3]); floatIn(0);
        const rank = sh(0).length;
        const p = constInts(ins[1]!, `${what}'s paddings`);
        if (p.length !== 2 * rank || tensors[ins[1]!]!.shape.join() !== `${rank},2`) r.bad(`${what}: paddings must be ${rank}×2`);
        if (p.some((v) => v < 0 || v > MAX_PAD)) r.bad(`${what}: paddings ${fmt(p)} outside 0–${MAX_PAD}`);
        if (info.name === 'PADV2' && (product(sh(2)) !== 1 || !tensors[ins[2]!]!.data || tensors[ins[2]!]!.type !== act)) r.bad(`${what}: the pad value must be one constant of the input's type`);
        out = sh(0).map((d, i) => d + p[2 * i]! + p[2 * i + 1]!);
        break;
      }
      case 'ARG_MAX': {
        arity([2]); floatIn(0);
        const rank = sh(0).length;
        const ax = constInts(ins[1]!, `${what}'s axis`);
        if (ax.length !== 1) r.bad(`${what}: the axis must be one value`);
        const axis = ax[0]! < 0 ? ax[0]! + rank : ax[0]!;
        if (axis < 0 || axis >= rank) r.bad(`${what}: axis ${ax[0]} out of range`);
        outType = o ? o.i8(0) : 4;
        if (outType !== 2 && outType !== 4) r.bad(`${what}: output type ${outType} (int32 or int64 expected)`);
        out = sh(0).filter((_, i) => i !== axis);
        break;
      }
      default: return r.bad(`${what} is not supported`);
    }
    const o0 = outs[0]!;
    const t = tensors[o0]!;
    if (t.data || defined.has(o0)) r.bad(`${what} writes ${t.name}, which is an input, a constant or already written`);
    if (out.some((d) => !(d >= 1))) r.bad(`${what}: the output would be empty (${fmt(out)})`);
    if (t.shape.join() !== out.join() || t.type !== outType) r.bad(`${what}: output ${t.name} is declared ${fmt(t.shape)} ${TYPE_BYTES[t.type]!.name}, the operator gives ${fmt(out)} ${TYPE_BYTES[outType]!.name}`);
    if (t.type === INT8 && t.q!.scale.length !== 1) r.bad(`${what}: output ${t.name} is quantized per channel (activations are per tensor)`);
    if (t.type === INT8 && act === INT8) {
      const tq = t.q!;
      const same = (x: Q) => x.scale.length === 1 && x.scale[0] === tq.scale[0] && x.zeroPoint[0] === tq.zeroPoint[0];
      const shared = info.name === 'CONCATENATION' ? ins : info.name === 'PADV2' ? [ins[0]!, ins[2]!] : [ins[0]!];
      if (SAME_QUANT.has(info.name) && !shared.every((i) => same(tensors[i]!.q!))) r.bad(`${what}: an int8 ${info.name} must keep its input's scale and zero point`);
      if (info.name === 'LOGISTIC' && !(tq.scale[0] === 1 / 256 && tq.zeroPoint[0] === -128)) r.bad(`${what}: an int8 LOGISTIC's output has scale 1/256 and zero point −128`);
    }
    defined.add(o0);
    produced.push(o0);
  });
  for (const o of outputs) if (!defined.has(o) || tensors[o]!.data) r.bad(`the output ${tensors[o]!.name} is not computed by any operator`);
  if (!outputs.length) r.bad('the model has no outputs');

  // Output names: the SignatureDef's where there is one (subgraph 0), else the tensors'.
  const sigs = model.tables(7, 'signature');
  const names = new Map<number, string>();
  let signatureOutputsSlot: number | null = null;
  if (sigs.length) {
    const s = sigs[0]!.only([4, 4, 4, 4, 4]);
    s.string(2, 'the signature key');
    s.string(3, 'the signature tag');
    for (const m of s.tables(0, 'signature input')) {
      m.only([4, 4]);
      if (!inputs.includes(idx(m.u32(1), 'a signature input'))) r.bad('the signature names an input that is not the model\'s');
      m.string(0, 'a signature input name', 1024);
    }
    if (s.u32(4) !== 0) r.bad('the signature refers to another subgraph');
    signatureOutputsSlot = s.field(1, 4);
    for (const m of s.tables(1, 'signature output')) {
      m.only([4, 4]);
      const ti = idx(m.u32(1), 'a signature output');
      if (!outputs.includes(ti)) r.bad(`the signature names ${tensors[ti]!.name}, which is not an output`);
      names.set(ti, m.string(0, 'a signature output name', 1024) ?? tensors[ti]!.name);
    }
  }
  // Metadata: the `bisenet` entry, a JSON object of strings (read with the project's bounded JSON reader by callers).
  let metadata: Record<string, string> = {};
  for (const m of model.tables(6, 'metadata')) {
    m.only([4, 4]);
    if (m.u32(1) >= buffers.length) r.bad(`a metadata entry refers to buffer ${m.u32(1)} of ${buffers.length}`);
    if (m.string(0, 'a metadata name', 256) !== 'bisenet') continue;
    const data = buffers[m.u32(1)];
    if (!data) r.bad('the bisenet metadata refers to no buffer');
    if (data!.length > 1 << 20) r.bad('the bisenet metadata is larger than 1 MiB');
    let parsed: unknown;
    try { parsed = JSON.parse(new TextDecoder().decode(data!)); } catch { r.bad('the bisenet metadata is not JSON'); }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) r.bad('the bisenet metadata is not an object of strings');
    metadata = parsed as Record<string, string>;
  }
  const infoOf = (i: number, name = tensors[i]!.name): TfliteTensorInfo => ({ name, shape: tensors[i]!.shape, type: TYPE_BYTES[tensors[i]!.type]!.name });
  return {
    inputs: inputs.map((i) => infoOf(i)),
    outputs: outputs.map((i) => infoOf(i, names.get(i))),
    produced: produced.filter((i) => tensors[i]!.type === 0).map((i) => infoOf(i)),
    metadata,
    outputIndices: outputs,
    layout: { subgraphOutputsSlot: sg.field(2, 4), signatureOutputsSlot },
    tensorIndex: new Map(tensors.map((t, i) => [t.name, i])),
  };
}

import { tryDecodeOnnx, type OnnxModel, type OnnxProto } from '../model-file/onnx.js';
import { fail } from '../util/errors.js';
import { formatBytes } from '../util/limits.js';
import { render } from '../util/render.js';
import { broadcastShape, constantTensorBudget, MAX_AMPLIFICATION, MAX_BROADCAST_CONSTANT, MAX_PAD, product } from './bounds.js';

/**
 * Ops whose output size is set by constants in an ONNX model (Tile repeats, Resize/Upsample scales and
 * sizes, Expand and ConstantOfShape shapes, Pad pads, Range bounds, ConvTranspose strides and output
 * shape) are bounded before onnxruntime builds a session, in every subgraph too: a model with a Tile of
 * 10⁶ repeats would otherwise allocate gigabytes at its first run. Constants are read from initializers
 * and from Constant nodes in any of their forms (value, value_float(s), value_int(s)). BiSeNetV2 resizes
 * by at most 32×32 per op, pads by 1 and uses no Tile, Expand, ConstantOfShape, Range or loops. A factor
 * that cannot be read statically (computed at run time) is refused for Tile; for Resize it is bounded by
 * its `sizes`, which our models compute from the input's own shape. Loops (Loop, Scan) and weights in
 * external files are refused outright. The ops and their bounds are a table (OP_RULES: one row per bounded
 * value, naming the input or attribute that carries it), run by one loop in checkGraph.
 */

type Tensor = OnnxProto.onnx.ITensorProto;

function values(t: Tensor | undefined): number[] | null {
  if (!t) return null;
  const n = (t.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
  if (n > 64) return null;
  if (t.int64Data?.length) return t.int64Data.map(Number);
  if (t.floatData?.length) return [...t.floatData];
  if (t.int32Data?.length) return [...t.int32Data];
  const raw = t.rawData;
  if (!raw || raw.length === 0) return [];
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  if (t.dataType === 7) for (let i = 0; i + 8 <= raw.length; i += 8) out.push(Number(dv.getBigInt64(i, true)));
  else if (t.dataType === 1) for (let i = 0; i + 4 <= raw.length; i += 4) out.push(dv.getFloat32(i, true));
  else if (t.dataType === 6) for (let i = 0; i + 4 <= raw.length; i += 4) out.push(dv.getInt32(i, true));
  else return null;
  return out;
}

/** `decoded`: the model of these very bytes, where the caller decoded them already (src/model-file). */
export function checkOnnxAmplification(bytes: Uint8Array, label: string, decoded?: OnnxModel): void {
  const model = decoded ?? tryDecodeOnnx(bytes); // null: onnxruntime reports what is wrong with it
  if (model?.graph) checkGraph(model.graph, label, new Map(), 0);
}

type Graph = OnnxProto.onnx.IGraphProto;
type Node = OnnxProto.onnx.INodeProto;

/** A Constant node's value, from whichever of its attributes holds it (value, value_float(s), value_int(s)). */
function constantValue(n: Node): Tensor | number[] | null {
  for (const a of n.attribute ?? []) {
    if (a.name === 'value' && a.t) return a.t;
    if (a.name === 'value_float') return [a.f ?? 0];
    if (a.name === 'value_floats') return [...(a.floats ?? [])];
    if (a.name === 'value_int') return [Number(a.i ?? 0)];
    if (a.name === 'value_ints') return (a.ints ?? []).map(Number);
  }
  return null;
}

/** Ops whose output has the broadcast shape of their inputs. */
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Equal', 'Greater', 'Less',
  'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Mod', 'BitShift', 'PRelu']);
/** The ones folded when their inputs are small constants. */
const ARITH: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Div: (a, b) => (b === 0 ? Infinity : Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b), Max: Math.max, Min: Math.min,
};

/** Loops repeat work a constant (or an input) sets: BiSeNetV2 has none, and their cost cannot be bounded statically. */
const UNBOUNDED_OPS = new Set(['Loop', 'Scan']);

/** Where an op's size factor is: an input's constant value, an attribute's ints or floats, the constant factor a
 * run-time shape is multiplied by to make an input (Resize sizes = Shape(x) × k), or Range's count from its inputs. */
type Source = { input: number } | { ints: string } | { floats: string } | { factorOf: number } | 'range-count';

/**
 * The bounds (./bounds.ts) a value is held to: growth in area, one tensor's float32 bytes, pads per side, values
 * made. A growth or a size whose product is NaN (a 0 beside a value that is not finite) passes here and is left to
 * onnxruntime to refuse.
 */
type Bound = 'area' | 'tensor' | 'pad' | 'count';
const EXCEEDS: Record<Bound, (v: number[], tensorBudget: number) => boolean> = {
  area: (v) => product(v) > MAX_AMPLIFICATION,
  tensor: (v, budget) => 4 * product(v) > budget,
  pad: (v) => v.some((p) => !(Math.abs(p) <= MAX_PAD)),
  count: (v, budget) => !(4 * v[0]! <= budget),
};

interface OpRule {
  /** where the value is: the first source that holds one (a value may be empty) */
  from: Source[];
  bound: Bound;
  /** the refusal, after "node N (Op) " */
  says(v: number[]): string;
  /** an empty value is not checked */
  nonEmpty?: boolean;
  /** where no source holds a value: refused with these words (else the op is left to the runtime) */
  unknown?: string;
}

const bytesText = (v: number[]): string => formatBytes(4 * product(v));

/**
 * The ops whose output size the model's constants set, one row per bounded value, checked in order (in the style of
 * tfjs-converter's op lists). BiSeNetV2 resizes by at most 32×32 per op, pads by 1 and has no Tile, Expand,
 * ConstantOfShape or Range.
 */
const OP_RULES = new Map<string, OpRule[]>(Object.entries({
  Tile: [{ from: [{ input: 1 }], bound: 'area', unknown: 'has repeats computed at run time', says: (v) => `repeats its input ${render(v)} times` }],
  Resize: [
    { from: [{ input: 2 }, { floats: 'scales' }], bound: 'area', nonEmpty: true, says: (v) => `scales its input by ${render(v)}` },
    { from: [{ input: 3 }], bound: 'tensor', nonEmpty: true, says: (v) => `resizes to ${render(v)} (${bytesText(v)})` },
    { from: [{ factorOf: 3 }], bound: 'area', says: (v) => `resizes to its input's size times ${render(v)}` },
  ],
  Upsample: [{ from: [{ input: 1 }, { floats: 'scales' }], bound: 'area', nonEmpty: true, says: (v) => `scales its input by ${render(v)}` }],
  Expand: [{ from: [{ input: 1 }], bound: 'tensor', says: (v) => `makes a tensor of shape ${render(v)} (${bytesText(v)})` }],
  ConstantOfShape: [{ from: [{ input: 0 }], bound: 'tensor', says: (v) => `makes a tensor of shape ${render(v)} (${bytesText(v)})` }],
  // Pads add rows and columns: BiSeNetV2 pads by 1 (pooling); more than the largest kernel we would ever see is refused.
  Pad: [{ from: [{ input: 1 }, { ints: 'pads' }], bound: 'pad', says: (v) => `pads by ${render(v)} (more than ${MAX_PAD} on a side)` }],
  Range: [{ from: ['range-count'], bound: 'count', says: (v) => `makes ${render(v[0])} values` }],
  ConvTranspose: [
    { from: [{ ints: 'strides' }], bound: 'area', says: (v) => `upsamples by strides ${render(v)}` },
    { from: [{ ints: 'output_shape' }], bound: 'tensor', nonEmpty: true, says: (v) => `makes an output of ${render(v)}` },
  ],
} satisfies Record<string, OpRule[]>));

interface NodeValues {
  input(i: number): number[] | null;
  attr(name: string): OnnxProto.onnx.IAttributeProto | undefined;
  factor(i: number): number[] | null;
}

/** The value a row bounds: the first of its sources that holds one, or null where none does. */
function sourceValue(from: Source[], n: NodeValues): number[] | null {
  for (const s of from) {
    const v = s === 'range-count' ? rangeCount(n)
      : 'input' in s ? n.input(s.input)
        : 'ints' in s ? (n.attr(s.ints)?.ints ?? []).map(Number)
          : 'floats' in s ? (n.attr(s.floats) ? [...n.attr(s.floats)!.floats ?? []] : null)
            : n.factor(s.factorOf);
    if (v !== null) return v;
  }
  return null;
}

/** The number of values a Range makes, where its start, limit and delta are constants. */
function rangeCount(n: NodeValues): number[] | null {
  const [start, limit, delta] = [n.input(0), n.input(1), n.input(2)].map((v) => v?.[0]);
  if (start === undefined || limit === undefined || delta === undefined) return null;
  return [delta === 0 ? Infinity : Math.ceil((limit - start) / delta)];
}

/**
 * Checks one graph and, recursively, the subgraphs of its nodes (If branches), with the constants visible
 * there (an outer graph's initializers and Constant outputs are in scope in its subgraphs).
 */
function checkGraph(graph: Graph, label: string, outer: ReadonlyMap<string, Tensor | number[]>, depth: number): void {
  if (depth > 8) fail('format', `${label}: subgraphs nested more than 8 deep`);
  const consts = new Map(outer);
  for (const t of graph.initializer ?? []) {
    // Weights in external files: onnxruntime would resolve them against its working directory for a model held
    // in memory, reading files the user never named. Our exports (and BiSeNetV2's 13–50 MB) keep weights inside.
    if (t.dataLocation === 1 || (t.externalData ?? []).length) {
      fail('security', `${label}: initializer ${render(t.name ?? '')} is stored in an external file; refused (only self-contained .onnx files are loaded)`);
    }
    if (t.name) consts.set(t.name, t);
  }
  for (const n of graph.node ?? []) {
    if (n.opType === 'Constant' && n.output?.[0]) {
      const v = constantValue(n);
      if (v) consts.set(n.output[0], v);
    }
  }
  const refuse = (n: Node, why: string): never =>
    fail('security', `${label}: node ${render(n.name ?? '')} (${render(n.opType ?? '')}) ${why}; refused before running (the model would need unbounded memory)`);
  const tensorBytes = (shape: number[]): number => 4 * product(shape);
  const tensorBudget = constantTensorBudget();
  // Small constant values computed from constants (Concat, Mul, Add… of constants: a shape written in pieces),
  // the shapes of tensors made only from constants (an Add of [1,1,S,1] and [1,1,1,S] broadcasts to S×S), and
  // constant factors a run-time shape is multiplied by (Resize sizes = Shape(x) × k).
  const folded = new Map<string, number[]>();
  const constShape = new Map<string, number[]>();
  const factorOf = new Map<string, number[]>();
  for (const [name, c] of consts) constShape.set(name, Array.isArray(c) ? [c.length] : (c.dims ?? []).map(Number));
  const valueOf = (name: string): number[] | null => {
    const c = consts.get(name);
    if (c) return Array.isArray(c) ? c : values(c);
    return folded.get(name) ?? null;
  };
  for (const n of graph.node ?? []) {
    const input = (i: number): number[] | null => valueOf(n.input?.[i] ?? '');
    const ins = (n.input ?? []).filter((x) => x !== '');
    const out = n.output?.[0] ?? '';
    if (ELEMENTWISE.has(n.opType ?? '') && ins.length >= 1) {
      const vals = ins.map(valueOf);
      if (vals.every((v) => v !== null) && n.opType !== 'Where') {
        const len = Math.max(...vals.map((v) => v!.length));
        if (len <= 64 && vals.every((v) => v!.length === len || v!.length === 1)) {
          const at = (v: number[], i: number): number => (v.length === 1 ? v[0]! : v[i]!);
          const op = ARITH[n.opType ?? ''];
          if (op) folded.set(out, Array.from({ length: len }, (_, i) => vals.slice(1).reduce((a, v) => op(a, at(v!, i)), at(vals[0]!, i))));
        }
      }
      const shapes = ins.map((x) => constShape.get(x));
      if (shapes.every((x) => x !== undefined)) {
        const shape = broadcastShape(shapes as number[][]);
        if (tensorBytes(shape) > tensorBudget) refuse(n, `broadcasts constants to ${render(shape)} (${formatBytes(tensorBytes(shape))})`);
        constShape.set(out, shape);
      } else {
        // A constant broadcast against run-time data: the result is at least as large as the constant times what the data
        // brings (channels, batch), which is unknown here. BiSeNetV2's are per-channel vectors; a large one is refused.
        const big = shapes.find((x) => x !== undefined && product(x) > MAX_BROADCAST_CONSTANT);
        if (big) refuse(n, `broadcasts a constant of shape ${render(big)} against run-time data (more than ${MAX_BROADCAST_CONSTANT} values)`);
      }
      if (n.opType === 'Mul') for (const i of [0, 1]) { const v = input(i); if (v && !folded.has(out)) factorOf.set(out, v); }
    }
    if (n.opType === 'Concat') {
      const vals = ins.map(valueOf);
      if (vals.every((v) => v !== null) && vals.reduce((a, v) => a + v!.length, 0) <= 64) folded.set(out, vals.flatMap((v) => v!));
    }
    if ((n.opType === 'Cast' || n.opType === 'Identity' || n.opType === 'Squeeze' || n.opType === 'Unsqueeze') && ins[0]) {
      const v = valueOf(ins[0]);
      if (v) folded.set(out, v);
      const sh = constShape.get(ins[0]);
      if (sh && (n.opType === 'Cast' || n.opType === 'Identity')) constShape.set(out, sh);
    }
    const attr = (name: string): OnnxProto.onnx.IAttributeProto | undefined => (n.attribute ?? []).find((a) => a.name === name);
    if (UNBOUNDED_OPS.has(n.opType ?? '')) {
      fail('security', `${label}: node ${render(n.name ?? '')} is a ${render(n.opType ?? '')}, whose work the model's inputs and constants set; refused (BiSeNetV2 has no loops)`);
    }
    for (const rule of OP_RULES.get(n.opType ?? '') ?? []) {
      const v = sourceValue(rule.from, { input, attr, factor: (i) => factorOf.get(n.input?.[i] ?? '') ?? null });
      if (v === null) { if (rule.unknown) refuse(n, rule.unknown); continue; }
      if ((rule.nonEmpty && v.length === 0) || !EXCEEDS[rule.bound](v, tensorBudget)) continue;
      refuse(n, rule.says(v));
    }
    for (const a of n.attribute ?? []) {
      if (a.g) checkGraph(a.g, label, consts, depth + 1);
      for (const g of a.graphs ?? []) checkGraph(g, label, consts, depth + 1);
    }
  }
}

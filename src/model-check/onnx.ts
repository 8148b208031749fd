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
 * external files are refused outright.
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
    const attr = (name: string) => (n.attribute ?? []).find((a) => a.name === name);
    if (UNBOUNDED_OPS.has(n.opType ?? '')) {
      fail('security', `${label}: node ${render(n.name ?? '')} is a ${render(n.opType ?? '')}, whose work the model's inputs and constants set; refused (BiSeNetV2 has no loops)`);
    }
    switch (n.opType) {
      case 'Tile': {
        const reps = input(1);
        if (!reps) refuse(n, 'has repeats computed at run time');
        if (product(reps!) > MAX_AMPLIFICATION) refuse(n, `repeats its input ${render(reps)} times`);
        break;
      }
      case 'Resize': case 'Upsample': {
        const scales = input(n.opType === 'Upsample' ? 1 : 2) ?? attr('scales')?.floats ?? null;
        if (scales && scales.length && product([...scales]) > MAX_AMPLIFICATION) refuse(n, `scales its input by ${render([...scales])}`);
        const sizes = n.opType === 'Resize' ? input(3) : null;
        if (sizes && sizes.length && tensorBytes(sizes) > tensorBudget) refuse(n, `resizes to ${render(sizes)} (${formatBytes(tensorBytes(sizes))})`);
        const factor = n.opType === 'Resize' ? factorOf.get(n.input?.[3] ?? '') : undefined;
        if (factor && product(factor) > MAX_AMPLIFICATION) refuse(n, `resizes to its input's size times ${render(factor)}`);
        break;
      }
      case 'Expand': case 'ConstantOfShape': {
        const shape = input(n.opType === 'Expand' ? 1 : 0);
        if (shape && tensorBytes(shape) > tensorBudget) refuse(n, `makes a tensor of shape ${render(shape)} (${formatBytes(tensorBytes(shape))})`);
        break;
      }
      case 'Pad': {
        // Pads add rows and columns: BiSeNetV2 pads by 1 (pooling); more than the largest kernel we would ever see is refused.
        const pads = input(1) ?? (attr('pads')?.ints ?? []).map(Number);
        if (pads.some((p) => !(Math.abs(p) <= MAX_PAD))) refuse(n, `pads by ${render(pads)} (more than ${MAX_PAD} on a side)`);
        break;
      }
      case 'Range': {
        const [start, limit, delta] = [input(0), input(1), input(2)].map((v) => v?.[0]);
        if (start !== undefined && limit !== undefined && delta !== undefined) {
          const count = delta === 0 ? Infinity : Math.ceil((limit - start) / delta);
          if (!(4 * count <= tensorBudget)) refuse(n, `makes ${render(count)} values`);
        }
        break;
      }
      case 'ConvTranspose': {
        const strides = (attr('strides')?.ints ?? []).map(Number);
        if (product(strides) > MAX_AMPLIFICATION) refuse(n, `upsamples by strides ${render(strides)}`);
        const outShape = (attr('output_shape')?.ints ?? []).map(Number);
        if (outShape.length && tensorBytes(outShape) > tensorBudget) refuse(n, `makes an output of ${render(outShape)}`);
        break;
      }
      default:
    }
    for (const a of n.attribute ?? []) {
      if (a.g) checkGraph(a.g, label, consts, depth + 1);
      for (const g of a.graphs ?? []) checkGraph(g, label, consts, depth + 1);
    }
  }
}

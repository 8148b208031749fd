/**
 * Layer-wise parity: runs one input through two models (a checkpoint in the reference interpreter,
 * an .onnx, a tfjs model), reads every intermediate tensor both hold, compares them in the IR's
 * topological order and names the first that diverges, with the op that produced it and the
 * errors of its inputs.
 */
import type { Graph, Node } from '../ir/graph.js';
import { loadRunner, runtimeById, defaultRuntimeFor } from '../runtime/index.js';
import type { Runner, RunnerOptions } from '../runtime/types.js';
import { fail } from '../util/errors.js';
import type { NdArray } from '../util/ndarray.js';
import { holdings, modelGraph, type Holding } from '../model-file/graph.js';
import { modelKind, recordedPrecision } from '../model-file/index.js';
import { referenceModel } from '../runtime/reference.js';

/**
 * Default per-tensor tolerance: max |Δ| ≤ 1e-4 × max |A| of that tensor. Float32 runtimes against
 * the float64 reference stay within a few 1e-6 at every tensor of the shipped models (measured,
 * docs/diff.md), growing slowly with depth; the smallest planted fault (BatchNorm eps 1e-3 for 1e-5)
 * moves its tensor by a few 1e-4 and more. See docs/diff.md.
 */
export const DEFAULT_LAYER_TOLERANCE = 1e-4;

export interface SideInfo { model: string; runtime: string; device: string }

export interface TensorDiff {
  /** The name both models give the compared tensor (see `displayName`). */
  tensor: string;
  /** The IR tensor whose value was compared. */
  ir_tensor: string;
  /** Ops of the IR nodes this comparison covers, e.g. "conv+batchnorm" where B folds the BatchNorm. */
  op: string;
  /** IR nodes this comparison covers (a conv and its folded BatchNorm…), in order. */
  nodes: string[];
  a_tensor: string | null;
  b_tensor: string | null;
  shape: number[];
  max_abs: number;
  max_a: number;
  /** max |A − B| / max |A| (Infinity on NaN, a shape mismatch or a tensor missing on one side) */
  relative_error: number;
  /** Compared tensors this one is computed from, with their errors. */
  inputs: { tensor: string; relative_error: number }[];
  /**
   * This tensor's tolerance, relative to max |A|: the base tolerance plus the error its inputs'
   * errors can account for through its op (see `inherited`).
   */
  tolerance: number;
  over: boolean;
  note?: string;
}

export interface DiffReport {
  a: SideInfo;
  b: SideInfo;
  input: { source: string; shape: number[] };
  tolerance: number;
  tensors: TensorDiff[];
  /** IR tensors not compared, and why. */
  not_compared: { ir_tensor: string; reason: string }[];
  first_divergence: { tensor: string; ir_tensor: string; op: string; relative_error: number; inputs: { tensor: string; relative_error: number }[] } | null;
  agree: boolean;
}

export interface DiffSide { path: string; runtime?: string }

export interface DiffOptions extends Pick<RunnerOptions, 'threads' | 'device'> {
  tolerance?: number;
  /** Compare only these tensors (IR names or either model's names); default all. */
  layers?: string[];
}

interface LoadedSide {
  path: string;
  runner: Runner;
  reference: boolean;
  /** The IR as this side records it (its family, classes, booster heads), or null where it records none. */
  graph: Graph | null;
}

/** A side's runtime: the one named, the reference for a checkpoint, else the file's default. */
function runtimeOf(side: DiffSide) {
  return side.runtime ? runtimeById(side.runtime) : modelKind(side.path) === 'checkpoint' ? runtimeById('reference') : defaultRuntimeFor(side.path);
}

async function loadSide(side: DiffSide, label: string, candidates: string[], opts: DiffOptions, known?: Graph | null): Promise<LoadedSide> {
  const rt = runtimeOf(side);
  const reference = rt.id === 'reference';
  // The IR is read before the runner starts, so a file of the wrong kind fails early and plainly (read once: `known`).
  const graph = reference ? (rt.accepts(side.path) ? referenceModel(side.path).graph : null) : known !== undefined ? known : modelGraph(side.path);
  // The reference keeps every tensor anyway; a model is asked for the IR's names only.
  const runner = await loadRunner(side.path, rt.id, { threads: opts.threads, device: opts.device, expose: reference ? 'all' : candidates });
  if (!runner.exposed) {
    await runner.dispose();
    fail('usage', `${label}: runtime ${rt.id} cannot return intermediate tensors`);
  }
  return { path: side.path, runner, reference, graph };
}

/** The IR both sides are compared on: the richer of the two (booster heads where either has them), which must agree on family and classes. */
function commonGraph(a: Graph | null, b: Graph | null, pathA: string, pathB: string): Graph {
  if (!a && !b) fail('usage', `neither ${pathA} nor ${pathB} records its family and class count (models written by bisenet convert do); cannot name their tensors`);
  if (a && b && (a.metadata.family !== b.metadata.family || a.metadata.num_classes !== b.metadata.num_classes)) {
    fail('usage', `the models differ: ${pathA} is ${a.metadata.family} with ${a.metadata.num_classes} classes, ${pathB} is ${b.metadata.family} with ${b.metadata.num_classes} classes`);
  }
  if (!a) return b!;
  if (!b) return a;
  return b.nodes.length > a.nodes.length ? b : a;
}

function irCandidates(graphs: (Graph | null)[]): string[] {
  const names = new Set<string>();
  for (const g of graphs) if (g) for (const n of g.nodes) if (n.attrs.op !== 'argmax') names.add(n.name);
  return [...names];
}

function stats(a: NdArray, b: NdArray): { maxAbs: number; maxA: number } {
  const x = a.data as ArrayLike<number>;
  const y = b.data as ArrayLike<number>;
  let maxAbs = 0;
  let maxA = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    const m = Math.abs(x[i]!);
    if (m > maxA) maxA = m;
  }
  return { maxAbs, maxA };
}

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * The name a row goes by: the name both files give it; where one side is the reference (which has
 * every IR tensor), the model's name; where two models name it differently, the IR name.
 */
function displayName(ir: string, a: string, b: string, aRef: boolean, bRef: boolean): string {
  if (a === b) return a;
  if (aRef && !bRef) return b;
  if (bRef && !aRef) return a;
  return ir;
}

/** Merges one input's outputs over several cases (batch), or returns them as they are. */
export interface DiffInput { source: string; arrays: NdArray[] }

/**
 * Compares two models tensor by tensor on the given inputs (each N×3×H×W float32). For each IR
 * tensor both hold, max |Δ| and max |A| are taken over all inputs.
 */
export async function diffModels(sideA: DiffSide, sideB: DiffSide, input: DiffInput, opts: DiffOptions = {}): Promise<DiffReport> {
  const tol = opts.tolerance ?? DEFAULT_LAYER_TOLERANCE;
  // The IR first (from the files), so that the runners are asked for its tensors only.
  const pre = (s: DiffSide): Graph | null => {
    if (runtimeOf(s).id === 'reference') return null;
    return modelGraph(s.path);
  };
  const [preA, preB] = [pre(sideA), pre(sideB)];
  const candidates = irCandidates([preA, preB]);
  const a = await loadSide(sideA, 'A', candidates, opts, runtimeOf(sideA).id === 'reference' ? undefined : preA);
  let b: LoadedSide;
  try {
    b = await loadSide(sideB, 'B', candidates, opts, runtimeOf(sideB).id === 'reference' ? undefined : preB);
  } catch (e) { await a.runner.dispose(); throw e; }
  try {
    const graph = commonGraph(a.graph, b.graph, a.path, b.path);
    return await compareSides(graph, a, b, input, tol, opts.layers);
  } finally {
    await a.runner.dispose();
    await b.runner.dispose();
  }
}

function holdingOf(side: LoadedSide, graph: Graph, label: string): Holding {
  if (side.reference) return holdings(graph, 'all');
  const h = holdings(graph, new Set([...side.runner.outputNames, ...side.runner.exposed!]));
  // A model that names few of the IR's tensors was not written from it: refuse rather than misname.
  const own = (side.graph ?? graph).nodes.filter((n) => n.attrs.op !== 'argmax');
  const held = own.filter((n) => h.holder.has(n.name) || h.absorbed.has(n.name)).length;
  if (held < own.length / 2 && modelKind(side.path) === 'tflite' && recordedPrecision(side.path) === 'int8') {
    fail('usage', `${label} ${side.path} is integer TFLite: its intermediates are int8 tensors, which diff does not compare; diff the float model, or convert with --expose <names> (each DEQUANTIZEd to float32)`);
  }
  if (held < own.length / 2) fail('usage', `${label} ${side.path}: only ${held} of the ${own.length} tensors of its IR are named in it; diff needs models written by bisenet convert (tensor names are the IR's)`);
  return h;
}

async function runAll(side: LoadedSide, arrays: NdArray[]): Promise<Record<string, NdArray>[]> {
  const out: Record<string, NdArray>[] = [];
  for (const x of arrays) out.push(await side.runner.run({ [side.runner.inputNames[0]!]: x }));
  return out;
}

async function compareSides(graph: Graph, a: LoadedSide, b: LoadedSide, input: DiffInput, tol: number, layers?: string[]): Promise<DiffReport> {
  const ha = holdingOf(a, graph, 'A');
  const hb = holdingOf(b, graph, 'B');
  const ownA = new Set((a.graph ?? graph).nodes.map((n) => n.name));
  const ownB = new Set((b.graph ?? graph).nodes.map((n) => n.name));
  const resA = await runAll(a, input.arrays);
  const resB = await runAll(b, input.arrays);
  const get = (res: Record<string, NdArray>[], name: string, i: number): NdArray | undefined => res[i]![name];

  const notCompared: DiffReport['not_compared'] = [];
  const rows = new Map<string, TensorDiff>();
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const compared = new Set<string>([graph.input.name]);
  for (const n of graph.nodes) {
    if (n.attrs.op === 'argmax') { notCompared.push({ ir_tensor: n.name, reason: 'integer labels (verify compares them)' }); continue; }
    const fa = ha.holder.get(n.name);
    const fb = hb.holder.get(n.name);
    const whyNot = (side: 'A' | 'B', own: Set<string>, h: Holding): string | null => {
      if (!own.has(n.name)) return `${side} does not have it (no booster heads)`;
      if (h.absorbed.has(n.name)) return `${side} computes it inside a later tensor (folded or fused)`;
      return null;
    };
    if (fa === undefined || fb === undefined) {
      const reason = (fa === undefined ? whyNot('A', ownA, ha) : null) ?? (fb === undefined ? whyNot('B', ownB, hb) : null);
      if (reason) { notCompared.push({ ir_tensor: n.name, reason }); continue; }
      // Expected on a side that lacks it and nothing absorbs it: the files differ in structure.
      rows.set(n.name, missingRow(n, fa ?? null, fb ?? null));
      compared.add(n.name);
      continue;
    }
    const row = compareRow(n, fa, fb, a.reference, b.reference, input.arrays.map((_, i) => [get(resA, fa, i), get(resB, fb, i)] as const), tol);
    rows.set(n.name, row);
    compared.add(n.name);
  }
  // What each row covers: its node and the uncompared nodes feeding it (a folded conv, a fused BatchNorm).
  for (const [name, row] of rows) {
    const nodes: Node[] = [];
    const inputs: string[] = [];
    const stack = [name];
    const seen = new Set<string>();
    while (stack.length) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      const node = byName.get(t);
      if (!node) continue;
      nodes.push(node);
      for (const i of node.inputs) {
        if (compared.has(i)) { if (!inputs.includes(i)) inputs.push(i); } else stack.push(i);
      }
    }
    const order = new Map(graph.nodes.map((n, i) => [n.name, i]));
    nodes.sort((x, y) => order.get(x.name)! - order.get(y.name)!);
    row.nodes = nodes.map((x) => x.name);
    row.op = nodes.map((x) => x.attrs.op).join('+');
    row.inputs = inputs.map((i) => (rows.get(i) ? { tensor: rows.get(i)!.tensor, relative_error: rows.get(i)!.relative_error } : { tensor: i, relative_error: 0 }));
    if (!Number.isFinite(row.relative_error)) continue;
    const inherit = inherited(nodes, inputs.map((i) => rows.get(i) ?? null));
    row.tolerance = row.max_a > 0 ? tol + inherit / row.max_a : tol;
    row.over = !(row.max_abs <= tol * row.max_a + inherit) && !(row.max_a === 0 && row.max_abs <= tol);
  }
  let tensors = [...rows.values()];
  if (layers) {
    const unknown = layers.filter((l) => !tensors.some((t) => t.tensor === l || t.ir_tensor === l || t.a_tensor === l || t.b_tensor === l || t.nodes.includes(l)));
    if (unknown.length) fail('usage', `--layers: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not a tensor both models hold (e.g. ${tensors.slice(0, 3).map((t) => t.tensor).join(', ')})`);
    tensors = tensors.filter((t) => layers.some((l) => t.tensor === l || t.ir_tensor === l || t.a_tensor === l || t.b_tensor === l || t.nodes.includes(l)));
  }
  const first = tensors.find((t) => t.over) ?? null;
  const shape = input.arrays[0]!.shape.slice();
  if (input.arrays.length > 1) shape[0] = input.arrays.reduce((s, x) => s + x.shape[0]!, 0);
  return {
    a: { model: a.path, runtime: a.runner.runtime, device: a.runner.device },
    b: { model: b.path, runtime: b.runner.runtime, device: b.runner.device },
    input: { source: input.source, shape },
    tolerance: tol,
    tensors,
    not_compared: notCompared,
    first_divergence: first && { tensor: first.tensor, ir_tensor: first.ir_tensor, op: first.op, relative_error: first.relative_error, inputs: first.inputs },
    agree: first === null,
  };
}

/**
 * The largest absolute error a chain of ops can show given only its inputs' errors (δ: max |Δ|,
 * M: max |A|), for ops whose bound needs no weights: ReLU, pooling, resizing and concatenation
 * pass δ through, a sigmoid at most δ/4, a sum δa + δb, a product Ma·δb + Mb·δa + δa·δb. Convs and
 * BatchNorms scale errors by their weights, which a model file's reader cannot bound: none is
 * inherited there (their tolerance is the base one). Without this a sigmoid after a large-valued
 * conv turns the conv's 1e-6 into 1e-4 of its own, smaller, range (measured: BGA gates).
 */
function inherited(chain: Node[], inputs: (TensorDiff | null)[]): number {
  const d = inputs.map((r) => (r ? r.max_abs : 0));
  const m = inputs.map((r) => (r ? r.max_a : 0));
  let err = 0;
  chain.forEach((n, i) => {
    const op = n.attrs.op;
    const first = i === 0;
    if (!first && !['relu', 'sigmoid', 'maxpool', 'avgpool', 'globalavgpool', 'resize'].includes(op)) { err = NaN; return; }
    switch (op) {
      case 'relu': case 'maxpool': case 'avgpool': case 'globalavgpool': case 'resize': err = first ? Math.max(0, ...d) : err; break;
      case 'concat': err = Math.max(0, ...d); break;
      case 'sigmoid': err = (first ? Math.max(0, ...d) : err) / 4; break;
      case 'add': err = d.reduce((a, b) => a + b, 0); break;
      case 'mul': err = d.length === 2 ? m[0]! * d[1]! + m[1]! * d[0]! + d[0]! * d[1]! : NaN; break;
      default: err = NaN;
    }
  });
  return Number.isFinite(err) ? err : 0;
}

function missingRow(n: Node, fa: string | null, fb: string | null): TensorDiff {
  return {
    tensor: n.name, ir_tensor: n.name, op: n.attrs.op, nodes: [n.name], a_tensor: fa, b_tensor: fb, shape: [],
    max_abs: Infinity, max_a: NaN, relative_error: Infinity, inputs: [], tolerance: 0, over: true,
    note: `missing in ${fa === null ? 'A' : 'B'}: the model has no tensor ${n.name} and nothing that holds its value`,
  };
}

function compareRow(n: Node, fa: string, fb: string, aRef: boolean, bRef: boolean, pairs: (readonly [NdArray | undefined, NdArray | undefined])[], tol: number): TensorDiff {
  const row: TensorDiff = {
    tensor: displayName(n.name, fa, fb, aRef, bRef), ir_tensor: n.name, op: n.attrs.op, nodes: [n.name], a_tensor: fa, b_tensor: fb,
    shape: [], max_abs: 0, max_a: 0, relative_error: 0, inputs: [], tolerance: tol, over: false,
  };
  const notes: string[] = [];
  if (fa !== n.name) notes.push(`A holds it as ${fa}`);
  if (fb !== n.name) notes.push(`B holds it as ${fb}`);
  for (const [x, y] of pairs) {
    if (!x || !y) {
      row.relative_error = Infinity; row.max_abs = Infinity;
      notes.push(`${!x ? 'A' : 'B'} returned no tensor ${!x ? fa : fb}`);
      break;
    }
    if (!sameShape(x.shape, y.shape)) {
      row.shape = x.shape; row.relative_error = Infinity; row.max_abs = Infinity;
      notes.push(`shapes differ: A [${x.shape.join(', ')}], B [${y.shape.join(', ')}]`);
      break;
    }
    row.shape = x.shape;
    const s = stats(x, y);
    row.max_abs = Math.max(row.max_abs, s.maxAbs);
    row.max_a = Math.max(row.max_a, s.maxA);
  }
  if (Number.isFinite(row.relative_error)) row.relative_error = row.max_a > 0 ? row.max_abs / row.max_a : row.max_abs;
  row.over = !(row.relative_error <= tol);
  if (notes.length) row.note = notes.join('; ');
  return row;
}

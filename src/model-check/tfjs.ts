/**
 * The checks a TensorFlow.js model passes before tfjs builds anything from it: its wiring (every connection
 * names something defined, no cycle, sane window sizes), the layers and ops that multiply sizes by constants
 * written in the model (bounded like the ONNX checks in ./onnx.ts, with ./bounds.ts), and the int32 constants
 * that size tensors in a graph model. Used by the tfjs runners in Node and by Chromium's routes. The layers and
 * ops that set sizes are tables (LAYER_RULES, REFUSED_NODES, NODE_RULES: one row per bounded value, naming the
 * config key or input that carries it and its bound), each run by one loop.
 */
import type * as TfcNs from '@tensorflow/tfjs-core';
import { fail } from '../util/errors.js';
import { render } from '../util/render.js';
import { broadcastShape, constantTensorBudget, MAX_AMPLIFICATION, MAX_BROADCAST_CONSTANT, MAX_PAD, product } from './bounds.js';

/** A model.json as read (checked field by field where used). */
export interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: TfcNs.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
  [k: string]: unknown;
}

export function bytesPerValue(w: TfcNs.io.WeightsManifestEntry): number {
  const q = w.quantization?.dtype;
  if (q === 'uint8') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  if (w.dtype === 'float32' || w.dtype === 'int32') return 4;
  if (w.dtype === 'bool') return 1;
  return fail('format', `weight ${w.name}: dtype ${w.dtype} is not supported`);
}

/**
 * The bounds (./bounds.ts) a value is held to: growth in area (a product of magnitudes; NaN is refused), growth
 * in area of sizes multiplied as written (UpSampling2D: signs kept), one tensor's float32 bytes, pads per side.
 */
type Bound = 'area' | 'areaAsWritten' | 'tensor' | 'pad';
const EXCEEDS: Record<Bound, (v: number[], tensorBudget: number) => boolean> = {
  area: (v) => !(product(v) <= MAX_AMPLIFICATION),
  areaAsWritten: (v) => !(v.reduce((a, b) => a * b, 1) <= MAX_AMPLIFICATION),
  tensor: (v, budget) => 4 * product(v) > budget,
  pad: (v) => v.some((p) => !(Math.abs(p) <= MAX_PAD)),
};

interface Layer { class_name?: unknown; config?: Record<string, unknown> & { name?: unknown } }

/** Numbers of a config value (nested lists flattened; anything not a number is Infinity), or [] where it holds none. */
const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flat(2).map((x) => (typeof x === 'number' ? x : Infinity)) : typeof v === 'number' ? [v] : []);

interface LayerRule {
  /** the config key that carries the size factor */
  key: string;
  /** its numbers, or null where the layer is not checked (a value of another type) */
  read(v: unknown): number[] | null;
  bound: Bound;
  /** the refusal, after "layer L " (given the value as written) */
  says(v: unknown): string;
  /** topology: checked before tfjs builds anything (checkAmplification); weights: once the weights are read (checkTfjsConstants) */
  when: 'topology' | 'weights';
}

/**
 * Layers whose config multiplies sizes by a constant, one row each (in the style of tfjs-converter's op lists):
 * BiSeNetV2 upsamples by at most 32×32 per layer and pads by 1.
 */
const LAYER_RULES = new Map<string, LayerRule>(Object.entries({
  BisenetResize: { key: 'scale', when: 'topology', bound: 'area', read: (v) => (typeof v === 'number' ? [v, v] : null), says: (v) => `resizes by ${v}` },
  UpSampling2D: { key: 'size', when: 'topology', bound: 'areaAsWritten', read: (v) => (Array.isArray(v) ? v.map((b) => (typeof b === 'number' ? b : Infinity)) : null), says: (v) => `upsamples by ${render(v)}` },
  ZeroPadding2D: { key: 'padding', when: 'weights', bound: 'pad', read: flat, says: (v) => `pads by ${render(v)} (more than ${MAX_PAD} on a side)` },
  Conv2DTranspose: { key: 'strides', when: 'weights', bound: 'area', read: flat, says: (v) => `upsamples by strides ${render(v)}` },
} satisfies Record<string, LayerRule>));

/** Graph ops refused outright before tfjs builds anything, with why (after "node N "). */
const REFUSED_NODES = new Map<string, string>([['Tile', 'is a Tile, whose output size the model\'s constants set; refused (BiSeNetV2 has none)']]);

/** Where a graph op's size constant is: an int32 constant input, or the constants of the Mul that makes that input (shape × k). */
type NodeRule = ({ input: number } | { factorOf: number }) & { bound: Bound; says(v: number[]): string };

/** Graph ops whose output size int32 constants in the weights set (checkTfjsConstants), one row per bounded value. */
const NODE_RULES = new Map<string, NodeRule[]>((() => {
  const resize: NodeRule[] = [
    { input: 1, bound: 'tensor', says: (v) => `resizes to ${render(v)}` },
    { factorOf: 1, bound: 'area', says: (v) => `resizes by ${render(v)}, more than ${MAX_AMPLIFICATION}× in area` },
  ];
  const pad: NodeRule[] = [{ input: 1, bound: 'pad', says: (v) => `pads by ${render(v)} (more than ${MAX_PAD} on a side)` }];
  const shape = (input: number): NodeRule[] => [{ input, bound: 'tensor', says: (v) => `makes a tensor of shape ${render(v)}` }];
  return Object.entries({
    ResizeBilinear: resize, ResizeNearestNeighbor: resize, Pad: pad, PadV2: pad, MirrorPad: pad, Fill: shape(0), BroadcastTo: shape(1),
  });
})());

/**
 * Layers that multiply their input's size by constants written in the model (UpSampling2D size, Tile
 * reps) are bounded before tfjs builds anything: BiSeNetV2 upsamples by at most 32×32 per layer, so a
 * model asking for more (an UpSampling2D of 500×500) is refused rather than run into gigabytes.
 */
export function checkAmplification(json: ModelJson, file: string): void {
  checkTopology(json, file);
  const topo = json.modelTopology as { model_config?: { config?: { layers?: unknown } }; config?: { layers?: unknown }; node?: unknown } | undefined;
  const layers = topo?.model_config?.config?.layers ?? topo?.config?.layers;
  if (Array.isArray(layers)) {
    for (const l of layers as Layer[]) {
      const rule = typeof l?.class_name === 'string' ? LAYER_RULES.get(l.class_name) : undefined;
      const v = rule?.when === 'topology' ? rule.read(l.config?.[rule.key]) : null;
      if (v && EXCEEDS[rule!.bound](v, 0)) {
        fail('security', `${file}: layer ${render(l.config?.name)} ${rule!.says(l.config![rule!.key])}, more than ${MAX_AMPLIFICATION}× in area (the model would need unbounded memory)`);
      }
    }
  }
  if (Array.isArray(topo?.node)) {
    for (const n of topo!.node as { op?: unknown; name?: unknown }[]) {
      if (typeof n?.op === 'string' && REFUSED_NODES.has(n.op)) fail('security', `${file}: node ${render(n.name)} ${REFUSED_NODES.get(n.op)}`);
    }
  }
}

/** A number or a list of numbers, each a positive integer of sane size. */
const positiveInts = (v: unknown): boolean => (Array.isArray(v) ? v.length >= 1 && v.length <= 8 && v.every(positiveInt) : positiveInt(v));
const positiveInt = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 65536;

/** Graph ops whose output has the broadcast shape of their inputs. */
const TF_ELEMENTWISE = new Set(['Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Div', 'Maximum', 'Minimum', 'SquaredDifference', 'Pow', 'FloorDiv', 'FloorMod',
  'Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr', 'Select', 'SelectV2', 'AddN']);

/** The activations and adds tfjs computes inside a fused conv or matmul. */
const FUSED_OPS = new Set(['BiasAdd', 'Relu', 'Relu6', 'Prelu', 'LeakyRelu', 'Sigmoid', 'Elu']);

/** The node a graph-model input names: `name`, `name:1` (an output index) or `^name` (a control dependency). */
const producerOf = (input: string): string => input.replace(/^\^/, '').replace(/:\d+$/, '');

/** Graph ops that build loops (TF's while): BiSeNetV2 has none, and their work cannot be bounded statically. */
const LOOP_OPS = new Set(['Enter', 'Exit', 'NextIteration', 'LoopCond', 'While', 'StatelessWhile']);

/**
 * The model's wiring, checked before tfjs walks it: every layer or node a connection names exists, node and
 * tensor indices are in range, names are unique, and there is no cycle (tfjs loops forever on a layers model
 * whose inbound nodes form one, and fails inside on a graph model's). Linear in the size of the topology.
 */
export function checkTopology(json: ModelJson, file: string): void {
  const topo = json.modelTopology as { node?: unknown; config?: { layers?: unknown; input_layers?: unknown; output_layers?: unknown } } | undefined;
  const bad = (why: string): never => fail('format', `${file}: ${why}`);
  // Without weights tfjs would run the layers with fresh random initialisers: a model, but not this one.
  if (!Array.isArray(json.weightsManifest) || json.weightsManifest.length === 0) bad('no weightsManifest (the model has no weights)');
  const edges = new Map<string, string[]>(); // node → the nodes it reads
  const layers = topo?.config?.layers;
  if (Array.isArray(layers)) {
    const nodeCount = new Map<string, number>();
    for (const l of layers as { name?: unknown; inbound_nodes?: unknown }[]) {
      if (typeof l?.name !== 'string') bad('a layer has no name');
      if (nodeCount.has(l.name as string)) bad(`layer ${render(l.name)} is defined twice`);
      if (l.inbound_nodes !== undefined && !Array.isArray(l.inbound_nodes)) bad(`layer ${render(l.name)}: inbound_nodes is not a list`);
      nodeCount.set(l.name as string, Math.max(1, (l.inbound_nodes as unknown[] | undefined)?.length ?? 0));
      // Window sizes, strides and dilations must be positive (XNNPACK prints its own errors on zeros, tfjs loops on some).
      const cfg = (l as { config?: Record<string, unknown> }).config ?? {};
      for (const key of ['strides', 'kernel_size', 'pool_size', 'dilation_rate']) {
        const v = cfg[key];
        if (v !== undefined && v !== null && !positiveInts(v)) bad(`layer ${render(l.name)}: ${key} ${render(v)} is not a list of positive integers (at most 65536)`);
      }
    }
    const ref = (where: string, r: unknown): string => {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || !Number.isSafeInteger(r[1]) || !Number.isSafeInteger(r[2])) return bad(`${where}: a connection is not [layer, node index, tensor index]`);
      const [name, node, tensor] = r as [string, number, number];
      const n = nodeCount.get(name);
      if (n === undefined) bad(`${where} reads layer ${render(name)}, which the model does not define`);
      if (node < 0 || node >= n! || tensor < 0 || tensor > 64) bad(`${where} reads node ${node}, tensor ${tensor} of layer ${render(name)}, which has ${n} node${n === 1 ? '' : 's'}`);
      return name;
    };
    for (const l of layers as { name: string; inbound_nodes?: unknown[] }[]) {
      const from: string[] = [];
      for (const node of l.inbound_nodes ?? []) {
        if (!Array.isArray(node)) bad(`layer ${render(l.name)}: an inbound node is not a list`);
        for (const r of node as unknown[]) from.push(ref(`layer ${render(l.name)}`, r));
      }
      edges.set(l.name, from);
    }
    for (const key of ['input_layers', 'output_layers'] as const) {
      const list = topo!.config![key];
      if (!Array.isArray(list) || list.length === 0) bad(`${key} is missing or empty`);
      for (const r of list as unknown[]) ref(key, r);
    }
  } else if (Array.isArray(topo?.node)) {
    for (const n of topo!.node as { name?: unknown; op?: unknown; input?: unknown }[]) {
      if (typeof n?.name !== 'string') bad('a graph node has no name');
      if (edges.has(n.name as string)) bad(`node ${render(n.name)} is defined twice`);
      const fused = (n as { attr?: { fused_ops?: { list?: { s?: unknown } } } }).attr?.fused_ops?.list?.s;
      if (fused !== undefined) {
        // Names are base64 in model.json; tfjs skips one it does not know, silently computing something else.
        const names = Array.isArray(fused) ? fused.map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64').toString('latin1') : '')) : [''];
        const unknown = names.find((f) => !FUSED_OPS.has(f));
        if (unknown !== undefined) bad(`node ${render(n.name)} fuses ${render(unknown)}, which TensorFlow.js does not compute (known: ${[...FUSED_OPS].join(', ')})`);
      }
      const attr = (n as { attr?: Record<string, { list?: { i?: unknown } }> }).attr ?? {};
      for (const key of ['strides', 'ksize', 'dilations']) {
        const v = attr[key]?.list?.i;
        if (v !== undefined && !(Array.isArray(v) && positiveInts(v.map(Number)))) bad(`node ${render(n.name)}: ${key} ${render(v)} are not positive integers (at most 65536)`);
      }
      if (LOOP_OPS.has(n.op as string)) fail('security', `${file}: node ${render(n.name)} is a ${render(n.op)}, part of a loop whose work the model sets; refused (BiSeNetV2 has no loops)`);
      if (n.input !== undefined && !(Array.isArray(n.input) && n.input.every((i) => typeof i === 'string'))) bad(`node ${render(n.name)}: its inputs are not a list of names`);
      edges.set(n.name as string, ((n.input as string[] | undefined) ?? []).map(producerOf));
    }
    for (const [name, from] of edges) for (const f of from) if (!edges.has(f)) bad(`node ${render(name)} reads ${render(f)}, which the graph does not define`);
  } else {
    return;
  }
  // Kahn's algorithm: whatever is left once every node with all its inputs placed has been placed lies on a cycle.
  const pending = new Map<string, number>();
  const readers = new Map<string, string[]>();
  for (const [name, from] of edges) {
    pending.set(name, from.length);
    for (const f of from) { const r = readers.get(f); if (r) r.push(name); else readers.set(f, [name]); }
  }
  const ready = [...pending].filter(([, k]) => k === 0).map(([n]) => n);
  let placed = 0;
  while (ready.length) {
    const n = ready.pop()!;
    placed++;
    for (const r of readers.get(n) ?? []) {
      const k = pending.get(r)! - 1;
      pending.set(r, k);
      if (k === 0) ready.push(r);
    }
  }
  if (placed < edges.size) {
    const on = [...pending].find(([, k]) => k > 0)![0];
    bad(`the model's connections form a cycle (through ${render(on)}); a model is a graph without cycles`);
  }
}

/**
 * The constants that size tensors in a graph model live in its weights, not its topology: checked once the
 * weights are read, before tfjs builds anything. A resize's target is either a constant [H, W] (bounded by
 * the memory one such tensor may take) or the input's own size times a constant factor (bounded like
 * UpSampling2D); Pad paddings are bounded per side; Fill and BroadcastTo shapes by memory. Layers models carry
 * theirs in the topology (ZeroPadding2D, Conv2DTranspose strides), checked here too.
 */
export function checkTfjsConstants(json: ModelJson, specs: TfcNs.io.WeightsManifestEntry[], data: ArrayBuffer, file: string): void {
  const topo = json.modelTopology as { node?: unknown; config?: { layers?: unknown } } | undefined;
  const tensorBudget = constantTensorBudget();
  const refuse = (what: string, why: string): never => fail('security', `${file}: ${what} ${why}; refused before running (the model would need unbounded memory)`);
  const layers = topo?.config?.layers;
  if (Array.isArray(layers)) {
    for (const l of layers as Layer[]) {
      const rule = typeof l?.class_name === 'string' ? LAYER_RULES.get(l.class_name) : undefined;
      const v = rule?.when === 'weights' ? rule.read(l.config?.[rule.key]) : null;
      if (v && EXCEEDS[rule!.bound](v, tensorBudget)) refuse(`layer ${render(l.config?.name)}`, rule!.says(l.config?.[rule!.key]));
    }
  }
  if (!Array.isArray(topo?.node)) return;
  // int32 constants of at most 64 values, by name: the only ones that size tensors.
  const ints = new Map<string, number[]>();
  let offset = 0;
  for (const w of specs) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const bytes = n * bytesPerValue(w);
    if (w.dtype === 'int32' && !w.quantization && n <= 64 && offset + bytes <= data.byteLength) ints.set(w.name, Array.from(new Int32Array(data.slice(offset, offset + bytes))));
    offset += bytes;
  }
  const nodes = new Map<string, { op?: unknown; name?: unknown; input?: unknown }>();
  for (const n of topo!.node as { op?: unknown; name?: unknown; input?: unknown }[]) if (typeof n?.name === 'string') nodes.set(n.name, n);
  const inputName = (n: { input?: unknown }, i: number): string => {
    const v = Array.isArray(n.input) ? n.input[i] : undefined;
    return typeof v === 'string' ? producerOf(v) : '';
  };
  const constOf = (name: string): number[] | null => (nodes.get(name)?.op === 'Const' ? ints.get(name) ?? null : null);
  // Shapes of tensors made only from constants (weights, and elementwise ops on them): a broadcast of two small
  // constants can be huge ([S, 1] + [1, S]).
  const shapeOf = new Map<string, number[]>(specs.map((w) => [w.name, w.shape]));
  for (const n of nodes.values()) {
    const what = `node ${render(n.name)} (${render(n.op)})`;
    if (TF_ELEMENTWISE.has(n.op as string) && Array.isArray(n.input) && n.input.length >= 2) {
      const shapes = (n.input as unknown[]).map((_, i) => shapeOf.get(inputName(n, i)));
      if (shapes.every((x) => x !== undefined)) {
        const shape = broadcastShape(shapes as number[][]);
        if (4 * product(shape) > tensorBudget) refuse(what, `broadcasts constants to ${render(shape)}`);
        shapeOf.set(n.name as string, shape);
      } else {
        // Against run-time data the result is at least the constant times what the data brings: large ones are refused.
        const big = shapes.find((x) => x !== undefined && product(x) > MAX_BROADCAST_CONSTANT);
        if (big) refuse(what, `broadcasts a constant of shape ${render(big)} against run-time data (more than ${MAX_BROADCAST_CONSTANT} values)`);
      }
    }
    for (const rule of (typeof n.op === 'string' ? NODE_RULES.get(n.op) : undefined) ?? []) {
      // The constant input itself, or (factorOf) the constants of the Mul that makes the input: size = shape × k.
      const from = 'input' in rule ? [inputName(n, rule.input)] : (() => {
        const maker = nodes.get(inputName(n, rule.factorOf));
        return maker?.op === 'Mul' ? [inputName(maker, 0), inputName(maker, 1)] : [];
      })();
      for (const name of from) {
        const v = constOf(name);
        if (v && EXCEEDS[rule.bound](v, tensorBudget)) refuse(what, rule.says(v));
      }
    }
  }
}

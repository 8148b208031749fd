/**
 * The TensorFlow.js graph-model emitter: a GraphDef in JSON (model.json, `format: "graph-model"`)
 * made only of ops tfjs-converter executes, weights as Const nodes in shards. Loadable with
 * `tf.loadGraphModel`, no custom code. NHWC throughout.
 *
 * Each trap of the reference doc has its form here:
 *   - bilinear, align_corners=False: ResizeBilinear(align_corners=false, half_pixel_centers=true).
 *   - nearest: ResizeNearestNeighbor(align_corners=false, half_pixel_centers=false).
 *   - strided convs: Pad (zeros, the IR's pads) + 'VALID' conv; 'SAME' only where it is exact.
 *   - MaxPool: PadV2 with −∞ + 'VALID' MaxPool (PyTorch pads max-pools with −∞).
 *   - AvgPool count_include_pad=True: Pad (zeros) + 'VALID' AvgPool.
 *   - BatchNorm: folded into convs; the CE block's stays a FusedBatchNormV3 with epsilon 1e-5
 *     (tfjs-converter's default would be 1e-3).
 *   - global average pool: Mean over H, W with keep_dims.
 *   - weights: OIHW → HWIO, depthwise (C·m,1,k,k) → (k,k,C,m).
 * Sizes for resizes are computed from the input's shape at run time, so any H, W (multiples of 32) work.
 * Ops that are one node of fixed attributes (activations, add, mul, concat, mean) are rows of ./ops.ts;
 * the others are the code paths below.
 */
import type { WeightMap } from '../ir/fold.js';
import { PRODUCER } from '../util/version.js';
import type { Graph, Node, Pads } from '../ir/graph.js';
import { fail } from '../util/errors.js';
import { exposedTensors } from './expose.js';
import {
  emittedNodes, encodeWeights, modelFiles, modelMetadata, METADATA_KEY, padPlan, prepareGraph, tfKernel,
  type PreparedGraph, type TfjsEmitOptions, type TfjsWeight,
} from './tfjs-common.js';
import { lower, TFJS_CHANNEL_AXIS, type CodePaths, type TfjsGraphRow } from './ops.js';

export type { TfjsEmitOptions } from './tfjs-common.js';

type DT = 'DT_FLOAT' | 'DT_INT32';
interface AttrValue {
  type?: DT;
  s?: string;
  i?: string;
  f?: number;
  b?: boolean;
  list?: { i?: string[]; s?: string[] };
  shape?: { dim: { size: string }[] };
  tensor?: { dtype: DT; tensorShape: { dim?: { size: string }[] } };
}
export interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValue>;
}

const b64 = (s: string): string => {
  let bin = '';
  for (const c of new TextEncoder().encode(s)) bin += String.fromCharCode(c);
  return btoa(bin);
};
const aType = (t: DT): AttrValue => ({ type: t });
const aStr = (s: string): AttrValue => ({ s: b64(s) });
const aInt = (i: number): AttrValue => ({ i: String(i) });
const aInts = (xs: number[]): AttrValue => ({ list: { i: xs.map(String) } });
const aStrs = (xs: string[]): AttrValue => ({ list: { s: xs.map(b64) } });
const dims = (shape: number[]) => shape.map((d) => ({ size: String(d) }));

interface Ctx {
  nodes: NodeDef[];
  weights: TfjsWeight[];
  names: Set<string>;
  prepared: PreparedGraph;
}

function add(ctx: Ctx, node: NodeDef): string {
  if (ctx.names.has(node.name)) throw new Error(`duplicate node name ${node.name}`);
  if (node.name.includes(':')) throw new Error(`node name ${node.name} contains ':'`);
  ctx.names.add(node.name);
  ctx.nodes.push(node);
  return node.name;
}

function constant(ctx: Ctx, name: string, shape: number[], data: Float32Array | Int32Array, quantizable: boolean): string {
  if (ctx.names.has(name)) return name; // shared structural constants
  const dtype: DT = data instanceof Float32Array ? 'DT_FLOAT' : 'DT_INT32';
  ctx.weights.push({ name, shape, dtype: dtype === 'DT_FLOAT' ? 'float32' : 'int32', data, quantizable });
  return add(ctx, { name, op: 'Const', attr: { value: { tensor: { dtype, tensorShape: shape.length ? { dim: dims(shape) } : {} } }, dtype: aType(dtype) } });
}
const int32Const = (ctx: Ctx, name: string, shape: number[], values: number[]): string => constant(ctx, name, shape, Int32Array.from(values), false);

/** A Pad (or PadV2 with a fill value) in front of a 'VALID' op. */
function pad(ctx: Ctx, name: string, x: string, pads: Pads, fill?: number): string {
  const [t, l, b, r] = pads;
  const paddings = int32Const(ctx, `${name}/paddings`, [4, 2], [0, 0, t, b, l, r, 0, 0]);
  if (fill === undefined) return add(ctx, { name, op: 'Pad', input: [x, paddings], attr: { T: aType('DT_FLOAT'), Tpaddings: aType('DT_INT32') } });
  const value = constant(ctx, `${name}/value`, [], Float32Array.of(fill), false);
  return add(ctx, { name, op: 'PadV2', input: [x, paddings, value], attr: { T: aType('DT_FLOAT'), Tpaddings: aType('DT_INT32') } });
}

/** The int32 [H, W] a resize produces: of `like`, or of `x` times `scale`. */
function resizeSize(ctx: Ctx, name: string, x: string, scale: number | undefined, like: string | undefined): string {
  const src = like ?? x;
  const shape = add(ctx, { name: `${name}/shape`, op: 'Shape', input: [src], attr: { T: aType('DT_FLOAT'), out_type: aType('DT_INT32') } });
  const begin = int32Const(ctx, 'const/hw_begin', [1], [1]);
  const size = int32Const(ctx, 'const/hw_size', [1], [2]);
  const hw = add(ctx, { name: `${name}/hw`, op: 'Slice', input: [shape, begin, size], attr: { T: aType('DT_INT32'), Index: aType('DT_INT32') } });
  if (like !== undefined) return hw;
  if (scale === undefined || !Number.isInteger(scale) || scale < 1) fail('usage', `${name}: resize scale ${scale} is not a positive integer`);
  const factor = int32Const(ctx, `const/scale_${scale}`, [2], [scale!, scale!]);
  return add(ctx, { name: `${name}/size`, op: 'Mul', input: [hw, factor], attr: { T: aType('DT_INT32') } });
}

const FLOAT = { T: aType('DT_FLOAT') };

/** A node's inputs as emitted tensors (a fused ReLU's input is its conv). */
interface Io { ins: string[] }
type Handlers = CodePaths<'tfjs-graph', Ctx, Io>;

const conv: Handlers['conv'] = (ctx, n, { ins: [x] }) => {
  const a = n.attrs;
  const w = ctx.prepared.weights;
  const k = tfKernel(n.name, a, w.get(`${n.name}.weight`)!);
  const kernel = constant(ctx, `${n.name}/kernel`, k.shape, k.data, true);
  const plan = padPlan(a.kernel, a.stride, a.pads);
  const input = plan.kind === 'explicit' ? pad(ctx, `${n.name}/pad`, x!, plan.pads) : x!;
  const relu = ctx.prepared.convActivation.get(n.name) === 'relu';
  const common: Record<string, AttrValue> = {
    ...FLOAT, strides: aInts([1, a.stride, a.stride, 1]), padding: aStr(plan.kind === 'same' ? 'SAME' : 'VALID'),
    data_format: aStr('NHWC'), dilations: aInts([1, 1, 1, 1]),
  };
  if (!a.bias && !relu) {
    add(ctx, { name: n.name, op: k.kind === 'plain' ? 'Conv2D' : 'DepthwiseConv2dNative', input: [input, kernel], attr: common });
    return;
  }
  const biasData = a.bias ? w.get(`${n.name}.bias`)! : new Float32Array(a.outChannels);
  const bias = constant(ctx, `${n.name}/bias`, [a.outChannels], biasData, true);
  add(ctx, {
    name: n.name, op: k.kind === 'plain' ? '_FusedConv2D' : 'FusedDepthwiseConv2dNative', input: [input, kernel, bias],
    attr: { ...common, fused_ops: aStrs(relu ? ['BiasAdd', 'Relu'] : ['BiasAdd']), num_args: aInt(1), epsilon: { f: 0 } },
  });
};

const pool: Handlers['maxpool' | 'avgpool'] = (ctx, n, { ins: [x] }) => {
  const a = n.attrs;
  if (a.op === 'avgpool' && !a.countIncludePad && a.pads.some((p) => p > 0)) {
    // Excluding padding (Paddle's exclusive=True): the zero-padded average divided by the share of
    // each window that lies inside the image, which is the same average taken over ones. TF's own
    // 'SAME' pooling also excludes padding but places the padding bottom/right only: wrong here.
    const attr = { ...FLOAT, ksize: aInts([1, a.kernel, a.kernel, 1]), strides: aInts([1, a.stride, a.stride, 1]), padding: aStr('VALID'), data_format: aStr('NHWC') };
    const sum = add(ctx, { name: `${n.name}/padded_mean`, op: 'AvgPool', input: [pad(ctx, `${n.name}/pad`, x!, a.pads)], attr });
    const ones = add(ctx, { name: `${n.name}/ones`, op: 'OnesLike', input: [x!], attr: FLOAT });
    const share = add(ctx, { name: `${n.name}/inside_share`, op: 'AvgPool', input: [pad(ctx, `${n.name}/ones_pad`, ones, a.pads)], attr });
    add(ctx, { name: n.name, op: 'RealDiv', input: [sum, share], attr: FLOAT });
    return;
  }
  const padded = a.pads.some((p) => p > 0)
    ? pad(ctx, `${n.name}/pad`, x!, a.pads, a.op === 'maxpool' ? -Infinity : undefined)
    : x!;
  add(ctx, {
    name: n.name, op: a.op === 'maxpool' ? 'MaxPool' : 'AvgPool', input: [padded],
    attr: { ...FLOAT, ksize: aInts([1, a.kernel, a.kernel, 1]), strides: aInts([1, a.stride, a.stride, 1]), padding: aStr('VALID'), data_format: aStr('NHWC') },
  });
};

/** The ops lowered in code; the others are rows of ./ops.ts. */
export const TFJS_GRAPH_CODE_PATHS: Handlers = {
  conv,
  batchnorm: (ctx, n, { ins: [x] }) => {
    const a = n.attrs;
    const p = (role: string, tf: string) => constant(ctx, `${n.name}/${tf}`, [a.channels], ctx.prepared.weights.get(`${n.name}.${role}`)!, true);
    add(ctx, {
      name: n.name, op: 'FusedBatchNormV3',
      input: [x!, p('weight', 'gamma'), p('bias', 'beta'), p('running_mean', 'moving_mean'), p('running_var', 'moving_variance')],
      attr: { ...FLOAT, U: aType('DT_FLOAT'), epsilon: { f: a.eps }, data_format: aStr('NHWC'), is_training: { b: false } },
    });
  },
  maxpool: pool,
  avgpool: pool,
  resize: (ctx, n, { ins }) => {
    const a = n.attrs;
    const x = ins[0]!;
    const size = resizeSize(ctx, n.name, x, a.scale, a.scale === undefined ? ins[1] : undefined);
    const bilinear = a.mode === 'bilinear';
    add(ctx, {
      name: n.name, op: bilinear ? 'ResizeBilinear' : 'ResizeNearestNeighbor', input: [x, size],
      attr: { ...FLOAT, align_corners: { b: false }, half_pixel_centers: { b: bilinear } },
    });
  },
  argmax: (ctx, n, { ins: [x] }) => {
    const c = TFJS_CHANNEL_AXIS;
    const axis = int32Const(ctx, c.name, [...c.shape], [...c.values]);
    add(ctx, { name: n.name, op: 'ArgMax', input: [x!, axis], attr: { ...FLOAT, Tidx: aType('DT_INT32'), output_type: aType('DT_INT32') } });
  },
};

/** A row of ./ops.ts: one node on the inputs and the row's constants, T = float32 first. */
const row = (ctx: Ctx, n: Node, r: TfjsGraphRow, { ins }: Io): void => {
  const consts = (r.consts ?? []).map((c) => int32Const(ctx, c.name, [...c.shape], [...c.values]));
  const count = r.inputCount === undefined ? {} : { [r.inputCount]: aInt(ins.length) };
  add(ctx, { name: n.name, op: r.op, input: [...ins, ...consts], attr: { ...FLOAT, ...count, ...r.attr } });
};

const emitNode = (ctx: Ctx, n: Node, tensor: (t: string) => string): void =>
  lower('tfjs-graph', TFJS_GRAPH_CODE_PATHS, row, ctx, n, { ins: n.inputs.map(tensor) });

/** Emits a graph model: the files of its directory (model.json and weight shards). */
export function emitTfjsGraph(graph: Graph, weights: WeightMap, opts: TfjsEmitOptions = {}): Map<string, Uint8Array> {
  const prepared = prepareGraph(graph, weights);
  const ctx: Ctx = { nodes: [], weights: [], names: new Set(), prepared };
  const c = graph.input.channels;
  add(ctx, { name: graph.input.name, op: 'Placeholder', attr: { dtype: aType('DT_FLOAT'), shape: { shape: { dim: dims([-1, -1, -1, c]) } } } });
  const { nodes, tensor } = emittedNodes(prepared);
  for (const n of nodes) emitNode(ctx, n, tensor);
  const outputs: Record<string, unknown> = {};
  for (const o of prepared.graph.outputs) {
    const t = tensor(o.tensor);
    if (t !== o.name) add(ctx, { name: o.name, op: 'Identity', input: [t], attr: FLOAT });
    const labels = o.dtype === 'index';
    outputs[o.name] = {
      name: `${o.name}:0`, dtype: labels ? 'DT_INT32' : 'DT_FLOAT',
      tensorShape: { dim: dims(labels ? [-1, -1, -1] : [-1, -1, -1, o.channels!]) },
    };
  }
  const exposed = exposedTensors(prepared.graph, nodes.map((n) => n.name), opts.expose, 'tfjs-graph');
  for (const t of exposed) outputs[t] = { name: `${t}:0`, dtype: 'DT_FLOAT', tensorShape: { dim: dims([-1, -1, -1, prepared.channels.get(t) ?? -1]) } };
  const metadata = modelMetadata(graph, opts, PRODUCER);
  if (exposed.length) metadata.outputs = [...metadata.outputs, ...exposed];
  const { manifest, files } = encodeWeights(ctx.weights, opts);
  const modelJson = {
    format: 'graph-model',
    generatedBy: PRODUCER,
    convertedBy: PRODUCER,
    signature: {
      inputs: { [graph.input.name]: { name: `${graph.input.name}:0`, dtype: 'DT_FLOAT', tensorShape: { dim: dims([-1, -1, -1, c]) } } },
      outputs,
    },
    modelTopology: { node: ctx.nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: manifest,
    userDefinedMetadata: { [METADATA_KEY]: metadata },
  };
  return modelFiles(modelJson, files);
}

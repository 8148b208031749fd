import { onnxProto, type OnnxProto } from '../util/onnx-proto.js';
import { foldBatchNorm, type WeightMap } from '../ir/fold.js';
import { PACKAGE } from '../util/version.js';
import { nodeParams, type Graph, type Node } from '../ir/graph.js';
import { fail } from '../util/errors.js';
import { exposedTensors, type Expose } from './expose.js';
import { insertQdq, int8Plan, toFloat16, type Int8Options, type Precision } from './onnx-precision.js';

const { onnx } = onnxProto;
type INode = OnnxProto.onnx.INodeProto;
type IAttr = OnnxProto.onnx.IAttributeProto;
type ITensor = OnnxProto.onnx.ITensorProto;

import { DEFAULT_OPSET, irVersionFor, MAX_OPSET, MIN_OPSET } from './opset.js';
import { lower, type CodePaths, type OnnxRow } from './ops.js';

export { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from './opset.js';

export interface OnnxEmitOptions {
  opset?: number;
  /** Extra metadata_props (preprocessing, class names…). */
  metadata?: Record<string, string>;
  producerVersion?: string;
  /**
   * How grouped convolutions with several output channels per group (the GE layers' C→6C, groups C)
   * are written: `native` (one Conv with `group`), or `depthwise`: a channel repeat (Gather) and a
   * depthwise Conv, the same arithmetic exactly. `depthwise` avoids onnxruntime-web 1.30's WebGPU EP
   * bug on grouped convs in NHWC (docs/gpu.md).
   */
  groupedConv?: 'native' | 'depthwise';
  /** Input dims, static sizes or symbolic names (default N, channels, H, W); outputs follow. */
  inputDims?: (number | string)[];
  /** The labels output's type: int64 (ONNX ArgMax) or int32 (ArgMax, then Cast), as TensorRT prefers. */
  labelsType?: 'int64' | 'int32';
  /** Also make these IR tensors (or all the model holds) graph outputs, after the model's own; element type only, no shape. */
  expose?: Expose;
  /** fp32 (default); fp16: float16 weights and compute, float32 input and outputs; int8: QDQ (needs `int8`). */
  precision?: Precision;
  int8?: Int8Options;
}

// Small builders over the protobuf, in the spirit of onnx.helper.
const attrInt = (name: string, i: number): IAttr => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const attrInts = (name: string, ints: number[]): IAttr => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
const attrFloat = (name: string, f: number): IAttr => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f });
const attrString = (name: string, s: string): IAttr => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) });
const node = (opType: string, name: string, input: string[], output: string[], attribute: IAttr[] = []): INode => ({ opType, name, input, output, attribute });

function floatTensor(name: string, dims: number[], data: Float32Array): ITensor {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
function int64Tensor(name: string, values: number[]): ITensor {
  const data = BigInt64Array.from(values.map(BigInt));
  return { name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) };
}

interface Ctx { nodes: INode[]; initializers: Map<string, ITensor>; opts: OnnxEmitOptions }

function constFloat(ctx: Ctx, name: string, values: number[]): string {
  if (!ctx.initializers.has(name)) ctx.initializers.set(name, floatTensor(name, [values.length], Float32Array.from(values)));
  return name;
}
function constInt64(ctx: Ctx, name: string, values: number[]): string {
  if (!ctx.initializers.has(name)) ctx.initializers.set(name, int64Tensor(name, values));
  return name;
}

/** Sizes N, C of `x` followed by H, W of `like`, for a Resize to another tensor's spatial size. */
function sizesLike(ctx: Ctx, prefix: string, x: string, like: string): string {
  const starts0 = constInt64(ctx, 'const.i64.0', [0]);
  const two = constInt64(ctx, 'const.i64.2', [2]);
  const four = constInt64(ctx, 'const.i64.4', [4]);
  ctx.nodes.push(node('Shape', `${prefix}.shape_x`, [x], [`${prefix}.shape_x`]));
  ctx.nodes.push(node('Slice', `${prefix}.nc`, [`${prefix}.shape_x`, starts0, two, starts0], [`${prefix}.nc`]));
  ctx.nodes.push(node('Shape', `${prefix}.shape_like`, [like], [`${prefix}.shape_like`]));
  ctx.nodes.push(node('Slice', `${prefix}.hw`, [`${prefix}.shape_like`, two, four, starts0], [`${prefix}.hw`]));
  ctx.nodes.push(node('Concat', `${prefix}.sizes`, [`${prefix}.nc`, `${prefix}.hw`], [`${prefix}.sizes`], [attrInt('axis', 0)]));
  return `${prefix}.sizes`;
}

type Handlers = CodePaths<'onnx', Ctx, void>;

const conv: Handlers['conv'] = (ctx, n) => {
  const a = n.attrs;
  let x = n.inputs[0]!;
  let groups = a.groups;
  if (ctx.opts.groupedConv === 'depthwise' && groups > 1 && groups === a.inChannels && a.outChannels > groups) {
    // Channel c repeated outChannels/groups times, then one filter per channel: out[o] reads in[⌊o/m⌋], as before.
    const m = a.outChannels / groups;
    const idx = constInt64(ctx, `${n.name}.repeat_index`, Array.from({ length: a.outChannels }, (_, o) => Math.floor(o / m)));
    ctx.nodes.push(node('Gather', `${n.name}.repeat`, [x, idx], [`${n.name}.repeat`], [attrInt('axis', 1)]));
    x = `${n.name}.repeat`;
    groups = a.outChannels;
  }
  const inputs = [x, `${n.name}.weight`, ...(a.bias ? [`${n.name}.bias`] : [])];
  ctx.nodes.push(node('Conv', n.name, inputs, [n.name], [
    attrInts('kernel_shape', [a.kernel, a.kernel]), attrInts('strides', [a.stride, a.stride]),
    // ONNX pads: [H_begin, W_begin, H_end, W_end]
    attrInts('pads', [a.pads[0], a.pads[1], a.pads[2], a.pads[3]]), attrInts('dilations', [1, 1]), attrInt('group', groups),
  ]));
};

const pool: Handlers['maxpool' | 'avgpool'] = (ctx, n) => {
  const a = n.attrs;
  const window = [attrInts('kernel_shape', [a.kernel, a.kernel]), attrInts('strides', [a.stride, a.stride]), attrInts('pads', [...a.pads])];
  // ONNX MaxPool pads with −∞, as PyTorch does.
  if (a.op === 'maxpool') { ctx.nodes.push(node('MaxPool', n.name, n.inputs, [n.name], window)); return; }
  // One AveragePool node carrying its own pads: a separate Pad + AveragePool was mis-fused by
  // onnxruntime ≤ 1.20 (reference doc), and count_include_pad must match PyTorch's.
  ctx.nodes.push(node('AveragePool', n.name, n.inputs, [n.name], [...window, attrInt('count_include_pad', a.countIncludePad ? 1 : 0)]));
};

/** The ops lowered in code; the others are rows of ./ops.ts. */
export const ONNX_CODE_PATHS: Handlers = {
  conv,
  batchnorm: (ctx, n) => {
    ctx.nodes.push(node('BatchNormalization', n.name,
      [n.inputs[0]!, `${n.name}.weight`, `${n.name}.bias`, `${n.name}.running_mean`, `${n.name}.running_var`], [n.name], [attrFloat('epsilon', n.attrs.eps)]));
  },
  maxpool: pool,
  avgpool: pool,
  resize: (ctx, n) => {
    const a = n.attrs;
    const modeAttrs = a.mode === 'nearest'
      ? [attrString('mode', 'nearest'), attrString('coordinate_transformation_mode', 'asymmetric'), attrString('nearest_mode', 'floor')]
      : [attrString('mode', 'linear'), attrString('coordinate_transformation_mode', 'half_pixel')];
    const inputs = a.scale !== undefined
      ? [n.inputs[0]!, '', constFloat(ctx, `const.scales.${a.scale}`, [1, 1, a.scale, a.scale])]
      : [n.inputs[0]!, '', '', sizesLike(ctx, n.name, n.inputs[0]!, n.inputs[1]!)];
    ctx.nodes.push(node('Resize', n.name, inputs, [n.name], modeAttrs));
  },
  argmax: (ctx, n) => {
    if (ctx.opts.labelsType === 'int32') {
      ctx.nodes.push(node('ArgMax', `${n.name}.int64`, n.inputs, [`${n.name}.int64`], [attrInt('axis', 1), attrInt('keepdims', 0)]));
      ctx.nodes.push(node('Cast', n.name, [`${n.name}.int64`], [n.name], [attrInt('to', onnx.TensorProto.DataType.INT32)]));
      return;
    }
    ctx.nodes.push(node('ArgMax', n.name, n.inputs, [n.name], [attrInt('axis', 1), attrInt('keepdims', 0)]));
  },
};

/** A row of ./ops.ts: one node of its type on the IR node's inputs. */
const row = (ctx: Ctx, n: Node, r: OnnxRow): void => {
  ctx.nodes.push(node(r.op, n.name, n.inputs, [n.name], Object.entries(r.ints ?? {}).map(([k, v]) => attrInt(k, v))));
};

const emitNode = (ctx: Ctx, n: Node): void => lower('onnx', ONNX_CODE_PATHS, row, ctx, n, undefined);

const dim = (d: number | string): OnnxProto.onnx.TensorShapeProto.IDimension => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
function valueInfo(name: string, elemType: number, dims: (number | string)[]): OnnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map(dim) } } } };
}

/**
 * Emits an ONNX model for a graph and its canonical weights, BatchNorm folded first, as pieces in file
 * order (the weights are not copied: write them with writev, or join them with joinChunks).
 */
export function emitOnnxChunks(graph: Graph, weights: WeightMap, opts: OnnxEmitOptions = {}): Uint8Array[] {
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) fail('usage', `--opset ${opset} is not supported (${MIN_OPSET}–${MAX_OPSET})`);
  for (const p of graph.nodes.flatMap(nodeParams)) {
    if (!weights.has(p.name)) fail('layout', `no weights for ${p.name}`);
  }
  const folded = foldBatchNorm(graph, weights);
  const ctx: Ctx = { nodes: [], initializers: new Map(), opts };
  for (const n of folded.graph.nodes) {
    for (const p of nodeParams(n)) ctx.initializers.set(p.name, floatTensor(p.name, p.shape, folded.weights.get(p.name)!));
    emitNode(ctx, n);
  }
  // Outputs are named after the graph's outputs; an Identity bridges where a tensor has another name.
  for (const o of folded.graph.outputs) {
    if (o.tensor !== o.name) ctx.nodes.push(node('Identity', o.name, [o.tensor], [o.name]));
  }
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const precision = opts.precision ?? 'fp32';
  const precisionMeta: Record<string, string> = {};
  if (precision === 'fp16') {
    toFloat16(ctx.nodes, ctx.initializers, graph.input.name, folded.graph.outputs.filter((o) => o.dtype === 'float32').map((o) => o.name));
    precisionMeta.precision = 'fp16';
  } else if (precision === 'int8') {
    if (!opts.int8) fail('usage', '--precision int8 needs --calibration calib.json (write it with bisenet calibrate)');
    const plan = int8Plan(ctx.nodes, opts.int8!.keepFloat);
    insertQdq(ctx.nodes, ctx.initializers, opts.int8!);
    precisionMeta.precision = 'int8';
    const cal = opts.int8!.calibration;
    precisionMeta.quantization = JSON.stringify({
      scheme: 'QDQ: int8 weights symmetric per output channel; int8 activations symmetric per tensor at conv inputs (zero point 0)',
      statistic: opts.int8!.statistic, bias: opts.int8!.int32Bias ? 'int32' : 'float32', conv_outputs: Boolean(opts.int8!.quantizeOutputs),
      calibration: { source: cal.model.source, images: cal.images.count, dir: cal.images.dir },
      quantized_convs: plan.quantized.length, float_convs: plan.float,
    });
  }
  const LABELS = opts.labelsType === 'int32' ? onnx.TensorProto.DataType.INT32 : onnx.TensorProto.DataType.INT64;
  const [dn, dc, dh, dw] = opts.inputDims ?? ['N', graph.input.channels, 'H', 'W'];
  if (opts.inputDims && (opts.inputDims.length !== 4 || dc !== graph.input.channels)) fail('usage', `input dims [${opts.inputDims.join(', ')}] do not fit N×${graph.input.channels}×H×W`);
  const outputs = folded.graph.outputs.map((o) => o.dtype === 'index'
    ? valueInfo(o.name, LABELS, [dn!, dh!, dw!])
    : valueInfo(o.name, FLOAT, [dn!, o.channels!, dh!, dw!]));
  const inner = precision === 'fp16' ? onnx.TensorProto.DataType.FLOAT16 : FLOAT;
  for (const t of exposedTensors(folded.graph, folded.graph.nodes.map((n) => n.name), opts.expose, 'onnx')) outputs.push({ name: t, type: { tensorType: { elemType: inner } } });
  const metadata = { ...graph.metadata, ...(opts.metadata ?? {}), ...precisionMeta };
  return encodeModel({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: PACKAGE.name,
    producerVersion: opts.producerVersion ?? PACKAGE.version,
    graph: {
      name: graph.name,
      node: ctx.nodes,
      initializer: [...ctx.initializers.values()],
      input: [valueInfo(graph.input.name, FLOAT, [dn!, dc!, dh!, dw!])],
      output: outputs,
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
}

/** Emits an ONNX model as one buffer (the pieces of emitOnnxChunks, joined). */
export function emitOnnx(graph: Graph, weights: WeightMap, opts: OnnxEmitOptions = {}): Uint8Array {
  return joinChunks(emitOnnxChunks(graph, weights, opts));
}

/** Pieces whose concatenation is one buffer. */
export function joinChunks(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

// --- Encoding with the weights left in place ---------------------------------------------------
// protobufjs would copy every initializer's raw_data into one new buffer, which on these machines is
// mostly page faults (≈ 3 ms per fresh MB). The model is written instead as pieces: protobufjs encodes
// everything but the raw data, and each tensor's raw_data is a view of its weights. Fields are laid out
// in field-number order, as protobufjs writes them, so the bytes are the same as encode().finish()'s.

const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
};
/** A length-delimited field's key and length. */
const lenHeader = (field: number, length: number): Uint8Array => Uint8Array.from([...varint((field << 3) | 2), ...varint(length)]);
const size = (chunks: Uint8Array[]): number => chunks.reduce((n, c) => n + c.byteLength, 0);

function encodeModel(model: OnnxProto.onnx.IModelProto): Uint8Array[] {
  const { graph, ...rest } = model;
  const { opsetImport, metadataProps, ...head } = rest;
  const { initializer, input, output, ...graphHead } = graph!;
  const graphChunks: Uint8Array[] = [onnx.GraphProto.encode(graphHead).finish()];
  for (const t of initializer ?? []) {
    const { rawData, ...header } = t;
    const body = [onnx.TensorProto.encode(header).finish()];
    if (rawData && rawData.byteLength) body.push(lenHeader(9, rawData.byteLength), rawData);
    graphChunks.push(lenHeader(5, size(body)), ...body);
  }
  graphChunks.push(onnx.GraphProto.encode({ input, output }).finish());
  return [
    onnx.ModelProto.encode(head).finish(),
    lenHeader(7, size(graphChunks)), ...graphChunks,
    onnx.ModelProto.encode({ opsetImport, metadataProps }).finish(),
  ].filter((c) => c.byteLength > 0);
}

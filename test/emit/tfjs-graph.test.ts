import { describe, expect, it } from 'vitest';
import { emitTfjsGraph } from '../../src/emit/tfjs-graph.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import { describeTraps, randomArray, randomWeights, refPool, runEmitted, tinyGraph, maxAbsDiff } from '../helpers/tfjs-traps.js';

interface NodeDef { name: string; op: string; input?: string[]; attr?: Record<string, { s?: string; b?: boolean; f?: number; i?: string; list?: { i?: string[]; s?: string[] }; type?: string }> }
interface ModelJson {
  format: string;
  signature: { inputs: Record<string, { name: string }>; outputs: Record<string, { name: string; dtype: string }> };
  modelTopology: { node: NodeDef[] };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string; quantization?: { dtype: string } }[] }[];
  userDefinedMetadata: { bisenet: Record<string, unknown> };
}

const parse = (files: Map<string, Uint8Array>): ModelJson => JSON.parse(new TextDecoder().decode(files.get('model.json')!)) as ModelJson;
const str = (v: { s?: string } | undefined) => Buffer.from(v!.s!, 'base64').toString();

describe('TensorFlow.js graph emitter', () => {
  const g = bisenetv2({ numClasses: 19, labels: true });
  const weights = randomWeights(g);
  const files = emitTfjsGraph(g, weights);
  const model = parse(files);
  const nodes = model.modelTopology.node;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const producer = (n: NodeDef, i = 0) => byName.get(n.input![i]!)!;

  it('writes a graph-model with a signature (input NHWC, outputs logits and labels as int32)', () => {
    expect(model.format).toBe('graph-model');
    expect(model.signature.inputs.input!.name).toBe('input:0');
    expect(Object.keys(model.signature.outputs)).toEqual(['logits', 'labels']);
    expect(model.signature.outputs.labels!.dtype).toBe('DT_INT32');
    expect(byName.get('labels')).toMatchObject({ op: 'ArgMax', input: ['logits', 'const/channel_axis'] });
    expect(model.userDefinedMetadata.bisenet).toMatchObject({ layout: 'NHWC', outputs: ['logits', 'labels'] });
  });

  it('uses only ops tfjs-converter executes', () => {
    const ops = new Set(nodes.map((n) => n.op));
    const known = ['Placeholder', 'Const', '_FusedConv2D', 'FusedDepthwiseConv2dNative', 'Conv2D', 'DepthwiseConv2dNative', 'Pad', 'PadV2', 'MaxPool', 'AvgPool',
      'FusedBatchNormV3', 'Relu', 'Sigmoid', 'AddV2', 'Mul', 'ConcatV2', 'Mean', 'Shape', 'Slice', 'ResizeBilinear', 'ResizeNearestNeighbor', 'ArgMax', 'Identity'];
    expect([...ops].filter((o) => !known.includes(o))).toEqual([]);
  });

  it("pads strided convs with Pad + 'VALID'; 'SAME' only at stride 1", () => {
    for (const n of nodes.filter((x) => x.op.includes('Conv'))) {
      const stride = Number(n.attr!.strides!.list!.i![1]);
      if (stride === 2) {
        expect(str(n.attr!.padding)).toBe('VALID');
        expect(producer(n).op).toBe('Pad');
      } else if (str(n.attr!.padding) === 'SAME') {
        expect(n.input![1]).toMatch(/\/kernel$/);
      }
    }
  });

  it('pads the max-pool with −∞ (PadV2) and the average pool with zeros, both then VALID', () => {
    const max = byName.get('semantic.stem.pool')!;
    expect(str(max.attr!.padding)).toBe('VALID');
    expect(producer(max).op).toBe('PadV2');
    const fill = model.weightsManifest[0]!.weights.find((w) => w.name === 'semantic.stem.pool/pad/value')!;
    expect(fill).toMatchObject({ shape: [], dtype: 'float32' });
    const avg = byName.get('bga.detail_pool')!;
    expect(avg.op).toBe('AvgPool');
    expect(producer(avg).op).toBe('Pad');
  });

  it('resizes bilinear half-pixel and nearest asymmetric, with sizes from the input at run time', () => {
    const logits = byName.get('logits')!;
    expect(logits.op).toBe('ResizeBilinear');
    expect(logits.attr!.half_pixel_centers!.b).toBe(true);
    expect(logits.attr!.align_corners!.b).toBe(false);
    expect(producer(logits, 1)).toMatchObject({ op: 'Mul', input: ['logits/hw', 'const/scale_8'] });
    for (const n of ['bga.semantic_up', 'bga.right_up']) {
      expect(byName.get(n)).toMatchObject({ op: 'ResizeNearestNeighbor', attr: { half_pixel_centers: { b: false }, align_corners: { b: false } } });
    }
  });

  it('keeps the CE block BatchNorm as FusedBatchNormV3 with epsilon 1e-5 after a keep-dims Mean', () => {
    const bn = nodes.filter((n) => n.op === 'FusedBatchNormV3');
    expect(bn.map((n) => n.name)).toEqual(['semantic.context.bn']);
    expect(bn[0]!.attr!.epsilon!.f).toBe(1e-5);
    expect(producer(bn[0]!)).toMatchObject({ op: 'Mean', attr: { keep_dims: { b: true } } });
  });

  it('fuses conv + bias + ReLU, and stores depthwise kernels as k×k×C×6', () => {
    const fused = byName.get('detail.stage1.0.conv')!;
    expect(fused.op).toBe('_FusedConv2D');
    expect(fused.attr!.fused_ops!.list!.s!.map((s) => Buffer.from(s, 'base64').toString())).toEqual(['BiasAdd', 'Relu']);
    const dw = byName.get('semantic.stage4.1.dw.conv')!;
    expect(dw.op).toBe('FusedDepthwiseConv2dNative');
    expect(model.weightsManifest[0]!.weights.find((w) => w.name === 'semantic.stage4.1.dw.conv/kernel')!.shape).toEqual([3, 3, 64, 6]);
  });

  it('never quantizes structural constants (shapes, axes, the −∞ pad value)', () => {
    const q = parse(emitTfjsGraph(g, weights, { quantize: 'uint8' }));
    for (const w of q.weightsManifest[0]!.weights) {
      const structural = w.name.startsWith('const/') || w.name.endsWith('/paddings') || w.name.endsWith('/value');
      expect(w.quantization === undefined, w.name).toBe(structural);
    }
  });

  it('refuses float16 for weights beyond its range', () => {
    const big = new Map(weights);
    big.set('head.classifier.conv.bias', new Float32Array(19).fill(1e5));
    expect(() => emitTfjsGraph(g, big, { quantize: 'float16' })).toThrowError(/beyond float16's range/);
  });

  it('max-pools a tensor that may be negative exactly (the layers format could not)', async () => {
    const graph = tinyGraph(2, (b) => b.pool('pool', 'maxpool', 'input', 3, 2, 1));
    const x = randomArray([1, 2, 6, 8], 21, -2, -1);
    expect(maxAbsDiff(await runEmitted('graph', graph, new Map(), x, 'wasm'), refPool(x, 'max', 3, 2, 1))).toBe(0);
  });
});

describeTraps('graph');

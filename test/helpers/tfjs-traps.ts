/**
 * Shared by the tfjs emitter tests: PyTorch semantics written out plainly in NCHW (the reference),
 * tiny one-trap graphs, and a way to run an emitted model through our tfjs runners. Each trap of
 * the reference doc gets a test that our emitted form matches PyTorch and the naive tfjs form does not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { emitTfjsGraph } from '../../src/emit/tfjs-graph.js';
import { emitTfjsLayers } from '../../src/emit/tfjs-layers.js';
import { GraphBuilder, graphParams, type Graph } from '../../src/ir/graph.js';
import type { WeightMap } from '../../src/ir/fold.js';
import { loadRunner } from '../../src/runtime/index.js';
import { toNchw, toNhwc } from '../../src/runtime/tfjs.js';
import { numel, type NdArray } from '../../src/util/ndarray.js';
import { tmpDir } from './paths.js';

export type Format = 'layers' | 'graph';
export type Backend = 'wasm' | 'cpu';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

export function randomArray(shape: number[], seed: number, lo = -1, hi = 1): NdArray {
  const r = rng(seed);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: numel(shape) }, () => lo + (hi - lo) * r()) };
}

/** Random canonical weights for a graph (BatchNorm variances positive). */
export function randomWeights(graph: Graph, seed = 7): WeightMap {
  const r = rng(seed);
  return new Map(graphParams(graph).map((p) => [p.name, Float32Array.from({ length: numel(p.shape) }, () => (p.role === 'running_var' ? 0.5 + r() : r() - 0.5))]));
}

export function tinyGraph(inputChannels: number, build: (g: GraphBuilder) => string): Graph {
  const g = new GraphBuilder('input', inputChannels);
  const out = build(g);
  return { name: 'trap', input: { name: 'input', channels: inputChannels }, outputs: [g.output(out, out)], nodes: g.nodes, sizeMultiple: 1, metadata: { family: 'test', num_classes: '1' } };
}

export function emit(format: Format, graph: Graph, weights: WeightMap): Map<string, Uint8Array> {
  return (format === 'layers' ? emitTfjsLayers : emitTfjsGraph)(graph, weights);
}

/** Emits a model into a temporary directory and runs one NCHW input through a tfjs runner. */
export async function runEmitted(format: Format, graph: Graph, weights: WeightMap, input: NdArray, backend: Backend): Promise<NdArray> {
  const dir = path.join(tmpDir('bisenet-tfjs-trap-'), 'model');
  fs.mkdirSync(dir);
  for (const [name, data] of emit(format, graph, weights)) fs.writeFileSync(path.join(dir, name), data);
  const runner = await loadRunner(dir, `tfjs-${backend}`);
  try {
    const out = await runner.run({ input });
    return out[graph.outputs[0]!.name]!;
  } finally {
    await runner.dispose();
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  }
}

export function maxAbsDiff(a: NdArray, b: NdArray): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

// ---------------------------------------------------------------------------------------------
// PyTorch semantics, NCHW, written for clarity

type Pads4 = [number, number, number, number];

export function refConv(x: NdArray, w: Float32Array, o: { out: number; k: number; stride: number; pads: Pads4; groups: number; bias?: Float32Array }): NdArray {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const { out, k, stride, pads: [t, l, b, r], groups } = o;
  const oh = Math.floor((h + t + b - k) / stride) + 1;
  const ow = Math.floor((wd + l + r - k) / stride) + 1;
  const cin = c / groups;
  const opg = out / groups;
  const y = new Float32Array(n * out * oh * ow);
  const xd = x.data as Float32Array;
  for (let bn = 0; bn < n; bn++) for (let oc = 0; oc < out; oc++) {
    const g = Math.floor(oc / opg);
    for (let yy = 0; yy < oh; yy++) for (let xx = 0; xx < ow; xx++) {
      let s = o.bias ? o.bias[oc]! : 0;
      for (let ic = 0; ic < cin; ic++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const iy = yy * stride + ky - t;
        const ix = xx * stride + kx - l;
        if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
        s += xd[((bn * c + g * cin + ic) * h + iy) * wd + ix]! * w[((oc * cin + ic) * k + ky) * k + kx]!;
      }
      y[((bn * out + oc) * oh + yy) * ow + xx] = s;
    }
  }
  return { dtype: 'float32', shape: [n, out, oh, ow], data: y };
}

export function refPool(x: NdArray, op: 'max' | 'avg', k: number, stride: number, pad: number): NdArray {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const y = new Float32Array(n * c * oh * ow);
  const xd = x.data as Float32Array;
  for (let p = 0; p < n * c; p++) for (let yy = 0; yy < oh; yy++) for (let xx = 0; xx < ow; xx++) {
    let m = -Infinity;
    let s = 0;
    for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
      const iy = yy * stride + ky - pad;
      const ix = xx * stride + kx - pad;
      if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue; // −∞ for max, 0 for avg (count_include_pad)
      const v = xd[(p * h + iy) * w + ix]!;
      m = Math.max(m, v);
      s += v;
    }
    y[(p * oh + yy) * ow + xx] = op === 'max' ? m : s / (k * k);
  }
  return { dtype: 'float32', shape: [n, c, oh, ow], data: y };
}

/** F.interpolate(mode='bilinear', align_corners=False) or mode='nearest', to size oh×ow. */
export function refResize(x: NdArray, mode: 'bilinear' | 'nearest', oh: number, ow: number): NdArray {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const y = new Float32Array(n * c * oh * ow);
  const xd = x.data as Float32Array;
  const src = (d: number, inn: number, out: number) => Math.max(0, (d + 0.5) * (inn / out) - 0.5);
  for (let p = 0; p < n * c; p++) for (let yy = 0; yy < oh; yy++) for (let xx = 0; xx < ow; xx++) {
    let v: number;
    if (mode === 'nearest') {
      v = xd[(p * h + Math.min(h - 1, Math.floor(yy * h / oh))) * w + Math.min(w - 1, Math.floor(xx * w / ow))]!;
    } else {
      const sy = src(yy, h, oh); const sx = src(xx, w, ow);
      const y0 = Math.floor(sy); const x0 = Math.floor(sx);
      const y1 = Math.min(y0 + 1, h - 1); const x1 = Math.min(x0 + 1, w - 1);
      const ly = sy - y0; const lx = sx - x0;
      const at = (a: number, b: number) => xd[(p * h + a) * w + b]!;
      v = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
    }
    y[(p * oh + yy) * ow + xx] = v;
  }
  return { dtype: 'float32', shape: [n, c, oh, ow], data: y };
}

export function refMeanHW(x: NdArray): NdArray {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const y = new Float32Array(n * c);
  for (let p = 0; p < n * c; p++) { let s = 0; for (let i = 0; i < h * w; i++) s += (x.data as Float32Array)[p * h * w + i]!; y[p] = s / (h * w); }
  return { dtype: 'float32', shape: [n, c, 1, 1], data: y };
}

export function refBatchNorm(x: NdArray, w: WeightMap, name: string, eps: number): NdArray {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [g, b, m, v] = ['weight', 'bias', 'running_mean', 'running_var'].map((r) => w.get(`${name}.${r}`)!);
  const y = new Float32Array(x.data.length);
  for (let bn = 0; bn < n; bn++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * wd; i++) {
    const j = (bn * c + ch) * h * wd + i;
    y[j] = ((x.data as Float32Array)[j]! - m![ch]!) / Math.sqrt(v![ch]! + eps) * g![ch]! + b![ch]!;
  }
  return { dtype: 'float32', shape: x.shape, data: y };
}

// ---------------------------------------------------------------------------------------------
// Naive tfjs forms (NHWC in, NCHW out), computed with the backend a runner left active

export function naive(x: NdArray, f: (t: tf.Tensor4D) => tf.Tensor): NdArray {
  const nhwc = toNhwc(x);
  return tf.tidy(() => {
    const y = f(tf.tensor4d(nhwc.data as Float32Array, nhwc.shape as [number, number, number, number]));
    return toNchw(y.shape, y.dataSync() as Float32Array);
  });
}

/** PyTorch OIHW → HWIO, as a tensor (for naive forms that take our correct weights). */
export function hwio(w: Float32Array, o: number, i: number, k: number): tf.Tensor4D {
  return tf.transpose(tf.tensor4d(w, [o, i, k, k]), [2, 3, 1, 0]) as tf.Tensor4D;
}

// ---------------------------------------------------------------------------------------------
// The trap suite, run for one format in both backends

const TOL = 1e-5;

export function describeTraps(format: Format): void {
  describe(`${format} format: each trap of the reference doc (ours matches PyTorch, the naive tfjs form does not)`, () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      it(`bilinear ×k, align_corners=False: half-pixel centres, not UpSampling2D's [${backend}]`, async () => {
        const graph = tinyGraph(3, (g) => g.resize('up', 'input', 'bilinear', { scale: 4 }));
        const x = randomArray([1, 3, 5, 7], 1);
        const ref = refResize(x, 'bilinear', 20, 28);
        expect(maxAbsDiff(await runEmitted(format, graph, new Map(), x, backend), ref)).toBeLessThan(TOL);
        const upsampling = naive(x, (t) => tfl.layers.upSampling2d({ size: [4, 4], interpolation: 'bilinear' }).apply(t) as tf.Tensor);
        expect(maxAbsDiff(upsampling, ref)).toBeGreaterThan(0.1);
        const aligned = naive(x, (t) => tf.image.resizeBilinear(t, [20, 28], true));
        expect(maxAbsDiff(aligned, ref)).toBeGreaterThan(0.1);
      });

      it(`bilinear to another tensor's size (mmseg BGA/head) [${backend}]`, async () => {
        const graph = tinyGraph(3, (g) => g.resize('up', g.pool('down', 'avgpool', 'input', 2, 2, 0), 'bilinear', { like: 'input' }));
        const x = randomArray([2, 3, 8, 12], 2);
        const ref = refResize(refPool(x, 'avg', 2, 2, 0), 'bilinear', 8, 12);
        expect(maxAbsDiff(await runEmitted(format, graph, new Map(), x, backend), ref)).toBeLessThan(TOL);
      });

      it(`nearest ×4: floor of dst·in/out (alignCorners=false, halfPixelCenters=false) [${backend}]`, async () => {
        const graph = tinyGraph(2, (g) => g.resize('up', 'input', 'nearest', { scale: 4 }));
        const x = randomArray([1, 2, 3, 5], 3);
        const ref = refResize(x, 'nearest', 12, 20);
        expect(maxAbsDiff(await runEmitted(format, graph, new Map(), x, backend), ref)).toBe(0);
        expect(maxAbsDiff(naive(x, (t) => tf.image.resizeNearestNeighbor(t, [12, 20], true)), ref)).toBeGreaterThan(0.1);
      });

      it(`3×3 stride-2 conv, pad 1, on even sizes: explicit symmetric padding, not 'same' [${backend}]`, async () => {
        const graph = tinyGraph(3, (g) => g.conv('conv', 'input', 4, { kernel: 3, stride: 2, bias: true }));
        const w = randomWeights(graph, 4);
        const x = randomArray([1, 3, 8, 10], 5);
        const ref = refConv(x, w.get('conv.weight')!, { out: 4, k: 3, stride: 2, pads: [1, 1, 1, 1], groups: 1, bias: w.get('conv.bias')! });
        expect(maxAbsDiff(await runEmitted(format, graph, w, x, backend), ref)).toBeLessThan(TOL);
        const same = naive(x, (t) => tf.add(tf.conv2d(t, hwio(w.get('conv.weight')!, 4, 3, 3), 2, 'same'), tf.tensor1d(w.get('conv.bias')!)));
        expect(maxAbsDiff(same, ref)).toBeGreaterThan(0.1);
      });

      it(`conv weights OIHW → HWIO, not a plain reshape [${backend}]`, async () => {
        const graph = tinyGraph(3, (g) => g.conv('conv', 'input', 5, { kernel: 3, bias: false }));
        const w = randomWeights(graph, 6);
        const x = randomArray([1, 3, 6, 6], 7);
        const ref = refConv(x, w.get('conv.weight')!, { out: 5, k: 3, stride: 1, pads: [1, 1, 1, 1], groups: 1 });
        expect(maxAbsDiff(await runEmitted(format, graph, w, x, backend), ref)).toBeLessThan(TOL);
        const reshaped = naive(x, (t) => tf.conv2d(t, tf.tensor4d(w.get('conv.weight')!, [3, 3, 3, 5]), 1, 'same'));
        expect(maxAbsDiff(reshaped, ref)).toBeGreaterThan(0.1);
      });

      it(`depthwise ×6 (GE layer Conv(C→6C, groups=C)): (C·m,1,k,k) → (k,k,C,m), output c·m+j reads input c [${backend}]`, async () => {
        const graph = tinyGraph(2, (g) => g.conv('dw', 'input', 12, { kernel: 3, stride: 2, groups: 2, bias: true }));
        const w = randomWeights(graph, 8);
        const x = randomArray([1, 2, 6, 8], 9);
        const ref = refConv(x, w.get('dw.weight')!, { out: 12, k: 3, stride: 2, pads: [1, 1, 1, 1], groups: 2, bias: w.get('dw.bias')! });
        expect(maxAbsDiff(await runEmitted(format, graph, w, x, backend), ref)).toBeLessThan(TOL);
        // The naive layout takes the multiplier as the slow axis (output j·C + c).
        const wrongOrder = naive(x, (t) => {
          const k = tf.transpose(tf.tensor4d(w.get('dw.weight')!, [6, 2, 3, 3]), [2, 3, 1, 0]) as tf.Tensor4D;
          const padded = tf.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]]);
          return tf.add(tf.depthwiseConv2d(padded, k, 2, 'valid'), tf.tensor1d(w.get('dw.bias')!));
        });
        expect(maxAbsDiff(wrongOrder, ref)).toBeGreaterThan(0.1);
      });

      it(`MaxPool2d(3,2,1) pads with −∞: explicit padding, not 'same' [${backend}]`, async () => {
        const graph = tinyGraph(2, (g) => g.pool('pool', 'maxpool', g.unary('relu', 'relu', 'input'), 3, 2, 1));
        const x = randomArray([1, 2, 8, 10], 10);
        const relu: NdArray = { ...x, data: (x.data as Float32Array).map((v) => Math.max(0, v)) };
        const ref = refPool(relu, 'max', 3, 2, 1);
        expect(maxAbsDiff(await runEmitted(format, graph, new Map(), x, backend), ref)).toBe(0);
        expect(maxAbsDiff(naive(relu, (t) => tf.maxPool(t, 3, 2, 'same')), ref)).toBeGreaterThan(0.05);
      });

      it(`AvgPool2d(3,2,1) with count_include_pad=True: zero pad + 'valid', not 'same' [${backend}]`, async () => {
        const graph = tinyGraph(2, (g) => g.pool('pool', 'avgpool', 'input', 3, 2, 1, true));
        const x = randomArray([1, 2, 8, 10], 11, 0.5, 1.5);
        const ref = refPool(x, 'avg', 3, 2, 1);
        expect(maxAbsDiff(await runEmitted(format, graph, new Map(), x, backend), ref)).toBeLessThan(TOL);
        expect(maxAbsDiff(naive(x, (t) => tf.avgPool(t, 3, 2, 'same')), ref)).toBeGreaterThan(0.1);
      });

      it(`BatchNorm eps 1e-5, not the Keras/tfjs default 1e-3 [${backend}]`, async () => {
        const graph = tinyGraph(3, (g) => g.batchnorm('bn', g.unary('gap', 'globalavgpool', 'input'), 1e-5));
        const w = randomWeights(graph, 12);
        w.set('bn.running_var', Float32Array.of(1e-4, 5e-4, 2e-3));
        const x = randomArray([2, 3, 4, 6], 13);
        const ref = refBatchNorm(refMeanHW(x), w, 'bn', 1e-5);
        expect(maxAbsDiff(await runEmitted(format, graph, w, x, backend), ref)).toBeLessThan(1e-4);
        const defaultEps = tfl.layers.batchNormalization({}).getConfig().epsilon as number;
        expect(defaultEps).toBe(1e-3);
        const [g, b, m, v] = ['weight', 'bias', 'running_mean', 'running_var'].map((r) => tf.tensor1d(w.get(`bn.${r}`)!));
        const naiveBn = naive(x, (t) => tf.batchNorm(tf.mean(t, [1, 2], true), m!, v!, b!, g!, defaultEps));
        expect(maxAbsDiff(naiveBn, ref)).toBeGreaterThan(0.1);
      });

      it(`global average pool keeps H, W as 1×1 so it broadcasts over each image of a batch [${backend}]`, async () => {
        const graph = tinyGraph(3, (g) => g.binary('sum', 'add', g.unary('gap', 'globalavgpool', 'input'), 'input'));
        const x = randomArray([2, 3, 4, 5], 14);
        const mean = refMeanHW(x);
        const ref: NdArray = { ...x, data: (x.data as Float32Array).map((v, i) => v + (mean.data as Float32Array)[Math.floor(i / 20)]!) };
        expect(maxAbsDiff(await runEmitted(format, graph, new Map(), x, backend), ref)).toBeLessThan(TOL);
        // GlobalAveragePooling2D alone gives N×C, which broadcasts against N×H×W×C by its trailing axes.
        expect(() => naive(x, (t) => tf.add(t, tfl.layers.globalAveragePooling2d({}).apply(t) as tf.Tensor))).toThrow();
      });
    }
  });
}

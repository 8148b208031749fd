/**
 * The reference interpreter of the IR: every op in float64 with plain loops, with exactly the
 * semantics the emitters promise (half-pixel bilinear, asymmetric/floor nearest, count_include_pad
 * or exclusive average pooling as the node says, max-pool padded with −∞, BatchNorm unfused). It is
 * the oracle when no golden set exists and the source of every intermediate tensor `diff` needs.
 */
import type { WeightMap } from '../ir/fold.js';
import type { ConvAttrs, Graph, Node, PoolAttrs, ResizeAttrs } from '../ir/graph.js';
import { inferShapes } from '../ir/shapes.js';
import { fail } from '../util/errors.js';
import { formatBytes, LIMITS } from '../util/limits.js';

/** An NCHW (or N×H×W for argmax) float64 tensor. */
export interface Tensor64 { shape: number[]; data: Float64Array }

export interface InterpretOptions {
  /**
   * Tensors to keep besides the graph's outputs: 'all', or a list of names. Others are dropped as
   * soon as their last consumer has run, so a plain inference holds only the live set.
   */
  keep?: 'all' | string[];
}

/**
 * The interpreter's bounds, checked before any arithmetic: the float64 values alive at once (8 B each) plus
 * the float32 copies of the outputs against LIMITS.modelMemory (`--max-memory`, the one budget every
 * runtime's run is held to), and its work (multiply-accumulates of the convolutions plus one per value
 * any other op computes) against LIMITS.referenceWork (`--budget reference-work`).
 */
export function referenceEstimate(graph: Graph, inputShape: number[], keep: 'all' | Set<string>): { bytes: number; work: number } {
  const shapes = inferShapes(graph, inputShape);
  const keepAll = keep === 'all';
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((n, i) => { for (const t of n.inputs) lastUse.set(t, i); });
  let live = size(inputShape);
  let peak = live;
  let work = 0;
  const liveSet = new Map<string, number>([[graph.input.name, live]]);
  graph.nodes.forEach((n, i) => {
    const v = size(shapes.get(n.name)!);
    const a = n.attrs;
    work += a.op === 'conv' ? v * (a.inChannels / a.groups) * a.kernel * a.kernel : v;
    live += v;
    liveSet.set(n.name, v);
    peak = Math.max(peak, live);
    for (const t of new Set(n.inputs)) {
      if (lastUse.get(t) === i && !keepAll && !(keep as Set<string>).has(t) && liveSet.has(t)) { live -= liveSet.get(t)!; liveSet.delete(t); }
    }
  });
  const outputs = graph.outputs.reduce((s, o) => s + size(shapes.get(o.tensor) ?? []), 0);
  return { bytes: peak * 8 + outputs * 4, work };
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function conv(x: Tensor64, a: ConvAttrs, w: Float32Array, b: Float32Array | undefined, outShape: number[]): Tensor64 {
  const [n, , h, wd] = x.shape as [number, number, number, number];
  const [, oc, oh, ow] = outShape as [number, number, number, number];
  const k = a.kernel;
  const s = a.stride;
  const [pt, pl] = a.pads;
  const icg = a.inChannels / a.groups;
  const ocg = a.outChannels / a.groups;
  const out = new Float64Array(size(outShape));
  const xs = x.data;
  const planeIn = h * wd;
  const planeOut = oh * ow;
  // Valid output column range for each kernel column: ix = ox·s − pl + kx must lie in [0, W).
  const oxLo: number[] = [];
  const oxHi: number[] = [];
  for (let kx = 0; kx < k; kx++) {
    oxLo.push(Math.max(0, Math.ceil((pl - kx) / s)));
    oxHi.push(Math.min(ow - 1, Math.floor((wd - 1 + pl - kx) / s)));
  }
  for (let bn = 0; bn < n; bn++) {
    for (let o = 0; o < oc; o++) {
      const g = Math.floor(o / ocg);
      const ob = (bn * oc + o) * planeOut;
      const bias = b ? b[o]! : 0;
      for (let p = 0; p < planeOut; p++) out[ob + p] = bias;
      for (let ic = 0; ic < icg; ic++) {
        const ib = (bn * a.inChannels + g * icg + ic) * planeIn;
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const wv = w[((o * icg + ic) * k + ky) * k + kx]!;
            if (wv === 0) continue;
            const lo = oxLo[kx]!;
            const hi = oxHi[kx]!;
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * s - pt + ky;
              if (iy < 0 || iy >= h) continue;
              const orow = ob + oy * ow;
              const irow = ib + iy * wd - pl + kx;
              for (let ox = lo; ox <= hi; ox++) out[orow + ox] += wv * xs[irow + ox * s]!;
            }
          }
        }
      }
    }
  }
  return { shape: outShape, data: out };
}

function batchnorm(x: Tensor64, eps: number, gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array): Tensor64 {
  const [n, c] = x.shape as [number, number];
  const plane = size(x.shape.slice(2));
  const out = new Float64Array(x.data.length);
  for (let bn = 0; bn < n; bn++) {
    for (let ch = 0; ch < c; ch++) {
      const scale = gamma[ch]! / Math.sqrt(variance[ch]! + eps);
      const m = mean[ch]!;
      const bt = beta[ch]!;
      const base = (bn * c + ch) * plane;
      for (let p = 0; p < plane; p++) out[base + p] = (x.data[base + p]! - m) * scale + bt;
    }
  }
  return { shape: x.shape.slice(), data: out };
}

function pool(x: Tensor64, a: PoolAttrs, outShape: number[]): Tensor64 {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [, , oh, ow] = outShape as [number, number, number, number];
  const [pt, pl, pb, pr] = a.pads;
  const out = new Float64Array(size(outShape));
  for (let plane = 0; plane < n * c; plane++) {
    const ib = plane * h * w;
    const ob = plane * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const y0 = oy * a.stride - pt;
        const x0 = ox * a.stride - pl;
        let acc = a.op === 'maxpool' ? -Infinity : 0; // padding is −∞ for max, 0 for average
        let inside = 0;
        let padded = 0;
        for (let ky = 0; ky < a.kernel; ky++) {
          const iy = y0 + ky;
          for (let kx = 0; kx < a.kernel; kx++) {
            const ix = x0 + kx;
            if (iy >= -pt && iy < h + pb && ix >= -pl && ix < w + pr) padded++;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            inside++;
            const v = x.data[ib + iy * w + ix]!;
            acc = a.op === 'maxpool' ? (v > acc || Number.isNaN(v) ? v : acc) : acc + v;
          }
        }
        out[ob + oy * ow + ox] = a.op === 'maxpool' ? acc : acc / (a.countIncludePad ? padded : inside);
      }
    }
  }
  return { shape: outShape, data: out };
}

/** Source coordinates of one axis: nearest asymmetric/floor, or half-pixel linear (clamped below at 0, as PyTorch). */
function axisPlan(mode: ResizeAttrs['mode'], inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const f = new Float64Array(outSize);
  const ratio = inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    if (mode === 'nearest') {
      const src = Math.min(Math.floor(d * ratio), inSize - 1);
      i0[d] = src; i1[d] = src; f[d] = 0;
      continue;
    }
    const src = Math.max(0, (d + 0.5) * ratio - 0.5);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[d] = lo;
    i1[d] = Math.min(lo + 1, inSize - 1);
    f[d] = src - lo;
  }
  return { i0, i1, f };
}

function resize(x: Tensor64, a: ResizeAttrs, outShape: number[]): Tensor64 {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [, , oh, ow] = outShape as [number, number, number, number];
  const ys = axisPlan(a.mode, h, oh);
  const xs = axisPlan(a.mode, w, ow);
  const out = new Float64Array(size(outShape));
  for (let plane = 0; plane < n * c; plane++) {
    const ib = plane * h * w;
    const ob = plane * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      const r0 = ib + ys.i0[oy]! * w;
      const r1 = ib + ys.i1[oy]! * w;
      const fy = ys.f[oy]!;
      for (let ox = 0; ox < ow; ox++) {
        const c0 = xs.i0[ox]!;
        const c1 = xs.i1[ox]!;
        const fx = xs.f[ox]!;
        const top = x.data[r0 + c0]! * (1 - fx) + x.data[r0 + c1]! * fx;
        const bottom = x.data[r1 + c0]! * (1 - fx) + x.data[r1 + c1]! * fx;
        out[ob + oy * ow + ox] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return { shape: outShape, data: out };
}

/** Elementwise add/mul, broadcasting a 1×1 spatial side over H×W (the CE block's global context). */
function binary(x: Tensor64, y: Tensor64, op: 'add' | 'mul', outShape: number[]): Tensor64 {
  const out = new Float64Array(size(outShape));
  const [n, c, h, w] = outShape as [number, number, number, number];
  const plane = h * w;
  const idx = (t: Tensor64) => (t.shape[2] === 1 && t.shape[3] === 1 ? (b: number, ch: number, _p: number) => b * c + ch : (b: number, ch: number, p: number) => (b * c + ch) * plane + p);
  const ix = idx(x);
  const iy = idx(y);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < plane; p++) {
        const u = x.data[ix(b, ch, p)]!;
        const v = y.data[iy(b, ch, p)]!;
        out[(b * c + ch) * plane + p] = op === 'add' ? u + v : u * v;
      }
    }
  }
  return { shape: outShape, data: out };
}

function concat(xs: Tensor64[], outShape: number[]): Tensor64 {
  const [n, c] = outShape as [number, number];
  const plane = size(outShape.slice(2));
  const out = new Float64Array(size(outShape));
  for (let b = 0; b < n; b++) {
    let off = 0;
    for (const t of xs) {
      const tc = t.shape[1]!;
      out.set(t.data.subarray(b * tc * plane, (b + 1) * tc * plane), (b * c + off) * plane);
      off += tc;
    }
  }
  return { shape: outShape, data: out };
}

function globalAvgPool(x: Tensor64, outShape: number[]): Tensor64 {
  const plane = size(x.shape.slice(2));
  const out = new Float64Array(size(outShape));
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let p = 0; p < plane; p++) s += x.data[i * plane + p]!;
    out[i] = s / plane;
  }
  return { shape: outShape, data: out };
}

/** Argmax over channels (first maximum wins, as torch and ONNX do), as float64 indices. */
function argmax(x: Tensor64, outShape: number[]): Tensor64 {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const plane = h * w;
  const out = new Float64Array(size(outShape));
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < plane; p++) {
      let best = 0;
      let bestVal = x.data[b * c * plane + p]!;
      for (let k = 1; k < c; k++) {
        const v = x.data[(b * c + k) * plane + p]!;
        if (v > bestVal) { bestVal = v; best = k; }
      }
      out[b * plane + p] = best;
    }
  }
  return { shape: outShape, data: out };
}

const map = (x: Tensor64, f: (v: number) => number): Tensor64 => ({ shape: x.shape.slice(), data: x.data.map(f) });

function param(weights: WeightMap, name: string): Float32Array {
  const w = weights.get(name);
  if (!w) fail('layout', `no weights for ${name}`);
  return w!;
}

function runNode(node: Node, ins: Tensor64[], outShape: number[], weights: WeightMap): Tensor64 {
  const a = node.attrs;
  const x = ins[0]!;
  const p = (role: string) => param(weights, `${node.name}.${role}`);
  switch (a.op) {
    case 'conv': return conv(x, a, p('weight'), a.bias ? p('bias') : undefined, outShape);
    case 'batchnorm': return batchnorm(x, a.eps, p('weight'), p('bias'), p('running_mean'), p('running_var'));
    case 'relu': return map(x, (v) => (v > 0 ? v : v === 0 || v < 0 ? 0 : v)); // NaN stays NaN
    case 'sigmoid': return map(x, (v) => 1 / (1 + Math.exp(-v)));
    case 'add': case 'mul': return binary(x, ins[1]!, a.op, outShape);
    case 'concat': return concat(ins, outShape);
    case 'globalavgpool': return globalAvgPool(x, outShape);
    case 'maxpool': case 'avgpool': return pool(x, a, outShape);
    case 'resize': return resize(x, a, outShape);
    case 'argmax': return argmax(x, outShape);
  }
}

/**
 * Runs the graph on an NCHW input. Returns the graph outputs (by output name) and every tensor kept
 * (by tensor name), all float64.
 */
export function interpret(graph: Graph, weights: WeightMap, input: { shape: number[]; data: ArrayLike<number> }, opts: InterpretOptions = {}):
  { outputs: Map<string, Tensor64>; tensors: Map<string, Tensor64> } {
  const shapes = inferShapes(graph, input.shape);
  const keepAll = opts.keep === 'all';
  const keep = new Set<string>(keepAll ? [] : opts.keep ?? []);
  for (const o of graph.outputs) keep.add(o.tensor);
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((n, i) => { for (const t of n.inputs) lastUse.set(t, i); });
  // Budgets: memory and work, before any arithmetic.
  const est = referenceEstimate(graph, input.shape, keepAll ? 'all' : keep);
  const classes = graph.outputs.map((o) => shapes.get(o.tensor)?.[1]).find((c) => c !== undefined);
  if (est.bytes > LIMITS.modelMemory) {
    fail('security', `the reference interpreter on [${input.shape.join(', ')}]${classes ? ` (${classes} classes)` : ''} would need about ${formatBytes(est.bytes)} of float64 tensors, more than the limit of ${formatBytes(LIMITS.modelMemory)} (--max-memory); use a smaller input`);
  }
  if (est.work > LIMITS.referenceWork) {
    fail('security', `the reference interpreter on [${input.shape.join(', ')}] would do about ${(est.work / 1e9).toFixed(1)} G multiply-accumulates, more than the limit of ${(LIMITS.referenceWork / 1e9).toFixed(1)} G (--budget reference-work; it runs about 0.37 G per second of CPU); use a smaller input`);
  }
  const values = new Map<string, Tensor64>([[graph.input.name, { shape: input.shape.slice(), data: Float64Array.from(input.data) }]]);
  graph.nodes.forEach((n, i) => {
    values.set(n.name, runNode(n, n.inputs.map((t) => values.get(t)!), shapes.get(n.name)!, weights));
    for (const t of new Set(n.inputs)) if (lastUse.get(t) === i && !keepAll && !keep.has(t)) values.delete(t);
  });
  const outputs = new Map(graph.outputs.map((o) => [o.name, values.get(o.tensor)!]));
  return { outputs, tensors: values };
}

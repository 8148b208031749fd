/**
 * NCHW ↔ NHWC, the one place the layout changes: the tfjs runners in Node and the browser pages
 * (which import this file as compiled JavaScript) both convert here. No Node APIs.
 */
import { fail } from '../util/errors.js';
import type { NdArray } from '../util/ndarray.js';

/** N×C×H×W → N×H×W×C (a copy). */
export function toNhwc(a: NdArray): NdArray {
  if (a.shape.length !== 4) fail('shape', `expected a 4-D N×C×H×W input, got [${a.shape.join(', ')}]`);
  const [n, c, h, w] = a.shape as [number, number, number, number];
  const src = a.data as Float32Array;
  const out = new Float32Array(src.length);
  const hw = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * c * hw;
    for (let ch = 0; ch < c; ch++) {
      const s = base + ch * hw;
      for (let p = 0; p < hw; p++) out[base + p * c + ch] = src[s + p]!;
    }
  }
  return { dtype: 'float32', shape: [n, h, w, c], data: out };
}

/** N×H×W×C → N×C×H×W (a copy); other ranks (labels N×H×W) pass through. */
export function toNchw(shape: number[], data: Float32Array | Int32Array): NdArray {
  const dtype = data instanceof Int32Array ? 'int32' : 'float32';
  if (shape.length !== 4) return { dtype, shape, data: data.slice() };
  const [n, h, w, c] = shape as [number, number, number, number];
  const out = data instanceof Int32Array ? new Int32Array(data.length) : new Float32Array(data.length);
  const hw = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * c * hw;
    for (let p = 0; p < hw; p++) {
      const s = base + p * c;
      for (let ch = 0; ch < c; ch++) out[base + ch * hw + p] = data[s + ch]!;
    }
  }
  return { dtype, shape: [n, c, h, w], data: out };
}

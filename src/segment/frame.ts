/**
 * The per-image path that `segment` and `eval` share: RGB → the model's input (normalised, resized up to
 * a multiple of 32 when needed) → the runtime → class labels at the image's own size. Buffers are kept
 * and reused from frame to frame: at 2048×1024 a fresh input is 25 MB, and allocating it costs more
 * than filling it.
 */
import type { Preprocessing } from '../model-file/presets.js';
import { checkRunMemory, modelLoadBytes, modelRunBytes, UNKNOWN_CLASSES } from '../model-file/memory.js';
import { fail } from '../util/errors.js';
import type { NdArray } from '../util/ndarray.js';
import type { RgbImage } from './image.js';
import type { SegModel } from './model.js';

export type Labels = Uint8Array | Uint16Array;

/** Milliseconds spent per stage, summed over frames. decode and encode run beside inference. */
export interface StageTimes { decode: number; preprocess: number; inference: number; postprocess: number; encode: number }
export const emptyTimes = (): StageTimes => ({ decode: 0, preprocess: 0, inference: 0, postprocess: 0, encode: 0 });

/** The size an image is run at: its own when a multiple of the preset's, else rounded up (the preset's resize rule). */
export function processingSize(width: number, height: number, pre: Preprocessing): { W: number; H: number } {
  const m = pre.size_multiple || 32;
  return { W: Math.ceil(width / m) * m, H: Math.ceil(height / m) * m };
}

/** Half-pixel (PyTorch align_corners=False) sampling positions of `outSize` points over `inSize`. */
function axis(outSize: number, inSize: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(outSize); const i1 = new Int32Array(outSize); const f = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const x = Math.max(0, (o + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(x), inSize - 1);
    i0[o] = lo; i1[o] = Math.min(lo + 1, inSize - 1); f[o] = x - lo;
  }
  return { i0, i1, f };
}

/** Half-pixel bilinear resampling of planar float data (C planes of h×w) to H×W, PyTorch align_corners=False. */
export function resizeBilinearPlanes(src: Float32Array, planes: number, h: number, w: number, H: number, W: number, out = new Float32Array(planes * H * W)): Float32Array {
  const ys = axis(H, h);
  const xs = axis(W, w);
  for (let c = 0; c < planes; c++) {
    const base = c * h * w;
    for (let y = 0; y < H; y++) {
      const r0 = base + ys.i0[y]! * w; const r1 = base + ys.i1[y]! * w; const fy = ys.f[y]!;
      for (let x = 0; x < W; x++) {
        const a = src[r0 + xs.i0[x]!]!; const b = src[r0 + xs.i1[x]!]!; const cc = src[r1 + xs.i0[x]!]!; const d = src[r1 + xs.i1[x]!]!;
        const fx = xs.f[x]!;
        const top = a + (b - a) * fx;
        out[(c * H + y) * W + x] = top + (cc + (d - cc) * fx - top) * fy;
      }
    }
  }
  return out;
}

/** Per input channel: which RGB byte feeds it, and the normalised value of each 0..255 byte, (v·scale − mean) / std. */
interface Luts { src: [number, number, number]; lut: [Float32Array, Float32Array, Float32Array] }

function lookupTables(pre: Preprocessing): Luts {
  // A model recorded as fed BGR gets its first input channel from the blue byte.
  const src: [number, number, number] = (pre.color_order as string) === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const lut = [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = (v * pre.scale - pre.mean[c]!) / pre.std[c]!;
    return t;
  }) as Luts['lut'];
  return { src, lut };
}

/**
 * Writes the image as planar normalised input at H×W into `out` (3·H·W floats). Resizing and
 * normalising commute (both are linear per channel), so the bilinear taps read normalised bytes directly.
 */
export function fillInput(img: RgbImage, pre: Preprocessing, H: number, W: number, out: Float32Array, luts = lookupTables(pre)): void {
  const { width: w, height: h, rgb } = img;
  const plane = H * W;
  if (H === h && W === w) {
    // One pass over the pixels, three planes written (three passes cost ~3× here: the bytes are read thrice).
    const [l0, l1, l2] = luts.lut;
    const [s0, s1, s2] = luts.src;
    for (let p = 0, j = 0; p < plane; p++, j += 3) {
      out[p] = l0[rgb[j + s0]!]!; out[plane + p] = l1[rgb[j + s1]!]!; out[2 * plane + p] = l2[rgb[j + s2]!]!;
    }
    return;
  }
  for (let c = 0; c < 3; c++) {
    const lut = luts.lut[c]!;
    const s = luts.src[c]!;
    const o = out.subarray(c * plane, (c + 1) * plane);
    const ys = axis(H, h);
    const xs = axis(W, w);
    for (let y = 0; y < H; y++) {
      const r0 = ys.i0[y]! * w; const r1 = ys.i1[y]! * w; const fy = ys.f[y]!;
      for (let x = 0; x < W; x++) {
        const x0 = xs.i0[x]!; const x1 = xs.i1[x]!; const fx = xs.f[x]!;
        const a = lut[rgb[3 * (r0 + x0) + s]!]!; const b = lut[rgb[3 * (r0 + x1) + s]!]!;
        const cc = lut[rgb[3 * (r1 + x0) + s]!]!; const d = lut[rgb[3 * (r1 + x1) + s]!]!;
        const top = a + (b - a) * fx;
        o[y * W + x] = top + (cc + (d - cc) * fx - top) * fy;
      }
    }
  }
}

/** The image as the model's 1×3×H×W input (a fresh array; the pipeline fills a reused one instead). */
export function imageToInput(img: RgbImage, pre: Preprocessing, H: number, W: number): NdArray {
  const data = new Float32Array(3 * H * W);
  fillInput(img, pre, H, W, data);
  return { dtype: 'float32', shape: [1, 3, H, W], data };
}

/** Argmax over C planes of H×W logits resized (bilinear, half-pixel) to h×w, row by row, without materialising the resized logits. */
export function argmaxResized(logits: Float32Array, offset: number, C: number, H: number, W: number, h: number, w: number, out: Labels): void {
  const plane = H * W;
  if (H === h && W === w) {
    for (let p = 0; p < plane; p++) {
      let best = 0; let bestVal = logits[offset + p]!;
      for (let k = 1; k < C; k++) { const v = logits[offset + k * plane + p]!; if (v > bestVal) { bestVal = v; best = k; } }
      out[p] = best;
    }
    return;
  }
  const ys = axis(h, H);
  const xs = axis(w, W);
  const row = new Float32Array(C * W);
  for (let y = 0; y < h; y++) {
    const r0 = ys.i0[y]! * W; const r1 = ys.i1[y]! * W; const fy = ys.f[y]!;
    for (let k = 0; k < C; k++) {
      const base = offset + k * plane;
      for (let x = 0; x < W; x++) { const a = logits[base + r0 + x]!; row[k * W + x] = a + (logits[base + r1 + x]! - a) * fy; }
    }
    for (let x = 0; x < w; x++) {
      const x0 = xs.i0[x]!; const x1 = xs.i1[x]!; const fx = xs.f[x]!;
      let best = 0; let bestVal = row[x0]! + (row[x1]! - row[x0]!) * fx;
      for (let k = 1; k < C; k++) {
        const a = row[k * W + x0]!;
        const v = a + (row[k * W + x1]! - a) * fx;
        if (v > bestVal) { bestVal = v; best = k; }
      }
      out[y * w + x] = best;
    }
  }
}

/** In-graph argmax labels (int64 or int32, N×H×W) of frame `i` into `out`. */
function copyLabels(a: NdArray, i: number, plane: number, numClasses: number, label: string, out: Labels): void {
  const d = a.data;
  if (d instanceof BigInt64Array) {
    // Read the low 32 bits of each little-endian int64: BigInt conversion per pixel would cost ~10× more.
    const lo = new Int32Array(d.buffer, d.byteOffset + 8 * i * plane, 2 * plane);
    for (let p = 0; p < plane; p++) { const v = lo[2 * p]!; if (v >= numClasses || v < 0 || lo[2 * p + 1] !== 0) badLabel(label, Number(d[i * plane + p])); out[p] = v; }
  } else if (d instanceof Int32Array || d instanceof Float32Array) {
    for (let p = 0, j = i * plane; p < plane; p++, j++) { const v = d[j]!; if (v >= numClasses || v < 0) badLabel(label, v); out[p] = v; }
  } else {
    fail('runtime', `${label}: labels output of dtype ${a.dtype} is not supported`);
  }
}

function badLabel(label: string, v: number): never {
  return fail('runtime', `${label}: the labels output holds ${v}, outside the model's classes`);
}

export interface FrameInput { image: RgbImage }

/** Runs frames through a model: one reused input buffer per size, labels into buffers from a pool. */
export class FrameRunner {
  readonly times = emptyTimes();
  /** Pixels per class over every frame run (for the summary). */
  counts: Float64Array | null;
  private readonly luts: Luts;
  private input: Float32Array | null = null;
  private readonly free: Labels[] = [];
  constructor(readonly model: SegModel, private readonly littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
    this.luts = lookupTables(model.info.pre);
    this.counts = model.info.numClasses ? new Float64Array(model.info.numClasses) : null;
  }

  get numClasses(): number | null { return this.model.info.numClasses; }

  /** A labels buffer for `n` pixels (reused when one is free); give it back with `release`. */
  acquire(n: number): Labels {
    const C = this.numClasses ?? 256;
    const i = this.free.findIndex((b) => b.length === n);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    return C <= 256 ? new Uint8Array(n) : new Uint16Array(n);
  }

  release(b: Labels): void {
    if (this.free.length < 8) this.free.push(b);
  }

  /** Frames of one processing size, in one batch; returns each frame's labels at its own size. */
  async run(frames: FrameInput[]): Promise<Labels[]> {
    const { pre } = this.model.info;
    const first = frames[0]!.image;
    // A model of one fixed input size (TFLite) runs every image at that size, resized there and back.
    const fixed = this.model.runner.fixedInput;
    const sizeOf = (w: number, h: number) => (fixed ? { W: fixed[3]!, H: fixed[2]! } : processingSize(w, h, pre));
    const { W, H } = sizeOf(first.width, first.height);
    const n = frames.length;
    if (fixed && n !== fixed[0]) fail('usage', `${this.model.label} takes batches of ${fixed[0]} (fixed when converting: --shapes); segment with --batch ${fixed[0]}`);
    // The model's memory for this batch, before anything is allocated (--max-memory).
    checkRunMemory(this.model.label, modelLoadBytes(this.model.modelBytes ?? 0) + modelRunBytes(n, H, W, this.numClasses ?? UNKNOWN_CLASSES) + n * first.width * first.height * 8,
      `segmenting ${n} image${n > 1 ? 's' : ''} of ${first.width}×${first.height} (run at ${W}×${H})`);
    let t = performance.now();
    const need = n * 3 * H * W;
    if (!this.input || this.input.length < need) this.input = new Float32Array(need);
    const x = this.input.subarray(0, need);
    frames.forEach((f, i) => {
      const s = sizeOf(f.image.width, f.image.height);
      if (s.W !== W || s.H !== H) fail('usage', 'a batch mixes processing sizes (a bug in the caller)');
      fillInput(f.image, pre, H, W, x.subarray(i * 3 * H * W, (i + 1) * 3 * H * W), this.luts);
    });
    this.times.preprocess += performance.now() - t;

    t = performance.now();
    const exact = frames.every((f) => f.image.width === W && f.image.height === H);
    // The in-graph argmax where it gives the answer directly; logits where they must be resized back first.
    const useLabels = exact && this.model.labelsOutput !== null && this.numClasses !== null && this.littleEndian;
    const want = useLabels ? this.model.labelsOutput! : this.model.logitsOutput;
    const { runner } = this.model;
    const out = await runner.run({ [runner.inputNames[0]!]: { dtype: 'float32', shape: [n, 3, H, W], data: x } }, { outputs: [want] });
    const y = out[want];
    if (!y) fail('runtime', `${this.model.label}: the runtime returned no ${want} output`);
    this.times.inference += performance.now() - t;

    t = performance.now();
    let C = this.numClasses;
    if (!useLabels) {
      if (y!.dtype !== 'float32' || y!.shape.length !== 4 || y!.shape[0] !== n || y!.shape[2] !== H || y!.shape[3] !== W) {
        fail('runtime', `${this.model.label}: output ${want} has shape [${y!.shape}], expected [${n}, classes, ${H}, ${W}]`);
      }
      if (C !== null && y!.shape[1] !== C) fail('format', `${this.model.label}: the model records ${C} classes but outputs ${y!.shape[1]}`);
      C = y!.shape[1]!;
      if (this.model.info.numClasses === null) { this.model.info.numClasses = C; this.counts = new Float64Array(C); }
    }
    const labels: Labels[] = [];
    frames.forEach((f, i) => {
      const { width: w, height: h } = f.image;
      const buf = this.acquire(w * h);
      if (useLabels) copyLabels(y!, i, H * W, C!, this.model.label, buf);
      else argmaxResized(y!.data as Float32Array, i * C! * H * W, C!, H, W, h, w, buf);
      const counts = new Uint32Array(C!);
      for (let p = 0; p < buf.length; p++) counts[buf[p]!]++;
      counts.forEach((v, k) => { this.counts![k] += v; });
      labels.push(buf);
    });
    this.times.postprocess += performance.now() - t;
    return labels;
  }

  async dispose(): Promise<void> { await this.model.runner.dispose(); }
}

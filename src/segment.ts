import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { Family } from './models/bisenetv2.js';
import { readRecordedMetadata, type RecordedMetadata } from './model-metadata.js';
import { CITYSCAPES_PALETTE, preprocessingFor, type Dataset, type Preprocessing } from './presets.js';
import { loadRunner, type RunnerOptions } from './runtime/index.js';
import { fail } from './util/errors.js';
import { readFileChecked } from './util/fs.js';
import { LIMITS } from './util/limits.js';
import { checkPng } from './util/png-check.js';
import { checkRunMemory, modelRunBytes, UNKNOWN_CLASSES } from './run-memory.js';
import type { NdArray } from './util/ndarray.js';

/**
 * Segmenting an image, as the reference doc says users do it: RGB, scaled and normalised with the
 * model's preset, resized (bilinear, half-pixel) up to a multiple of 32, logits resized back to the
 * image, argmax over classes, coloured with the dataset's palette.
 */
export interface RgbImage { width: number; height: number; rgb: Uint8Array }

/** Largest image accepted (pixels), so a hostile header cannot make the decoder allocate gigabytes. */
const maxPixels = (): number => LIMITS.imagePixels;

export function decodeImage(bytes: Uint8Array, label: string): RgbImage {
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
      // The decoder allocates width×height×4 from the header before reading any pixel: every chunk is checked first.
      checkPng(bytes, label);
      const png = PNG.sync.read(Buffer.from(bytes));
      ({ width, height } = png);
      rgba = png.data;
    } else if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels() / 1e6, maxMemoryUsageInMB: Math.ceil((maxPixels() * 8) / 2 ** 20) });
      ({ width, height } = img);
      rgba = img.data;
    } else {
      return fail('format', `${label}: not a PNG or JPEG image`);
    }
  } catch (e) {
    if ((e as Error).name === 'BisenetError') throw e;
    return fail('format', `${label}: cannot decode the image (${(e as Error).message})`);
  }
  if (width * height > maxPixels()) fail('format', `${label}: ${width}×${height} is larger than ${maxPixels()} pixels`);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) { rgb[3 * i] = rgba[j]!; rgb[3 * i + 1] = rgba[j + 1]!; rgb[3 * i + 2] = rgba[j + 2]!; }
  return { width, height, rgb };
}

/** Half-pixel bilinear resampling of planar float data (C planes of h×w) to H×W, PyTorch align_corners=False. */
export function resizeBilinearPlanes(src: Float32Array, planes: number, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(planes * H * W);
  const axis = (outSize: number, inSize: number) => {
    const i0 = new Int32Array(outSize); const i1 = new Int32Array(outSize); const f = new Float32Array(outSize);
    const scale = inSize / outSize;
    for (let o = 0; o < outSize; o++) {
      const x = Math.max(0, (o + 0.5) * scale - 0.5);
      const lo = Math.min(Math.floor(x), inSize - 1);
      i0[o] = lo; i1[o] = Math.min(lo + 1, inSize - 1); f[o] = x - lo;
    }
    return { i0, i1, f };
  };
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

/** The preprocessing recorded in a model we exported (ONNX metadata_props or tfjs userDefinedMetadata), checked against its schema. */
export function modelPreprocessing(modelPath: string): RecordedMetadata {
  return readRecordedMetadata(modelPath);
}

/** The image as the model's N×3×H×W input at `H`×`W`. */
export function imageToInput(img: RgbImage, pre: Preprocessing, H: number, W: number): NdArray {
  const { width: w, height: h } = img;
  const planes = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) planes[c * h * w + i] = (img.rgb[3 * i + c]! * pre.scale - pre.mean[c]!) / pre.std[c]!;
  const data = H === h && W === w ? planes : resizeBilinearPlanes(planes, 3, h, w, H, W);
  return { dtype: 'float32', shape: [1, 3, H, W], data };
}

/** A palette for any class count: the dataset's where known, else PASCAL VOC's bit-interleaved colour map. */
export function paletteFor(numClasses: number, known: number[][] | null): number[][] {
  if (known && known.length >= numClasses) return known;
  return Array.from({ length: numClasses }, (_, index) => {
    let r = 0; let g = 0; let b = 0; let k = index;
    for (let bit = 7; bit >= 0 && k > 0; bit--, k >>= 3) { r |= (k & 1) << bit; g |= ((k >> 1) & 1) << bit; b |= ((k >> 2) & 1) << bit; }
    return [r, g, b];
  });
}

export interface SegmentOptions extends RunnerOptions {
  runtime?: string;
  /** Where the model carries no preset: take it from this family and dataset. */
  family?: Family;
  dataset?: Dataset;
}

export interface Segmentation { width: number; height: number; numClasses: number; labels: Uint8Array | Uint16Array; palette: number[][] }

export async function segmentImage(modelPath: string, imagePath: string, opts: SegmentOptions = {}): Promise<Segmentation> {
  const img = decodeImage(readFileChecked(imagePath, 'image'), imagePath);
  const found = modelPreprocessing(modelPath);
  const pre = found.pre ?? (opts.dataset ? preprocessingFor(opts.family ?? 'coincheung', opts.dataset) : null);
  if (!pre) fail('usage', `${modelPath} records no preprocessing; pass --dataset (and --family) to choose one`);
  const m = pre!.size_multiple || 32;
  const H = Math.ceil(img.height / m) * m;
  const W = Math.ceil(img.width / m) * m;
  // Before the run: the model at H×W, plus our copies (input planes, logits resized back, labels, PNG).
  const classes = found.numClasses ?? UNKNOWN_CLASSES;
  const px = img.width * img.height;
  checkRunMemory(imagePath, modelRunBytes(1, H, W, classes) + 12 * H * W + px * (4 + 3 + 12 + 4 * classes + 2 + 4), `segmenting ${img.width}×${img.height} (${classes} classes)`);
  const runner = await loadRunner(modelPath, opts.runtime, opts);
  let logits: NdArray;
  try {
    const out = await runner.run({ [runner.inputNames[0]!]: imageToInput(img, pre!, H, W) });
    logits = out.logits ?? out[runner.outputNames[0]!]!;
  } finally {
    await runner.dispose();
  }
  const numClasses = logits.shape[1]!;
  const back = H === img.height && W === img.width ? (logits.data as Float32Array)
    : resizeBilinearPlanes(logits.data as Float32Array, numClasses, H, W, img.height, img.width);
  const n = img.width * img.height;
  const labels = numClasses <= 256 ? new Uint8Array(n) : new Uint16Array(n);
  for (let p = 0; p < n; p++) {
    let best = 0; let bestVal = back[p]!;
    for (let k = 1; k < numClasses; k++) { const v = back[k * n + p]!; if (v > bestVal) { bestVal = v; best = k; } }
    labels[p] = best;
  }
  return { width: img.width, height: img.height, numClasses, labels, palette: paletteFor(numClasses, found.palette ?? (numClasses === 19 ? CITYSCAPES_PALETTE : null)) };
}

/** A PNG of the segmentation: coloured with the palette, or raw class indices (8- or 16-bit grey). */
export function encodeSegmentation(s: Segmentation, raw = false): Uint8Array {
  if (raw && s.numClasses > 256) fail('usage', `--raw writes 8-bit class indices; this model has ${s.numClasses} classes`);
  const png = new PNG({ width: s.width, height: s.height });
  for (let p = 0; p < s.labels.length; p++) {
    const k = s.labels[p]!;
    const [r, g, b] = raw ? [k & 0xff, k & 0xff, k & 0xff] : s.palette[k]!;
    png.data[4 * p] = r!; png.data[4 * p + 1] = g!; png.data[4 * p + 2] = b!; png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png);
}

import { numel, shapeStr, sameShape, toFloat32, type NdArray } from '../util/ndarray.js';

/** Statistics of one output against its reference. */
export interface OutputStats {
  name: string;
  shape: number[];
  /** max |actual − reference| (NaN anywhere makes it Infinity) */
  maxAbs: number;
  meanAbs: number;
  /** max |reference| */
  maxRef: number;
  /** maxAbs / maxRef */
  relMax: number;
  /** share of pixels whose argmax over classes agrees (null where the output has no class axis) */
  labelAgreement: number | null;
  mismatchedPixels: number | null;
  pass: boolean;
  problem?: string;
}

export interface Tolerance {
  /** max |Δ| ≤ rel × max|reference| */
  rel: number;
  /** argmax agreement ≥ this share */
  minAgreement: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { rel: 1e-4, minAgreement: 0.9999 };

/** Argmax over axis 1 of an N×C×H×W array, as N×H×W labels (first maximum wins, as torch does). */
export function argmaxChannels(a: NdArray): Int32Array {
  const [n, c, h, w] = a.shape as [number, number, number, number];
  const x = toFloat32(a);
  const hw = h * w;
  const out = new Int32Array(n * hw);
  for (let b = 0; b < n; b++) {
    const base = b * c * hw;
    for (let p = 0; p < hw; p++) {
      let best = 0;
      let bestVal = x[base + p]!;
      for (let k = 1; k < c; k++) {
        const v = x[base + k * hw + p]!;
        if (v > bestVal) { bestVal = v; best = k; }
      }
      out[b * hw + p] = best;
    }
  }
  return out;
}

function labelsOf(a: NdArray): Int32Array {
  const out = new Int32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(a.data[i]!);
  return out;
}

function agreement(a: Int32Array, b: Int32Array): { share: number; mismatched: number } {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return { share: a.length ? same / a.length : 1, mismatched: a.length - same };
}

const isIntegral = (a: NdArray): boolean => a.dtype === 'int64' || a.dtype === 'int32' || a.dtype === 'uint8';

const NOT_COMPARED = { maxAbs: NaN, meanAbs: NaN, maxRef: NaN, relMax: NaN, labelAgreement: null, mismatchedPixels: null, pass: false } as const;

/** Compares one output with its reference; integral outputs (labels) are compared as labels. */
export function compareOutput(name: string, actual: NdArray, reference: NdArray, tol: Tolerance): OutputStats {
  const base = { name, shape: reference.shape };
  if (!sameShape(actual.shape, reference.shape)) {
    // Not compared: no figure stands for a comparison that did not happen (NaN prints as '-').
    const classes = actual.shape.length === reference.shape.length && actual.shape.every((d, i) => i === 1 || d === reference.shape[i]);
    return { ...base, ...NOT_COMPARED,
      problem: `shape ${shapeStr(actual.shape)} differs from the reference's ${shapeStr(reference.shape)}${classes ? ` (the golden set is of a ${reference.shape[1]}-class model, this model has ${actual.shape[1]} classes)` : ''}` };
  }
  if (isIntegral(reference) !== isIntegral(actual)) {
    // Labels against values (or values against labels) of one shape: a reference saved with the wrong dtype
    // (logits truncated to integers) would otherwise pass on argmax alone.
    return { ...base, ...NOT_COMPARED,
      problem: `the reference holds ${reference.dtype} values and the output ${actual.dtype}: one is class indices and the other is not` };
  }
  if (isIntegral(reference)) {
    const ag = agreement(labelsOf(actual), labelsOf(reference));
    return { ...base, maxAbs: NaN, meanAbs: NaN, maxRef: NaN, relMax: NaN, labelAgreement: ag.share, mismatchedPixels: ag.mismatched, pass: ag.share >= tol.minAgreement };
  }
  const x = toFloat32(actual);
  const r = toFloat32(reference);
  let maxAbs = 0;
  let sumAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < r.length; i++) {
    const d = Math.abs(x[i]! - r[i]!);
    if (Number.isNaN(d)) { maxAbs = Infinity; sumAbs = Infinity; continue; }
    if (d > maxAbs) maxAbs = d;
    sumAbs += d;
    const m = Math.abs(r[i]!);
    if (m > maxRef) maxRef = m;
  }
  const relMax = maxRef > 0 ? maxAbs / maxRef : maxAbs;
  let labelAgreement: number | null = null;
  let mismatchedPixels: number | null = null;
  if (reference.shape.length === 4 && reference.shape[1]! > 1) {
    const ag = agreement(argmaxChannels(actual), argmaxChannels(reference));
    labelAgreement = ag.share;
    mismatchedPixels = ag.mismatched;
  }
  const pass = relMax <= tol.rel && (labelAgreement === null || labelAgreement >= tol.minAgreement);
  return { ...base, maxAbs, meanAbs: numel(reference.shape) ? sumAbs / r.length : 0, maxRef, relMax, labelAgreement, mismatchedPixels, pass };
}

/**
 * Compares every output a model produced with the reference of the same name. Where the references
 * hold `labels` but the model has none, its logits are reduced by argmax and compared with them.
 * References are read on demand. Used by verify in Node and by the browser page's device check.
 */
export function compareOutputs(outputs: Record<string, NdArray>, references: Map<string, () => NdArray>, tol: Tolerance): { stats: OutputStats[]; skipped: string[] } {
  const stats: OutputStats[] = [];
  const skipped: string[] = [];
  for (const [name, read] of references) {
    const actual = outputs[name];
    if (actual) { stats.push(compareOutput(name, actual, read(), tol)); continue; }
    if (name === 'labels' && outputs.logits) {
      const labels: NdArray = { dtype: 'int32', shape: [outputs.logits.shape[0]!, ...outputs.logits.shape.slice(2)], data: argmaxChannels(outputs.logits) };
      stats.push({ ...compareOutput(name, labels, read(), tol), name: 'labels (argmax of logits)' });
      continue;
    }
    skipped.push(name);
  }
  return { stats, skipped };
}

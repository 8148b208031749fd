/**
 * calib.json, what `bisenet calibrate` writes and the int8 emitters read: per tensor of the model
 * (IR names, which every emitter keeps), the range seen over the calibration images and the
 * thresholds a quantizer may pick from. Symmetric int8 (ONNX QDQ for TensorRT, TensorRT's cache)
 * takes one threshold T per tensor, scale = T / 127; an asymmetric int8 quantizer (TFLite) takes
 * [low, high] (min/max, or the percentile's tails), scale = (high − low) / 255.
 */
import { fail } from '../util/errors.js';

export const CALIBRATION_FORMAT = 'bisenet-calibration';
export type Statistic = 'entropy' | 'percentile' | 'minmax';
export const STATISTICS: Statistic[] = ['entropy', 'percentile', 'minmax'];

export interface TensorRange {
  /** values seen (elements over every image) */
  count: number;
  min: number;
  max: number;
  /** max |x| */
  absmax: number;
  /** the percentile's thresholds: of |x| (symmetric), and the signed low/high tails (asymmetric) */
  percentile: { abs: number; low: number; high: number };
  /** the |x| threshold TensorRT's entropy calibrator (EntropyCalibration2) picks */
  entropy: number;
}

export interface Calibration {
  format: typeof CALIBRATION_FORMAT;
  version: 1;
  model: { source: string; family: string | null; num_classes: number | null; input: string };
  preprocessing: unknown;
  images: { dir: string; count: number; files: string[]; sizes: string[] };
  histogram: { bins: number; levels: number };
  /** the percentile used (e.g. 99.99) */
  percentile: number;
  tensors: Record<string, TensorRange>;
}

/** The symmetric threshold T (scale T / 127) a statistic gives a tensor. */
export function threshold(r: TensorRange, s: Statistic): number {
  switch (s) {
    case 'entropy': return r.entropy;
    case 'percentile': return r.percentile.abs;
    case 'minmax': return r.absmax;
  }
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks parsed calib.json (a file anyone can edit) before any of it is used. */
export function validateCalibration(raw: unknown, label: string): Calibration {
  const bad = (why: string): never => fail('format', `${label}: ${why} (write it with bisenet calibrate)`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('not a calibration file');
  const c = raw as Record<string, unknown>;
  if (c.format !== CALIBRATION_FORMAT) bad(`format is not "${CALIBRATION_FORMAT}"`);
  if (c.version !== 1) bad(`version ${String(c.version)} is not supported (1)`);
  const tensors = c.tensors;
  if (typeof tensors !== 'object' || tensors === null || Array.isArray(tensors)) bad('no tensors');
  const entries = Object.entries(tensors as Record<string, unknown>);
  if (entries.length === 0 || entries.length > 100_000) bad(`${entries.length} tensors`);
  for (const [name, t] of entries) {
    const r = t as Record<string, unknown> | null;
    const p = r?.percentile as Record<string, unknown> | undefined;
    const ok = r && finite(r.min) && finite(r.max) && finite(r.absmax) && finite(r.entropy) && finite(r.count) && p && finite(p.abs) && finite(p.low) && finite(p.high)
      && r.absmax >= 0 && r.entropy >= 0 && p.abs >= 0 && r.min <= r.max;
    if (!ok) bad(`tensor ${name.slice(0, 100)} has no valid range (finite min ≤ max, absmax, entropy, percentile)`);
  }
  const model = c.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== 'object' || typeof model.input !== 'string' || typeof model.source !== 'string') bad('no model.input or model.source');
  if (model!.family !== null && typeof model!.family !== 'string') bad('model.family is neither a name nor null');
  if (model!.num_classes !== null && !(Number.isInteger(model!.num_classes) && (model!.num_classes as number) > 0)) bad('model.num_classes is neither a positive integer nor null');
  const images = c.images as Record<string, unknown> | undefined;
  if (!images || typeof images !== 'object' || !Number.isInteger(images.count) || (images.count as number) < 1 || typeof images.dir !== 'string') bad('no images.count and images.dir');
  return raw as Calibration;
}

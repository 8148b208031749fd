import type { Family } from '../models/bisenetv2.js';
import { fail } from '../util/errors.js';

/**
 * How each family's checkpoints expect their input, per dataset (facts from the reference doc and the
 * families' configs), plus class names and palette where the dataset fixes them. Stored in every exported
 * model's metadata so a consumer knows how to feed it: RGB, x·scale, then (x − mean) / std per channel,
 * H and W resized (bilinear) up to a multiple of 32, logits resized back, argmax.
 */
export type Dataset = 'cityscapes' | 'ade20k' | 'coco-stuff';
export const DATASETS: Dataset[] = ['cityscapes', 'ade20k', 'coco-stuff'];

export interface Preprocessing {
  /** the order the model takes its channels in (our exports: RGB; BGR where a model records it) */
  color_order: 'RGB' | 'BGR';
  /** multiply 0..255 pixels by this first */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  size_multiple: number;
  resize: string;
}

const CLASS_COUNT: Record<Dataset, number> = { cityscapes: 19, ade20k: 150, 'coco-stuff': 171 };

const COINCHEUNG_STATS: Record<Dataset, { mean: [number, number, number]; std: [number, number, number] }> = {
  cityscapes: { mean: [0.3257, 0.369, 0.3223], std: [0.2112, 0.2148, 0.2115] },
  'coco-stuff': { mean: [0.46962251, 0.4464104, 0.40718787], std: [0.27469736, 0.27012361, 0.28515933] },
  ade20k: { mean: [0.4934323, 0.46819794, 0.43106043], std: [0.25680755, 0.25506608, 0.27422913] },
};

const RESIZE = 'bilinear up to a multiple of 32; logits resized back to the image, then argmax over classes';

export const CITYSCAPES_CLASSES = ['road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation',
  'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle'];
export const CITYSCAPES_PALETTE: [number, number, number][] = [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153],
  [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142],
  [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32]];

export function preprocessingFor(family: Family, dataset: Dataset): Preprocessing {
  const base = { color_order: 'RGB' as const, size_multiple: 32, resize: RESIZE };
  switch (family) {
    case 'coincheung': return { ...base, scale: 1 / 255, ...COINCHEUNG_STATS[dataset] };
    // mmsegmentation normalises 0..255 pixels with ImageNet statistics for every dataset.
    case 'mmseg': return { ...base, scale: 1, mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] };
    // PaddleSeg's Normalize transform defaults: 0..1 pixels, mean 0.5, std 0.5.
    case 'paddleseg': return { ...base, scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  }
}

/** The dataset a class count implies (19 Cityscapes, 150 ADE20k, 171 COCO-Stuff), or null. */
export function datasetForClasses(numClasses: number): Dataset | null {
  return DATASETS.find((d) => CLASS_COUNT[d] === numClasses) ?? null;
}

/**
 * Metadata for an exported model: string key → string value (ONNX metadata_props and tfjs
 * userDefinedMetadata both take this). `dataset` 'none' records no preprocessing.
 */
export function modelMetadataFor(family: Family, numClasses: number, dataset?: Dataset | 'none'): Record<string, string> {
  const d = dataset === undefined ? datasetForClasses(numClasses) : dataset === 'none' ? null : dataset;
  if (d && CLASS_COUNT[d] !== numClasses) fail('usage', `--dataset ${d} has ${CLASS_COUNT[d]} classes, the checkpoint ${numClasses}`);
  if (!d) return { dataset: 'unknown' };
  const meta: Record<string, string> = { dataset: d, preprocessing: JSON.stringify(preprocessingFor(family, d)) };
  if (d === 'cityscapes') {
    meta.class_names = JSON.stringify(CITYSCAPES_CLASSES);
    meta.palette = JSON.stringify(CITYSCAPES_PALETTE);
  }
  return meta;
}

/**
 * Recorded metadata is read back from model files anyone can edit: each field is checked against
 * this schema before use, and a field that does not fit is refused (exit 2) naming it, rather than
 * trusted as shaped (a `size_multiple` of 10⁶ would ask for gigabytes; a missing `mean` would crash).
 */
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const triple = (v: unknown, ok: (x: number) => boolean): v is [number, number, number] =>
  Array.isArray(v) && v.length === 3 && v.every((x) => finite(x) && ok(x));

/** Largest size multiple a recorded preprocessing may ask for (BiSeNetV2 needs 32). */
export const MAX_SIZE_MULTIPLE = 256;
/** Largest recorded class count / palette (the checkpoint readers accept any). */
export const MAX_RECORDED_CLASSES = 100_000;

export function validatePreprocessing(raw: unknown, label: string): Preprocessing {
  const bad = (why: string): never => fail('format', `${label}: the recorded preprocessing ${why}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('is not an object');
  const p = raw as Record<string, unknown>;
  if (p.color_order !== undefined && p.color_order !== 'RGB' && p.color_order !== 'BGR') bad('has a color_order other than "RGB" or "BGR"');
  if (!finite(p.scale) || p.scale <= 0) bad('has no positive finite scale');
  if (!triple(p.mean, () => true)) bad('has no mean of three finite numbers');
  if (!triple(p.std, (x) => x > 0)) bad('has no std of three positive finite numbers');
  const m = p.size_multiple ?? 32;
  if (!Number.isInteger(m) || (m as number) < 1 || (m as number) > MAX_SIZE_MULTIPLE) bad(`has size_multiple ${typeof m === 'number' ? m : typeof m}, not an integer in 1–${MAX_SIZE_MULTIPLE}`);
  return { color_order: p.color_order === 'BGR' ? 'BGR' : 'RGB', scale: p.scale as number, mean: p.mean as [number, number, number], std: p.std as [number, number, number],
    size_multiple: m as number, resize: typeof p.resize === 'string' ? p.resize : RESIZE };
}

export function validatePalette(raw: unknown, label: string): number[][] {
  const ok = Array.isArray(raw) && raw.length >= 1 && raw.length <= MAX_RECORDED_CLASSES
    && raw.every((c) => Array.isArray(c) && c.length === 3 && c.every((x) => Number.isInteger(x) && x >= 0 && x <= 255));
  if (!ok) fail('format', `${label}: the recorded palette is not a list of [r, g, b] colours (integers 0–255)`);
  return raw as number[][];
}

/** Class names: at most MAX_RECORDED_CLASSES printable strings of at most 200 characters. */
export function validateClassNames(raw: unknown, label: string): string[] {
  const ok = Array.isArray(raw) && raw.length >= 1 && raw.length <= MAX_RECORDED_CLASSES
    && raw.every((s) => typeof s === 'string' && s.length <= 200 && !/[\u0000-\u001f\u007f-\u009f]/.test(s));
  if (!ok) fail('format', `${label}: the recorded class_names are not a list of printable names (at most ${MAX_RECORDED_CLASSES}, 200 characters each)`);
  return raw as string[];
}

export function validateNumClasses(raw: unknown, label: string): number {
  const n = typeof raw === 'string' && /^\d{1,7}$/.test(raw) ? Number(raw) : raw;
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_RECORDED_CLASSES) fail('format', `${label}: the recorded num_classes is not an integer in 1–${MAX_RECORDED_CLASSES}`);
  return n as number;
}

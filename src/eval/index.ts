/**
 * `eval`: a model's mIoU, per-class IoU and pixel accuracy over a labelled image set, through the same
 * decode → preprocess → run → labels path as `segment`, streamed (a few images in memory at a time).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfusionMatrix, type Scores } from './metrics.js';
import { FrameRunner, type StageTimes } from '../segment/frame.js';
import { decodeLabelMap, decodeImage, type RgbImage } from '../segment/image.js';
import { IMAGE_EXTS, MAX_INPUTS } from '../segment/inputs.js';
import { className, openModel, type OpenOptions } from '../segment/model.js';
import { Progress, type ProgressOptions } from '../segment/progress.js';
import { streamFrames } from '../segment/stream.js';
import { fail } from '../util/errors.js';
import { readFileChecked } from '../util/fs.js';
import { parseJsonBounded } from '../util/json.js';
import { escapeText } from '../util/render.js';

export interface LabelledPair { stem: string; image: string; label: string }

const LAYOUT = 'a labelled set is <dir>/images/<name>.png|.jpg with <dir>/labels/<name>.png (8-bit class indices, 255 = ignore)';
/** Cityscapes' file-name suffixes, so its files pair up as they are named (…_leftImg8bit.png ↔ …_gtFine_labelTrainIds.png). */
const IMAGE_SUFFIXES = ['_leftImg8bit'];
const LABEL_SUFFIXES = ['_gtFine_labelTrainIds', '_labelTrainIds'];

function stemWithout(file: string, suffixes: string[]): string {
  const stem = path.basename(file, path.extname(file));
  const s = suffixes.find((x) => stem.endsWith(x));
  return s ? stem.slice(0, -s.length) : stem;
}

/** The files of `dir` that `keep` takes; `missing` is the message for a directory that is not there. */
function listDir(dir: string, missing: string, keep: (name: string) => boolean): string[] {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) fail('usage', missing);
  const names = fs.readdirSync(dir).filter((n) => !n.startsWith('.') && keep(n)).sort();
  if (names.length > MAX_INPUTS) fail('usage', `${dir}: more than ${MAX_INPUTS} files`);
  return names;
}

/** The image/label pairs of a labelled set, sorted by name; every image needs its label and every label its image. */
export function listLabelledSet(dir: string, labelsDir = path.join(dir, 'labels')): LabelledPair[] {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st) fail('io', `labelled set not found: ${dir}`);
  if (!st.isDirectory()) fail('usage', `${dir}: not a directory; ${LAYOUT}`);
  // Labels from elsewhere (eval --labels-dir) are named as given; the set's own as the layout names them.
  const ownLabels = path.resolve(labelsDir) === path.resolve(dir, 'labels');
  const images = listDir(path.join(dir, 'images'), `${dir}: no images/ directory here; ${LAYOUT}`, (n) => IMAGE_EXTS.includes(path.extname(n).toLowerCase()));
  const labels = listDir(labelsDir, ownLabels ? `${dir}: no labels/ directory here; ${LAYOUT}` : `labels directory not found: ${labelsDir} (--labels-dir)`,
    (n) => path.extname(n).toLowerCase() === '.png');
  if (images.length === 0) fail('usage', `${path.join(dir, 'images')}: no .png or .jpg images; ${LAYOUT}`);
  const byStem = new Map<string, string>();
  for (const l of labels) {
    const s = stemWithout(l, LABEL_SUFFIXES);
    if (byStem.has(s)) fail('usage', `${labelsDir}: ${byStem.get(s)} and ${l} are labels of the same image`);
    byStem.set(s, l);
  }
  const pairs: LabelledPair[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const im of images) {
    const s = stemWithout(im, IMAGE_SUFFIXES);
    if (seen.has(s)) fail('usage', `${path.join(dir, 'images')}: two images named ${s} (different extensions)`);
    seen.add(s);
    const l = byStem.get(s);
    if (!l) { missing.push(im); continue; }
    byStem.delete(s);
    pairs.push({ stem: s, image: path.join(dir, 'images', im), label: path.join(labelsDir, l) });
  }
  if (missing.length) fail('usage', `${path.join(dir, 'images', missing[0]!)}${missing.length > 1 ? ` and ${missing.length - 1} more images` : ''} have no label (expected ${ownLabels ? 'labels/' : `${labelsDir}${path.sep}`}${stemWithout(missing[0]!, IMAGE_SUFFIXES)}.png); ${LAYOUT}`);
  if (byStem.size) {
    const extra = [...byStem.values()];
    fail('usage', `${path.join(labelsDir, extra[0]!)}${extra.length > 1 ? ` and ${extra.length - 1} more labels` : ''} have no image; ${LAYOUT}`);
  }
  return pairs;
}

export interface EvalOptions extends OpenOptions {
  /** Only the first n pairs. */
  limit?: number;
  /** Labels from this directory instead of <data>/labels (e.g. a reference model's predictions: pixel accuracy is then label agreement). */
  labels?: string;
  progress?: ProgressOptions;
}

export interface EvalReport extends Scores {
  images: number;
  classNames: string[];
  model: string;
  runtime: string;
  device: string;
  data: string;
  seconds: number;
  times: StageTimes;
  /** the precision the model records (convert --precision), null for float32 models and checkpoints */
  precision: 'fp32' | 'fp16' | 'int8' | null;
}

/** Scores a model on a labelled set. The label is never resized: predictions are made at each image's size. */
export async function evaluate(modelPath: string, dataDir: string, o: EvalOptions = {}): Promise<EvalReport> {
  const pairs = listLabelledSet(dataDir, o.labels).slice(0, o.limit ?? Infinity);
  const model = await openModel(modelPath, o);
  const runner = new FrameRunner(model);
  const progress = new Progress(pairs.length, 'eval', o.progress);
  let matrix: ConfusionMatrix | null = null;
  const t0 = performance.now();
  try {
    await streamFrames<LabelledPair, { image: RgbImage; label: Uint8Array | Uint16Array }>(runner, {
      items: pairs,
      decode: async (p) => {
        const [image, label] = await Promise.all([decodeImage(p.image, p.image), decodeLabelMap(p.label, p.label)]);
        if (label.width !== image.width || label.height !== image.height) {
          fail('shape', `${p.label}: ${label.width}×${label.height}, but its image ${p.image} is ${image.width}×${image.height} (labels are never resized)`);
        }
        return { image, label: label.data };
      },
      sink: (p, d, labels) => {
        matrix ??= new ConfusionMatrix(runner.numClasses!);
        matrix.add(labels, d.label, p.label);
      },
      done: (p) => progress.tick(p.image),
    });
  } finally {
    progress.finish();
    await runner.dispose();
  }
  const C = runner.numClasses!;
  const scores = matrix!.scores();
  return {
    ...scores, images: pairs.length, classNames: Array.from({ length: C }, (_, k) => className(model.info, k)),
    model: model.label, runtime: model.runner.runtime, device: model.runner.device, data: dataDir,
    seconds: (performance.now() - t0) / 1000, times: runner.times, precision: model.info.precision,
  };
}

const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 1e4) / 1e4);

/** The report as JSON: `miou`, `pixel_accuracy`, `per_class` (name → IoU % or null), `images`, and how it was made. */
export function evalJson(r: EvalReport, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const perClass: Record<string, number | null> = {};
  r.classNames.forEach((name, k) => { perClass[name in perClass ? `${name} (${k})` : name] = round(r.perClass[k]!); });
  return {
    miou: round(r.miou), pixel_accuracy: round(r.pixelAccuracy), per_class: perClass, images: r.images,
    labelled_pixels: r.pixels, ignored_pixels: r.ignored, classes_scored: r.perClass.filter((v) => v !== null).length,
    model: r.model, runtime: r.runtime, device: r.device, data: r.data,
    resolution: 'each image at its own size when a multiple of 32, else resized bilinear up to one and the logits resized back; labels never resized',
    seconds: Math.round(r.seconds * 1000) / 1000, ...extra,
  };
}

/** Keys under which a manifest may record the reference mIoU (percent), tried in order. */
export const REFERENCE_KEYS = ['pytorch_miou', 'pytorch.miou', 'miou_pytorch', 'eval.pytorch_miou', 'eval.miou', 'metrics.miou', 'miou'];

/** The reference mIoU from `--compare-to`: a number (percent), or a JSON file recording it. */
export function referenceMiou(arg: string): { value: number; source: string } {
  if (/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(arg)) {
    const v = Number(arg);
    if (!(v >= 0 && v <= 100)) fail('usage', `--compare-to ${arg}: an mIoU is a percentage, 0–100`);
    return { value: v, source: 'given' };
  }
  if (!fs.existsSync(arg)) fail('io', `--compare-to ${escapeText(arg, 300)}: neither a number nor an existing file`);
  // A regular file of bounded size and nesting (a FIFO or /dev/zero here would hang or fill memory).
  const json = parseJsonBounded(readFileChecked(arg, 'reference (--compare-to)').toString('utf8'), `--compare-to ${escapeText(arg, 300)}`);
  for (const key of REFERENCE_KEYS) {
    const v = key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), json);
    if (typeof v === 'number' && Number.isFinite(v)) {
      if (v < 0 || v > 100) fail('format', `${escapeText(arg, 300)}: ${key} is ${v}, not a percentage`);
      return { value: v, source: `${path.basename(arg)}: ${key}` };
    }
  }
  return fail('format', `${escapeText(arg, 300)}: records no mIoU (looked for ${REFERENCE_KEYS.join(', ')})`);
}

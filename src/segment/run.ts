/**
 * `segment` as library calls: one image to a mask (and overlay) in memory, or many images streamed
 * to an output directory, both through the shared frame path (./frame.ts) and stream (./stream.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../util/errors.js';
import { modelInputs } from '../util/outputs.js';
import { onInterrupt, setInterruptLine } from '../util/interrupt.js';
import { escapeText } from '../util/render.js';
import { FrameRunner, type Labels, type StageTimes } from './frame.js';
import { blendOverlay, decodeImage, encodePng, paintLabels, probeImage, type RgbImage } from './image.js';
import { expandInputs, stemOf } from './inputs.js';
import { className, openModel, paletteFor, type ModelInfo, type OpenOptions } from './model.js';
import { StagedOutputs } from './outputs.js';
import { Progress, type ProgressOptions } from './progress.js';
import { streamFrames } from './stream.js';

export interface Segmentation {
  width: number;
  height: number;
  numClasses: number;
  labels: Labels;
  palette: number[][];
  classNames: string[] | null;
}

/** Byte buffers kept for reuse by size (colour masks and overlays are 6 MB each at 2048×1024). */
class BytePool {
  private readonly free: Uint8Array[] = [];
  get(n: number): Uint8Array {
    const i = this.free.findIndex((b) => b.length === n);
    return i >= 0 ? this.free.splice(i, 1)[0]! : new Uint8Array(n);
  }
  put(b: Uint8Array): void { if (this.free.length < 8) this.free.push(b); }
}

/** The mask as PNG bytes: palette colours, or (`raw`) 8-bit class indices. */
export async function encodeMask(labels: Labels, width: number, height: number, palette: number[][], raw: boolean, pool?: BytePool): Promise<Uint8Array> {
  if (raw) {
    if (!(labels instanceof Uint8Array)) fail('usage', '--raw writes 8-bit class indices; this model has more than 256 classes');
    return encodePng(labels as Uint8Array, width, height, 1);
  }
  const rgb = pool?.get(width * height * 3) ?? new Uint8Array(width * height * 3);
  try {
    paintLabels(labels, palette, rgb);
    return await encodePng(rgb, width, height, 3);
  } finally {
    pool?.put(rgb);
  }
}

/** A segmentation as PNG bytes (palette colours, or `raw` class indices). */
export function encodeSegmentation(s: Segmentation, raw = false): Promise<Uint8Array> {
  return encodeMask(s.labels, s.width, s.height, s.palette, raw);
}

/** The palette blended on the photo, as PNG bytes. */
export async function encodeOverlay(image: RgbImage, labels: Labels, palette: number[][], pool?: BytePool): Promise<Uint8Array> {
  const rgb = pool?.get(image.width * image.height * 3) ?? new Uint8Array(image.width * image.height * 3);
  try {
    blendOverlay(image.rgb, labels, palette, rgb);
    return await encodePng(rgb, image.width, image.height, 3);
  } finally {
    pool?.put(rgb);
  }
}

/** "road 41.2%, sky 20.3%, … (+4 more)": the classes found, largest share first. */
export function classShares(counts: Float64Array, info: Pick<ModelInfo, 'classNames'>, max = 8): string {
  const total = counts.reduce((a, b) => a + b, 0);
  const found = [...counts].map((c, k) => [k, c] as const).filter(([, c]) => c > 0).sort((a, b) => b[1] - a[1]);
  const shown = found.slice(0, max).map(([k, c]) => `${className(info as ModelInfo, k)} ${(100 * c / total).toFixed(1)}%`);
  return shown.join(', ') + (found.length > max ? `, … (+${found.length - max} more)` : '');
}

/** One image: decode, run, labels at the image's size (the library form of `bisenet segment --image`). */
export async function segmentImage(modelPath: string, imagePath: string, opts: OpenOptions = {}): Promise<Segmentation & {
  image: RgbImage; counts: Float64Array; model: string; runtime: string; device: string; times: StageTimes; weights: string | null;
}> {
  const image = await decodeImage(imagePath, imagePath);
  const model = await openModel(modelPath, opts);
  const runner = new FrameRunner(model);
  try {
    const [labels] = await runner.run([{ image }]);
    const numClasses = model.info.numClasses!;
    return { width: image.width, height: image.height, numClasses, labels: labels!, palette: paletteFor(numClasses, model.info.palette),
      classNames: model.info.classNames, image, counts: runner.counts!, model: model.label, runtime: model.runner.runtime, device: model.runner.device, times: runner.times, weights: model.info.weights };
  } finally {
    await runner.dispose();
  }
}

const isDirectory = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

export interface SegmentManyOptions extends OpenOptions {
  outDir: string;
  overlay?: boolean;
  raw?: boolean;
  batch?: number;
  force?: boolean;
  progress?: ProgressOptions;
  /** Also report each image: its outputs, size, class histogram and when it was done (`segment --json`). */
  perImage?: boolean;
}

/** One image of a `segmentMany` run, as `segment --json` reports it. */
export interface ImageSummary {
  input: string;
  /** the files written for it, in the output directory */
  outputs: string[];
  width: number;
  height: number;
  /** pixels of each class, by class index */
  counts: number[];
  /** ms from the start of the run until its outputs were written (frames overlap: decoding and encoding run beside inference) */
  doneMs: number;
}

/** Pixels per class of one mask. */
export function labelCounts(labels: Labels, numClasses: number): number[] {
  const c = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i]!]!++;
  return c;
}

export interface SegmentManySummary {
  images: number;
  seconds: number;
  framesPerSecond: number;
  /** Milliseconds per stage, summed over the frames (see streamFrames for what each counts). */
  times: StageTimes;
  runtime: string;
  device: string;
  model: string;
  counts: Float64Array;
  classNames: string[] | null;
  outputs: number;
  /** What the model records of its weights ('random' for test fixtures), or null. */
  weights: string | null;
  /** each image, in the order given (with `perImage`) */
  perImage?: ImageSummary[];
}

/** The output file names of one image. */
export function outputNames(image: string, overlay: boolean): string[] {
  const stem = stemOf(image);
  return overlay ? [`${stem}.png`, `${stem}.overlay.png`] : [`${stem}.png`];
}

/**
 * Many images (files, directories, glob patterns: see ./inputs.ts) to `outDir`: `<stem>.png` (and `<stem>.overlay.png`) each. Every input's header is read
 * and every output name checked before the model is loaded; outputs appear only if all images succeed.
 */
export async function segmentMany(modelPath: string, inputs: readonly string[], o: SegmentManyOptions): Promise<SegmentManySummary> {
  const images = expandInputs(inputs);
  const staged = new StagedOutputs(o.outDir, Boolean(o.force));
  staged.plan(images.flatMap((im) => outputNames(im, Boolean(o.overlay)).map((name) => ({ name, from: im }))),
    [...modelInputs(modelPath), ...images], inputs.filter((a) => isDirectory(a)));
  for (const im of images) await probeImage(im, im);
  const model = await openModel(modelPath, o);
  const runner = new FrameRunner(model);
  if (o.raw && (model.info.numClasses ?? 0) > 256) { await runner.dispose(); fail('usage', `--raw writes 8-bit class indices; this model has ${model.info.numClasses} classes`); }
  const progress = new Progress(images.length, 'segment', o.progress);
  const pool = new BytePool();
  const t0 = performance.now();
  const perImage = o.perImage ? new Map<string, ImageSummary>() : null;
  // Ctrl-C keeps what is finished: every image whose mask (and overlay) is written whole is moved into place,
  // the ones being written are removed, and one line says how many were kept.
  let finishedImages = 0;
  let keptFiles = 0;
  const releaseInterrupt = onInterrupt(() => { keptFiles = staged.keepFinished(); }, { first: true });
  setInterruptLine((sig) => `interrupted by ${sig}: ${finishedImages} of ${images.length} images finished, `
    + `${keptFiles ? `their ${keptFiles} file${keptFiles > 1 ? 's' : ''} kept in ${escapeText(o.outDir, 300)}` : 'nothing kept'}; the unfinished ones removed`);
  staged.open();
  try {
    await streamFrames(runner, {
      items: images,
      batch: o.batch,
      decode: async (im) => ({ image: await decodeImage(im, im) }),
      sink: (im, { image }, labels) => {
        const palette = paletteFor(runner.numClasses!, model.info.palette);
        const [maskName, overlayName] = outputNames(im, Boolean(o.overlay));
        if (perImage) perImage.set(im, { input: im, outputs: outputNames(im, Boolean(o.overlay)), width: image.width, height: image.height, counts: labelCounts(labels, runner.numClasses!), doneMs: 0 });
        return (async () => {
          const [mask, overlay] = await Promise.all([
            encodeMask(labels, image.width, image.height, palette, Boolean(o.raw), pool),
            overlayName ? encodeOverlay(image, labels, palette, pool) : null]);
          await staged.write(maskName!, mask);
          if (overlay) await staged.write(overlayName!, overlay);
          staged.finished(overlayName ? [maskName!, overlayName] : [maskName!]);
          finishedImages++;
        })();
      },
      done: (im) => {
        const r = perImage?.get(im);
        if (r) r.doneMs = Number((performance.now() - t0).toFixed(1));
        progress.tick(`${im} → ${path.join(o.outDir, outputNames(im, false)[0]!)}`);
      },
    });
    staged.commit();
  } catch (e) {
    staged.abort();
    throw e;
  } finally {
    releaseInterrupt();
    setInterruptLine(null);
    progress.finish();
    await runner.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { images: images.length, seconds, framesPerSecond: images.length / seconds, times: runner.times, runtime: model.runner.runtime,
    device: model.runner.device, model: model.label, counts: runner.counts!, classNames: model.info.classNames, outputs: images.length * (o.overlay ? 2 : 1), weights: model.info.weights,
    ...(perImage ? { perImage: images.map((im) => perImage.get(im)!) } : {}) };
}

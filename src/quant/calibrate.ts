/**
 * `calibrate`: the range of every tensor of a model over images fed exactly as `segment` feeds them
 * (the model's preprocessing preset, resized up to a multiple of 32), run in float32 by onnxruntime
 * with every intermediate exposed. Memory stays bounded: one image at a time, a fixed-size histogram
 * per tensor (./histogram.ts), and where all of an image's tensors together would pass --max-memory
 * the tensors are fetched in groups, one run per group.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CALIBRATION_FORMAT, type Calibration, type TensorRange } from '../emit/calibration.js';
import type { Graph } from '../ir/graph.js';
import { inferShapes } from '../ir/shapes.js';
import { graphOf } from '../model-file/graph.js';
import { modelMetadataFor, type Dataset, type Preprocessing } from '../model-file/presets.js';
import { modelKind, readModelFile } from '../model-file/index.js';
import { runtimeById, type Runner } from '../runtime/index.js';
import { fillInput, processingSize } from '../segment/frame.js';
import { decodeImage, probeImage } from '../segment/image.js';
import { IMAGE_EXTS, MAX_INPUTS } from '../segment/inputs.js';
import { Progress, type ProgressOptions } from '../segment/progress.js';
import type { Family } from '../models/bisenetv2.js';
import { modelRunBytes, checkRunMemory } from '../model-file/memory.js';
import { fail } from '../util/errors.js';
import { formatBytes, LIMITS } from '../util/limits.js';
import { HIST_BINS, QUANT_LEVELS, RangeHistogram } from './histogram.js';

export interface CalibrateOptions {
  limit?: number;
  /** percentile of |x| (and of each tail) recorded beside min/max and entropy; default 99.99 */
  percentile?: number;
  threads?: number;
  family?: Family;
  dataset?: Dataset;
  progress?: ProgressOptions;
}

/** A model as the quantization tools open it: its float32 ONNX bytes, IR, preprocessing. */
export interface FloatModel {
  label: string;
  onnx: Uint8Array;
  graph: Graph;
  pre: Preprocessing;
}

/** A checkpoint (converted in memory) or an .onnx written by bisenet convert. */
export async function openFloatModel(file: string, o: { family?: Family; dataset?: Dataset } = {}): Promise<FloatModel> {
  if (modelKind(file) === 'checkpoint') {
    const { convertCheckpoint } = await import('../convert/index.js');
    const c = convertCheckpoint(file, { to: 'onnx', family: o.family, dataset: o.dataset, inMemory: file });
    const meta = modelMetadataFor(c.ported.family, c.ported.numClasses, o.dataset);
    if (!meta.preprocessing) fail('usage', `${file}: ${c.ported.numClasses} classes imply no dataset preset; pass --dataset`);
    return { label: path.basename(file), onnx: c.bytes, graph: c.graph, pre: JSON.parse(meta.preprocessing!) as Preprocessing };
  }
  if (modelKind(file) !== 'onnx') fail('usage', `${file}: give a checkpoint (.pth, .safetensors, .pdparams) or an .onnx model written by bisenet convert`);
  const m = readModelFile(file, 'onnx');
  const graph = graphOf(m);
  if (!graph) fail('usage', `${file} records no family and class count; calibrate needs a model written by bisenet convert (or its checkpoint)`);
  const info = m.metadata;
  if (info.precision === 'fp16' || info.precision === 'int8') fail('usage', `${file} is an ${info.precision} model; calibrate the float32 model (or its checkpoint): ranges are those of float32 arithmetic`);
  if (!info.pre) fail('usage', `${file} records no preprocessing; calibrate feeds images as segment does and needs it (convert with --dataset)`);
  return { label: path.basename(file), onnx: m.bytes, graph: graph!, pre: info.pre! };
}

/** The images of a calibration set: DIR/images/* when DIR has an images/ folder (a labelled set), else DIR's own images. */
export function listCalibrationImages(dir: string, limit = Infinity): string[] {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st) fail('io', `calibration data not found: ${dir}`);
  if (!st.isDirectory()) fail('usage', `--data ${dir}: not a directory (give a folder of .png/.jpg images, or a labelled set with images/)`);
  const sub = path.join(dir, 'images');
  const from = fs.statSync(sub, { throwIfNoEntry: false })?.isDirectory() ? sub : dir;
  const names = fs.readdirSync(from).filter((n) => !n.startsWith('.') && IMAGE_EXTS.includes(path.extname(n).toLowerCase())).sort();
  if (names.length > MAX_INPUTS) fail('usage', `${from}: more than ${MAX_INPUTS} images`);
  if (!names.length) fail('usage', `${from}: no .png or .jpg images to calibrate on`);
  return names.slice(0, limit).map((n) => path.join(from, n));
}

/** Groups of tensors whose outputs fit the memory left beside the model's own run. */
function fetchGroups(names: string[], bytesOf: (n: string) => number, room: number, label: string): string[][] {
  const groups: string[][] = [];
  let cur: string[] = []; let used = 0;
  for (const n of names) {
    const b = bytesOf(n);
    if (b > room) fail('security', `${label}: tensor ${n} alone would need ${formatBytes(b)} beside the model's run, more than --max-memory allows (${formatBytes(LIMITS.modelMemory)}); use smaller images or raise --max-memory`);
    if (used + b > room && cur.length) { groups.push(cur); cur = []; used = 0; }
    cur.push(n); used += b;
  }
  if (cur.length) groups.push(cur);
  return groups;
}

export async function calibrate(modelPath: string, dataDir: string, o: CalibrateOptions = {}): Promise<Calibration> {
  const pct = o.percentile ?? 99.99;
  if (!(pct > 50 && pct <= 100)) fail('usage', `--percentile ${pct}: give a percentile in (50, 100], e.g. 99.99`);
  const images = listCalibrationImages(dataDir, o.limit);
  const model = await openFloatModel(modelPath, o);
  // Sizes first (headers only): the budget is checked before any image runs.
  const sizes: { W: number; H: number; w: number; h: number }[] = [];
  for (const f of images) {
    const m = await probeImage(f, f);
    sizes.push({ ...processingSize(m.width, m.height, model.pre), w: m.width, h: m.height });
  }
  const numClasses = model.graph.outputs.find((x) => x.dtype === 'float32')?.channels ?? 256;
  const rt = runtimeById('ort-cpu');
  const runner: Runner = await rt.load(model.label, { threads: o.threads, files: new Map([['model.onnx', model.onnx]]), expose: 'all' });
  const inputName = runner.inputNames[0]!;
  const names = [inputName, ...(runner.exposed ?? []).filter((n) => n !== inputName)];
  for (const out of runner.outputNames) if (!names.includes(out) && model.graph.outputs.some((x) => x.name === out && x.dtype === 'float32')) names.push(out);
  const plans = sizes.map((s) => {
    const shapes = inferShapes(model.graph, [1, 3, s.H, s.W]);
    const outByName = new Map(model.graph.outputs.map((x) => [x.name, x.tensor]));
    const bytesOf = (n: string): number => 4 * (shapes.get(outByName.get(n) ?? n) ?? [1, numClasses, s.H, s.W]).reduce((a, b) => a * b, 1);
    const base = modelRunBytes(1, s.H, s.W, numClasses);
    checkRunMemory(model.label, base, `calibrating on a ${s.w}×${s.h} image (run at ${s.W}×${s.H})`);
    return fetchGroups(names.filter((n) => n !== inputName), bytesOf, LIMITS.modelMemory - base, model.label);
  });
  const hist = new Map(names.map((n) => [n, new RangeHistogram()]));
  const progress = new Progress(images.length, 'calibrate', o.progress);
  try {
    for (let k = 0; k < images.length; k++) {
      const img = await decodeImage(images[k]!, images[k]!);
      const { H, W } = sizes[k]!;
      const x = new Float32Array(3 * H * W);
      fillInput(img, model.pre, H, W, x);
      hist.get(inputName)!.add(x);
      for (const group of plans[k]!) {
        const out = await runner.run({ [inputName]: { dtype: 'float32', shape: [1, 3, H, W], data: x } }, { outputs: group });
        for (const n of group) {
          const a = out[n];
          if (!a || a.dtype !== 'float32') fail('runtime', `${model.label}: onnxruntime returned no float tensor ${n}`);
          hist.get(n)!.add(a!.data as Float32Array);
        }
      }
      progress.tick(images[k]!);
    }
  } finally {
    progress.finish();
    await runner.dispose();
  }
  const tensors: Record<string, TensorRange> = {};
  const bad: string[] = [];
  for (const [n, h] of hist) {
    if (h.nonfinite) bad.push(n);
    if (h.count === 0) continue;
    tensors[n] = {
      count: h.count, min: h.min, max: h.max, absmax: Math.max(-h.min, h.max),
      percentile: { abs: h.absPercentile(pct / 100), low: h.quantile(1 - pct / 100), high: h.quantile(pct / 100) },
      entropy: h.entropyThreshold(),
    };
  }
  if (bad.length) fail('runtime', `${model.label}: NaN or Inf in ${bad.length} tensor(s) on the calibration images (first: ${bad[0]}); the model's weights or inputs are broken`);
  const meta = model.graph.metadata;
  return {
    format: CALIBRATION_FORMAT, version: 1,
    model: { source: model.label, family: meta.family ?? null, num_classes: meta.num_classes ? Number(meta.num_classes) : null, input: inputName },
    preprocessing: model.pre,
    images: { dir: dataDir, count: images.length, files: images.map((f) => path.basename(f)), sizes: sizes.map((s) => `${s.w}x${s.h}`) },
    histogram: { bins: HIST_BINS, levels: QUANT_LEVELS },
    percentile: pct,
    tensors,
  };
}

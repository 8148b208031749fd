/**
 * Opens what `segment` and `eval` are given as a model — an .onnx file, a tfjs model directory, or a
 * checkpoint converted in memory (nothing written) — with what its metadata records: preprocessing,
 * class count, class names, palette.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Family } from '../models/bisenetv2.js';
import { CITYSCAPES_PALETTE, preprocessingFor, type Dataset, type Preprocessing } from '../model-file/presets.js';
import { defaultRuntimeFor, loadRunner, requirePackages, runtimeById, type Runner, type RunnerOptions } from '../runtime/index.js';
import { modelKind, readModelFile, recordedFrom, runnerInput, type RecordedMetadata } from '../model-file/index.js';
import { fail } from '../util/errors.js';
import { indexPalette } from '../util/palette.js';
import { formatBytes } from '../util/limits.js';
import { checkRunMemory, modelFileBytes, modelLoadBytes, modelRunBytes } from '../model-file/memory.js';

/** What a model records (checked against the metadata schema: src/model-file/metadata.ts). */
export type ModelInfo = RecordedMetadata;

export interface OpenOptions extends RunnerOptions {
  runtime?: string;
  /** Models that record no preprocessing take it from this family and dataset; checkpoints are converted with them. */
  family?: Family;
  dataset?: Dataset;
}

export interface SegModel {
  runner: Runner;
  /** What the model records, with the --family/--dataset fallback applied to `pre`. */
  info: ModelInfo & { pre: Preprocessing };
  /** The in-graph argmax output, when the model has one. */
  labelsOutput: string | null;
  /** The class scores output (`logits`, else the first). */
  logitsOutput: string;
  /** Bytes of the model's weights as the runtime loaded them (its copies are counted in every run's estimate). */
  modelBytes: number;
  /** e.g. "model.onnx" or "model.pth (converted in memory to onnx)". */
  label: string;
}

/** A palette for any class count: the dataset's where known, else PASCAL VOC's bit-interleaved colour map. */
export function paletteFor(numClasses: number, known: number[][] | null): number[][] {
  if (known && known.length >= numClasses) return known;
  if (!known && numClasses === 19) return CITYSCAPES_PALETTE;
  return indexPalette(numClasses);
}

/** A class's name: from the model's metadata, else its index. */
export function className(info: ModelInfo, k: number): string {
  return info.classNames?.[k] ?? `class ${k}`;
}

/** Loads the model (converting a checkpoint in memory) and reads what it records. */
export async function openModel(modelPath: string, opts: OpenOptions = {}): Promise<SegModel> {
  let runner: Runner;
  let info: ModelInfo;
  let label = modelPath;
  let modelBytes = 0;
  const st = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (!st) fail('io', `model not found: ${modelPath}`);
  if (st.isFile() && modelKind(modelPath) === 'checkpoint') {
    const rt = opts.runtime ? runtimeById(opts.runtime) : defaultRuntimeFor('model.onnx');
    // The reference interpreter (float64 loops) is for diff and verify --layers at golden sizes, not for images.
    if (rt.model === 'checkpoint') fail('usage', `runtime ${rt.id} is for bisenet diff and verify --layers; segment and eval take a model runtime (default: ort-cpu)`);
    if (!rt.inMemory) fail('usage', `runtime ${rt.id} loads model files only; convert ${modelPath} first (bisenet convert --to ${rt.model}), then pass the model`);
    requirePackages(rt);
    // Imported here: only checkpoints need the converter.
    const { convertCheckpoint, recordedOf } = await import('../convert/index.js');
    const c = convertCheckpoint(modelPath, { to: rt.model, labels: true, family: opts.family, dataset: opts.dataset, inMemory: modelPath });
    label = `${path.basename(modelPath)} (converted in memory to ${rt.model})`;
    const files = c.files ?? new Map([['model.onnx', c.bytes]]);
    modelBytes = [...files.values()].reduce((s, f) => s + f.byteLength, 0);
    // Before the runtime loads it: a checkpoint of many classes is small on disk (zeros deflate) but not in memory.
    checkRunMemory(label, modelLoadBytes(modelBytes) + modelRunBytes(1, 64, 64, c.ported.numClasses), `loading the model (${c.ported.numClasses} classes, ${formatBytes(modelBytes)} of weights)`);
    runner = await rt.load(label, { ...opts, files });
    info = recordedFrom(recordedOf(c), `${label}: metadata`);
  } else {
    // Read and decoded once (src/model-file): the runtime loads these bytes (ONNX: checks this decode; tfjs: this
    // model.json; TFLite: this checked file) instead of reading the file again.
    const file = readModelFile(modelPath);
    info = file.metadata;
    modelBytes = modelFileBytes(modelPath);
    checkRunMemory(label, modelLoadBytes(modelBytes), `loading the model (${formatBytes(modelBytes)} of weights)`);
    runner = await loadRunner(modelPath, opts.runtime, { ...opts, ...runnerInput(file) });
  }
  const pre = info.pre ?? (opts.dataset ? preprocessingFor(opts.family ?? 'coincheung', opts.dataset) : null);
  if (!pre) {
    await runner.dispose();
    fail('usage', `${modelPath} records no preprocessing; pass --dataset (and --family) to choose one`);
  }
  const labelsOutput = runner.outputNames.includes('labels') ? 'labels' : null;
  const logitsOutput = runner.outputNames.includes('logits') ? 'logits' : runner.outputNames.find((n) => n !== 'labels') ?? runner.outputNames[0]!;
  return { runner, info: { ...info, pre: pre! }, labelsOutput, logitsOutput, label, modelBytes };
}

/**
 * The model file's room: every command that reads a converted model (segment, eval, serve, verify, bench,
 * diff, inspect, calibrate) opens it here. `readModelFile` decides the kind once (`modelKind`: by the bytes
 * where they tell, else by the name), reads within the budgets (readFileChecked: LIMITS.fileBytes; JSON
 * through the bounded parser), decodes an ONNX model once, and hands back the kind, the bytes (or the
 * parsed model.json), the metadata the model records (validated on first use) and its output names.
 * Each kind is read by a light module of the room (onnx.ts, tfjs.ts, tflite.ts; tensorrt.ts for TensorRT
 * directories) that the runtimes import too; what is read here is handed to the runtime (`runnerInput`).
 * The only module besides the emitters (which write models) and the ONNX checks that decodes ONNX.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TfliteInfo } from '../model-check/tflite.js';
import type { RunnerOptions } from '../runtime/types.js';
import { fail } from '../util/errors.js';
import { modelKind, type ModelKind } from './kind.js';
import { recordedFrom, type RecordedMetadata } from './metadata.js';
import { decodeOnnx, readOnnxFile, type OnnxModel } from './onnx.js';
import { readJsonFile, type ModelJson } from './tfjs.js';
import { readTfliteFile } from './tflite.js';

export { CHECKPOINT_EXTENSIONS, isCheckpointPath, kindFromBytes, kindFromName, modelKind, type ModelKind } from './kind.js';
export { recordedFrom, type RecordedMetadata } from './metadata.js';
export { decodeOnnx, encodeOnnx, tryDecodeOnnx, type OnnxModel, type OnnxProto } from './onnx.js';

interface Common {
  /** the path as given */
  path: string;
  /** the metadata map as recorded, values unvalidated (ONNX: strings; tfjs, TFLite: JSON values) */
  recorded: Record<string, unknown>;
  /** the model's output names, in order */
  outputs: string[];
  /** the recorded metadata, each value checked against its schema (exit 2 naming a bad one), read on first use */
  readonly metadata: RecordedMetadata;
}

export interface OnnxModelFile extends Common { kind: 'onnx'; bytes: Buffer; model: OnnxModel }
export interface TfjsModelFile extends Common { kind: 'tfjs'; /** the model.json */ file: string; bytes: Buffer; json: Record<string, unknown> }
export interface TfliteModelFile extends Common { kind: 'tflite'; bytes: Buffer; info: TfliteInfo }
export type ModelFile = OnnxModelFile | TfjsModelFile | TfliteModelFile;

/** The kinds `readModelFile` reads itself (checkpoints go to src/checkpoint, TensorRT directories to their runner). */
export type ReadableKind = ModelFile['kind'];

function withMetadata<T extends Omit<ModelFile, 'metadata'>>(m: T): T & { readonly metadata: RecordedMetadata } {
  let cached: RecordedMetadata | undefined;
  return Object.defineProperty(m, 'metadata', {
    enumerable: true,
    get: () => (cached ??= recordedFrom(m.recorded, `${m.path}: metadata`)),
  }) as T & { readonly metadata: RecordedMetadata };
}

const asRecord = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {});

/**
 * Opens a converted model: its kind (`modelKind`, or `kind` where the caller has decided), its bytes read
 * once within the budgets, an ONNX model decoded once. A path that is not there is `model not found`
 * (exit 2); bytes that are not the kind are a format error naming the file.
 */
export function readModelFile(modelPath: string, kind: 'onnx'): OnnxModelFile;
export function readModelFile(modelPath: string, kind?: ReadableKind): ModelFile;
export function readModelFile(modelPath: string, kind?: ReadableKind): ModelFile {
  const st = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (!st) fail('io', `model not found: ${modelPath}`);
  const k = kind ?? readableKind(modelPath, st!);
  if (k === 'tfjs') {
    const file = st!.isDirectory() ? path.join(modelPath, 'model.json') : modelPath;
    const { bytes, parsed } = readJsonFile(file, 'model.json');
    const json = asRecord(parsed);
    const recorded = asRecord(asRecord(json.userDefinedMetadata).bisenet);
    const outputs = Array.isArray(recorded.outputs) ? recorded.outputs.filter((o): o is string => typeof o === 'string') : [];
    return withMetadata({ kind: 'tfjs' as const, path: modelPath, file, bytes, json, recorded, outputs });
  }
  if (k === 'tflite') {
    // The checked reader: a .tflite file's metadata is read only from a file that passes the whole check.
    const { bytes, info } = readTfliteFile(modelPath);
    return withMetadata({ kind: 'tflite' as const, path: modelPath, bytes, info, recorded: info.metadata, outputs: info.outputs.map((o) => o.name) });
  }
  const bytes = readOnnxFile(modelPath);
  const model = decodeOnnx(bytes, modelPath);
  const recorded: Record<string, unknown> = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  return withMetadata({ kind: 'onnx' as const, path: modelPath, bytes, model, recorded, outputs: (model.graph?.output ?? []).map((o) => o.name ?? '') });
}

/**
 * A model file as read here, handed to the runtime that loads it (RunnerOptions: `onnx`, `tfjs`, `tflite`), so
 * that the runtime (or Chromium's routes) loads these bytes and this decode instead of reading the file again.
 * The runtime still checks what it is handed (a model.json's topology, an ONNX model's constants).
 */
export function runnerInput(m: ModelFile): Pick<RunnerOptions, 'onnx' | 'tfjs' | 'tflite'> {
  if (m.kind === 'onnx') return { onnx: { bytes: m.bytes, model: m.model } };
  if (m.kind === 'tflite') return { tflite: { bytes: m.bytes, info: m.info } };
  return { tfjs: { file: m.file, bytes: m.bytes, json: m.json as ModelJson } };
}

/**
 * The kind `readModelFile` reads a path as: what `modelKind` says where it is a kind read here; otherwise a
 * directory is read as a tfjs model (its model.json, reported missing) and a file as ONNX (reported not one).
 */
function readableKind(modelPath: string, st: fs.Stats): ReadableKind {
  const k: ModelKind | null = modelKind(modelPath);
  if (k === 'onnx' || k === 'tfjs' || k === 'tflite') return k;
  return st.isDirectory() ? 'tfjs' : 'onnx';
}

/** The metadata a converted model records (ONNX metadata_props, tfjs userDefinedMetadata.bisenet, TFLite metadata `bisenet`), validated. */
export function readRecordedMetadata(modelPath: string): RecordedMetadata {
  return readModelFile(modelPath).metadata;
}

/** The model file a command reads metadata from, read once; null for a directory without model.json (a TensorRT model: it records none). */
export function recordedFile(modelPath: string): ModelFile | null {
  const st = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (st?.isDirectory() && !fs.existsSync(path.join(modelPath, 'model.json'))) return null;
  return readModelFile(modelPath);
}

/** The precision a model records (null where it records none, or is not a file this reader reads: a TensorRT directory). */
export function recordedPrecision(modelPath: string): RecordedMetadata['precision'] {
  return recordedFile(modelPath)?.metadata.precision ?? null;
}

/**
 * The metadata a model we exported records, as every command reads it. The reader lives in the model
 * file's room (src/model-file/); this module keeps the names the library has always exported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readModelFile, type ModelFile, type RecordedMetadata } from './model-file/index.js';

export { recordedFrom, type RecordedMetadata } from './model-file/index.js';

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

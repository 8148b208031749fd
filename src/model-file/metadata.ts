import { validateClassNames, validateNumClasses, validatePalette, validatePreprocessing, type Preprocessing } from './presets.js';
import { fail } from '../util/errors.js';
import { parseJsonBounded } from '../util/json.js';

/**
 * The metadata a model we exported records (ONNX metadata_props, tfjs userDefinedMetadata.bisenet, TFLite metadata `bisenet`):
 * preprocessing, palette, class count and names, each checked against the schema in presets.ts before
 * use. The one reader of recorded metadata: segment, eval, serve and the memory estimate all use it.
 * A value that is present but does not fit its schema is refused (exit 2, naming it), never trusted.
 */
export interface RecordedMetadata {
  pre: Preprocessing | null; palette: number[][] | null; numClasses: number | null; classNames: string[] | null;
  /** The sha256 of the checkpoint it was converted from (64 hex digits), where recorded. */
  checkpointSha256: string | null;
  /** What its weights are, where a card beside the checkpoint said so ('random' for test fixtures). */
  weights: string | null;
  /** the arithmetic the model was written for (convert --precision); null: float32, recorded by models before precisions existed */
  precision: 'fp32' | 'fp16' | 'int8' | null;
}

/** Validates a metadata map (string values are JSON, as in ONNX metadata_props; JSON values as in tfjs). */
export function recordedFrom(meta: Record<string, unknown>, label: string): RecordedMetadata {
  const raw = (k: string): unknown => (typeof meta[k] === 'string' && k !== 'num_classes' ? parseJsonBounded(meta[k] as string, label, k) : meta[k]);
  const pre = meta.preprocessing === undefined ? null : validatePreprocessing(raw('preprocessing'), label);
  const palette = meta.palette === undefined ? null : validatePalette(raw('palette'), label);
  const classNames = meta.class_names === undefined ? null : validateClassNames(raw('class_names'), label);
  const numClasses = meta.num_classes === undefined ? classNames?.length ?? null : validateNumClasses(meta.num_classes, label);
  // A palette or name list shorter than the classes would paint some classes black or leave them unnamed.
  if (numClasses !== null && palette && palette.length < numClasses) fail('format', `${label}: the recorded palette has ${palette.length} colour${palette.length === 1 ? '' : 's'} for ${numClasses} classes`);
  if (numClasses !== null && classNames && classNames.length !== numClasses) fail('format', `${label}: the recorded class_names name ${classNames.length} classes, the model has ${numClasses}`);
  const checkpointSha256 = typeof meta.checkpoint_sha256 === 'string' && /^[0-9a-f]{64}$/.test(meta.checkpoint_sha256) ? meta.checkpoint_sha256 : null;
  // eslint-disable-next-line no-control-regex
  const weights = typeof meta.weights === 'string' && meta.weights.length <= 200 && !/[\u0000-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/.test(meta.weights) ? meta.weights : null;
  const precision = meta.precision === undefined ? null : meta.precision;
  if (precision !== null && precision !== 'fp32' && precision !== 'fp16' && precision !== 'int8') fail('format', `${label}: the recorded precision is not fp32, fp16 or int8`);
  return { pre, palette, numClasses, classNames, checkpointSha256, weights, precision: precision as RecordedMetadata['precision'] };
}

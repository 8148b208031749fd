/**
 * `bisenet inspect` for exported models — what `polygraphy inspect model` shows: the format and its
 * version (ONNX IR and opsets, tfjs graph or layers model), the producer, the inputs and outputs (names,
 * dtypes, shapes; symbolic sizes by name, unknown ones as `?`), the operators, the weights, and what
 * the model records: family, classes and their names, preprocessing, palette.
 *
 * One reader per model kind, in MODEL_READERS: `accepts` decides from the path (and what is there),
 * `read` returns a ModelSummary. A kind is added by writing its reader (./onnx-summary.ts and
 * ./tfjs-summary.ts are the examples; a TFLite reader wraps checkTflite of ./tflite.ts) and listing
 * it here; the text and JSON output and the CLI need nothing else.
 */
import * as fs from 'node:fs';
import { modelKind, recordedFrom } from '../model-file/index.js';
import { inspectCheckpoint, refuseIfUnusable } from './checkpoint.js';
import { inspectTflite } from './tflite.js';
import { escapeText, safeJson } from '../util/render.js';
import { ONNX_READER } from './onnx.js';
import type { Dim, ModelReader, ModelSummary, TensorSummary } from './summary.js';
import { TFJS_READER } from './tfjs.js';

export type { Dim, ModelReader, ModelSummary, TensorSummary } from './summary.js';

export const MODEL_READERS: ModelReader[] = [ONNX_READER, TFJS_READER];

/** The reader for a path, or null (a checkpoint, or nothing any reader takes). */
export function modelReaderFor(file: string): ModelReader | null {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) return null;
  return MODEL_READERS.find((r) => r.accepts(file, st)) ?? null;
}

export function inspectModel(file: string, reader: ModelReader): ModelSummary {
  const s = reader.read(file);
  // Checked against the metadata schema as segment and serve check it (string values are JSON, as in ONNX metadata_props).
  return { ...s, recorded: recordedFrom(s.metadata, `${file}: metadata`) };
}

const dimText = (d: Dim): string => (d === null ? '?' : typeof d === 'number' ? String(d) : escapeText(d, 40));
export const shapeOf = (t: TensorSummary): string => (t.shape ? `[${t.shape.map(dimText).join(', ')}]` : 'shape not recorded');

const MiB = 2 ** 20;
/** Operators listed in the text (all of them are in --json). */
const SHOWN_OPS = 12;
/** Metadata values longer than this are cut in the text (whole in --json). */
const META_CHARS = 80;

export function formatModelSummary(s: ModelSummary): string {
  const r = s.recorded;
  const w = (label: string, value: string): string => `${label.padEnd(15)} ${value}`;
  const tensors = (ts: TensorSummary[]): string[] => {
    const nameW = Math.min(30, Math.max(4, ...ts.map((t) => escapeText(t.name, 30).length)));
    return ts.map((t) => `  ${escapeText(t.name, 30).padEnd(nameW)}  ${t.dtype.padEnd(7)}  ${shapeOf(t)}`);
  };
  const opCount = s.ops.reduce((a, o) => a + o.count, 0);
  const lines = [
    w('file:', escapeText(s.file)),
    w('kind:', `${s.kind} (${escapeText(s.format)}${s.opsets?.length ? `; opset ${s.opsets.map((o) => `${escapeText(o.domain || 'ai.onnx', 40)} ${o.version}`).join(', ')}` : ''})`),
    w('producer:', s.producer === null ? '-' : escapeText(s.producer, 120)),
    `inputs (${s.inputs.length}):`, ...tensors(s.inputs),
    `outputs (${s.outputs.length}):`, ...tensors(s.outputs),
    w(s.kind === 'tfjs-layers' ? 'layers:' : 'nodes:', `${opCount}${s.ops.length ? ` (${s.ops.slice(0, SHOWN_OPS).map((o) => `${escapeText(o.op, 40)} ${o.count}`).join(', ')}${s.ops.length > SHOWN_OPS ? `, … ${s.ops.length - SHOWN_OPS} more types` : ''})` : ''}`),
    w('weights:', `${s.weights.tensors} tensors, ${(s.weights.bytes / MiB).toFixed(1)} MiB (${Object.entries(s.weights.dtypes).map(([d, n]) => `${n} ${escapeText(d, 20)}`).join(', ') || 'none'})`),
    w('family:', s.metadata.family ? escapeText(s.metadata.family, 40) : '- (not recorded)'),
    w('classes:', r.numClasses === null ? '- (not recorded)' : `${r.numClasses}${r.classNames ? ` (${classList(r.classNames)})` : ' (no names recorded)'}`),
    w('preprocessing:', r.pre ? `${r.pre.color_order}, x × ${+r.pre.scale.toPrecision(6)}, then (x − mean) / std with mean [${r.pre.mean.join(', ')}], std [${r.pre.std.join(', ')}]; H, W multiples of ${r.pre.size_multiple}` : '- (not recorded: segment and serve need --dataset)'),
    w('palette:', r.palette ? `${r.palette.length} colours recorded` : '- (not recorded)'),
  ];
  const shown = new Set(['preprocessing', 'class_names', 'palette', 'num_classes', 'family']);
  const rest = Object.entries(s.metadata).filter(([k]) => !shown.has(k));
  if (rest.length) lines.push('metadata:', ...rest.map(([k, v]) => `  ${escapeText(k, 40)} = ${escapeText(v, META_CHARS)}`));
  return `${lines.join('\n')}\n`;
}

function classList(names: string[]): string {
  const shown = names.slice(0, 8).map((n) => escapeText(n, 30)).join(', ');
  return names.length > 8 ? `${shown}, … ${names[names.length - 1] === undefined ? '' : escapeText(names[names.length - 1]!, 30)}` : shown;
}

export function modelSummaryJson(s: ModelSummary): string {
  return `${safeJson(s, 2)}\n`;
}

/**
 * What `bisenet inspect` prints for a path: an exported model (a reader above), a .tflite file (./tflite.ts) or
 * a checkpoint (./checkpoint.ts), and for a checkpoint that cannot be ported, the refusal to make after printing.
 */
export function inspectPath(file: string, o: { json?: boolean }): { text: string; refuse?: () => void } {
  if (modelKind(file) === 'tflite') return { text: inspectTflite(file, o) };
  const reader = modelReaderFor(file);
  if (reader) {
    const s = inspectModel(file, reader);
    return { text: o.json ? modelSummaryJson(s) : formatModelSummary(s) };
  }
  const { text, summary } = inspectCheckpoint(file, o);
  return { text, refuse: () => refuseIfUnusable(summary) };
}

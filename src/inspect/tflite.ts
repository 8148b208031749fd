/** `bisenet inspect` for a .tflite file: checked first (the whole TFLite check), then its input, outputs and recorded metadata. */
import { checkTflite } from '../model-check/tflite.js';
import { recordedFrom } from '../model-file/index.js';
import { readFileChecked } from '../util/fs.js';
import { escapeText, safeJson } from '../util/render.js';

/** `, <statistic> scales` from an int8 model's recorded quantization entry (nothing where it names none known). */
function int8Statistic(q: string | undefined): string {
  try {
    const s = (JSON.parse(q ?? '') as { statistic?: unknown }).statistic;
    return s === 'entropy' || s === 'percentile' || s === 'minmax' ? `, ${s} scales` : '';
  } catch { return ''; }
}

/** A .tflite file: checked (src/model-check/tflite.ts), then its input, outputs and recorded metadata. */
export function inspectTflite(file: string, o: { json?: boolean }): string {
  const info = checkTflite(readFileChecked(file, 'TFLite model'), file);
  const meta = recordedFrom(info.metadata, `${file}: metadata`);
  const m = info.metadata;
  if (o.json) {
    return `${safeJson({ file, format: 'tflite', inputs: info.inputs, outputs: info.outputs, metadata: m }, 2)}\n`;
  }
  const t = (x: { name: string; shape: number[]; type: string }) => `${escapeText(x.name, 100)} ${x.shape.join('×')} ${x.type}`;
  const lines = [
    `file:           ${escapeText(file)}`,
    'format:         tflite (checked: builtin ops, wiring, shapes, bounds)',
    `family:         ${escapeText(m.family ?? 'unknown', 40)}`,
    `classes:        ${meta.numClasses ?? '-'}`,
    `input:          ${info.inputs.map(t).join(', ')} (fixed size)`,
    `outputs:        ${info.outputs.map(t).join(', ')}`,
    `weights:        ${meta.precision === 'int8' ? `int8 weights and activations (integer TFLite${int8Statistic(m.quantization)})` : escapeText(m.quantization ?? 'unknown', 20)}`,
    `preprocessing:  ${meta.pre ? `${escapeText(m.dataset ?? '', 40)} mean ${meta.pre.mean.join(', ')} std ${meta.pre.std.join(', ')}` : 'none recorded'}`,
    `producer:       ${escapeText(m.producer ?? 'unknown', 80)}`,
  ];
  return `${lines.join('\n')}\n`;
}

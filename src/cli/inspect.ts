import { loadCheckpoint } from '../checkpoint/index.js';
import { checkTflite } from '../model-check/tflite.js';
import { modelKind } from '../model-file/kind.js';
import { recordedFrom } from '../model-metadata.js';
import { readFileChecked } from '../util/fs.js';
import { summarize } from '../port/index.js';
import { fail } from '../util/errors.js';
import { escapeText, safeJson } from '../util/render.js';

/** Problems listed in the text report (all of them are in --json and with --verbose). */
const SHOWN_PROBLEMS = 20;

/** `, <statistic> scales` from an int8 model's recorded quantization entry (nothing where it names none known). */
function int8Statistic(q: string | undefined): string {
  try {
    const s = (JSON.parse(q ?? '') as { statistic?: unknown }).statistic;
    return s === 'entropy' || s === 'percentile' || s === 'minmax' ? `, ${s} scales` : '';
  } catch { return ''; }
}

/** A .tflite file: checked (../model-check/tflite.ts), then its input, outputs and recorded metadata. */
function inspectTflite(file: string, o: { json?: boolean }): void {
  const info = checkTflite(readFileChecked(file, 'TFLite model'), file);
  const meta = recordedFrom(info.metadata, `${file}: metadata`);
  const m = info.metadata;
  if (o.json) {
    process.stdout.write(`${safeJson({ file, format: 'tflite', inputs: info.inputs, outputs: info.outputs, metadata: m }, 2)}\n`);
    return;
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
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function inspectCommand(file: string, o: { json?: boolean }): Promise<void> {
  const { modelReaderFor, inspectModel, formatModelSummary, modelSummaryJson } = await import('../model-check/inspect.js');
  if (modelKind(file) === 'tflite') { inspectTflite(file, o); return; }
  const reader = modelReaderFor(file);
  if (reader) {
    const s = inspectModel(file, reader);
    process.stdout.write(o.json ? modelSummaryJson(s) : formatModelSummary(s));
    return;
  }
  const ckpt = loadCheckpoint(file);
  const s = summarize(ckpt);
  if (o.json) {
    process.stdout.write(`${safeJson({ file, format: ckpt.format, wrapper: ckpt.wrapper || null, ...s }, 2)}\n`);
    refuseIfUnusable(s);
    return;
  }
  const dtypes = new Map<string, number>();
  for (const t of ckpt.tensors.values()) dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + 1);
  const lines = [
    `file:           ${escapeText(file)}`,
    `format:         ${ckpt.format}${ckpt.wrapper ? ` (state dict under "${escapeText(ckpt.wrapper)}")` : ''}`,
    `family:         ${s.family ?? 'unknown (not a BiSeNetV2 checkpoint of a known family)'}`,
    `classes:        ${s.numClasses ?? '-'}`,
    `booster heads:  ${s.family ? (s.hasBooster ? 'present (aux2, aux3, aux4, aux5_4)' : 'absent') : '-'}`,
    `tensors:        ${s.tensorCount} (${[...dtypes].map(([d, n]) => `${n} ${d}`).join(', ')})`,
    s.problems.length ? `problems:\n${s.problems.slice(0, SHOWN_PROBLEMS).map((p) => `  - ${escapeText(p)}`).join('\n')}${
      s.problems.length > SHOWN_PROBLEMS ? `\n  … and ${s.problems.length - SHOWN_PROBLEMS} more (--json lists them all)` : ''}` : 'problems:       none',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  refuseIfUnusable(s);
}

/**
 * The report is printed either way; a checkpoint of no known family (another network) or one that does
 * not fit its family is then refused like convert would refuse it: one line on stderr, exit 2.
 */
function refuseIfUnusable(s: ReturnType<typeof summarize>): void {
  if (!s.family) fail('layout', s.problems[0] ?? 'not a BiSeNetV2 checkpoint of a known family');
  if (s.problems.length) fail('layout', s.problems[0]!, s.problems.slice(1));
}

/** `bisenet inspect` for a checkpoint: its format, the family its keys fit, classes, booster heads, tensors, and what stops a port. */
import { loadCheckpoint } from '../checkpoint/index.js';
import { summarize, type CheckpointSummary } from '../port/index.js';
import { fail } from '../util/errors.js';
import { escapeText, safeJson } from '../util/render.js';

/** Problems listed in the text report (all of them are in --json and with --verbose). */
const SHOWN_PROBLEMS = 20;

/** The report on a checkpoint (text, or JSON with `json`) and the summary it was made from. */
export function inspectCheckpoint(file: string, o: { json?: boolean }): { text: string; summary: CheckpointSummary } {
  const ckpt = loadCheckpoint(file);
  const s = summarize(ckpt);
  if (o.json) {
    return { text: `${safeJson({ file, format: ckpt.format, wrapper: ckpt.wrapper || null, ...s }, 2)}\n`, summary: s };
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
  return { text: `${lines.join('\n')}\n`, summary: s };
}

/**
 * The report is printed either way; a checkpoint of no known family (another network) or one that does
 * not fit its family is then refused like convert would refuse it: one line on stderr, exit 2.
 */
export function refuseIfUnusable(s: CheckpointSummary): void {
  if (!s.family) fail('layout', s.problems[0] ?? 'not a BiSeNetV2 checkpoint of a known family');
  if (s.problems.length) fail('layout', s.problems[0]!, s.problems.slice(1));
}

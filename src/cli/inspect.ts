import { loadCheckpoint } from '../checkpoint/index.js';
import { summarize } from '../port/index.js';
import { fail } from '../util/errors.js';

export function inspectCommand(file: string, o: { json?: boolean }): void {
  const ckpt = loadCheckpoint(file);
  const s = summarize(ckpt);
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ file, format: ckpt.format, wrapper: ckpt.wrapper || null, ...s }, null, 2)}\n`);
    refuseIfUnusable(s);
    return;
  }
  const dtypes = new Map<string, number>();
  for (const t of ckpt.tensors.values()) dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + 1);
  const lines = [
    `file:           ${file}`,
    `format:         ${ckpt.format}${ckpt.wrapper ? ` (state dict under "${ckpt.wrapper}")` : ''}`,
    `family:         ${s.family ?? 'unknown (not a BiSeNetV2 checkpoint of a known family)'}`,
    `classes:        ${s.numClasses ?? '-'}`,
    `booster heads:  ${s.family ? (s.hasBooster ? 'present (aux2, aux3, aux4, aux5_4)' : 'absent') : '-'}`,
    `tensors:        ${s.tensorCount} (${[...dtypes].map(([d, n]) => `${n} ${d}`).join(', ')})`,
    s.problems.length ? `problems:\n${s.problems.map((p) => `  - ${p}`).join('\n')}` : 'problems:       none',
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

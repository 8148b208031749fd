import { loadCheckpoint } from '../checkpoint/index.js';
import { summarize } from '../port/index.js';

export function inspectCommand(file: string, o: { json?: boolean }): void {
  const ckpt = loadCheckpoint(file);
  const s = summarize(ckpt);
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ file, format: ckpt.format, wrapper: ckpt.wrapper || null, ...s }, null, 2)}\n`);
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
}

/** The `diff` report as text (one row per compared tensor, the first divergence marked) and as JSON. */
import type { DiffReport } from './index.js';

const exp = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : Number.isNaN(v) ? '-' : 'inf');

export function formatDiff(r: DiffReport): string {
  const firstName = r.first_divergence?.ir_tensor;
  const rows: string[][] = [['', 'tensor', 'op', 'max|Δ|/max|A|', 'tolerance', 'max|Δ|', 'max|A|', '']];
  for (const t of r.tensors) {
    const first = t.ir_tensor === firstName;
    rows.push([first ? '>>' : '', t.tensor, t.op, exp(t.relative_error), exp(t.tolerance), exp(t.max_abs), Number.isFinite(t.max_a) ? t.max_a.toPrecision(4) : '-',
      first ? 'FIRST DIVERGENCE' : t.over ? 'over' : '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = [
    `A: ${r.a.model} on ${r.a.runtime} [${r.a.device}]`,
    `B: ${r.b.model} on ${r.b.runtime} [${r.b.device}]`,
    `input: ${r.input.source}, [${r.input.shape.join(', ')}]`,
    ...rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()),
  ];
  const crit = `max|Δ| ≤ ${r.tolerance} × max|A| per tensor, plus what its inputs' errors account for`;
  const d = r.first_divergence;
  if (!d) {
    lines.push(`AGREE: ${r.tensors.length} tensors within ${crit}`);
    return lines.join('\n');
  }
  const row = r.tensors.find((t) => t.ir_tensor === d.ir_tensor)!;
  const where = [
    row.nodes.length > 1 ? `covers IR ${row.nodes.join(' → ')}` : '',
    row.note ?? '',
  ].filter(Boolean).join('; ');
  const inputs = d.inputs.length ? d.inputs.map((i) => `${i.tensor} ${exp(i.relative_error)}`).join(', ') : 'the model input';
  const over = r.tensors.filter((t) => t.over).length;
  lines.push(`FIRST DIVERGENCE: ${d.tensor} (op ${d.op}) max|Δ|/max|A| ${exp(d.relative_error)}; its inputs: ${inputs}${where ? `\n  (${where})` : ''}`);
  lines.push(`DIVERGE: ${over} of ${r.tensors.length} tensors outside ${crit}`);
  return lines.join('\n');
}

/** JSON with non-finite numbers as strings, so the file always parses. */
export function diffJson(r: DiffReport): string {
  return JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}

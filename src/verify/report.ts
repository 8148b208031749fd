import { escapeText } from '../util/render.js';
import type { VerifyReport } from './index.js';

const exp = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : Number.isNaN(v) ? '-' : 'inf');
const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(3)}%`);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** A plain-text report: one row per case and output. */
export function formatReport(r: VerifyReport): string {
  const rows: string[][] = [['case', 'output', 'shape', 'max|Δ|', 'mean|Δ|', 'max|ref|', 'max|Δ|/max|ref|', 'labels agree', 'result']];
  for (const c of r.cases) {
    for (const o of c.outputs) {
      rows.push([c.case, o.name, o.shape.join('×'), exp(o.maxAbs), exp(o.meanAbs), Number.isNaN(o.maxRef) ? '-' : o.maxRef.toPrecision(4), exp(o.relMax),
        o.labelAgreement === null ? '-' : `${pct(o.labelAgreement)} (${o.mismatchedPixels} px off)`, o.pass ? 'ok' : `FAIL${o.problem ? `: ${o.problem}` : ''}`]);
    }
  }
  const lines = [`model ${r.model} on ${r.runtime} [${r.device}], golden ${r.golden}`, table(rows)];
  const skipped = r.cases.flatMap((c) => c.skipped.map((s) => `${c.case}/${s}`));
  if (skipped.length) lines.push(`not in the model's outputs, not compared: ${skipped.join(', ')}`);
  const crit = `max|Δ| ≤ ${r.tolerance.rel} × max|ref|, label agreement ≥ ${(100 * r.tolerance.minAgreement).toFixed(2)}%`;
  const n = r.cases.reduce((s, c) => s + c.outputs.length, 0);
  const failed = r.cases.reduce((s, c) => s + c.outputs.filter((o) => !o.pass).length, 0);
  lines.push(r.pass ? `PASS: ${n} outputs in ${r.cases.length} case(s) within ${crit}` : `FAIL: ${failed} of ${n} outputs outside ${crit}`);
  // Case and file names come from the golden directory: escaped, so none can drive the terminal.
  return lines.map((l) => l.split('\n').map((x) => escapeText(x, 20_000)).join('\n')).join('\n');
}

/** JSON with non-finite numbers written as strings, so the file always parses. */
export function reportJson(r: VerifyReport): string {
  return JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}

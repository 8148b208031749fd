/**
 * A verify report as JUnit XML, the format CI dashboards read: one test suite per run, one test case
 * per golden case and output (failures carry the statistics), reference outputs the model lacks as
 * skipped test cases.
 */
import * as os from 'node:os';
import type { OutputStats } from './compare.js';
import type { VerifyReport } from './index.js';

/** Text and attribute values: XML's five escapes, and characters XML 1.0 cannot hold replaced. */
function esc(s: string): string {
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
const attrs = (a: Record<string, string | number>): string => Object.entries(a).map(([k, v]) => ` ${k}="${esc(String(v))}"`).join('');
const num = (v: number): string => (Number.isFinite(v) ? v.toExponential(3) : String(v));
const seconds = (ms: number | undefined): string => ((ms ?? 0) / 1000).toFixed(3);

/** Every statistic of an output, one per line. */
function statsText(o: OutputStats, r: VerifyReport): string {
  return [
    `shape ${o.shape.join('x')}`,
    // Labels (class indices) are compared by agreement only: no |Δ| statistics.
    ...(Number.isNaN(o.maxAbs) ? [] : [`max|Δ| ${num(o.maxAbs)}, mean|Δ| ${num(o.meanAbs)}, max|ref| ${num(o.maxRef)}`,
      `max|Δ|/max|ref| ${num(o.relMax)} (allowed ${r.tolerance.rel})`]),
    o.labelAgreement === null ? 'labels: -' : `labels agree ${(100 * o.labelAgreement).toFixed(4)}% (${o.mismatchedPixels} px off; least ${(100 * r.tolerance.minAgreement).toFixed(2)}%)`,
    ...(o.problem ? [`problem: ${o.problem}`] : []),
  ].join('\n');
}

function failureMessage(o: OutputStats, r: VerifyReport): string {
  if (o.problem) return o.problem;
  const why: string[] = [];
  if (!Number.isNaN(o.maxAbs) && !(o.relMax <= r.tolerance.rel)) why.push(`max|Δ|/max|ref| ${num(o.relMax)} > ${r.tolerance.rel}`);
  if (o.labelAgreement !== null && !(o.labelAgreement >= r.tolerance.minAgreement)) why.push(`labels agree ${(100 * o.labelAgreement).toFixed(4)}% < ${(100 * r.tolerance.minAgreement).toFixed(2)}%`);
  return why.join('; ') || 'outside the tolerance';
}

export function reportJunit(r: VerifyReport, opts: { timestamp?: Date; hostname?: string } = {}): string {
  const suite = `bisenet verify ${r.runtime}`;
  const tests = r.cases.reduce((s, c) => s + c.outputs.length + c.skipped.length, 0);
  const failures = r.cases.reduce((s, c) => s + c.outputs.filter((o) => !o.pass).length, 0);
  const skipped = r.cases.reduce((s, c) => s + c.skipped.length, 0);
  const time = seconds(r.cases.reduce((s, c) => s + (c.ms ?? 0), 0));
  const counts = { tests, failures, errors: 0, skipped, time };
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites${attrs({ name: 'bisenet verify', ...counts })}>`];
  out.push(`  <testsuite${attrs({ name: suite, ...counts, timestamp: (opts.timestamp ?? new Date()).toISOString().slice(0, 19), hostname: opts.hostname ?? os.hostname() })}>`);
  out.push('    <properties>');
  const props: Record<string, string | number> = { model: r.model, runtime: r.runtime, device: r.device, golden: r.golden,
    'tolerance.rel': r.tolerance.rel, 'tolerance.minAgreement': r.tolerance.minAgreement };
  for (const [name, value] of Object.entries(props)) out.push(`      <property${attrs({ name, value })}/>`);
  out.push('    </properties>');
  for (const c of r.cases) {
    // The case's run time belongs to its first output; the others were compared from the same run.
    c.outputs.forEach((o, i) => {
      const head = `    <testcase${attrs({ classname: `${suite}.${c.case}`, name: o.name, time: i === 0 ? seconds(c.ms) : '0.000' })}`;
      if (o.pass) { out.push(`${head}>`, `      <system-out>${esc(statsText(o, r))}</system-out>`, '    </testcase>'); return; }
      out.push(`${head}>`, `      <failure${attrs({ message: failureMessage(o, r), type: 'parity' })}>${esc(statsText(o, r))}</failure>`, '    </testcase>');
    });
    for (const s of c.skipped) {
      out.push(`    <testcase${attrs({ classname: `${suite}.${c.case}`, name: s, time: '0.000' })}>`,
        `      <skipped${attrs({ message: 'a reference output the model does not produce' })}/>`, '    </testcase>');
    }
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

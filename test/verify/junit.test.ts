import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VerifyReport } from '../../src/verify/index.js';
import { reportJunit } from '../../src/verify/junit.js';
import { bisenet } from '../helpers/cli.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

interface El { name: string; attrs: Record<string, string>; children: El[]; text: string }

/** A strict little XML reader (elements, attributes, text, entities): throws on anything not well-formed. */
function parseXml(xml: string): El {
  let i = 0;
  const fail = (why: string): never => { throw new Error(`${why} at ${i}: ${JSON.stringify(xml.slice(i, i + 40))}`); };
  const entity = (s: string): string => s.replace(/&(#x[0-9a-f]+|#\d+|\w+);|&/gi, (m, e: string | undefined) => {
    if (!e) return fail('bare &');
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return named[e] ?? fail(`unknown entity ${m}`);
  });
  if (!xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')) fail('no XML declaration');
  i = xml.indexOf('\n') + 1;
  const element = (): El => {
    const m = /^<([A-Za-z_][\w.-]*)/.exec(xml.slice(i)) ?? fail('expected an element');
    i += m[0].length;
    const el: El = { name: m[1]!, attrs: {}, children: [], text: '' };
    for (;;) {
      const a = /^\s+([A-Za-z_][\w.-]*)="([^"<]*)"/.exec(xml.slice(i));
      if (!a) break;
      if (a[1]! in el.attrs) fail('duplicate attribute');
      el.attrs[a[1]!] = entity(a[2]!);
      i += a[0].length;
    }
    if (xml.startsWith('/>', i)) { i += 2; return el; }
    if (xml[i] !== '>') fail('bad tag');
    i++;
    for (;;) {
      const lt = xml.indexOf('<', i);
      if (lt < 0) fail('unclosed element');
      const text = xml.slice(i, lt);
      el.text += entity(text);
      i = lt;
      if (xml.startsWith(`</${el.name}>`, i)) { i += el.name.length + 3; return el; }
      if (xml.startsWith('</', i)) fail(`mismatched close for ${el.name}`);
      el.children.push(element());
    }
  };
  const root = element();
  if (xml.slice(i).trim() !== '') fail('content after the root');
  return root;
}
const all = (e: El, name: string): El[] => [...(e.name === name ? [e] : []), ...e.children.flatMap((c) => all(c, name))];

const report: VerifyReport = {
  model: 'weird <model> & "name".onnx', runtime: 'ort-cpu', device: 'CPU \u0001', golden: 'g', tolerance: { rel: 1e-4, minAgreement: 0.9999 },
  pass: false,
  cases: [{
    case: 'set/b2', inputShape: [2, 3, 64, 32], skipped: ['aux2'], pass: false, ms: 1500,
    outputs: [
      { name: 'logits', shape: [2, 19, 64, 32], maxAbs: 0.5, meanAbs: 0.01, maxRef: 10, relMax: 0.05, labelAgreement: 0.97, mismatchedPixels: 123, pass: false },
      { name: 'labels (argmax of logits)', shape: [2, 64, 32], maxAbs: NaN, meanAbs: NaN, maxRef: NaN, relMax: NaN, labelAgreement: 1, mismatchedPixels: 0, pass: true },
      { name: 'aux3', shape: [2, 19, 64, 32], maxAbs: Infinity, meanAbs: NaN, maxRef: 3, relMax: Infinity, labelAgreement: null, mismatchedPixels: null, pass: false, problem: 'NaN in the output' },
    ],
  }],
};

describe('verify --junit', () => {
  it('one test case per case and output, failures with their statistics, well-formed', () => {
    const root = parseXml(reportJunit(report, { timestamp: new Date(0), hostname: 'h' }));
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '4', failures: '2', errors: '0', skipped: '1', time: '1.500' });
    const [suite] = all(root, 'testsuite');
    expect(suite!.attrs).toMatchObject({ name: 'bisenet verify ort-cpu', tests: '4', failures: '2', timestamp: '1970-01-01T00:00:00', hostname: 'h' });
    const props = Object.fromEntries(all(root, 'property').map((p) => [p.attrs.name, p.attrs.value]));
    expect(props.model).toBe('weird <model> & "name".onnx');
    expect(props.device).toBe('CPU \uFFFD');
    const cases = all(root, 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual(['logits', 'labels (argmax of logits)', 'aux3', 'aux2']);
    expect(cases.every((c) => c.attrs.classname === 'bisenet verify ort-cpu.set/b2')).toBe(true);
    const [logits, labels, aux3, aux2] = cases;
    const f = all(logits!, 'failure')[0]!;
    expect(f.attrs.message).toBe('max|Δ|/max|ref| 5.000e-2 > 0.0001; labels agree 97.0000% < 99.99%');
    expect(f.text).toContain('max|Δ| 5.000e-1, mean|Δ| 1.000e-2, max|ref| 1.000e+1');
    expect(f.text).toContain('123 px off');
    expect(all(labels!, 'failure')).toEqual([]);
    expect(all(labels!, 'system-out')[0]!.text).not.toContain('NaN');
    expect(all(aux3!, 'failure')[0]!.attrs.message).toBe('NaN in the output');
    expect(all(aux2!, 'skipped')).toHaveLength(1);
  });

  it('bisenet verify writes the report next to its exit code', () => {
    const work = tmpDir('bisenet-junit-');
    const model = path.join(work, 'm.onnx');
    expect(bisenet('convert', fixture(UPSTREAM, 'model.pth'), '--to', 'onnx', '--out', model).status).toBe(0);
    const xml = path.join(work, 'report.xml');
    const r = bisenet('verify', model, '--golden', golden(UPSTREAM), '--junit', xml, '--tolerance', '1e-7');
    expect(r.status).toBe(1);
    const root = parseXml(fs.readFileSync(xml, 'utf8'));
    expect(root.attrs.failures).toBe('1');
    expect(all(root, 'testcase').map((c) => c.attrs.name)).toEqual(['labels (argmax of logits)', 'logits', 'aux2', 'aux3', 'aux4', 'aux5_4']);
    expect(all(root, 'failure')[0]!.attrs.message).toMatch(/^max\|Δ\|\/max\|ref\| \d\.\d{3}e-\d > 1e-7$/);
    fs.rmSync(work, { recursive: true, force: true });
  });
});

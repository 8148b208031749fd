import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/index.js';
import { loadRunner, type Runner } from '../../src/runtime/index.js';
import { DEFAULT_TOLERANCE, verifyGolden } from '../../src/verify/index.js';
import { summarize } from '../../src/port/index.js';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import * as path from 'node:path';
import { goldenSets, tmpDir, UPSTREAM } from '../helpers/paths.js';

const sets = goldenSets();
const runners: Runner[] = [];
afterAll(async () => { for (const r of runners) await r.dispose(); });

describe('ONNX parity against PyTorch goldens (onnxruntime-node)', () => {
  it('has the upstream golden set', () => {
    expect(sets.map((s) => s.name)).toContain(UPSTREAM);
  });

  it.each(sets.map((s) => [s.name, s] as const))('%s', async (_name, set) => {
    const hasBooster = summarize(loadCheckpoint(set.checkpoint)).hasBooster;
    const converted = convertCheckpoint(set.checkpoint, { to: 'onnx', aux: hasBooster, labels: true });
    const file = path.join(tmpDir(), 'model.onnx');
    fs.writeFileSync(file, converted.bytes);
    const runner = await loadRunner(file, 'ort-cpu', { threads: 1 });
    runners.push(runner);
    const report = await verifyGolden(runner, file, set.dir, DEFAULT_TOLERANCE);
    const outputs = report.cases.flatMap((c) => c.outputs);
    for (const o of outputs) {
      // Label outputs are compared by agreement only; their max|Δ| is not defined (NaN).
      if (!o.name.startsWith('labels')) expect(o.relMax, `${o.name} max|Δ|/max|ref|`).toBeLessThanOrEqual(1e-4);
      if (o.labelAgreement !== null) expect(o.labelAgreement, `${o.name} label agreement`).toBeGreaterThanOrEqual(0.9999);
    }
    // Every reference output was compared: logits, labels and, where present, the four booster heads.
    expect(report.cases.flatMap((c) => c.skipped)).toEqual([]);
    expect(outputs.map((o) => o.name)).toContain('logits');
    if (hasBooster) expect(outputs.map((o) => o.name)).toEqual(expect.arrayContaining(['aux2', 'aux3', 'aux4', 'aux5_4']));
    expect(report.pass).toBe(true);
  });
});

/**
 * Values that would be computed wrongly rather than refused (the first round's class 10 and its kin): non-finite
 * weights are refused naming the tensor (or converted with --allow-nonfinite and a warning), safetensors data
 * must tile its buffer exactly, and a golden reference saved as integers is not compared by argmax alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { compareOutput } from '../../src/verify/compare.js';
import { bisenet, oneErrorLine } from '../helpers/cli.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
beforeAll(() => { work = tmpDir('bisenet-hostile-values-'); });
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

describe('10. non-finite weights', () => {
  it('are refused naming the tensor, and converted with --allow-nonfinite and a warning', () => {
    const ck = loadCheckpoint(fixture(UPSTREAM, 'model.pth'));
    const arrays = new Map([...ck.tensors].map(([k, t]) => [k, t.load()]));
    const variance = [...arrays.keys()].find((k) => k.endsWith('running_var'))!;
    (arrays.get(variance)!.data as Float32Array)[0] = -1;
    const file = path.join(work, 'negvar.safetensors');
    fs.writeFileSync(file, writeSafetensors(arrays));
    oneErrorLine(bisenet('convert', file, '--to', 'onnx', '--out', path.join(work, 'nv.onnx')), new RegExp(`NaN/Inf or a negative running variance \\(first: ${variance.replace(/\./g, '\\.')}`));
    expect(fs.existsSync(path.join(work, 'nv.onnx'))).toBe(false);
    const r = bisenet('convert', file, '--to', 'onnx', '--out', path.join(work, 'nv.onnx'), '--allow-nonfinite');
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^warning: 1 tensor\(s\) hold NaN/);
  }, 600_000);
});

describe('values that would be computed wrongly rather than refused', () => {
  it('safetensors data must be tiled exactly: overlapping tensors, aliases and trailing bytes are refused', () => {
    const t = new Map([['a', { dtype: 'float32' as const, shape: [2], data: Float32Array.of(1, 2) }], ['b', { dtype: 'float32' as const, shape: [2], data: Float32Array.of(3, 4) }]]);
    const good = writeSafetensors(t);
    expect(readSafetensors(good, 'ok').size).toBe(2);
    const withHeader = (edit: (h: Record<string, { data_offsets: number[] }>) => void, extra = 0): Uint8Array => {
      const n = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
      const h = JSON.parse(Buffer.from(good.subarray(8, 8 + n)).toString('utf8'));
      edit(h);
      const hb = Buffer.from(JSON.stringify(h).padEnd(n, ' '));
      const out = new Uint8Array(good.length + extra);
      out.set(good);
      out.set(hb.subarray(0, n), 8);
      return out;
    };
    expect(() => readSafetensors(withHeader((h) => { h.b!.data_offsets = [0, 8]; }), 'alias')).toThrowError(/overlaps|covered exactly once/);
    expect(() => readSafetensors(withHeader(() => {}, 16), 'gap')).toThrowError(/cover 16 of the 32 data bytes/);
  });
  it('a golden reference saved as integers is not compared with float outputs by argmax alone', () => {
    const shape = [1, 2, 2, 2];
    const f = { dtype: 'float32' as const, shape, data: Float32Array.of(1.4, 0.2, 3.9, 0.1, 0.3, 2.2, 0.4, 5.1) };
    const i = { dtype: 'int64' as const, shape, data: BigInt64Array.from([1n, 0n, 3n, 0n, 0n, 2n, 0n, 5n]) };
    const r = compareOutput('logits', f, i, { rel: 1e-4, minAgreement: 0.9999 });
    expect(r.pass).toBe(false);
    expect(r.problem).toMatch(/int64 values and the output float32/);
  });
});

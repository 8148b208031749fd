/** `bisenet diff` and `verify --layers` through the real CLI: output, JSON, exit codes, bad input. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/checkpoint/npy.js';
import { plantOnnx } from '../helpers/plant.js';
import { runCli } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, golden, tmpDir } from '../helpers/paths.js';

const SET = 'paddleseg-bisenetv2-n19';
const CKPT = fixture(SET, 'model.pdparams');
let work: string;
const cli = (...args: string[]) => runCli(args, { cwd: work });

beforeAll(() => {
  work = tmpDir('bisenet-diff-cli-');
  const clean = converted(CKPT, { to: 'onnx' }).bytes;
  fs.writeFileSync(path.join(work, 'clean.onnx'), clean);
  // A change an outsider makes with the onnx package: a conv's weight initializer, transposed.
  const faulted = plantOnnx(clean, 'weight-transposed');
  fs.writeFileSync(path.join(work, 'faulted.onnx'), faulted);
  writeNpy(path.join(work, 'x.npy'), { dtype: 'float32', shape: [1, 3, 32, 64], data: Float32Array.from({ length: 3 * 32 * 64 }, (_, i) => Math.sin(i)) });
  writeNpy(path.join(work, 'bad.npy'), { dtype: 'float32', shape: [1, 3, 30, 64], data: new Float32Array(3 * 30 * 64) });
}, 180_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

describe('bisenet diff', () => {
  it('checkpoint (reference) against its ONNX: exit 0, every tensor in topological order', () => {
    const r = cli('diff', CKPT, 'clean.onnx', '--input', 'x.npy', '--json', 'ok.json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^A: .+ on reference/m);
    expect(r.stdout).toMatch(/^AGREE: \d+ tensors/m);
    const j = JSON.parse(fs.readFileSync(path.join(work, 'ok.json'), 'utf8'));
    expect(j.first_divergence).toBeNull();
    const names = j.tensors.map((t: { tensor: string }) => t.tensor);
    expect(names.indexOf('detail.stage1.0.conv')).toBeLessThan(names.indexOf('bga.detail_pool'));
    expect(names.indexOf('bga.detail_pool')).toBeLessThan(names.indexOf('logits'));
    // BatchNorm folded: the ONNX conv holds the IR's BatchNorm output, and the report says so.
    const conv = j.tensors.find((t: { tensor: string }) => t.tensor === 'detail.stage1.0.conv');
    expect(conv).toMatchObject({ ir_tensor: 'detail.stage1.0.bn', op: 'conv+batchnorm', b_tensor: 'detail.stage1.0.conv' });
  }, 120_000);

  it('names the planted tensor: exit 1, marked row, JSON first_divergence', () => {
    const r = cli('diff', CKPT, 'faulted.onnx', '--input', 'x.npy', '--json', 'bad.json');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^>> +detail\.stage2\.1\.conv +conv\+batchnorm .*FIRST DIVERGENCE$/m);
    expect(r.stdout).toMatch(/^FIRST DIVERGENCE: detail\.stage2\.1\.conv \(op conv\+batchnorm\) .* its inputs: detail\.stage2\.0\.relu /m);
    const j = JSON.parse(fs.readFileSync(path.join(work, 'bad.json'), 'utf8'));
    expect(j.first_divergence).toMatchObject({ tensor: 'detail.stage2.1.conv', op: 'conv+batchnorm' });
    expect(j.first_divergence.relative_error).toBeGreaterThan(1e-2);
    expect(j.tensors.length).toBeGreaterThan(50);
  }, 120_000);

  it('--layers limits the comparison; two ONNX files need no checkpoint', () => {
    const r = cli('diff', 'clean.onnx', 'faulted.onnx', '--input', 'x.npy', '--layers', 'detail.stage1.0.conv,detail.stage2.1.conv,logits');
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n').filter((l) => /^(>>)? +\S+ +\S+ +\d/.test(l))).toHaveLength(3);
  }, 120_000);

  it('bad input: exit 2, one line, nothing written', () => {
    const cases: [string[], RegExp][] = [
      [['diff', 'missing.onnx', 'clean.onnx'], /missing\.onnx/],
      [['diff', CKPT, 'clean.onnx', '--input', 'bad.npy'], /height 30 is not a multiple of 32/],
      [['diff', CKPT, 'clean.onnx', '--input', 'x.npy', '--golden', golden(SET)], /--input or --golden/],
      [['diff', 'clean.onnx', 'faulted.onnx', '--input', 'x.npy', '--layers', 'no.such.tensor'], /no\.such\.tensor is not a tensor/],
      [['diff', 'clean.onnx', 'faulted.onnx', '--input', 'x.npy', '--json', 'ok.json'], /already exists/],
      [['diff', 'clean.onnx', 'faulted.onnx', '--runtime-b', 'tensorrt'], /cannot|not installed|tensorrt/],
      [['diff', 'x.npy', 'clean.onnx'], /no runtime loads/],
    ];
    for (const [args, re] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(re);
    }
    expect(fs.existsSync(path.join(work, 'missing.json'))).toBe(false);
  }, 120_000);
});

describe('bisenet verify --layers', () => {
  it('adds the layer table against the reference on the golden checkpoint', () => {
    const r = runCli(['verify', path.join(work, 'faulted.onnx'), '--golden', golden(SET), '--layers']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^FIRST DIVERGENCE: detail\.stage2\.1\.conv /m);
  }, 120_000);
});

/**
 * Planted faults: each fault edited into an emitted model as an outsider would (onnx-proto for
 * ONNX, model.json and shards for tfjs), and `diff` must name exactly the planted tensor, on ONNX
 * and on both tfjs formats, and nothing before it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffModels, type DiffReport } from '../../src/diff/index.js';
import type { NdArray } from '../../src/util/ndarray.js';
import { FAULTS, plantOnnx, plantTfjs, SITES, type Fault } from '../helpers/plant.js';
import { converted } from '../helpers/models.js';
import { fixture, tmpDir } from '../helpers/paths.js';
import { randomArray } from '../helpers/tfjs-traps.js';

const CKPT = fixture('mmseg-bisenetv2-n150-b2', 'model.pth');
let work: string;
const input: NdArray = randomArray([1, 3, 64, 96], 12, -2, 2);

beforeAll(() => {
  work = tmpDir('bisenet-diff-');
  fs.writeFileSync(path.join(work, 'clean.onnx'), converted(CKPT, { to: 'onnx' }).bytes);
  for (const to of ['tfjs-graph', 'tfjs-layers'] as const) {
    const dir = path.join(work, to);
    fs.mkdirSync(dir);
    for (const [f, d] of converted(CKPT, { to }).files!) fs.writeFileSync(path.join(dir, f), d);
  }
}, 180_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

/** The tensor each fault must be named at, per format (tfjs fuses the ReLU into its conv). */
const expected = (fault: Fault, tfjs: boolean): string => ({
  'resize-coordinates': SITES.resize, 'bn-eps': SITES.bn, 'pool-exclude-pad': SITES.pool, 'weight-transposed': SITES.conv,
  'relu-missing': tfjs ? SITES.reluConv : SITES.relu,
})[fault];

const diff = (a: string, b: string): Promise<DiffReport> => diffModels({ path: a }, { path: b }, { source: 'test', arrays: [input] });

function log(label: string, r: DiffReport): void {
  const before = r.tensors.slice(0, r.tensors.findIndex((t) => t.over));
  const worst = Math.max(0, ...before.map((t) => t.relative_error / t.tolerance));
  console.info(`${label}: first ${r.first_divergence?.tensor} (${r.first_divergence?.op}) ${r.first_divergence?.relative_error.toExponential(2)}; tensors before it at most ${worst.toFixed(3)} of their tolerance`);
}

describe('diff names the planted tensor', () => {
  for (const fault of FAULTS) {
    it(`onnx: ${fault}`, async () => {
      const file = path.join(work, `${fault}.onnx`);
      fs.writeFileSync(file, plantOnnx(fs.readFileSync(path.join(work, 'clean.onnx')), fault));
      const r = await diff(path.join(work, 'clean.onnx'), file);
      log(`onnx ${fault}`, r);
      expect(r.agree).toBe(false);
      expect(r.first_divergence!.tensor).toBe(expected(fault, false));
    }, 180_000);
    for (const to of ['tfjs-graph', 'tfjs-layers'] as const) {
      it(`${to}: ${fault}`, async () => {
        const dir = path.join(work, `${to}-${fault}`);
        plantTfjs(path.join(work, to), dir, fault);
        const r = await diff(path.join(work, to), dir);
        log(`${to} ${fault}`, r);
        expect(r.agree).toBe(false);
        expect(r.first_divergence!.tensor).toBe(expected(fault, true));
      }, 180_000);
    }
  }
});

describe('against the checkpoint in the reference interpreter (float64 against float32: noise must not come first)', () => {
  it('a ReLU deleted from the ONNX (consumers rewired): named at the tensor that now holds its value', async () => {
    const file = path.join(work, 'relu-deleted.onnx');
    fs.writeFileSync(file, plantOnnx(fs.readFileSync(path.join(work, 'clean.onnx')), 'relu-missing', { reluByDeletion: true }));
    const r = await diff(CKPT, file);
    log('reference vs onnx, relu deleted', r);
    expect(r.first_divergence).toMatchObject({ tensor: SITES.reluConv, ir_tensor: SITES.relu, op: 'conv+batchnorm+relu' });
    expect(r.first_divergence!.inputs.every((i) => i.relative_error < 1e-5)).toBe(true);
  }, 120_000);

  it('a transposed kernel in the tfjs layers model', async () => {
    const dir = path.join(work, 'layers-transposed-vs-ref');
    plantTfjs(path.join(work, 'tfjs-layers'), dir, 'weight-transposed');
    const r = await diff(CKPT, dir);
    log('reference vs tfjs-layers, kernel transposed', r);
    expect(r.first_divergence).toMatchObject({ tensor: SITES.conv, op: 'conv+batchnorm+relu' });
  }, 120_000);
});

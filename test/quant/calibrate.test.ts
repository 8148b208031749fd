import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateCalibration, type Calibration } from '../../src/emit/calibration.js';
import { bisenet } from '../helpers/cli.js';
import { fixture, ROOT, tmpDir } from '../helpers/paths.js';

const work = tmpDir('bisenet-calib-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const TRAINED = fixture('trained-synthetic-n19', 'model.pth');
const CALIB = path.join(ROOT, 'data', 'synthetic-calib');

describe('bisenet calibrate', () => {
  let calib: Calibration;
  it('records every tensor\'s range over the calibration images', () => {
    const out = path.join(work, 'calib.json');
    const r = bisenet('calibrate', TRAINED, '--data', CALIB, '--limit', '1', '--out', out, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    calib = validateCalibration(JSON.parse(fs.readFileSync(out, 'utf8')), out);
    expect(calib.images.count).toBe(1);
    expect(calib.images.files).toEqual(['0000.png']);
    const input = calib.tensors.input!;
    expect(input.count).toBe(3 * 256 * 512);
    // The Cityscapes preset maps 0..255 into about [−1.7, 3.2]
    expect(input.min).toBeGreaterThan(-1.6 - 0.2);
    expect(input.max).toBeLessThan(3.3);
    for (const [name, t] of Object.entries(calib.tensors)) {
      expect(t.entropy, name).toBeLessThanOrEqual(t.absmax * (1 + 1e-9));
      expect(t.percentile.abs, name).toBeLessThanOrEqual(t.absmax * (1 + 1e-9));
      expect(t.percentile.low, name).toBeGreaterThanOrEqual(t.min);
      expect(t.percentile.high, name).toBeLessThanOrEqual(t.max);
    }
    // ReLU outputs are never negative; the logits are recorded; folded BatchNorms are not tensors of the model
    expect(calib.tensors['detail.stage1.0.relu']!.min).toBe(0);
    expect(calib.tensors.logits).toBeDefined();
    expect(calib.tensors['detail.stage1.0.bn']).toBeUndefined();
    expect(Object.keys(calib.tensors).length).toBeGreaterThan(100);
  }, 60_000);

  it('fetching tensors in groups under a small --max-memory gives the same ranges', () => {
    const out = path.join(work, 'calib-small.json');
    const r = bisenet('--max-memory', '80MiB', 'calibrate', TRAINED, '--data', CALIB, '--limit', '1', '--out', out, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const small = JSON.parse(fs.readFileSync(out, 'utf8')) as Calibration;
    expect(Object.keys(small.tensors)).toEqual(Object.keys(calib.tensors));
    for (const [name, t] of Object.entries(calib.tensors)) {
      expect(small.tensors[name]!.absmax, name).toBeCloseTo(t.absmax, 4);
      expect(small.tensors[name]!.entropy, name).toBeCloseTo(t.entropy, 4);
    }
  }, 60_000);

  it('bad input: one error line, exit 2, nothing written', () => {
    const out = path.join(work, 'none.json');
    const r = bisenet('calibrate', TRAINED, '--data', path.join(work, 'missing'), '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: calibration data not found/);
    expect(fs.existsSync(out)).toBe(false);
    const empty = path.join(work, 'empty');
    fs.mkdirSync(empty);
    const r2 = bisenet('calibrate', TRAINED, '--data', empty, '--out', out);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/no \.png or \.jpg images/);
    const fp16 = path.join(work, 'fp16.onnx');
    expect(bisenet('convert', TRAINED, '--to', 'onnx', '--precision', 'fp16', '--out', fp16).status).toBe(0);
    const r4 = bisenet('calibrate', fp16, '--data', CALIB, '--out', out);
    expect(r4.status).toBe(2);
    expect(r4.stderr).toMatch(/is an fp16 model; calibrate the float32 model/);
    const r3 = bisenet('--max-memory', '20MiB', 'calibrate', TRAINED, '--data', CALIB, '--out', out);
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/--max-memory/);
    expect(fs.existsSync(out)).toBe(false);
  }, 60_000);

  it('a hand-edited calib.json with a broken range is refused', () => {
    const c = JSON.parse(JSON.stringify(calib)) as Calibration;
    c.tensors.input!.absmax = Number.NaN;
    expect(() => validateCalibration(JSON.parse(JSON.stringify(c)), 'x.json')).toThrow(/tensor input has no valid range/);
    expect(() => validateCalibration({ format: 'other' }, 'x.json')).toThrow(/format/);
    for (const edit of [(x: Calibration) => { (x as unknown as { images: unknown }).images = null; }, (x: Calibration) => { x.model.num_classes = -3; },
      (x: Calibration) => { (x.model as { source: unknown }).source = 7; }, (x: Calibration) => { (x as unknown as { tensors: unknown }).tensors = []; }]) {
      const y = JSON.parse(JSON.stringify(calib)) as Calibration;
      edit(y);
      expect(() => validateCalibration(y, 'x.json')).toThrow(/x\.json: .* \(write it with bisenet calibrate\)/);
    }
  });
});

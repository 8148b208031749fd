import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Calibration } from '../../src/emit/calibration.js';
import { bisenet } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, ROOT, tmpDir } from '../helpers/paths.js';

const TRAINED = fixture('trained-synthetic-n19', 'model.pth');
const CALIB = fixture('trained-synthetic-n19', 'calib.json');
const work = tmpDir('bisenet-quantize-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const common = ['--calibration-data', path.join(ROOT, 'data', 'synthetic-calib'), '--eval-data', path.join(ROOT, 'data', 'synthetic-val'), '--eval-limit', '2', '--sensitivity-images', '1', '--quiet'];
const metadata = (file: string): Record<string, string> =>
  Object.fromEntries((onnxProto.onnx.ModelProto.decode(fs.readFileSync(file)).metadataProps ?? []).map((p) => [p.key!, p.value!]));

/**
 * A calibration whose range for head.conv.conv's input is a thousandth of the real one: that layer's
 * int8 input saturates and the masks collapse; the search must single it out.
 */
function brokenCalibration(): { broken: string; victimInput: string } {
  const g = onnxProto.onnx.ModelProto.decode(converted(TRAINED, { to: 'onnx' }).bytes).graph!;
  const victimInput = g.node!.find((n) => n.name === 'head.conv.conv')!.input![0]!;
  const c = JSON.parse(fs.readFileSync(CALIB, 'utf8')) as Calibration;
  const t = c.tensors[victimInput]!;
  t.entropy = t.absmax / 1000;
  const broken = path.join(work, 'broken.json');
  fs.writeFileSync(broken, JSON.stringify(c));
  return { broken, victimInput };
}

describe('bisenet quantize', () => {
  it('plain int8 within the bound: nothing kept in float, the choice recorded in the model (--qdq-outputs form)', () => {
    const out = path.join(work, 'plain.onnx');
    const r = bisenet('quantize', TRAINED, '--to', 'onnx', '--calibration', CALIB, '--max-miou-drop', '10', '--qdq-outputs', '--out', out, ...common);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/convs in float: 0 of 56 \(plain int8 is within the bound\)/);
    const m = metadata(out);
    expect(m.precision).toBe('int8');
    const choice = JSON.parse(m.quantize_search!) as { keep_float: unknown[]; float_miou: number; result_miou: number; max_miou_drop: number };
    expect(choice.keep_float).toEqual([]);
    expect(choice.float_miou - choice.result_miou).toBeLessThanOrEqual(10);
    expect(choice.max_miou_drop).toBe(10);
    expect(JSON.parse(m.quantization!).conv_outputs).toBe(true);
  }, 120_000);

  it('finds the layer a broken range ruins, keeps it in float, and meets the bound', () => {
    const { broken, victimInput } = brokenCalibration();
    const out = path.join(work, 'searched.onnx');
    // Only the head's and BGA's convs are searched (the rest kept by --keep-float), to keep the test short.
    const r = bisenet('quantize', TRAINED, '--to', 'onnx', '--calibration', broken, '--max-miou-drop', '0.5', '--keep-float', 'detail.*,semantic.*', '--out', out, ...common);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const choice = JSON.parse(metadata(out).quantize_search!) as { keep_float: { conv: string; by: string; damage: number | null }[]; float_miou: number; int8_miou: number; result_miou: number };
    const searched = choice.keep_float.filter((k) => k.by === 'search');
    expect(searched[0]!.conv).toBe('head.conv.conv');
    expect(choice.float_miou - choice.int8_miou).toBeGreaterThan(5);
    expect(choice.float_miou - choice.result_miou).toBeLessThanOrEqual(0.5);
    expect(r.stdout).toMatch(/head\.conv\.conv {2}\(damage/);
    // The kept conv reads float weights and no Q/DQ in the written model
    const qg = onnxProto.onnx.ModelProto.decode(fs.readFileSync(out)).graph!;
    expect(qg.node!.find((n) => n.name === 'head.conv.conv')!.input![0]).toBe(victimInput);
  }, 240_000);

  it('refuses to calibrate on the eval images', () => {
    const val = path.join(ROOT, 'data', 'synthetic-val');
    const r = bisenet('quantize', TRAINED, '--to', 'onnx', '--calibration-data', val, '--eval-data', val, '--out', path.join(work, 'same.onnx'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--calibration-data and --eval-data are the same images/);
  }, 60_000);

  it('no mix reaches the bound: says so, exit 1, nothing written', () => {
    const out = path.join(work, 'never.onnx');
    const r = bisenet('quantize', TRAINED, '--to', 'onnx', '--calibration', brokenCalibration().broken, '--max-miou-drop', '0.5', '--keep-float', 'detail.*,semantic.*', '--max-float', '0', '--out', out, ...common);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/no mix with at most 0 searched convs in float \(besides the 47 of --keep-float\) reaches a drop of 0.5 points; nothing written/);
    expect(fs.existsSync(out)).toBe(false);
  }, 120_000);
});

describe('bisenet quantize --to tflite', () => {
  it('searches on the ONNX form, scores the integer TFLite in litert-wasm against the same bound, and records both', async () => {
    const { checkTflite } = await import('../../src/model-check/tflite.js');
    const out = path.join(work, 'q.tflite');
    const r = bisenet('quantize', TRAINED, '--to', 'tflite', '--calibration', CALIB, '--max-miou-drop', '0.5', '--shapes', '1x3x256x512', '--out', out, ...common);
    expect(r.status, r.stderr).toBe(0);
    const m = /TFLite int8 with these convs in float, scored in litert-wasm: (\d+\.\d\d) \(drop (-?\d+\.\d\d)\)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![2])).toBeLessThanOrEqual(0.5);
    const info = checkTflite(fs.readFileSync(out), out);
    expect(info.metadata.precision).toBe('int8');
    const choice = JSON.parse(info.metadata.quantize_search!) as { litert_miou: number; float_miou: number; max_miou_drop: number };
    expect(choice.litert_miou).toBeCloseTo(Number(m![1]), 1);
    expect(choice.float_miou - choice.litert_miou).toBeLessThanOrEqual(choice.max_miou_drop);
    // A TFLite output must be named as one.
    const bad = bisenet('quantize', TRAINED, '--to', 'tflite', '--calibration', CALIB, '--out', path.join(work, 'q.onnx'), ...common);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/a TFLite model's file name must end in \.tflite/);
  }, 180_000);
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint, readCalibration } from '../../src/convert/index.js';
import { asymmetricRange, emitTflite, int8Params, quantizeAxis } from '../../src/emit/tflite.js';
import { checkTflite } from '../../src/model-check/tflite.js';
import { readRecordedMetadata } from '../../src/model-file/index.js';
import { isInstalled, loadRunner } from '../../src/runtime/index.js';
import { evaluate } from '../../src/eval/index.js';
import { runBench } from '../../src/bench/index.js';
import { fb, writeFlatbuffer } from '../../src/util/flatbuffer.js';
import { writeNpy } from '../../src/checkpoint/npy.js';
import { bisenet } from '../helpers/cli.js';
import { fixture, ROOT, tmpDir } from '../helpers/paths.js';

const LITERT = isInstalled('@litertjs/core');
const TRAINED = fixture('trained-synthetic-n19', 'model.pth');
const CALIB = fixture('trained-synthetic-n19', 'calib.json');
let dir: string;
beforeAll(() => { dir = tmpDir('bisenet-tflite-int8-'); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });
const write = (name: string, bytes: Uint8Array): string => { const p = path.join(dir, name); fs.writeFileSync(p, bytes); return p; };

describe('integer TFLite: the quantizer', () => {
  it('asymmetric int8 parameters hold 0 exactly and span the range in 255 steps', () => {
    const q = int8Params(-1.5, 6.2);
    expect(q.scale[0]).toBeCloseTo(7.7 / 255, 6);
    expect(q.zeroPoint[0]).toBe(Math.round(-128 + 1.5 / q.scale[0]!));
    expect((-128 - q.zeroPoint[0]!) * q.scale[0]!).toBeCloseTo(-1.5, 1);
    expect((127 - q.zeroPoint[0]!) * q.scale[0]!).toBeCloseTo(6.2, 1);
    // A ReLU's range [0, m]: zero point −128.
    expect(int8Params(0, 3).zeroPoint[0]).toBe(-128);
    // A range not containing 0 is widened to contain it.
    const r = { count: 1, min: 2, max: 5, absmax: 5, percentile: { abs: 4, low: 2.5, high: 4 }, entropy: 3 };
    expect(asymmetricRange(r, 'minmax')).toEqual([0, 5]);
    expect(asymmetricRange(r, 'percentile')).toEqual([0, 4]);
    expect(asymmetricRange(r, 'entropy')).toEqual([0, 3]);
  });

  it('weights: symmetric per channel along the axis asked for, codes within ±127', () => {
    // shape [1, 1, 2, 3]: channels on axis 3 (a depthwise filter), values channel c = (c + 1) · {1, −2}
    const w = Float32Array.of(1, 2, 3, -2, -4, -6);
    const { q, scales } = quantizeAxis(w, [1, 1, 2, 3], 3);
    expect(scales.map((s) => s * 127)).toEqual([2, 4, 6].map((m) => expect.closeTo(m, 5)));
    expect(Array.from(q)).toEqual([64, 64, 64, -127, -127, -127]);
    // axis 0, an all-zero channel: scale 1, codes 0
    const z = quantizeAxis(Float32Array.of(0, 0, 1, -1), [2, 2], 0);
    expect(z.scales[0]).toBe(1);
    expect(Array.from(z.q)).toEqual([0, 0, 127, -127]);
  });
});

describe('integer TFLite: the emitter', () => {
  it('int8 weights, activations and biases with their quantization, float input and outputs, precision recorded', () => {
    const c = convertCheckpoint(TRAINED, { to: 'tflite', labels: true, shapes: '1x3x64x128', precision: 'int8', calibration: CALIB, statistic: 'minmax' });
    const info = checkTflite(c.bytes, 'int8.tflite');
    expect(info.inputs).toEqual([{ name: 'input', shape: [1, 64, 128, 3], type: 'float32' }]);
    expect(info.outputs.map((o) => `${o.name}:${o.type}`)).toEqual(['logits:float32', 'labels:int32']);
    const p = write('int8.tflite', c.bytes);
    expect(readRecordedMetadata(p).precision).toBe('int8');
    expect(JSON.parse(info.metadata.quantization!).statistic).toBe('minmax');
    // 4 × smaller than float32 weights, less the int32 biases and the metadata
    const f32 = convertCheckpoint(TRAINED, { to: 'tflite', shapes: '1x3x64x128' });
    expect(c.byteLength).toBeLessThan(f32.byteLength * 0.3);
    // The intermediates are int8; the logits' final upsampling runs in float32 on the classifier's DEQUANTIZEd output.
    expect(info.produced.map((t) => t.name)).toEqual(['head.classifier.conv/float', 'logits']);
    expect(JSON.parse(info.metadata.quantization!).output_resize).toBe('float32');
    // fullyInteger: every op integer, the logits DEQUANTIZEd at the exit.
    const f = convertCheckpoint(TRAINED, { to: 'tflite', shapes: '1x3x64x128' });
    const whole = emitTflite(f.graph, f.ported.weights, { shapes: '1x3x64x128', int8: { calibration: readCalibration(CALIB), statistic: 'minmax', fullyInteger: true } });
    const wi = checkTflite(whole, 'whole.tflite');
    expect(wi.produced.map((t) => t.name)).toEqual(['logits']);
    expect(JSON.parse(wi.metadata.quantization!).output_resize).toBe('int8');
  });

  it('--keep-float: the convs named run in float32 between a DEQUANTIZE and a QUANTIZE, recorded in the metadata', () => {
    const base = { to: 'tflite' as const, shapes: '1x3x64x64', precision: 'int8' as const, calibration: CALIB };
    const plain = convertCheckpoint(TRAINED, base);
    const kept = convertCheckpoint(TRAINED, { ...base, keepFloat: ['head.*', 'detail.stage1.0.conv'] });
    const info = checkTflite(kept.bytes, 'kept.tflite');
    expect(JSON.parse(info.metadata.quantization!).float_convs).toEqual(['head.conv.conv', 'head.classifier.conv', 'detail.stage1.0.conv']);
    // the float filters: head.conv (128 → 1024, 3×3: 1.2 M weights) is 3.4 MiB more in float32 than in int8
    expect(kept.byteLength - plain.byteLength).toBeGreaterThan(3 * 2 ** 20);
    // float32 tensors: the kept convs' outputs, the one int8 input DEQUANTIZEd (head.conv's; the classifier reads
    // head.conv's float value, detail.stage1.0 the float input, padded in float; the logits' resize the classifier's), the logits
    expect(info.produced.map((t) => t.name)).toEqual(['detail.stage1.0.conv/pad', 'detail.stage1.0.conv/float', 'bga.out.conv/float', 'head.conv.conv/float', 'head.classifier.conv/float', 'logits']);
  });

  it('refuses what integer TFLite cannot take, naming the option', () => {
    expect(() => convertCheckpoint(TRAINED, { to: 'tflite', precision: 'int8' })).toThrow(/--precision int8 needs --calibration/);
    expect(() => convertCheckpoint(TRAINED, { to: 'tflite', precision: 'fp16' })).toThrow(/--quantize float16/);
    expect(() => convertCheckpoint(TRAINED, { to: 'tflite', precision: 'int8', calibration: CALIB, quantize: 'float16' })).toThrow(/exclude each other/);
    expect(() => convertCheckpoint(TRAINED, { to: 'tflite', precision: 'int8', calibration: CALIB, keepFloat: ['nosuch.*'] })).toThrow(/--keep-float nosuch\.\*: matches no conv/);
    expect(() => convertCheckpoint(TRAINED, { to: 'tflite', calibration: CALIB })).toThrow(/applies to --precision int8 only/);
    const cal = readCalibration(CALIB);
    delete (cal.tensors as Record<string, unknown>)['bga.left'];
    expect(() => convertCheckpoint(TRAINED, { to: 'tflite', precision: 'int8', calibration: cal, shapes: '1x3x64x64' })).toThrow(/no range for tensor bga\.left/);
  });
});

// --- A hand-built int8 model: QUANTIZE → CONV_2D (3×3, 2 → 3 channels, per-channel int8) → DEQUANTIZE -------------

interface Int8Tiny {
  actScale?: number; actZero?: number; wScales?: number[]; wDim?: number; biasScale?: number[]; outScale?: number;
  noQuant?: boolean; quantOnFloat?: boolean; actPerChannel?: boolean;
}

function int8Tiny(o: Int8Tiny = {}): Uint8Array {
  const quant = (scale: number[], zp: number[], dim = 0) => fb.table([undefined, undefined, fb.f32s(scale), fb.i64s(zp), undefined, undefined, dim ? fb.i32(dim) : undefined]);
  const tensor = (name: string, shape: number[], type: number, buffer: number, q?: ReturnType<typeof quant>) => fb.table([fb.i32s(shape), fb.i8(type), fb.u32(buffer), fb.str(name), q]);
  const sA = o.actScale ?? 0.02, wS = o.wScales ?? [0.01, 0.02, 0.03];
  const bS = o.biasScale ?? wS.map((s) => Math.fround(Math.fround(sA) * Math.fround(s)));
  const tensors = [
    tensor('input', [1, 4, 4, 2], 0, 0, o.quantOnFloat ? quant([1], [0]) : undefined),
    tensor('input/int8', [1, 4, 4, 2], 9, 0, o.noQuant ? undefined : o.actPerChannel ? quant([sA, sA], [-10, -10], 3) : quant([sA], [o.actZero ?? -10])),
    tensor('w', [3, 3, 3, 2], 9, 1, quant(wS, wS.map(() => 0), o.wDim ?? 0)),
    tensor('b', [3], 2, 2, quant(bS, bS.map(() => 0))),
    tensor('out/int8', [1, 4, 4, 3], 9, 0, quant([o.outScale ?? 0.05], [3])),
    tensor('out', [1, 4, 4, 3], 0, 0),
  ];
  const code = (c: number, v: number) => fb.table([fb.i8(Math.min(c, 127)), undefined, fb.i32(v), fb.i32(c)]);
  const codes = [code(114, 1), code(3, 3), code(6, 2)];
  const ops = [
    fb.table([fb.u32(0), fb.i32s([0]), fb.i32s([1])]),
    fb.table([fb.u32(1), fb.i32s([1, 2, 3]), fb.i32s([4]), fb.u8(1), fb.table([fb.i8(0), fb.i32(1), fb.i32(1), fb.i8(1), fb.i32(1), fb.i32(1)])]),
    fb.table([fb.u32(2), fb.i32s([4]), fb.i32s([5])]),
  ];
  const sg = fb.table([fb.tables(tensors), fb.i32s([0]), fb.i32s([5]), fb.tables(ops), fb.str('main')]);
  const weights = new Uint8Array(Int8Array.from({ length: 54 }, (_, i) => ((i * 37) % 255) - 127).buffer);
  const buffers = [fb.table([]), fb.table([fb.bytes(weights, 16)]), fb.table([fb.bytes(new Uint8Array(Int32Array.of(5, -7, 100).buffer), 16)])];
  return writeFlatbuffer(fb.table([fb.u32(3), fb.tables(codes), fb.tables([sg]), fb.str('t'), fb.tables(buffers)]), 'TFL3');
}

describe('the .tflite checker: quantization parameters', () => {
  it('accepts the hand-built int8 model', () => {
    const info = checkTflite(int8Tiny(), 't');
    expect(info.outputs).toEqual([{ name: 'out', shape: [1, 4, 4, 3], type: 'float32' }]);
  });
  const cases: [string, Int8Tiny, RegExp][] = [
    ['a zero scale', { actScale: 0 }, /scale that is not positive and finite/],
    ['a NaN scale', { outScale: NaN }, /scale that is not positive and finite/],
    ['a negative per-channel scale', { wScales: [0.01, -0.02, 0.03], biasScale: [2e-4, 4e-4, 6e-4] }, /not positive and finite/],
    ['a zero point outside int8', { actZero: 300 }, /zero point outside -128–127/],
    ['a per-channel vector of the wrong length', { wScales: [0.01, 0.02] }, /has 2 scales, expected 1 or 3/],
    ['a quantized_dimension that is not an axis', { wDim: 7 }, /quantized_dimension 7 is not an axis/],
    ['filter scales on the wrong axis', { wDim: 3, wScales: [0.01, 0.02, 0.03] }, /has 3 scales, expected 1 or 2|quantized along dimension 3/],
    ['an int8 tensor without parameters', { noQuant: true }, /int8 without quantization parameters/],
    ['a bias scale that is not s_in · s_w', { biasScale: [1e-4, 4e-4, 6e-4] }, /bias scale .* is not input scale × filter scale/],
    ['quantization on a float tensor', { quantOnFloat: true }, /float32 with quantization parameters/],
    ['a per-channel activation', { actScale: 0.02, actPerChannel: true }, /input\/int8 is quantized per channel/],
  ];
  for (const [what, o, msg] of cases) {
    it(what, () => {
      let err: unknown;
      try { checkTflite(int8Tiny(o), 'bad.tflite'); } catch (e) { err = e; }
      expect((err as Error)?.name).toBe('BisenetError');
      expect((err as Error).message).toMatch(msg);
    });
  }

  it('every single-byte corruption of the int8 model is refused or accepted, never a crash', () => {
    const good = int8Tiny();
    for (let i = 0; i < good.length; i++) {
      const b = good.slice();
      b[i] ^= 0x5a;
      try { checkTflite(b, 't'); } catch (e) { expect((e as Error).name).toBe('BisenetError'); }
    }
  });
});

describe.skipIf(!LITERT)('integer TFLite in litert-wasm', () => {
  it('the hand-built model computes the integer conv; one whose requantization LiteRT refuses is refused, not run', async () => {
    const runner = await loadRunner(write('tiny8.tflite', int8Tiny()), 'litert-wasm');
    try {
      const out = (await runner.run({ input: { dtype: 'float32', shape: [1, 2, 4, 4], data: new Float32Array(32).fill(0.5) } })).out!;
      expect(out.shape).toEqual([1, 3, 4, 4]);
      // ReLU fused: ≥ 0, on the output's grid (scale 0.05, zero point 3), not all zero
      const d = out.data as Float32Array;
      for (const v of d) { expect(v).toBeGreaterThanOrEqual(0); expect(Math.abs(v / 0.05 - Math.round(v / 0.05))).toBeLessThan(1e-3); }
      expect(Math.max(...d)).toBeGreaterThan(0);
    } finally { await runner.dispose(); }
    // s_in · s_w / s_out ≥ 256: XNNPACK cannot requantize; LiteRT.js would return its buffers' contents.
    const bad = write('ratio.tflite', int8Tiny({ actScale: 4, wScales: [1, 1, 1], outScale: 1e-3 }));
    const refused = await loadRunner(bad, 'litert-wasm');
    try {
      await expect(refused.run({ input: { dtype: 'float32', shape: [1, 2, 4, 4], data: new Float32Array(32).fill(0.5) } })).rejects.toThrow(/ratio\.tflite: LiteRT cannot prepare this model \(.*failed to prepare/);
    } finally { await refused.dispose(); }
  }, 60_000);

  it('inspect names the precision; diff explains why an int8 file has no intermediates to compare (exit 2, one line)', () => {
    const p = write('cli-int8.tflite', convertCheckpoint(TRAINED, { to: 'tflite', shapes: '1x3x32x64', precision: 'int8', calibration: CALIB, statistic: 'percentile' }).bytes);
    const ins = bisenet('inspect', p);
    expect(ins.status).toBe(0);
    expect(ins.stdout).toMatch(/weights: +int8 weights and activations \(integer TFLite, percentile scales\)/);
    const x = path.join(dir, 'x32.npy');
    writeNpy(x, { dtype: 'float32', shape: [1, 3, 32, 64], data: new Float32Array(3 * 32 * 64).fill(0.25) });
    const d = bisenet('diff', TRAINED, p, '--input', x);
    expect(d.status).toBe(2);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
    expect(d.stderr).toMatch(/is integer TFLite: its intermediates are int8 tensors.*--expose/);
  }, 60_000);

  it('bench --precision int8 times the integer TFLite model in litert-wasm beside float32', async () => {
    const r = await runBench({ checkpoint: TRAINED, runtimes: ['litert-wasm'], sizes: [[32, 64]], runs: 1, warmup: 0, ceiling: false, precisions: ['int8'], calibration: CALIB });
    expect(r.rows.map((x) => `${x.precision}:${x.fetch.join(',')}`)).toEqual(['fp32:logits', 'fp32:labels', 'int8:logits', 'int8:labels']);
    for (const row of r.rows) expect(row.e2eMs.median).toBeGreaterThan(0);
    expect(r.notes.join('\n')).toMatch(/VNNI is not used/);
    await expect(runBench({ checkpoint: TRAINED, runtimes: ['litert-wasm'], sizes: [[32, 64]], runs: 1, ceiling: false, precisions: ['fp16'] })).rejects.toThrow(/timed in ort-cpu \(int8 also in litert-wasm\)/);
  }, 120_000);

  it('the trained model: ≥ 99 % of labels as PyTorch on held-out images', async () => {
    const p = write('trained-int8.tflite', convertCheckpoint(TRAINED, { to: 'tflite', labels: true, shapes: '1x3x256x512', precision: 'int8', calibration: CALIB }).bytes);
    const agree = await evaluate(p, path.join(ROOT, 'data', 'synthetic-val'), { progress: { quiet: true }, labels: fixture('trained-synthetic-n19', 'pytorch-labels'), limit: 3, runtime: 'litert-wasm' });
    expect(agree.images).toBe(3);
    expect(agree.pixelAccuracy).toBeGreaterThanOrEqual(99);
  }, 120_000);
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/checkpoint/npy.js';
import { convertCheckpoint } from '../../src/convert/index.js';
import { TFLITE_OPS } from '../../src/emit/tflite.js';
import { checkTflite } from '../../src/model-check/tflite.js';
import { readRecordedMetadata } from '../../src/model-file/index.js';
import { isInstalled, loadRunner, requirePackages, runtimeById } from '../../src/runtime/index.js';
import { fb, writeFlatbuffer, type FbTable } from '../../src/util/flatbuffer.js';
import type { NdArray } from '../../src/util/ndarray.js';
import { verifyGolden } from '../../src/verify/index.js';
import { runBench } from '../../src/bench/index.js';
import { evaluate } from '../../src/eval/index.js';
import { runCli } from '../helpers/cli.js';
import { fixture, golden, ROOT, tmpDir, UPSTREAM } from '../helpers/paths.js';
import { coco171Checkpoint, COCO_STUFF_CLASSES } from '../helpers/synth-checkpoint.js';

const LITERT = isInstalled('@litertjs/core');
let dir: string;
beforeAll(() => { dir = tmpDir('bisenet-tflite-'); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const write = (name: string, bytes: Uint8Array): string => { const p = path.join(dir, name); fs.writeFileSync(p, bytes); return p; };

/** Largest |a − b| over max|b|, and the share of argmax-over-channels labels that agree (NCHW). */
function compare(a: NdArray, b: NdArray): { rel: number; labels: number } {
  const [n, c, h, w] = b.shape as [number, number, number, number];
  const x = a.data as Float32Array, y = b.data as Float32Array | Float64Array;
  let d = 0, m = 0;
  for (let i = 0; i < y.length; i++) { d = Math.max(d, Math.abs(x[i]! - y[i]!)); m = Math.max(m, Math.abs(y[i]!)); }
  let same = 0;
  for (let b0 = 0; b0 < n; b0++) for (let p = 0; p < h * w; p++) {
    let ax = 0, ay = 0;
    for (let k = 1; k < c; k++) {
      const o = (b0 * c + k) * h * w + p;
      if (x[o]! > x[(b0 * c + ax) * h * w + p]!) ax = k;
      if (y[o]! > y[(b0 * c + ay) * h * w + p]!) ay = k;
    }
    if (ax === ay) same++;
  }
  return { rel: d / m, labels: same / (n * h * w) };
}

describe('tflite emitter', () => {
  it('writes builtin ops only, passes the checker, and records the metadata segment reads', () => {
    const c = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tflite', labels: true, aux: true, shapes: '1x3x64x128' });
    const info = checkTflite(c.bytes, 'model.tflite');
    expect(String.fromCharCode(...c.bytes.subarray(4, 8))).toBe('TFL3');
    expect(info.inputs).toEqual([{ name: 'input', shape: [1, 64, 128, 3], type: 'float32' }]);
    expect(info.outputs.map((o) => o.name)).toEqual(['logits', 'labels', 'aux2', 'aux3', 'aux4', 'aux5_4']);
    expect(info.outputs[1]).toEqual({ name: 'labels', shape: [1, 64, 128], type: 'int32' });
    expect(info.metadata.producer).toMatch(/^bisenet-port /);
    const p = write('meta.tflite', c.bytes);
    const meta = readRecordedMetadata(p);
    expect(meta.numClasses).toBe(19);
    expect(meta.classNames?.[0]).toBe('road');
    expect(meta.pre?.mean).toEqual([0.3257, 0.369, 0.3223]);
  });

  it('refuses options that do not apply, other quantizations and size profiles', () => {
    const ck = fixture(UPSTREAM, 'model.pth');
    expect(() => convertCheckpoint(ck, { to: 'tflite', quantize: 'uint8' })).toThrow(/float16 weights only/);
    expect(() => convertCheckpoint(ck, { to: 'tflite', opset: 17 })).toThrow(/--opset applies/);
    expect(() => convertCheckpoint(ck, { to: 'tflite', shapes: '1x3x64x64:1x3x64x128:1x3x128x128' })).toThrow(/one input size/);
    expect(() => convertCheckpoint(ck, { to: 'tflite', shapes: '1x3x60x64' })).toThrow(/multiple of 32/);
  });

  it('float16 weights: FLOAT16 constants, each DEQUANTIZEd, half the size', () => {
    const ck = fixture(UPSTREAM, 'model.pth');
    const f32 = convertCheckpoint(ck, { to: 'tflite', shapes: '1x3x64x64' });
    const f16 = convertCheckpoint(ck, { to: 'tflite', shapes: '1x3x64x64', quantize: 'float16' });
    checkTflite(f16.bytes, 'f16');
    expect(f16.byteLength).toBeLessThan(f32.byteLength * 0.55);
    expect(checkTflite(f16.bytes, 'f16').metadata.quantization).toBe('float16');
  });
});

describe.skipIf(!LITERT)('litert-wasm parity', () => {
  it('the upstream checkpoint matches its PyTorch golden (1e-4 × max|ref|, ≥ 99.99 % labels), aux heads included', async () => {
    const c = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tflite', labels: true, aux: true, shapes: '1x3x96x160' });
    const p = write('upstream.tflite', c.bytes);
    const runner = await loadRunner(p, 'litert-wasm');
    try {
      const r = await verifyGolden(runner, p, golden(UPSTREAM));
      expect(r.pass).toBe(true);
      const names = r.cases[0]!.outputs.map((s) => s.name).sort();
      expect(names).toEqual(['aux2', 'aux3', 'aux4', 'aux5_4', 'labels', 'logits']);
    } finally { await runner.dispose(); }
  }, 120_000);

  it(`a ${COCO_STUFF_CLASSES}-class checkpoint at batch 2 matches the reference interpreter`, async () => {
    const ck = coco171Checkpoint(dir);
    const c = convertCheckpoint(ck.file, { to: 'tflite', shapes: '2x3x32x64' });
    const p = write('coco.tflite', c.bytes);
    const runner = await loadRunner(p, 'litert-wasm');
    const ref = await loadRunner(ck.file, 'reference');
    try {
      const data = new Float32Array(2 * 3 * 32 * 64);
      let s = 7;
      for (let i = 0; i < data.length; i++) { s = (s * 1103515245 + 12345) >>> 0; data[i] = (s / 2 ** 32) * 4 - 2; }
      const x: NdArray = { dtype: 'float32', shape: [2, 3, 32, 64], data };
      const got = (await runner.run({ input: x })).logits!;
      const want = (await ref.run({ input: x })).logits!;
      expect(got.shape).toEqual([2, COCO_STUFF_CLASSES, 32, 64]);
      const { rel, labels } = compare(got, want);
      expect(rel).toBeLessThan(1e-4);
      expect(labels).toBeGreaterThanOrEqual(0.9999);
      // Another size than the one converted for is refused, naming the fix.
      await expect(runner.run({ input: { dtype: 'float32', shape: [1, 3, 32, 64], data: new Float32Array(3 * 32 * 64) } })).rejects.toThrow(/--shapes 1x3x32x64/);
    } finally { await runner.dispose(); await ref.dispose(); }
  }, 120_000);

  it('the trained model with float16 weights: ≥ 99.9 % of labels as PyTorch on held-out images (run at the model\'s fixed size)', async () => {
    const p = write('trained-f16.tflite', convertCheckpoint(fixture('trained-synthetic-n19', 'model.pth'), { to: 'tflite', labels: true, quantize: 'float16', shapes: '1x3x256x512' }).bytes);
    const agree = await evaluate(p, path.join(ROOT, 'data', 'synthetic-val'), { progress: { quiet: true }, labels: fixture('trained-synthetic-n19', 'pytorch-labels'), limit: 3, runtime: 'litert-wasm' });
    expect(agree.images).toBe(3);
    expect(agree.pixelAccuracy).toBeGreaterThanOrEqual(99.9);
  }, 120_000);

  it('bench: rows per size from a checkpoint (one .tflite per size), logits and labels; a .tflite of another size is refused', async () => {
    const r = await runBench({ checkpoint: fixture(UPSTREAM, 'model.pth'), runtimes: ['litert-wasm'], sizes: [[32, 64], [64, 64]], runs: 1, warmup: 0, ceiling: false });
    expect(r.rows.map((x) => `${x.size.join('x')}:${x.fetch.join(',')}`)).toEqual(['32x64:logits', '32x64:labels', '64x64:logits', '64x64:labels']);
    for (const row of r.rows) expect(row.e2eMs.median).toBeGreaterThan(0);
    const p = write('bench.tflite', convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tflite', shapes: '1x3x32x64' }).bytes);
    await expect(runBench({ model: p, runtimes: ['litert-wasm'], sizes: [[64, 64]], runs: 1, ceiling: false })).rejects.toThrow(/takes 32×64 inputs only/);
  }, 120_000);

  it('exposes intermediates as extra outputs of an in-memory copy', async () => {
    const c = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tflite', shapes: '1x3x64x64' });
    const p = write('expose.tflite', c.bytes);
    const runner = await loadRunner(p, 'litert-wasm', { expose: ['semantic.context.bn'] });
    const ref = await loadRunner(fixture(UPSTREAM, 'model.pth'), 'reference', { expose: ['semantic.context.bn'] });
    try {
      expect(runner.exposed).toEqual(['semantic.context.bn']);
      const x = readNpy(golden(UPSTREAM, 'input.npy'));
      const small: NdArray = { dtype: 'float32', shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64).map((_, i) => (x.data as Float32Array)[i]!) };
      const got = (await runner.run({ input: small }))['semantic.context.bn']!;
      const want = (await ref.run({ input: small }))['semantic.context.bn']!;
      expect(got.shape).toEqual(want.shape);
      expect(compare(got, { ...want, data: Float32Array.from(want.data as Float64Array) }).rel).toBeLessThan(1e-4);
    } finally { await runner.dispose(); await ref.dispose(); }
  }, 120_000);
});

// --- Hostile files -------------------------------------------------------------------------------

interface Tiny {
  size?: number[];
  outShape?: number[];
  inputIndex?: number;
  custom?: boolean;
  shape?: number[];
  opInputs?: number[][];
  paddings?: number[];
}

/** A small model built by hand: RESIZE_BILINEAR of a 1×4×4×2 input to `size` (default 8×8). */
function tiny(o: Tiny = {}): Uint8Array {
  const size = o.size ?? [8, 8];
  const i32 = (v: number[]) => new Uint8Array(Int32Array.from(v).buffer);
  const tensor = (name: string, shape: number[], type: number, buffer: number) => fb.table([fb.i32s(shape), fb.i8(type), fb.u32(buffer), fb.str(name)]);
  const tensors = [
    tensor('input', o.shape ?? [1, 4, 4, 2], 0, 0),
    tensor('size', [2], 2, 1),
    tensor('out', o.outShape ?? [1, size[0]!, size[1]!, 2], 0, 0),
  ];
  const code: FbTable = o.custom ? fb.table([fb.i8(32), fb.str('FlexEvil'), fb.i32(1), fb.i32(32)]) : fb.table([fb.i8(23), undefined, fb.i32(3), fb.i32(23)]);
  const ops = (o.opInputs ?? [[o.inputIndex ?? 0, 1]]).map((ins) => fb.table([fb.u32(0), fb.i32s(ins), fb.i32s([2]), fb.u8(15), fb.table([undefined, undefined, fb.bool(false), fb.bool(true)])]));
  const sg = fb.table([fb.tables(tensors), fb.i32s([0]), fb.i32s([2]), fb.tables(ops), fb.str('main')]);
  const model = fb.table([fb.u32(3), fb.tables([code]), fb.tables([sg]), fb.str('test'), fb.tables([fb.table([]), fb.table([fb.bytes(i32(size), 16)])])]);
  return writeFlatbuffer(model, 'TFL3');
}

describe('the .tflite checker refuses hostile files', () => {
  it('accepts the hand-built model', () => {
    expect(checkTflite(tiny(), 't').outputs[0]!.shape).toEqual([1, 8, 8, 2]);
  });
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['not a FlatBuffer', () => new TextEncoder().encode('hello, not a model at all'), /not a TFLite model/],
    ['truncated', () => tiny().subarray(0, 100), /outside the file/],
    ['a root offset past the end', () => { const b = tiny().slice(); new DataView(b.buffer).setUint32(0, 0x7fffffff, true); return b; }, /outside the file/],
    ['a tensor index out of range', () => tiny({ inputIndex: 99 }), /refers to tensor 99 of 3/],
    ['an operator reading its own output (a cycle)', () => tiny({ opInputs: [[2, 1]] }), /before any operator writes it/],
    ['a custom op', () => tiny({ custom: true }), /custom op/],
    ['a huge declared shape', () => tiny({ shape: [1, 100000, 100000, 2] }), /tensor budget/],
    ['a resize that grows the tensor beyond the bound', () => tiny({ size: [4096, 4096] }), /grows the tensor more than/],
    ['an output shape that lies', () => tiny({ outShape: [1, 2, 2, 2] }), /declared \[1, 2, 2, 2\].*gives \[1, 8, 8, 2\]/],
    ['a negative resize size', () => tiny({ size: [-8, 8], outShape: [1, 1, 8, 2] }), /two positive sizes/],
  ];
  for (const [what, make, msg] of cases) {
    it(what, () => {
      let err: unknown;
      try { checkTflite(make(), 'bad.tflite'); } catch (e) { err = e; }
      expect((err as Error)?.name).toBe('BisenetError');
      expect((err as Error).message).toMatch(msg);
    });
  }

  it('every truncation and every single-byte corruption of a small model is refused or accepted, never a crash', () => {
    const good = tiny();
    for (let n = 0; n < good.length; n += 3) {
      try { checkTflite(good.subarray(0, n), 't'); } catch (e) { expect((e as Error).name).toBe('BisenetError'); }
    }
    for (let i = 0; i < good.length; i++) {
      const b = good.slice();
      b[i] ^= 0xa5;
      try { checkTflite(b, 't'); } catch (e) { expect((e as Error).name).toBe('BisenetError'); }
    }
  });

  it.skipIf(!LITERT)('corrupted files the checker accepts load and run in LiteRT, or are refused with exit 2: never a crash', async () => {
    // RESIZE_BILINEAR 4×4 → 8×8, then a 3×3 CONV_2D (2 → 3 channels, ReLU): bytes of every kind of field.
    const tensor = (name: string, shape: number[], type: number, buffer: number) => fb.table([fb.i32s(shape), fb.i8(type), fb.u32(buffer), fb.str(name)]);
    const bytesOf = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer);
    const tensors = [tensor('input', [1, 4, 4, 2], 0, 0), tensor('size', [2], 2, 1), tensor('r', [1, 8, 8, 2], 0, 0), tensor('w', [3, 3, 3, 2], 0, 2), tensor('b', [3], 0, 3), tensor('out', [1, 8, 8, 3], 0, 0)];
    const codes = [fb.table([fb.i8(23), undefined, fb.i32(3), fb.i32(23)]), fb.table([fb.i8(3), undefined, fb.i32(1), fb.i32(3)])];
    const ops = [fb.table([fb.u32(0), fb.i32s([0, 1]), fb.i32s([2]), fb.u8(15), fb.table([undefined, undefined, fb.bool(false), fb.bool(true)])]),
      fb.table([fb.u32(1), fb.i32s([2, 3, 4]), fb.i32s([5]), fb.u8(1), fb.table([fb.i8(0), fb.i32(1), fb.i32(1), fb.i8(1), fb.i32(1), fb.i32(1)])])];
    const sg = fb.table([fb.tables(tensors), fb.i32s([0]), fb.i32s([5]), fb.tables(ops), fb.str('main')]);
    const buffers = [fb.table([]), fb.table([fb.bytes(bytesOf(Int32Array.of(8, 8)), 16)]),
      fb.table([fb.bytes(bytesOf(new Float32Array(54).map((_, i) => Math.sin(i))), 16)]), fb.table([fb.bytes(bytesOf(Float32Array.of(0.1, 0.2, 0.3)), 16)])];
    const good = writeFlatbuffer(fb.table([fb.u32(3), fb.tables(codes), fb.tables([sg]), fb.str('t'), fb.tables(buffers)]), 'TFL3');
    let ran = 0;
    for (let i = 0; i < good.length; i += 7) {
      const b = good.slice();
      b[i] ^= i % 2 === 0 ? 0x01 : 0x80;
      const p = write('mut.tflite', b);
      try {
        const runner = await loadRunner(p, 'litert-wasm');
        try {
          const [n, c, h, w] = runner.fixedInput!;
          await runner.run({ input: { dtype: 'float32', shape: [n!, c!, h!, w!], data: new Float32Array(n! * c! * h! * w!) } });
          ran++;
        } finally { await runner.dispose(); }
      } catch (e) { expect((e as Error).name, `byte ${i}: ${(e as Error).message}`).toBe('BisenetError'); }
    }
    expect(ran).toBeGreaterThan(10); // the weights' and sizes' bytes change values, not structure
  }, 120_000);

  it.skipIf(!LITERT)('the CLI gives exit 2 and one line, and writes nothing', () => {
    const bad = write('bad.tflite', tiny({ size: [4096, 4096] }));
    const x = path.join(dir, 'x.npy');
    writeNpy(x, { dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32) });
    const out = path.join(dir, 'y.npy');
    const r = runCli(['infer', bad, '--input', x, '--out', out, '--runtime', 'litert-wasm']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*bad\.tflite: not a valid TFLite model/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('without @litertjs/core the runtime stops with exit 2 and the npm i line', () => {
    expect(() => requirePackages(runtimeById('litert-wasm'), () => false)).toThrow(/litert-wasm needs @litertjs\/core, not installed \(optional\): npm i @litertjs\/core@2\.5\.3/);
  });

  it('the op codes the emitter writes are the ones the checker accepts', () => {
    const c = convertCheckpoint(fixture('paddleseg-bisenetv2-n19', 'model.pdparams'), { to: 'tflite', labels: true, shapes: '1x3x64x64', quantize: 'float16' });
    expect(() => checkTflite(c.bytes, 'p')).not.toThrow();
    expect(Object.keys(TFLITE_OPS).length).toBeGreaterThan(10);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/checkpoint/npy.js';
import { emitOnnx } from '../../src/emit/onnx.js';
import type { Quantization } from '../../src/emit/tfjs-common.js';
import { emitTfjsGraph } from '../../src/emit/tfjs-graph.js';
import { emitTfjsLayers } from '../../src/emit/tfjs-layers.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import { defaultRuntimeFor, loadRunner } from '../../src/runtime/index.js';
import { fileSystemHandler, toNchw, toNhwc } from '../../src/runtime/tfjs.js';
import type { NdArray } from '../../src/util/ndarray.js';
import { DEFAULT_TOLERANCE, verifyGolden, type OutputStats } from '../../src/verify/index.js';
import { bisenet } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, golden, goldenSets, tmpDir, UPSTREAM } from '../helpers/paths.js';
import { maxAbsDiff, randomArray, randomWeights } from '../helpers/tfjs-traps.js';

let work: string;
beforeAll(() => { work = tmpDir('bisenet-tfjs-'); });
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

function writeModel(name: string, files: Map<string, Uint8Array>): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of files) fs.writeFileSync(path.join(dir, f), data);
  return dir;
}

function convertTo(name: string, ckpt: string, to: 'tfjs-layers' | 'tfjs-graph', o: { aux?: boolean; labels?: boolean; quantize?: Quantization } = {}): string {
  return writeModel(name, converted(ckpt, { to, ...o }).files!);
}

async function verify(model: string, runtime: string, goldenDir: string, minAgreement = DEFAULT_TOLERANCE.minAgreement) {
  const runner = await loadRunner(model, runtime);
  try {
    return await verifyGolden(runner, model, goldenDir, { rel: DEFAULT_TOLERANCE.rel, minAgreement });
  } finally {
    await runner.dispose();
  }
}

const logitsOf = (r: Awaited<ReturnType<typeof verify>>): OutputStats[] => r.cases.map((c) => c.outputs.find((o) => o.name === 'logits')!);
const fmt = (o: OutputStats) => `max|Δ|/max|ref| ${o.relMax.toExponential(2)}, argmax agreement ${(100 * o.labelAgreement!).toFixed(3)}%`;

describe('layout conversion (the one place NCHW ↔ NHWC happens)', () => {
  it('round-trips and puts channel c of pixel (y, x) where NHWC expects it', () => {
    const x = randomArray([2, 3, 4, 5], 1);
    const nhwc = toNhwc(x);
    expect(nhwc.shape).toEqual([2, 4, 5, 3]);
    // x[1, 2, 3, 4] ↔ nhwc[1, 3, 4, 2]
    expect(nhwc.data[((1 * 4 + 3) * 5 + 4) * 3 + 2]).toBe(x.data[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
    expect(toNchw(nhwc.shape, nhwc.data as Float32Array)).toEqual(x);
    const labels = toNchw([2, 4, 5], new Int32Array(40).fill(7));
    expect(labels).toMatchObject({ dtype: 'int32', shape: [2, 4, 5] });
  });
});

describe('tfjs runners load from the file system', () => {
  it('take a model directory or its model.json, tfjs-wasm by default', () => {
    const dir = writeModel('tiny', emitTfjsGraph(bisenetv2({ numClasses: 2 }), randomWeights(bisenetv2({ numClasses: 2 }))));
    expect(defaultRuntimeFor(dir).id).toBe('tfjs-wasm');
    expect(defaultRuntimeFor(path.join(dir, 'model.json')).id).toBe('tfjs-wasm');
    expect(defaultRuntimeFor(path.join(work, 'x.onnx')).id).toBe('ort-cpu');
  });

  it('refuse shards outside the model directory and shards of the wrong size', async () => {
    const g = bisenetv2({ numClasses: 2 });
    const dir = writeModel('bad', emitTfjsGraph(g, randomWeights(g)));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    const shard = path.join(dir, json.weightsManifest[0]!.paths[0]!);
    fs.appendFileSync(shard, Buffer.alloc(4));
    await expect(fileSystemHandler(tf, dir).load!()).rejects.toThrowError(/weight shards hold \d+ bytes, the manifest describes \d+/);
    json.weightsManifest[0]!.paths[0] = '../../etc/passwd';
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    await expect(fileSystemHandler(tf, dir).load!()).rejects.toThrowError(/leaves the model directory/);
    await expect(loadRunner(path.join(work, 'nowhere'), 'tfjs-wasm')).rejects.toThrowError(/model not found: .*nowhere/);
  });
});

describe(`upstream golden set (${UPSTREAM}), float32`, () => {
  const ckpt = fixture(UPSTREAM, 'model.pth');
  const gold = golden(UPSTREAM);

  it('layers model in tfjs-wasm: logits and all four booster heads within 1e-4 × max|ref|, argmax ≥ 99.99 %', async () => {
    const r = await verify(convertTo('up-layers', ckpt, 'tfjs-layers', { aux: true }), 'tfjs-wasm', gold);
    expect(r.pass).toBe(true);
    expect(r.cases[0]!.outputs.map((o) => o.name).sort()).toEqual(['aux2', 'aux3', 'aux4', 'aux5_4', 'labels (argmax of logits)', 'logits']);
    console.log(`[tfjs-layers fp32, tfjs-wasm] ${fmt(logitsOf(r)[0]!)}`);
  });

  it('graph model in tfjs-wasm, with its ArgMax labels output', async () => {
    const r = await verify(convertTo('up-graph', ckpt, 'tfjs-graph', { aux: true, labels: true }), 'tfjs-wasm', gold);
    expect(r.pass).toBe(true);
    const labels = r.cases[0]!.outputs.find((o) => o.name === 'labels')!;
    expect(labels.labelAgreement).toBeGreaterThanOrEqual(0.9999);
    console.log(`[tfjs-graph fp32, tfjs-wasm] ${fmt(logitsOf(r)[0]!)}`);
  });

  it('layers model in tfjs-cpu (the custom layer on the other backend)', async () => {
    const dir = path.join(work, 'up-layers');
    const r = await verify(fs.existsSync(dir) ? dir : convertTo('up-layers', ckpt, 'tfjs-layers', { aux: true }), 'tfjs-cpu', gold);
    expect(r.pass).toBe(true);
    expect(r.device).toMatch(/JavaScript/);
    console.log(`[tfjs-layers fp32, tfjs-cpu] ${fmt(logitsOf(r)[0]!)}`);
  });

  it('float16 weights: parity measured (argmax ~99.7 % on this random-weight set: its logits have many near-ties)', async () => {
    const r = await verify(convertTo('up-graph-f16', ckpt, 'tfjs-graph', { quantize: 'float16' }), 'tfjs-wasm', gold, 0);
    const o = logitsOf(r)[0]!;
    console.log(`[tfjs-graph float16, tfjs-wasm] ${fmt(o)}`);
    // Measured 99.72 % / 2.95e-3: float16 rounding (≤ 2⁻¹¹ relative per weight) moves logits by ~5e-3 on
    // average, and 0.28 % of this golden's pixels have a top-2 margin below 3.3e-3.
    expect(o.labelAgreement!).toBeGreaterThanOrEqual(0.995);
    expect(o.relMax).toBeLessThan(5e-3);
  });

  it('uint16 weights (as small as float16): argmax ≥ 99.9 %', async () => {
    const r = await verify(convertTo('up-graph-u16', ckpt, 'tfjs-graph', { quantize: 'uint16' }), 'tfjs-wasm', gold, 0);
    const o = logitsOf(r)[0]!;
    console.log(`[tfjs-graph uint16, tfjs-wasm] ${fmt(o)}`);
    expect(o.labelAgreement!).toBeGreaterThanOrEqual(0.999); // measured 99.915 %
    expect(o.relMax).toBeLessThan(2e-3); // measured 7.7e-4
  });

  it('uint8 weights: parity measured and reported, not assumed', async () => {
    const r = await verify(convertTo('up-graph-u8', ckpt, 'tfjs-graph', { quantize: 'uint8' }), 'tfjs-wasm', gold, 0);
    const o = logitsOf(r)[0]!;
    console.log(`[tfjs-graph uint8, tfjs-wasm] ${fmt(o)}`);
    expect(Number.isFinite(o.maxAbs)).toBe(true);
    expect(o.labelAgreement!).toBeGreaterThan(0.5);
  });
});

describe('every committed golden set with a checkpoint (other class counts, batch 2, half-precision checkpoints)', () => {
  for (const set of goldenSets()) {
    for (const to of ['tfjs-layers', 'tfjs-graph'] as const) {
      it(`${set.name}: ${to} fp32 in tfjs-wasm`, async () => {
        const r = await verify(convertTo(`${set.name}-${to}`, set.checkpoint, to), 'tfjs-wasm', set.dir);
        for (const o of logitsOf(r)) console.log(`[${set.name} ${to} fp32, tfjs-wasm] ${fmt(o)}`);
        expect(r.pass).toBe(true);
      });
    }
  }
});

describe('family variants against onnxruntime on the same weights (bilinear to another tensor\'s size, batch 2)', () => {
  it('mmseg: layers and graph models in tfjs-wasm agree with the ONNX model in ort-cpu', async () => {
    const g = bisenetv2({ numClasses: 7, family: 'mmseg' });
    const w = randomWeights(g, 3);
    const onnx = path.join(work, 'mmseg.onnx');
    fs.writeFileSync(onnx, emitOnnx(g, w));
    const x: NdArray = randomArray([2, 3, 64, 96], 4);
    const ort = await loadRunner(onnx, 'ort-cpu');
    const ref = (await ort.run({ input: x })).logits!;
    await ort.dispose();
    let maxRef = 0;
    for (const v of ref.data as Float32Array) maxRef = Math.max(maxRef, Math.abs(v));
    for (const [name, files] of [['layers', emitTfjsLayers(g, w)], ['graph', emitTfjsGraph(g, w)]] as const) {
      const runner = await loadRunner(writeModel(`mmseg-${name}`, files), 'tfjs-wasm');
      const y = (await runner.run({ input: x })).logits!;
      await runner.dispose();
      expect(maxAbsDiff(y, ref) / maxRef, name).toBeLessThan(1e-4);
    }
  });
});

describe('bisenet CLI with tfjs models', () => {
  const ckpt = fixture(UPSTREAM, 'model.pth');

  it('converts to a graph model directory, verifies it (tfjs-wasm by default) and infers NCHW logits', () => {
    const out = path.join(work, 'cli-graph');
    let r = bisenet('convert', ckpt, '--to', 'tfjs-graph', '--out', out, '--labels', '--shard-size', '1');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/tfjs-graph, model.json \+ \d+ shards, weights float32, outputs logits, labels/);
    const shards = fs.readdirSync(out).filter((f) => f.endsWith('.bin'));
    expect(shards.length).toBeGreaterThan(4);
    for (const s of shards) expect(fs.statSync(path.join(out, s)).size).toBeLessThanOrEqual(1 << 20);
    r = bisenet('verify', path.join(out, 'model.json'), '--golden', golden(UPSTREAM));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/on tfjs-wasm .*\n[\s\S]*PASS/);
    const y = path.join(work, 'cli-y.npy');
    r = bisenet('infer', out, '--input', golden(UPSTREAM, 'input.npy'), '--out', y, '--labels');
    expect(r.status).toBe(0);
    expect(readNpy(y).shape).toEqual([1, 19, 96, 160]);
    expect(readNpy(path.join(work, 'cli-y.labels.npy')).shape).toEqual([1, 96, 160]);
  });

  it('refuses a model.json path as --out and will not replace a directory that is not a model', () => {
    let r = bisenet('convert', ckpt, '--to', 'tfjs-layers', '--out', path.join(work, 'x', 'model.json'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is a directory \(model.json and the files beside it\); name the directory/);
    const notModel = path.join(work, 'precious');
    fs.mkdirSync(notModel);
    fs.writeFileSync(path.join(notModel, 'notes.txt'), 'keep me');
    r = bisenet('convert', ckpt, '--to', 'tfjs-layers', '--out', notModel, '--force');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a model directory/);
    expect(fs.readFileSync(path.join(notModel, 'notes.txt'), 'utf8')).toBe('keep me');
    r = bisenet('convert', ckpt, '--to', 'onnx', '--out', path.join(work, 'q.onnx'), '--quantize', 'float16');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--quantize applies to the tfjs-layers, tfjs-graph and tflite targets only/);
  });
});

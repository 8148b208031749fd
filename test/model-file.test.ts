import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../src/convert/index.js';
import { kindFromBytes, modelKind, readModelFile } from '../src/model-file/index.js';
import { acceptedKinds, cannotLoad, RUNTIMES, runtimeById } from '../src/runtime/index.js';
import { fixture, tmpDir, UPSTREAM } from './helpers/paths.js';

let dir: string;
let onnx: Uint8Array;
let tflite: Uint8Array;
let tfjs: Map<string, Uint8Array>;

beforeAll(() => {
  dir = tmpDir('bisenet-model-file-');
  const ck = fixture(UPSTREAM, 'model.pth');
  onnx = convertCheckpoint(ck, { to: 'onnx', labels: true }).bytes;
  tflite = convertCheckpoint(ck, { to: 'tflite', shapes: '1x3x64x64' }).bytes;
  tfjs = convertCheckpoint(ck, { to: 'tfjs-graph' }).files!;
  fs.writeFileSync(path.join(dir, 'model.onnx'), onnx);
  fs.writeFileSync(path.join(dir, 'model.tflite'), tflite);
  fs.mkdirSync(path.join(dir, 'web'));
  for (const [name, bytes] of tfjs) fs.writeFileSync(path.join(dir, 'web', name), bytes);
});

afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const at = (...p: string[]): string => path.join(dir, ...p);

describe('model file: the kind', () => {
  it('by the bytes where they tell: TFL3 at offset 4, zip, pickle, safetensors, JSON; none for ONNX', () => {
    expect(kindFromBytes(tflite.subarray(0, 16))).toBe('tflite');
    expect(kindFromBytes(onnx.subarray(0, 16))).toBeNull();
    expect(kindFromBytes(Buffer.from('PK\x03\x04rest', 'latin1'))).toBe('checkpoint');
    expect(kindFromBytes(Uint8Array.from([0x80, 0x02, 0x7d, 0x71]))).toBe('checkpoint');
    const st = Buffer.alloc(16); st.writeBigUInt64LE(40n); st.write('{"a":', 8, 'latin1');
    expect(kindFromBytes(st)).toBe('checkpoint');
    expect(kindFromBytes(Buffer.from('\n  {"modelTopology"'))).toBe('tfjs');
    expect(kindFromBytes(Buffer.from('hello world'))).toBeNull();
  });

  it('of real files and directories, whatever they are named', () => {
    expect(modelKind(at('model.onnx'))).toBe('onnx');
    expect(modelKind(at('model.tflite'))).toBe('tflite');
    expect(modelKind(at('web'))).toBe('tfjs');
    expect(modelKind(at('web', 'model.json'))).toBe('tfjs');
    expect(modelKind(fixture(UPSTREAM, 'model.pth'))).toBe('checkpoint');
    expect(modelKind(fixture('hostile', 'tiny.safetensors'))).toBe('checkpoint');
    // Misnamed: the bytes decide.
    fs.copyFileSync(at('model.tflite'), at('tflite-named.onnx'));
    fs.copyFileSync(at('web', 'model.json'), at('json-named.onnx'));
    fs.copyFileSync(fixture(UPSTREAM, 'model.pth'), at('checkpoint-named.onnx'));
    expect(modelKind(at('tflite-named.onnx'))).toBe('tflite');
    expect(modelKind(at('json-named.onnx'))).toBe('tfjs');
    expect(modelKind(at('checkpoint-named.onnx'))).toBe('checkpoint');
    // ONNX has no signature: an unnamed one is not guessed.
    fs.copyFileSync(at('model.onnx'), at('model.data'));
    expect(modelKind(at('model.data'))).toBeNull();
  });

  it('of what is not there: by its name (the loader reports it missing); a directory of neither: none', () => {
    expect(modelKind(at('missing.onnx'))).toBe('onnx');
    expect(modelKind(at('missing', 'model.json'))).toBe('tfjs');
    expect(modelKind(at('missing'))).toBeNull();
    fs.mkdirSync(at('empty'));
    expect(modelKind(at('empty'))).toBeNull();
    fs.mkdirSync(at('trt'));
    fs.writeFileSync(at('trt', 'tensorrt.json'), '{}');
    expect(modelKind(at('trt'))).toBe('tensorrt');
  });
});

describe('model file: reading', () => {
  it('decodes an ONNX model once and hands its bytes, outputs and validated metadata', () => {
    const m = readModelFile(at('model.onnx'));
    expect(m.kind).toBe('onnx');
    if (m.kind !== 'onnx') return;
    expect(m.bytes.byteLength).toBe(onnx.byteLength);
    expect(m.model.graph?.node?.length).toBeGreaterThan(10);
    expect(m.outputs).toEqual(['logits', 'labels']);
    expect(m.metadata.numClasses).toBe(19);
    expect(m.metadata.pre).not.toBeNull();
  });

  it('reads a tfjs model by its directory or its model.json, and a .tflite file', () => {
    for (const p of [at('web'), at('web', 'model.json')]) {
      const m = readModelFile(p);
      expect(m.kind).toBe('tfjs');
      if (m.kind === 'tfjs') expect(m.file).toBe(at('web', 'model.json'));
      expect(m.metadata.numClasses).toBe(19);
    }
    const t = readModelFile(at('model.tflite'));
    expect(t.kind).toBe('tflite');
    expect(t.metadata.numClasses).toBe(19);
    expect(t.outputs).toContain('logits');
  });

  it('refuses what is missing or not the kind, in one line naming the file', () => {
    expect(() => readModelFile(at('missing.onnx'))).toThrow(/model not found: .*missing\.onnx/);
    fs.writeFileSync(at('garbage.onnx'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect(() => readModelFile(at('garbage.onnx'))).toThrow(/garbage\.onnx: not an ONNX model/);
    expect(() => readModelFile(at('empty'))).toThrow(/model\.json not found/);
  });

  it('validates the recorded metadata on first use, not before', () => {
    const m = readModelFile(at('web', 'model.json'));
    const json = JSON.parse(fs.readFileSync(at('web', 'model.json'), 'utf8')) as { userDefinedMetadata: { bisenet: Record<string, unknown> } };
    json.userDefinedMetadata.bisenet.precision = 'fp8';
    fs.mkdirSync(at('bad'));
    fs.writeFileSync(at('bad', 'model.json'), JSON.stringify(json));
    const bad = readModelFile(at('bad'));
    expect(bad.recorded.precision).toBe('fp8');
    expect(() => bad.metadata).toThrow(/precision is not fp32, fp16 or int8/);
    expect(m.metadata.precision).not.toBe('fp8');
  });
});

describe('model file: the runtimes take the kinds their catalog entries declare', () => {
  it('every runtime declares its kinds; accepts asks the room, not the name', () => {
    for (const r of RUNTIMES) expect(acceptedKinds(r).length).toBeGreaterThan(0);
    expect(acceptedKinds(runtimeById('tensorrt'))).toEqual(['onnx', 'tensorrt']);
    expect(runtimeById('ort-cpu').accepts(at('model.onnx'))).toBe(true);
    expect(runtimeById('tensorrt').accepts(at('model.onnx'))).toBe(true);
    expect(runtimeById('tensorrt').accepts(at('trt'))).toBe(true);
    expect(runtimeById('tfjs-wasm').accepts(at('web'))).toBe(true);
    expect(runtimeById('reference').accepts(fixture(UPSTREAM, 'model.pth'))).toBe(true);
    // A TFLite file named .onnx: LiteRT loads it, onnxruntime does not, and the refusal names who can.
    const misnamed = at('tflite-named.onnx');
    expect(runtimeById('ort-cpu').accepts(misnamed)).toBe(false);
    expect(runtimeById('litert-wasm').accepts(misnamed)).toBe(true);
    expect(cannotLoad('ort-cpu', misnamed)).toMatch(/runtimes that load it: litert-wasm \(default\)/);
    // A checkpoint under an ONNX name: convert it first.
    expect(cannotLoad('ort-cpu', at('checkpoint-named.onnx'))).toMatch(/convert the checkpoint first/);
  });
});

describe('model file: read once, loaded from what was read', () => {
  it('an ONNX runtime given the room\'s bytes and decode loads them, not the path', async () => {
    const m = readModelFile(at('model.onnx'), 'onnx');
    const runner = await runtimeById('ort-cpu').load(at('not-there.onnx'), { threads: 1, onnx: { bytes: m.bytes, model: m.model } });
    try {
      expect(runner.outputNames).toEqual(['logits', 'labels']);
    } finally { await runner.dispose(); }
    // Without them the path is read, and is not there.
    await expect(runtimeById('ort-cpu').load(at('not-there.onnx'), { threads: 1 })).rejects.toThrow(/not found/);
  });
});

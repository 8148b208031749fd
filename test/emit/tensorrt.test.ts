import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/index.js';
import { groupedConvRepro } from '../../src/emit/repro.js';
import { parseShapes, TENSORRT_OPS, trtexecArgs } from '../../src/emit/tensorrt.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import { loadRunner } from '../../src/runtime/index.js';
import { parseTrtexecOutput } from '../../src/runtime/tensorrt.js';
import { verifyGolden } from '../../src/verify/index.js';
import { runCli } from '../helpers/cli.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
beforeAll(() => { work = tmpDir('bisenet-trt-'); });
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

const graph = bisenetv2({ numClasses: 19 });
const decode = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes);
const dims = (vi: onnxProto.onnx.IValueInfoProto | undefined) => vi?.type?.tensorType?.shape?.dim?.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));

function writeDir(name: string, files: Map<string, Uint8Array>): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, data] of files) fs.writeFileSync(path.join(dir, f), data);
  return dir;
}

describe('--shapes', () => {
  it('takes one static size or a min:opt:max profile', () => {
    expect(parseShapes('1x3x512x1024', graph)).toEqual({ min: [1, 3, 512, 1024], opt: [1, 3, 512, 1024], max: [1, 3, 512, 1024], static: true });
    expect(parseShapes('1x3x256x512:1x3x512x1024:4x3x1024x2048', graph)).toMatchObject({ min: [1, 3, 256, 512], max: [4, 3, 1024, 2048], static: false });
    expect(parseShapes(undefined, graph).opt).toEqual([1, 3, 512, 1024]);
  });
  it('refuses sizes the model cannot take, and profiles out of order', () => {
    expect(() => parseShapes('1x3x500x1024', graph)).toThrow(/height 500 is not a multiple of 32/);
    expect(() => parseShapes('1x4x512x1024', graph)).toThrow(/4 channels/);
    expect(() => parseShapes('1x3x512', graph)).toThrow(/expected N×C×H×W/);
    expect(() => parseShapes('1x3x512x1024:1x3x256x512:1x3x1024x2048', graph)).toThrow(/min ≤ opt ≤ max/);
    expect(() => parseShapes('1x3x512x1024:1x3x1024x2048', graph)).toThrow(/min:opt:max/);
  });
  it('becomes trtexec flags', () => {
    const p = parseShapes('1x3x256x512:1x3x512x1024:1x3x1024x2048', graph);
    expect(trtexecArgs(p, 'fp16')).toEqual(['--onnx=model.onnx', '--saveEngine=model.fp16.engine', '--fp16',
      '--minShapes=input:1x3x256x512', '--optShapes=input:1x3x512x1024', '--maxShapes=input:1x3x1024x2048']);
    expect(trtexecArgs(parseShapes('1x3x512x1024', graph), 'int8')).toEqual(['--onnx=model.onnx', '--saveEngine=model.int8.engine', '--int8', '--fp16']);
  });
});

describe('convert --to tensorrt', () => {
  it('writes a static-shape ONNX with int32 labels, TensorRT ops only, and the trtexec commands', () => {
    const c = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tensorrt', labels: true, shapes: '1x3x512x1024' });
    expect([...c.files!.keys()].sort()).toEqual(['build_engine.sh', 'model.onnx', 'tensorrt.json']);
    const m = decode(c.files!.get('model.onnx')!);
    expect(dims(m.graph!.input![0])).toEqual([1, 3, 512, 1024]);
    expect(dims(m.graph!.output!.find((o) => o.name === 'logits'))).toEqual([1, 19, 512, 1024]);
    const labels = m.graph!.output!.find((o) => o.name === 'labels')!;
    expect(labels.type!.tensorType!.elemType).toBe(onnxProto.onnx.TensorProto.DataType.INT32);
    const ops = new Set(m.graph!.node!.map((n) => n.opType!));
    for (const op of ops) expect(TENSORRT_OPS.has(op), op).toBe(true);
    expect(ops.has('ArgMax') && ops.has('Cast')).toBe(true);
    const manifest = JSON.parse(new TextDecoder().decode(c.files!.get('tensorrt.json')));
    expect(manifest.commands.fp16).toBe('trtexec --onnx=model.onnx --saveEngine=model.fp16.engine --fp16');
    const script = new TextDecoder().decode(c.files!.get('build_engine.sh'));
    expect(script).toContain("fp32) exec \"$TRTEXEC\" '--onnx=model.onnx' '--saveEngine=model.fp32.engine' ;;");
  });

  it('with a profile, leaves the varying dims symbolic', () => {
    const c = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tensorrt', shapes: '1x3x256x512:1x3x512x1024:1x3x1024x2048' });
    expect(dims(decode(c.bytes).graph!.input![0])).toEqual([1, 3, 'H', 'W']);
  });

  it('passes onnxruntime parity on the upstream golden set like the plain ONNX (labels int32 included)', async () => {
    const dir = writeDir('trt-profile', convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tensorrt', labels: true, shapes: '1x3x96x160:1x3x512x1024:1x3x1024x2048' }).files!);
    const onnx = path.join(dir, 'model.onnx');
    const runner = await loadRunner(onnx, 'ort-cpu');
    try {
      const r = await verifyGolden(runner, onnx, golden(UPSTREAM));
      expect(r.pass).toBe(true);
      const labels = r.cases[0]!.outputs.find((o) => o.name === 'labels')!;
      expect(labels.labelAgreement).toBe(1);
      expect(r.cases[0]!.outputs.find((o) => o.name === 'logits')!.relMax).toBeLessThan(1e-4);
    } finally {
      await runner.dispose();
    }
  });

  it('CLI: writes the directory and names the build command; --shapes and --grouped-conv only where they apply', () => {
    const out = path.join(work, 'cli-trt');
    const r = runCli(['convert', fixture(UPSTREAM, 'model.pth'), '--to', 'tensorrt', '--out', out, '--shapes', '1x3x512x1024']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tensorrt: model\.onnx for input 1x3x512x1024.*build_engine\.sh/);
    const again = runCli(['convert', fixture(UPSTREAM, 'model.pth'), '--to', 'tensorrt', '--out', out, '--force']);
    expect(again.status, again.stderr).toBe(0);
    const bad = runCli(['convert', fixture(UPSTREAM, 'model.pth'), '--to', 'onnx', '--out', path.join(work, 'x.onnx'), '--shapes', '1x3x512x1024']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--shapes applies to the tensorrt and tflite targets only/);
    const bad2 = runCli(['convert', fixture(UPSTREAM, 'model.pth'), '--to', 'tfjs-graph', '--out', path.join(work, 'g'), '--grouped-conv', 'depthwise']);
    expect(bad2.status).toBe(2);
    expect(bad2.stderr).toMatch(/--grouped-conv applies to the onnx target only/);
  });
});

describe('--runtime tensorrt', () => {
  it('says clearly that TensorRT is not installed where trtexec is missing', () => {
    const dir = writeDir('trt-missing', convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tensorrt', shapes: '1x3x96x160' }).files!);
    const env = { PATH: path.dirname(process.execPath), TRTEXEC: '', TENSORRT_HOME: '' };
    const r = runCli(['verify', dir, '--golden', golden(UPSTREAM), '--runtime', 'tensorrt'], { env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: TensorRT is not installed here: no trtexec/);
  });

  it('drives trtexec (--loadInputs, --exportOutput, engines per shape): checked with a stand-in trtexec that runs onnxruntime', async () => {
    // The stand-in reads the same flags and writes the same JSON as trtexec; it proves the plumbing, not TensorRT.
    const fake = path.join(work, 'trtexec');
    const ort = JSON.stringify(path.resolve('node_modules/onnxruntime-node/dist/index.js'));
    fs.writeFileSync(fake, `#!${process.execPath}
const fs = require('node:fs');
const ort = require(${ort});
const arg = (k) => process.argv.find((a) => a.startsWith('--' + k + '='))?.slice(k.length + 3);
(async () => {
  let onnx = arg('onnx');
  if (arg('saveEngine')) fs.writeFileSync(arg('saveEngine'), onnx);
  if (arg('loadEngine')) onnx = fs.readFileSync(arg('loadEngine'), 'utf8');
  const [name, file] = arg('loadInputs').split(':');
  const s = await ort.InferenceSession.create(onnx);
  const buf = fs.readFileSync(file);
  const dims = (arg('shapes') ?? arg('optShapes') ?? ('x:' + s.inputMetadata?.[0]?.shape?.join('x'))).split(':')[1].split('x').map(Number);
  const x = new ort.Tensor('float32', new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4), dims);
  const out = await s.run({ [name]: x });
  fs.writeFileSync(arg('exportOutput'), JSON.stringify(Object.entries(out).map(([n, t]) => ({ name: n, dimensions: t.dims.join('x'), values: Array.from(t.data, Number) }))));
})().catch((e) => { console.error(e.message); process.exit(1); });
`);
    fs.chmodSync(fake, 0o755);
    const dir = writeDir('trt-fake', convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tensorrt', labels: true, shapes: '1x3x96x160:1x3x96x160:1x3x192x320' }).files!);
    process.env.TRTEXEC = fake;
    try {
      const runner = await loadRunner(dir, 'tensorrt');
      try {
        const r = await verifyGolden(runner, dir, golden(UPSTREAM));
        expect(r.pass).toBe(true);
        expect(r.cases[0]!.outputs.map((o) => o.name).sort()).toEqual(['labels', 'logits']);
        const again = await runner.run({ input: (await import('../../src/checkpoint/npy.js')).readNpy(golden(UPSTREAM, 'input.npy')) });
        expect(again.labels!.dtype).toBe('int32');
        await expect(runner.run({ input: { dtype: 'float32', shape: [1, 3, 512, 1024], data: new Float32Array(3 * 512 * 1024) } })).rejects.toThrow(/outside the model's TensorRT shapes/);
      } finally {
        await runner.dispose();
      }
    } finally {
      delete process.env.TRTEXEC;
    }
  });

  it('reads trtexec output JSON strictly', () => {
    expect(parseTrtexecOutput('[{"name":"logits","dimensions":"1x2","values":[1,2]}]', 'f').logits!.shape).toEqual([1, 2]);
    expect(() => parseTrtexecOutput('[{"name":"logits","dimensions":"1x3","values":[1,2]}]', 'f')).toThrow(/2 values for dimensions 1x3/);
    expect(() => parseTrtexecOutput('nope', 'f')).toThrow(/no valid JSON/);
  });
});

describe('--grouped-conv depthwise', () => {
  it('replaces each grouped conv by Gather + depthwise Conv and keeps parity on onnxruntime', async () => {
    const c = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx', groupedConv: 'depthwise' });
    const nodes = decode(c.bytes).graph!.node!;
    const convs = nodes.filter((n) => n.opType === 'Conv');
    const group = (n: onnxProto.onnx.INodeProto) => Number(n.attribute!.find((a) => a.name === 'group')!.i);
    // Every remaining grouped conv is depthwise (group = output channels): no group has several outputs.
    const plain = decode(convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes).graph!.node!.filter((n) => n.opType === 'Conv');
    const multi = plain.filter((n) => group(n) > 1 && !convs.some((d) => d.name === n.name && group(d) === group(n)));
    expect(multi.length).toBe(nodes.filter((n) => n.opType === 'Gather').length);
    expect(multi.length).toBeGreaterThan(0);
    const file = path.join(work, 'dw.onnx');
    fs.writeFileSync(file, c.bytes);
    const runner = await loadRunner(file, 'ort-cpu');
    try {
      expect((await verifyGolden(runner, file, golden(UPSTREAM))).pass).toBe(true);
    } finally {
      await runner.dispose();
    }
  });

  it('is the same arithmetic as the grouped conv (the reproduction model, on onnxruntime CPU)', async () => {
    const outs: Float32Array[] = [];
    for (const form of ['native', 'depthwise'] as const) {
      const { onnx, input } = groupedConvRepro({ form });
      const file = path.join(work, `repro-${form}.onnx`);
      fs.writeFileSync(file, onnx);
      const r = await loadRunner(file, 'ort-cpu');
      try { outs.push((await r.run({ input })).output!.data as Float32Array); } finally { await r.dispose(); }
    }
    let d = 0;
    for (let i = 0; i < outs[0]!.length; i++) d = Math.max(d, Math.abs(outs[0]![i]! - outs[1]![i]!));
    expect(d).toBeLessThan(1e-5);
  });
});

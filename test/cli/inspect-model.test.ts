/**
 * `bisenet inspect` on exported models: ONNX and both tfjs formats, text and --json, what they record
 * (and say when they record nothing), foreign ONNX files (symbolic dims, initializers listed as inputs),
 * hostile ones (exit 2, one line), and the reader registry a new kind (TFLite) plugs into.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatModelSummary, inspectModel, MODEL_READERS, modelReaderFor, type ModelReader } from '../../src/inspect/index.js';
import { CITYSCAPES_CLASSES } from '../../src/model-file/presets.js';
import { onnxProto } from '../../src/util/onnx-proto.js';
import { bisenet } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
const writeDir = (dir: string, files: Map<string, Uint8Array>): void => {
  fs.mkdirSync(dir);
  for (const [f, d] of files) fs.writeFileSync(path.join(dir, f), d);
};

beforeAll(() => {
  work = tmpDir('bisenet-inspect-model-');
  const ckpt = fixture(UPSTREAM, 'model.pth');
  fs.writeFileSync(path.join(work, 'n19.onnx'), converted(ckpt, { to: 'onnx', labels: true, opset: 13 }).bytes);
  writeDir(path.join(work, 'graph'), converted(ckpt, { to: 'tfjs-graph', quantize: 'float16' }).files!);
  writeDir(path.join(work, 'layers'), converted(ckpt, { to: 'tfjs-layers' }).files!);
  fs.writeFileSync(path.join(work, 'bare.onnx'), converted(ckpt, { to: 'onnx', dataset: 'none' }).bytes);
}, 180_000);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('bisenet inspect <exported model>', () => {
  it('ONNX: format, opset, producer, inputs and outputs with dtypes and shapes, operators, weights, what it records', () => {
    const r = bisenet('inspect', path.join(work, 'n19.onnx'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const t = r.stdout;
    expect(t).toMatch(/^kind: +onnx \(ONNX IR version 7; opset ai\.onnx 13\)$/m);
    expect(t).toMatch(/^producer: +bisenet-port \d/m);
    expect(t).toMatch(/^inputs \(1\):\n {2}input +float32 +\[N, 3, H, W\]$/m);
    expect(t).toMatch(/^outputs \(2\):\n {2}logits +float32 +\[N, 19, H, W\]\n {2}labels +int64 +\[N, H, W\]$/m);
    expect(t).toMatch(/^nodes: +\d+ \(Conv \d+, /m);
    expect(t).toMatch(/^weights: +\d+ tensors, 12\.\d MiB \(\d+ float32\)$/m);
    expect(t).toMatch(/^family: +coincheung$/m);
    expect(t).toMatch(/^classes: +19 \(road, sidewalk, .* … bicycle\)$/m);
    expect(t).toMatch(/^preprocessing: +RGB, x × 0\.00392157, then \(x − mean\) \/ std with mean \[0\.3257, 0\.369, 0\.3223\], std \[0\.2112, 0\.2148, 0\.2115\]; H, W multiples of 32$/m);
    expect(t).toMatch(/^palette: +19 colours recorded$/m);

    const j = JSON.parse(bisenet('inspect', path.join(work, 'n19.onnx'), '--json').stdout);
    expect(j).toMatchObject({ kind: 'onnx', format: 'ONNX IR version 7', opsets: [{ domain: 'ai.onnx', version: 13 }],
      inputs: [{ name: 'input', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: ['N', 19, 'H', 'W'] }, { name: 'labels', dtype: 'int64', shape: ['N', 'H', 'W'] }] });
    expect(j.recorded.numClasses).toBe(19);
    expect(j.recorded.classNames).toEqual(CITYSCAPES_CLASSES);
    expect(j.recorded.pre.size_multiple).toBe(32);
    expect(j.metadata.family).toBe('coincheung');
    // The weights' bytes are the declared shapes' sizes: within a few kB of the file (the graph and metadata are small).
    expect(Math.abs(j.weights.bytes - fs.statSync(path.join(work, 'n19.onnx')).size)).toBeLessThan(64 * 1024);
    expect(j.ops.reduce((a: number, o: { count: number }) => a + o.count, 0)).toBeGreaterThan(50);
  });

  it('tfjs graph and layers models: signature or input layer, NHWC shapes, ops or layers, quantized weights', () => {
    let r = bisenet('inspect', path.join(work, 'graph'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^kind: +tfjs-graph \(TensorFlow\.js graph-model/m);
    expect(r.stdout).toMatch(/^inputs \(1\):\n {2}input +float32 +\[\?, \?, \?, 3\]$/m);
    expect(r.stdout).toMatch(/^ {2}logits +float32 +\[\?, \?, \?, 19\]$/m);
    expect(r.stdout).toMatch(/^weights: +\d+ tensors, 6\.\d MiB \(.*float16 \(float32\)/m);
    expect(r.stdout).toMatch(/^ {2}layout = NHWC$/m);
    r = bisenet('inspect', path.join(work, 'layers', 'model.json'), '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ kind: 'tfjs-layers', inputs: [{ name: 'input', dtype: 'float32', shape: [null, null, null, 3] }], outputs: [{ name: 'logits', shape: null }] });
    expect(j.ops.find((o: { op: string }) => o.op === 'Conv2D').count).toBeGreaterThan(10);
    expect(j.recorded.numClasses).toBe(19);
    expect(bisenet('inspect', path.join(work, 'layers')).stdout).toMatch(/^ {2}logits +\? +shape not recorded$/m);
  });

  it('says what a model does not record', () => {
    const r = bisenet('inspect', path.join(work, 'bare.onnx'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^preprocessing: +- \(not recorded: segment and serve need --dataset\)$/m);
    expect(r.stdout).toMatch(/^palette: +- \(not recorded\)$/m);
  });

  it('a foreign ONNX file: initializers listed as graph inputs are weights, named dims by name, unknown ones as ?', () => {
    const { onnx } = onnxProto;
    const f = path.join(work, 'foreign.onnx');
    const vi = (name: string, dims: ({ dimValue: number } | { dimParam: string } | object)[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims } } } });
    fs.writeFileSync(f, onnx.ModelProto.encode({
      irVersion: 3, producerName: 'pytorch', producerVersion: '1.13.1', opsetImport: [{ domain: '', version: 11 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        name: 'g', node: [{ opType: 'Conv', input: ['x', 'w'], output: ['y'] }],
        initializer: [{ name: 'w', dims: [8, 3, 3, 3], dataType: 1, rawData: new Uint8Array(4 * 216) }],
        input: [vi('x', [{ dimParam: 'batch' }, { dimValue: 3 }, {}, {}]), vi('w', [{ dimValue: 8 }, { dimValue: 3 }, { dimValue: 3 }, { dimValue: 3 }])],
        output: [vi('y', [{ dimParam: 'batch' }, { dimValue: 8 }, {}, {}])],
      },
    }).finish());
    const r = bisenet('inspect', f);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^kind: +onnx \(ONNX IR version 3; opset ai\.onnx 11, com\.microsoft 1\)$/m);
    expect(r.stdout).toMatch(/^producer: +pytorch 1\.13\.1$/m);
    expect(r.stdout).toMatch(/^inputs \(1\):\n {2}x +float32 +\[batch, 3, \?, \?\]$/m);
    expect(r.stdout).toMatch(/^weights: +1 tensors, 0\.0 MiB \(1 float32\)$/m);
    expect(r.stdout).toMatch(/^family: +- \(not recorded\)$/m);
    expect(r.stdout).toMatch(/^classes: +- \(not recorded\)$/m);
  });

  it('refuses what is not a model: one line, exit 2', () => {
    const bad = path.join(work, 'garbage.onnx');
    fs.writeFileSync(bad, Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) % 251)));
    let r = bisenet('inspect', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: .*garbage\.onnx: not an ONNX model/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const json = path.join(work, 'not-a-model.json');
    fs.writeFileSync(json, '{"format": "graph-model"}');
    r = bisenet('inspect', json);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: .*not-a-model\.json: not a TensorFlow\.js model\.json \(no modelTopology\)\n$/);
  });

  it('takes a new model kind through its reader alone (as the TFLite reader plugs in)', () => {
    const f = path.join(work, 'm.fake');
    fs.writeFileSync(f, 'x');
    expect(modelReaderFor(f)).toBeNull();
    const reader: ModelReader = {
      kind: 'fake', describe: '.fake file', accepts: (p) => p.endsWith('.fake'),
      read: (p) => ({ file: p, kind: 'fake', format: 'Fake 1', opsets: null, producer: 'test', inputs: [{ name: 'in', dtype: 'float32', shape: [1, 64, 64, 3] }],
        outputs: [{ name: 'out', dtype: 'float32', shape: [1, 64, 64, 19] }], ops: [{ op: 'CONV_2D', count: 3 }], weights: { tensors: 3, bytes: 3 * 2 ** 20, dtypes: { float16: 3 } }, metadata: {} }),
    };
    MODEL_READERS.push(reader);
    try {
      expect(modelReaderFor(f)).toBe(reader);
      const text = formatModelSummary(inspectModel(f, reader));
      expect(text).toMatch(/^kind: +fake \(Fake 1\)$/m);
      expect(text).toMatch(/^ {2}in +float32 +\[1, 64, 64, 3\]$/m);
      expect(text).toMatch(/^nodes: +3 \(CONV_2D 3\)$/m);
    } finally {
      MODEL_READERS.pop();
    }
  });
});

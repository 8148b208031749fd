import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, readNpy } from '../../src/checkpoint/npy.js';
import { bisenet } from '../helpers/cli.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';
import { PickleWriter, torchTensor } from '../fuzz-lib/pickle-writer.js';
import { makeZip } from '../fuzz-lib/zip-writer.js';


const CKPT = fixture(UPSTREAM, 'model.pth');
const GOLDEN = golden(UPSTREAM);
let work: string;
let model: string;

beforeAll(() => {
  work = tmpDir('bisenet-cli-');
  model = path.join(work, 'model.onnx');
  const r = bisenet('convert', CKPT, '--to', 'onnx', '--out', model);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

/** A user mistake: exit 2, one line on stderr naming the problem, no stack trace, nothing written. */
function expectUserError(r: ReturnType<typeof bisenet>, pattern: RegExp, notWritten: string[] = []) {
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n')[0]).toMatch(/^error: /);
  for (const f of notWritten) expect(fs.existsSync(f), `${f} must not exist`).toBe(false);
}

describe('bisenet inspect', () => {
  it('identifies the upstream checkpoint', () => {
    const r = bisenet('inspect', CKPT);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/family:\s+coincheung/);
    expect(r.stdout).toMatch(/classes:\s+19/);
    expect(r.stdout).toMatch(/booster heads:\s+present/);
    expect(r.stdout).toMatch(/tensors:\s+383/);
    expect(r.stdout).toMatch(/problems:\s+none/);
    const j = JSON.parse(bisenet('inspect', CKPT, '--json').stdout);
    expect(j).toMatchObject({ family: 'coincheung', numClasses: 19, hasBooster: true, tensorCount: 383 });
  });
});

describe('bisenet convert + verify + infer', () => {
  it('verify passes on the upstream golden set and writes JSON', () => {
    const json = path.join(work, 'report.json');
    const r = bisenet('verify', model, '--golden', GOLDEN, '--json', json);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/PASS/);
    const report = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(report.pass).toBe(true);
    const logits = report.cases[0].outputs.find((o: { name: string }) => o.name === 'logits');
    expect(logits.relMax).toBeLessThanOrEqual(1e-4);
    expect(logits.labelAgreement).toBeGreaterThanOrEqual(0.9999);
  });

  it('verify exits 1 when the model does not match', () => {
    const bad = path.join(work, 'tampered');
    fs.mkdirSync(bad);
    fs.copyFileSync(path.join(GOLDEN, 'input.npy'), path.join(bad, 'input.npy'));
    const logits = readNpy(path.join(GOLDEN, 'logits.npy'));
    const data = logits.data as Float32Array;
    for (let i = 0; i < data.length; i += 97) data[i] = data[i]! + 0.5;
    fs.writeFileSync(path.join(bad, 'logits.npy'), encodeNpy(logits));
    const r = bisenet('verify', model, '--golden', bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAIL/);
  });

  it('infer writes logits, booster outputs and labels', () => {
    const aux = path.join(work, 'aux.onnx');
    expect(bisenet('convert', CKPT, '--to', 'onnx', '--out', aux, '--aux', '--labels').status).toBe(0);
    const out = path.join(work, 'y.npy');
    const r = bisenet('infer', aux, '--input', path.join(GOLDEN, 'input.npy'), '--out', out, '--aux', '--labels');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const y = readNpy(out);
    expect(y.dtype).toBe('float32');
    expect(y.shape).toEqual([1, 19, 96, 160]);
    for (const a of ['aux2', 'aux3', 'aux4', 'aux5_4']) expect(readNpy(path.join(work, `y.${a}.npy`)).shape).toEqual([1, 19, 96, 160]);
    const labels = readNpy(path.join(work, 'y.labels.npy'));
    const ref = readNpy(path.join(GOLDEN, 'labels.npy'));
    expect(labels.shape).toEqual([1, 96, 160]);
    let same = 0;
    for (let i = 0; i < ref.data.length; i++) if (labels.data[i] === ref.data[i]) same++;
    expect(same / ref.data.length).toBeGreaterThanOrEqual(0.9999);
  });

  it('refuses to replace an existing output without --force', () => {
    const before = fs.statSync(model).mtimeMs;
    expectUserError(bisenet('convert', CKPT, '--to', 'onnx', '--out', model), /already exists \(use --force/);
    expect(fs.statSync(model).mtimeMs).toBe(before);
  });
});

describe('user mistakes: exit 2, one line, nothing written', () => {
  it('missing checkpoint', () => {
    const out = path.join(work, 'm1.onnx');
    expectUserError(bisenet('convert', path.join(work, 'nope.pth'), '--to', 'onnx', '--out', out), /checkpoint not found: .*nope\.pth/, [out]);
  });

  it('a file that is not a checkpoint', () => {
    const f = path.join(work, 'random.pth');
    fs.writeFileSync(f, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    const out = path.join(work, 'm2.onnx');
    expectUserError(bisenet('convert', f, '--to', 'onnx', '--out', out), /random\.pth: not a checkpoint/, [out]);
    expectUserError(bisenet('inspect', f), /random\.pth: not a checkpoint/);
  });

  it('a checkpoint of another network', () => {
    const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    for (const [i, [k, shape]] of ([['conv1.weight', [4, 3, 3, 3]], ['fc.weight', [10, 4]]] as const).entries()) {
      w.str(k); torchTensor(w, 'FloatStorage', String(i), shape.reduce((a, b) => a * b, 1), 0, [...shape], shape.length === 4 ? [27, 9, 3, 1] : [4, 1]);
    }
    w.setitems();
    const f = path.join(work, 'resnet.pth');
    fs.writeFileSync(f, makeZip([{ name: 'archive/data.pkl', data: w.stop() }, { name: 'archive/data/0', data: new Uint8Array(4 * 108) }, { name: 'archive/data/1', data: new Uint8Array(160) }]));
    const out = path.join(work, 'm3.onnx');
    expectUserError(bisenet('convert', f, '--to', 'onnx', '--out', out), /not a BiSeNetV2 checkpoint of a known family/, [out]);
  });

  it('a pickle that would run os.system is refused and nothing runs', () => {
    const marker = path.join(os.tmpdir(), `bisenet-cli-pwned-${process.pid}`);
    const w = new PickleWriter().global('os', 'system').mark().str(`touch ${marker}`).tuple().reduce();
    const f = path.join(work, 'evil.pth');
    fs.writeFileSync(f, makeZip([{ name: 'archive/data.pkl', data: w.stop() }]));
    const out = path.join(work, 'm4.onnx');
    expectUserError(bisenet('convert', f, '--to', 'onnx', '--out', out), /refused: the pickle names the global os\.system/, [out, marker]);
  });

  it('an input whose H or W is not a multiple of 32', () => {
    const x = path.join(work, 'x100.npy');
    fs.writeFileSync(x, encodeNpy({ dtype: 'float32', shape: [1, 3, 100, 160], data: new Float32Array(3 * 100 * 160) }));
    const out = path.join(work, 'y100.npy');
    expectUserError(bisenet('infer', model, '--input', x, '--out', out), /height 100 is not a multiple of 32/, [out]);
  });

  it('a directory where a file is expected, a bad option value, an unknown target', () => {
    expectUserError(bisenet('inspect', work), /is a directory/);
    const out = path.join(work, 'm5.onnx');
    expectUserError(bisenet('convert', CKPT, '--to', 'onnx', '--out', out, '--opset', '9'), /--opset 9 is not supported/, [out]);
    const r = bisenet('convert', CKPT, '--to', 'caffe', '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are onnx/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a golden directory that does not exist, an unknown runtime, an unwritable output', () => {
    expectUserError(bisenet('verify', model, '--golden', path.join(work, 'none')), /golden directory not found/);
    expectUserError(bisenet('verify', model, '--golden', GOLDEN, '--runtime', 'tpu'), /unknown runtime tpu/);
    const out = path.join(work, 'no-such-dir', 'm.onnx');
    expectUserError(bisenet('convert', CKPT, '--to', 'onnx', '--out', out), /output directory .* does not exist/, [out]);
  });
});

describe('more user mistakes (issue 5 list)', () => {
  it('wrong extension for the output or the model', () => {
    const out = path.join(work, 'model.txt');
    expectUserError(bisenet('convert', CKPT, '--to', 'onnx', '--out', out), /must end in \.onnx/, [out]);
    expectUserError(bisenet('verify', CKPT, '--golden', GOLDEN), /no runtime loads this kind of model/);
  });

  it('a forced class count that differs from the checkpoint', () => {
    const out = path.join(work, 'c21.onnx');
    expectUserError(bisenet('convert', CKPT, '--to', 'onnx', '--out', out, '--classes', '21'), /--classes 21 was given, but the checkpoint's classifier has 19 classes/, [out]);
  });

  it('an output path under a file, and an output that is a directory', () => {
    const file = path.join(work, 'plain-file');
    fs.writeFileSync(file, 'x');
    expectUserError(bisenet('convert', CKPT, '--to', 'onnx', '--out', path.join(file, 'm.onnx')), /is not a directory/);
    const dir = path.join(work, 'dir.onnx');
    fs.mkdirSync(dir);
    expectUserError(bisenet('convert', CKPT, '--to', 'onnx', '--out', dir, '--force'), /is a directory/);
  });

  it('leaves no temporary files beside the output after a failure', () => {
    const dir = tmpDir();
    const r = bisenet('convert', path.join(work, 'random.pth'), '--to', 'onnx', '--out', path.join(dir, 'x.onnx'));
    expect(r.status).toBe(2);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('--verbose lists every detail of a layout error', () => {
    // Every upstream key, but each conv weight with a wrong shape: the porter finds them all.
    const keys = fs.readFileSync(fixture(UPSTREAM, 'state_dict_keys.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0]!);
    const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    for (const k of keys) {
      w.str(k);
      if (k === 'head.conv_out.1.weight') torchTensor(w, 'FloatStorage', '0', 4, 0, [19, 1, 1, 1], [0, 0, 0, 0]);
      else torchTensor(w, 'FloatStorage', '0', 4, 0, [1], [1]);
    }
    w.setitems();
    const f = path.join(work, 'misshapen.pth');
    fs.writeFileSync(f, makeZip([{ name: 'archive/data.pkl', data: w.stop() }, { name: 'archive/data/0', data: new Uint8Array(16) }]));
    const quiet = bisenet('convert', f, '--to', 'onnx', '--out', path.join(work, 'p.onnx'));
    expectUserError(quiet, /shape mismatches \(first: detail\.S1\.0\.conv\.weight: expected \[64, 3, 3, 3\], found \[1\]\)/, [path.join(work, 'p.onnx')]);
    expect(quiet.stderr).toMatch(/run with --verbose to list them/);
    const loud = bisenet('--verbose', 'convert', f, '--to', 'onnx', '--out', path.join(work, 'p.onnx'));
    expect(loud.status).toBe(2);
    expect(loud.stderr).toContain('shape mismatch bga.conv.1.running_var: expected [128], found [1]');
    expect(loud.stderr.split('\n').length).toBeGreaterThan(250);
  });
});

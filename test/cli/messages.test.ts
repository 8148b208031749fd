/**
 * The messages a newcomer meets: each one line, naming the problem and what to do next.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/index.js';
import { causeText } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { BIN, fixture, golden, ROOT, tmpDir, UPSTREAM } from '../helpers/paths.js';

const oneErrorLine = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0]!;
};

const CKPT = fixture(UPSTREAM, 'model.pth');
let work: string;
let model: string;

beforeAll(() => {
  work = tmpDir('bisenet-messages-');
  model = path.join(work, 'n19.onnx');
  fs.writeFileSync(model, converted(CKPT, { to: 'onnx' }).bytes);
});

describe('messages name the problem and what to do, on one line', () => {
  it('an unknown command gets its suggestion on the same line', () => {
    const r = runCli(['verfy']);
    expect(r.status).toBe(2);
    expect(oneErrorLine(r.stderr)).toBe("error: unknown command 'verfy' (Did you mean verify?)");
  });

  it('a third-party error keeps every line of its message (onnxruntime puts the dimensions on the second)', () => {
    const e = new Error('Got invalid dimensions for input: input for the following indices\n index: 2 Got: 96 Expected: 512\n Please fix either the inputs/outputs or the model.');
    expect(causeText(e)).toBe('Got invalid dimensions for input: input for the following indices; index: 2 Got: 96 Expected: 512; Please fix either the inputs/outputs or the model.');
    expect(causeText(new Error('x'.repeat(2000)), 100)).toHaveLength(101);
  });

  it('a fixed-size model run at another size says which dimensions differ and what to do', () => {
    const trt = path.join(work, 'trt');
    const c = converted(CKPT, { to: 'tensorrt', shapes: '1x3x64x96' });
    fs.mkdirSync(trt);
    for (const [f, d] of c.files!) fs.writeFileSync(path.join(trt, f), d);
    const r = runCli(['infer', path.join(trt, 'model.onnx'), '--input', golden(UPSTREAM, 'input.npy'), '--out', path.join(work, 'y.npy')]);
    expect(r.status).toBe(2);
    const line = oneErrorLine(r.stderr);
    expect(line).toMatch(/index: 2 Got: 96 Expected: 64; index: 3 Got: 160 Expected: 96/);
    expect(line).toMatch(/fixed input size: give an input of that size, or convert the checkpoint again/);
    expect(fs.existsSync(path.join(work, 'y.npy'))).toBe(false);
  });

  it('a runtime that cannot load a model names those that can', () => {
    const r = runCli(['infer', model, '--input', golden(UPSTREAM, 'input.npy'), '--out', path.join(work, 'y.npy'), '--runtime', 'tfjs-wasm']);
    expect(r.status).toBe(2);
    expect(oneErrorLine(r.stderr)).toMatch(/runtime tfjs-wasm cannot load .*n19\.onnx; runtimes that load it: ort-cpu \(default\), .*chromium-ort-wasm/);
  });

  it('verify against a golden set of another checkpoint says so, and a shape that differs shows no figures', () => {
    const r = runCli(['verify', model, '--golden', path.join(ROOT, 'golden')]);
    expect(r.status).toBe(1);
    // The upstream set matches; the PaddleSeg one was made from another checkpoint; the mmseg one has 150 classes.
    expect(r.stdout).toMatch(/^note: paddleseg-bisenetv2-n19 was made from .*model\.pdparams, and this model from another checkpoint/m);
    expect(r.stdout).not.toMatch(/^note: coincheung-bisenetv2-n19/m);
    const mmseg = r.stdout.split('\n').find((l) => /^mmseg-bisenetv2-n150-b2\s+logits\s/.test(l))!;
    expect(mmseg).toMatch(/the golden set is of a 150-class model, this model has 19 classes/);
    expect(mmseg).not.toMatch(/\binf\b|0\.000/);
    // The model's own golden set: no note.
    const own = runCli(['verify', model, '--golden', golden(UPSTREAM)]);
    expect(own.status).toBe(0);
    expect(own.stdout).not.toMatch(/^note:/m);
  });

  it('segment says that an input is missing before that an output is in the way', () => {
    const out = path.join(work, 'exists.png');
    fs.writeFileSync(out, 'mine');
    let r = runCli(['segment', model, '--image', path.join(work, 'nope.png'), '--out', out]);
    expect(oneErrorLine(r.stderr)).toMatch(/image not found: .*nope\.png/);
    r = runCli(['segment', path.join(work, 'nope.onnx'), '--image', path.join(work, 'nope.png'), '--out', out]);
    expect(oneErrorLine(r.stderr)).toMatch(/model not found: .*nope\.onnx/);
    expect(fs.readFileSync(out, 'utf8')).toBe('mine');
  });

  it('segment notes that a fixture with random weights segments nothing real', () => {
    const r = runCli(['segment', model, '--image', path.join(ROOT, 'data', 'synthetic-val', 'images', '0000.png'), '--out', path.join(work, 'm.png'), '--force']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^note: .*records random weights \(a parity fixture, not a trained model\)/);
    // The trained fixture's card says what it was trained on, not "random": no note.
    const c = convertCheckpoint(fixture('trained-synthetic-n19', 'model.pth'), { to: 'onnx' });
    expect(c.metadata.weights).toMatch(/^trained on synthetic street scenes/);
    expect(c.metadata.checkpoint_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a directory target refuses an --out named like a file, and makes nothing', () => {
    const out = path.join(work, 'x.onnx');
    const r = runCli(['convert', CKPT, '--to', 'tfjs-graph', '--out', out]);
    expect(r.status).toBe(2);
    expect(oneErrorLine(r.stderr)).toMatch(/a tfjs-graph model is a directory .*name the directory/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('doctor outside a clone lists the runtimes and says how to check a conversion; a missing --golden is one line', () => {
    const empty = tmpDir('bisenet-doctor-');
    const r = runCli(['doctor', '--runtimes', 'ort-cpu'], { cwd: empty });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ort-cpu\s+yes/m);
    expect(r.stdout).toMatch(/no golden set here .*bisenet diff model\.pth model\.onnx/);
    const missing = runCli(['doctor', '--golden', 'nope'], { cwd: empty });
    expect(missing.status).toBe(2);
    expect(oneErrorLine(missing.stderr)).toBe('error: golden directory not found: nope');
    expect(missing.stdout).toBe('');
  });

  it('building without the dev dependencies says to run npm ci, not a stack trace', () => {
    const copy = tmpDir('bisenet-build-');
    fs.mkdirSync(path.join(copy, 'scripts'));
    fs.copyFileSync(path.join(ROOT, 'scripts', 'build.mjs'), path.join(copy, 'scripts', 'build.mjs'));
    const r = spawnSync(process.execPath, [path.join(copy, 'scripts', 'build.mjs'), '--clean'], { encoding: 'utf8', cwd: copy });
    expect(r.status).toBe(2);
    expect(oneErrorLine(r.stderr)).toMatch(/TypeScript is not installed here: run `npm ci` first/);
  });
});

describe('--help', () => {
  it('every command ends its help with examples of itself, and lists runtimes one short line each', async () => {
    const { buildProgram } = await import('../../src/cli/main.js');
    const names = buildProgram().commands.map((c) => c.name());
    expect(names.length).toBeGreaterThanOrEqual(10);
    for (const name of names) {
      const r = runCli([name, '--help']);
      expect(r.status, name).toBe(0);
      const examples = r.stdout.slice(r.stdout.lastIndexOf('\nExamples:\n'));
      expect(examples, name).toMatch(new RegExp(`^\\nExamples:\\n(  \\$ bisenet ${name}( .*)?\\n){2,}\\n*$`));
      for (const line of r.stdout.split('\n')) if (/^ {2}[a-z][\w-]+ {2,}/.test(line)) expect(line.length, line).toBeLessThanOrEqual(100);
    }
  });
});

describe('doctor table', () => {
  it('fits 100 columns: long adapter names are cut, install lines and errors go below the table', async () => {
    const { formatCheck } = await import('../../src/doctor/index.js');
    const base = { pass: true, relMax: 5e-6, labelAgreement: 1, times: {} };
    const text = formatCheck([
      { ...base, runtime: 'ort-cpu', device: 'CPU (2 threads)', available: true },
      { ...base, runtime: 'chromium-ort-webgpu', device: `headless Chromium 156.0.8078.129 (/usr/bin/chromium); ${'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero))) '.repeat(2)}`, available: true },
      { ...base, runtime: 'ort-webgpu', device: 'not installed', available: false, pass: null, relMax: null, labelAgreement: null, install: 'npm i -g --prefix /a/very/long/prefix/path onnxruntime-web@1.30.0 webgpu@0.6.2' },
      { ...base, runtime: 'tfjs-webgpu', device: 'lavapipe', available: true, pass: null, relMax: null, labelAgreement: null, error: 'x'.repeat(150) },
    ], [[512, 1024]]);
    const lines = text.split('\n');
    for (const l of lines.slice(0, 5)) expect(l.length, l).toBeLessThanOrEqual(100);
    expect(lines[0]).toMatch(/^runtime +parity +max\|Δ\|\/max\|ref\| +labels agree +median 512×1024 +adapter \/ device$/);
    expect(lines[2]).toMatch(/…$/);
    expect(lines[3]).toMatch(/^ort-webgpu +not installed/);
    expect(lines[4]).toMatch(/^tfjs-webgpu +error/);
    expect(lines[5]).toBe('ort-webgpu: npm i -g --prefix /a/very/long/prefix/path onnxruntime-web@1.30.0 webgpu@0.6.2');
    expect(lines[6]).toBe(`tfjs-webgpu: ${'x'.repeat(150)}`);
  });
});

describe('a reader that stops early', () => {
  it('bisenet … | head: the output just ends, no EPIPE stack trace', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" eval --help | head -c 10 > /dev/null`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
  });
});

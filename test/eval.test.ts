import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, listLabelledSet, referenceMiou } from '../src/eval/index.js';
import { segmentMany } from '../src/segment/index.js';
import { writeDirAtomic } from '../src/util/fs.js';
import { runCli } from './helpers/cli.js';
import { converted } from './helpers/models.js';
import { fixture, ROOT, tmpDir } from './helpers/paths.js';

/**
 * What the eval tests score. TRAINED: the committed trained checkpoint, its held-out set and the
 * manifest recording PyTorch's mIoU on it. SELF: the random-weight upstream checkpoint scored against
 * labels made from its own predictions (mIoU 100 by construction), for use without the trained fixture.
 */
interface Subject { checkpoint: string; data: () => string; reference: () => string; tfjsImages: number; plantedDropAtLeast: number }
const TRAINED: Subject = {
  checkpoint: fixture('trained-synthetic-n19', 'model.pth'),
  data: () => path.join(ROOT, 'data', 'synthetic-val'),
  reference: () => fixture('trained-synthetic-n19', 'manifest.json'),
  tfjsImages: 4,
  plantedDropAtLeast: 10,
};
const SELF: Subject = {
  checkpoint: fixture('coincheung-bisenetv2-n19', 'model.pth'),
  data: () => path.join(work, 'self-set'),
  reference: () => '100',
  tfjsImages: 3,
  plantedDropAtLeast: 5,
};
const SUBJECT: Subject = TRAINED;


let work: string;
let onnx: string;
const miouOf = (file: string): number => (JSON.parse(fs.readFileSync(file, 'utf8')) as { miou: number }).miou;

/** The ONNX model with its recorded preprocessing changed: a planted preprocessing bug. */
function withPreprocessing(src: string, dst: string, change: (pre: Record<string, unknown>) => void): void {
  const m = onnxProto.onnx.ModelProto.decode(fs.readFileSync(src));
  const prop = m.metadataProps.find((p) => p.key === 'preprocessing')!;
  const pre = JSON.parse(prop.value!) as Record<string, unknown>;
  change(pre);
  prop.value = JSON.stringify(pre);
  fs.writeFileSync(dst, onnxProto.onnx.ModelProto.encode(m).finish());
}

/** SELF's labelled set: synthetic pictures (one size a multiple of 32, one not), labelled by the model, a stripe set to 255. */
async function makeSelfSet(dir: string): Promise<void> {
  fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
  const sizes = [[256, 128], [256, 128], [200, 90], [256, 128]] as const;
  for (const [i, [w, h]] of sizes.entries()) {
    const rgb = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const j = 3 * (y * w + x);
      const sky = y < h * (0.3 + 0.1 * i);
      rgb[j] = sky ? 70 + (x >> 3) : 110 + ((x * y * (i + 1)) & 63); rgb[j + 1] = sky ? 130 : 90 + (y & 31); rgb[j + 2] = sky ? 200 - (y >> 1) : 100 + ((x >> 2) & 63);
    }
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(dir, 'images', `${String(i).padStart(4, '0')}.png`));
  }
  const raw = path.join(work, 'self-raw');
  await segmentMany(onnx, [path.join(dir, 'images')], { outDir: raw, raw: true, progress: { quiet: true }, threads: 1 });
  fs.mkdirSync(path.join(dir, 'labels'));
  for (const f of fs.readdirSync(raw)) {
    const { data, info } = await sharp(path.join(raw, f)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    for (let x = 0; x < info.width; x++) data[5 * info.width + x] = 255;
    await sharp(data, { raw: { width: info.width, height: info.height, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, 'labels', f));
  }
}

beforeAll(async () => {
  work = tmpDir('bisenet-eval-');
  onnx = path.join(work, 'model.onnx');
  fs.writeFileSync(onnx, converted(SUBJECT.checkpoint, { to: 'onnx', labels: true }).bytes);
  if (SUBJECT === SELF) await makeSelfSet(SELF.data());
}, 120_000);

afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

describe('bisenet eval', () => {
  it('scores the exported ONNX model in onnxruntime within 0.1 point of the reference, and writes the JSON report', () => {
    const out = path.join(work, 'ort.json');
    const r = runCli(['eval', onnx, '--data', SUBJECT.data(), '--json', out, '--compare-to', SUBJECT.reference()], { cwd: ROOT });
    expect(r.stdout).toMatch(/^eval 1\/\d+ /m); // plain progress lines on stdout when not on a terminal (stderr keeps errors only)
    expect(r.stderr).toBe('');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mIoU \d+\.\d\d %/);
    expect(r.stdout).toMatch(/allowed ±0\.1: ok/);
    const j = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['miou', 'pixel_accuracy', 'per_class', 'images']));
    expect(j.images).toBe(listLabelledSet(SUBJECT.data()).length);
    expect(Math.abs((j.miou as number) - referenceMiou(SUBJECT.reference()).value)).toBeLessThanOrEqual(0.1);
    const perClass = j.per_class as Record<string, number | null>;
    expect(Object.keys(perClass)).toHaveLength(19);
    expect(Object.keys(perClass)[0]).toBe('road');
    const present = Object.values(perClass).filter((v): v is number => v !== null);
    expect(j.miou).toBeCloseTo(present.reduce((a, b) => a + b, 0) / present.length, 3);
  });

  it('gives the same mIoU (within 0.1) in onnxruntime and in tfjs-wasm for both tfjs formats, and from the checkpoint directly', async () => {
    const n = String(SUBJECT.tfjsImages);
    const scores: Record<string, number> = {};
    // The tfjs formats in process (the CLI's eval is the subject of the test above and of the checkpoint run below).
    for (const to of ['tfjs-layers', 'tfjs-graph'] as const) {
      const dir = path.join(work, to);
      writeDirAtomic(dir, converted(SUBJECT.checkpoint, { to }).files!);
      const r = await evaluate(dir, SUBJECT.data(), { limit: SUBJECT.tfjsImages, progress: { quiet: true } });
      expect(r.runtime).toBe('tfjs-wasm');
      scores[to] = r.miou!;
    }
    const ort = (await evaluate(onnx, SUBJECT.data(), { limit: SUBJECT.tfjsImages, progress: { quiet: true } })).miou!;
    // The checkpoint, converted in memory: run from an empty directory, which must stay empty.
    const cwd = tmpDir('bisenet-eval-cwd-');
    const before = fs.readdirSync(path.dirname(SUBJECT.checkpoint));
    const ck = runCli(['eval', SUBJECT.checkpoint, '--data', SUBJECT.data(), '--limit', n, '--quiet'], { cwd });
    expect(ck.status, ck.stderr).toBe(0);
    expect(ck.stdout).toMatch(/converted in memory to onnx/);
    expect(fs.readdirSync(cwd)).toEqual([]);
    fs.rmdirSync(cwd);
    expect(fs.readdirSync(path.dirname(SUBJECT.checkpoint))).toEqual(before);
    scores.checkpoint = Number(/mIoU (\d+\.\d+) %/.exec(ck.stdout)![1]);
    for (const [k, v] of Object.entries(scores)) expect(Math.abs(v - ort), k).toBeLessThanOrEqual(0.1);
  }, 240_000);

  it('shows a planted preprocessing bug (BGR instead of RGB; the wrong mean) as a visible mIoU drop, and --compare-to fails it (exit 1)', async () => {
    // BGR: channels fed in the wrong order (in process, on the first 8 images against the right order on the same 8).
    const bgr = path.join(work, 'planted-bgr.onnx');
    withPreprocessing(onnx, bgr, (pre) => { pre.color_order = 'BGR'; });
    const subset = { limit: 8, progress: { quiet: true } };
    const bgrMiou = (await evaluate(bgr, SUBJECT.data(), subset)).miou!;
    const rgbMiou = (await evaluate(onnx, SUBJECT.data(), subset)).miou!;
    expect(rgbMiou - bgrMiou).toBeGreaterThanOrEqual(SUBJECT.plantedDropAtLeast);
    // The wrong mean and std (ImageNet's, on 0..255 pixels left unscaled), through the CLI on the same 8 images: exit 1.
    const mean = path.join(work, 'planted-mean.onnx');
    withPreprocessing(onnx, mean, (pre) => { pre.mean = [0.485, 0.456, 0.406]; pre.std = [0.229, 0.224, 0.225]; pre.scale = 1; });
    const out = path.join(work, 'planted-mean.json');
    const r = runCli(['eval', mean, '--data', SUBJECT.data(), '--limit', String(subset.limit), '--json', out, '--compare-to', SUBJECT.reference(), '--quiet'], { cwd: ROOT });
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/allowed ±0\.1: FAIL/);
    expect(rgbMiou - miouOf(out)).toBeGreaterThanOrEqual(SUBJECT.plantedDropAtLeast);
    expect((JSON.parse(fs.readFileSync(out, 'utf8')) as { compare: { pass: boolean } }).compare.pass).toBe(false);
  }, 180_000);

  it('refuses a malformed labelled set with one message naming the problem (exit 2 from the CLI), writing nothing', async () => {
    const base = path.join(work, 'bad');
    const json = path.join(work, 'never.json');
    const set = (name: string, files: Record<string, Buffer>): string => {
      const dir = path.join(base, name);
      for (const [f, data] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), data);
      }
      return dir;
    };
    const first = listLabelledSet(SUBJECT.data())[0]!;
    const img = fs.readFileSync(first.image);
    const lab = fs.readFileSync(first.label);
    const tiny = await sharp(Buffer.alloc(64), { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const cases: [string, RegExp][] = [
      [set('no-labels', { 'images/a.png': img }), /no labels\/ directory here; a labelled set is <dir>\/images\/<name>\.png\|\.jpg with <dir>\/labels\/<name>\.png/],
      [set('unpaired', { 'images/a.png': img, 'images/b.png': img, 'labels/a.png': lab }), /images\/b\.png have no label \(expected labels\/b\.png\)/],
      [set('orphan', { 'images/a.png': img, 'labels/a.png': lab, 'labels/c.png': lab }), /labels\/c\.png have no image/],
      [set('colour-label', { 'images/a.png': img, 'labels/a.png': img }), /a label map must hold one class index per pixel/],
      [set('not-image', { 'images/a.png': Buffer.from('hello'), 'labels/a.png': lab }), /images\/a\.png: not a PNG or JPEG image/],
      [set('size', { 'images/a.png': img, 'labels/a.png': tiny }), /labels\/a\.png: 8×8, but its image .* is \d+×\d+ \(labels are never resized\)/],
      [path.join(base, 'missing'), /labelled set not found/],
    ];
    for (const [dir, pattern] of cases) {
      await expect(evaluate(onnx, dir, { progress: { quiet: true } }), dir).rejects.toThrow(pattern);
    }
    // Labels from another directory (--labels-dir) are named as given, not as <dir>/labels.
    const elsewhere = set('elsewhere', { 'x.png': lab });
    expect(() => listLabelledSet(cases[1]![0], path.join(base, 'nowhere'))).toThrow(`labels directory not found: ${path.join(base, 'nowhere')} (--labels-dir)`);
    expect(() => listLabelledSet(cases[1]![0], elsewhere)).toThrow(`have no label (expected ${elsewhere}${path.sep}a.png)`);
    // The same through the CLI: exit 2, one line, no JSON.
    const r = runCli(['eval', onnx, '--data', cases[1]![0], '--json', json], { cwd: ROOT });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: .*have no label/)]);
    expect(fs.existsSync(json)).toBe(false);
    expect(() => referenceMiou('nope.json')).toThrow(/--compare-to nope\.json: neither a number nor an existing file/);
    expect(referenceMiou('71.5').value).toBe(71.5);
  }, 120_000);
});

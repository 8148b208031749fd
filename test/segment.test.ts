import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferArrays } from '../src/infer/index.js';
import { CITYSCAPES_PALETTE } from '../src/model-file/presets.js';
import { encodeSegmentation, paletteFor, resizeBilinearPlanes, segmentImage, segmentMany } from '../src/segment/index.js';
import { Progress } from '../src/segment/progress.js';
import { argmaxChannels } from '../src/verify/compare.js';
import { runCli } from './helpers/cli.js';
import { converted } from './helpers/models.js';
import { fixture, tmpDir } from './helpers/paths.js';

let dir: string;
let model: string;

function writePng(file: string, w: number, h: number): Uint8Array {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = 4 * (y * w + x);
    png.data[i] = (x * 5) & 255; png.data[i + 1] = (y * 7) & 255; png.data[i + 2] = ((x * y) >> 2) & 255; png.data[i + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png));
  return png.data;
}

beforeAll(() => {
  dir = tmpDir('bisenet-segment-');
  model = path.join(dir, 'model.onnx');
  fs.writeFileSync(model, converted(fixture('coincheung-bisenetv2-n19', 'model.pth'), { to: 'onnx' }).bytes);
});

afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** The note segment adds for a model of random weights (the fixtures these tests convert). */
const RANDOM_NOTE = /^note: .* records random weights \(a parity fixture, not a trained model\): its masks show no real classes\n/m;
const withoutRandomNote = (s: string): string => s.replace(RANDOM_NOTE, '');

describe('segment', () => {
  it('resizes bilinear with half-pixel centres, as PyTorch align_corners=False does', () => {
    // F.interpolate([[0,1],[2,3]], size=4, mode='bilinear', align_corners=False)
    expect([...resizeBilinearPlanes(Float32Array.from([0, 1, 2, 3]), 1, 2, 2, 4, 4)]).toEqual(
      [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
  });

  it('normalises RGB with the model\'s preset (Cityscapes, CoinCheung) and takes the argmax', async () => {
    const file = path.join(dir, 'a.png');
    const rgba = writePng(file, 96, 64);
    const s = await segmentImage(model, file, { threads: 1 });
    // The same input built here from the reference doc's statistics, without the segment code.
    const mean = [0.3257, 0.369, 0.3223];
    const std = [0.2112, 0.2148, 0.2115];
    const x = new Float32Array(3 * 64 * 96);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 64 * 96; p++) x[c * 64 * 96 + p] = (rgba[4 * p + c]! / 255 - mean[c]!) / std[c]!;
    const out = await inferArrays(model, { dtype: 'float32', shape: [1, 3, 64, 96], data: x }, { threads: 1 });
    const ref = argmaxChannels(out.logits!);
    let same = 0;
    for (let p = 0; p < ref.length; p++) if (ref[p] === s.labels[p]) same++;
    expect(same / ref.length).toBeGreaterThanOrEqual(0.9999);
    expect(s.palette.slice(0, 19)).toEqual(CITYSCAPES_PALETTE);
  });

  it('keeps the image size for any size, and writes palette or raw PNGs', async () => {
    const file = path.join(dir, 'b.png');
    writePng(file, 70, 45);
    const s = await segmentImage(model, file, { threads: 1 });
    expect([s.width, s.height, s.labels.length]).toEqual([70, 45, 70 * 45]);
    const raw = PNG.sync.read(Buffer.from(await encodeSegmentation(s, true)));
    expect([raw.width, raw.height]).toEqual([70, 45]);
    expect(raw.data[0]).toBe(s.labels[0]);
    expect([...raw.data.filter((_, i) => i % 4 === 0)]).toEqual([...s.labels]);
    const colour = PNG.sync.read(Buffer.from(await encodeSegmentation(s)));
    expect([...colour.data.subarray(0, 3)]).toEqual(CITYSCAPES_PALETTE[s.labels[0]!]);
  });

  it('draws a progress bar in place on a terminal (count, frames/s, ETA) and plain lines elsewhere', () => {
    const written: string[] = [];
    const stream = { isTTY: true, columns: 80, write: (t: string) => { written.push(t); return true; } };
    const bar = new Progress(2, 'segment', { stream });
    bar.tick('a.png');
    bar.tick('b.png');
    bar.finish();
    expect(written[0]).toMatch(/^\r\x1b\[Ksegment \[#+\.+\] 1\/2 {2}\d+\.\d\d frames\/s {2}ETA \d+:\d\d$/);
    expect(written[1]).toMatch(/^\r\x1b\[Ksegment \[#+\] 2\/2 /);
    expect(written.at(-1)).toBe('\n');
    const plain: string[] = [];
    const p = new Progress(2, 'eval', { stream: { isTTY: false, write: (t: string) => { plain.push(t); return true; } } });
    p.tick('a.png');
    expect(plain).toEqual([expect.stringMatching(/^eval 1\/2 a\.png \(\d+\.\d\d frames\/s, ETA \d+:\d\d\)\n$/)]);
  });

  it('gives other class counts a distinct palette', () => {
    const p = paletteFor(150, null);
    expect(new Set(p.map((c) => c.join(','))).size).toBe(150);
    expect(p[1]).toEqual([128, 0, 0]);
  });

  it('bisenet segment: writes the PNG; a file that is not an image is exit 2 and writes nothing', () => {
    const file = path.join(dir, 'c.png');
    writePng(file, 64, 64);
    const out = path.join(dir, 'mask.png');
    const ok = runCli(['segment', model, '--image', file, '--out', out]);
    // The model comes from a random-weight fixture: segment says so, and nothing else.
    expect(withoutRandomNote(ok.stderr)).toBe('');
    expect(ok.stderr).toMatch(RANDOM_NOTE);
    expect(ok.status).toBe(0);
    expect(PNG.sync.read(fs.readFileSync(out)).width).toBe(64);
    const bad = runCli(['segment', model, '--image', model, '--out', path.join(dir, 'x.png')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/model\.onnx: not a PNG or JPEG image/);
    expect(fs.existsSync(path.join(dir, 'x.png'))).toBe(false);
  });

  it('bisenet segment --overlay: blends the palette on the photo and names the classes found, with their shares', () => {
    const file = path.join(dir, 'd.png');
    const rgba = writePng(file, 96, 64);
    const out = path.join(dir, 'd-mask.png');
    const overlay = path.join(dir, 'd-overlay.png');
    const r = runCli(['segment', model, '--image', file, '--out', out, '--overlay', overlay]);
    expect(withoutRandomNote(r.stderr)).toBe('');
    expect(r.status).toBe(0);
    const mask = PNG.sync.read(fs.readFileSync(out));
    const blend = PNG.sync.read(fs.readFileSync(overlay));
    expect([blend.width, blend.height]).toEqual([96, 64]);
    const names = ['road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle'];
    const counts = new Map<string, number>();
    for (let p = 0; p < 96 * 64; p++) {
      const colour = [...mask.data.subarray(4 * p, 4 * p + 3)];
      const k = CITYSCAPES_PALETTE.findIndex((c) => c.join() === colour.join());
      expect(k).toBeGreaterThanOrEqual(0);
      counts.set(names[k]!, (counts.get(names[k]!) ?? 0) + 1);
      // Half photo, half palette colour (rounded).
      for (let c = 0; c < 3; c++) expect(Math.abs(blend.data[4 * p + c]! - (rgba[4 * p + c]! + colour[c]!) / 2)).toBeLessThanOrEqual(1);
    }
    const [top, n] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    expect(r.stdout).toContain(`${top} ${(100 * n / (96 * 64)).toFixed(1)}%`);
    expect(r.stdout).not.toMatch(/class \d+/);
  });

  it('bisenet segment --out-dir: many images (files, directories, patterns) in one process, masks and overlays, progress lines, summary', () => {
    const inDir = path.join(dir, 'many');
    fs.mkdirSync(path.join(inDir, 'sub'), { recursive: true });
    writePng(path.join(inDir, 'a.png'), 64, 64);
    writePng(path.join(inDir, 'b.png'), 64, 64);
    writePng(path.join(inDir, 'sub', 'c.png'), 70, 45);
    fs.writeFileSync(path.join(inDir, 'notes.txt'), 'not an image');
    const outDir = path.join(dir, 'many-out');
    const r = runCli(['segment', model, inDir, path.join(inDir, 'sub', '*.png'), '--out-dir', outDir, '--overlay', '--batch', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(outDir).sort()).toEqual(['a.overlay.png', 'a.png', 'b.overlay.png', 'b.png', 'c.overlay.png', 'c.png']);
    expect(PNG.sync.read(fs.readFileSync(path.join(outDir, 'c.png'))).width).toBe(70);
    // Not a terminal: one plain line per image on stdout (stderr keeps errors only), then the summary.
    // Lines come as images finish (PNG encoding runs beside inference, so two may swap): the counter
    // counts up, and every image appears once.
    expect(withoutRandomNote(r.stderr)).toBe('');
    const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('segment ')).map((l) => l.replace(/ \(.*/, ''));
    expect(lines.map((l) => /^segment (\d)\/3 /.exec(l)?.[1])).toEqual(['1', '2', '3']);
    expect(lines.map((l) => l.replace(/^segment \d\/3 /, '')).sort()).toEqual([
      `${path.join(inDir, 'a.png')} → ${path.join(outDir, 'a.png')}`,
      `${path.join(inDir, 'b.png')} → ${path.join(outDir, 'b.png')}`,
      `${path.join(inDir, 'sub', 'c.png')} → ${path.join(outDir, 'c.png')}`].sort());
    expect(r.stdout).toMatch(/^segmented 3 images → .* \d+\.\d\d frames\/s$/m);
    expect(r.stdout).toMatch(/^per frame: decode .* preprocess .* inference .* postprocess .* encode .*/m);
    expect(r.stdout).toMatch(/^classes: [a-z]/m);
    // Each mask is what one image alone gives.
    const one = path.join(dir, 'c-alone.png');
    expect(runCli(['segment', model, '--image', path.join(inDir, 'sub', 'c.png'), '--out', one]).status).toBe(0);
    expect(Buffer.compare(PNG.sync.read(fs.readFileSync(one)).data, PNG.sync.read(fs.readFileSync(path.join(outDir, 'c.png'))).data)).toBe(0);
    // Outputs that exist are refused without --force, before any work.
    const again = runCli(['segment', model, inDir, '--out-dir', outDir]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/a\.png and 1 more outputs already exist \(use --force/);
  });

  it('bisenet segment --out-dir writes nothing when any input is bad: all outputs or none', async () => {
    const inDir = path.join(dir, 'bad-many');
    fs.mkdirSync(inDir);
    writePng(path.join(inDir, 'a.png'), 64, 64);
    writePng(path.join(inDir, 'b.png'), 64, 64);
    // A PNG whose header reads fine but whose pixel data is cut off: found only when decoded, mid-run.
    const whole = fs.readFileSync(path.join(inDir, 'b.png'));
    fs.writeFileSync(path.join(inDir, 'c.png'), whole.subarray(0, whole.length - 40));
    writePng(path.join(inDir, 'd.png'), 64, 64);
    const outDir = path.join(dir, 'bad-out');
    const run = (...args: string[]) => runCli(['segment', model, ...args]);
    const truncated = run(inDir, '--out-dir', outDir);
    expect(truncated.status).toBe(2);
    // a truncated PNG is refused by its structure check (before any work) or by the decoder (mid-run): nothing is left either way
    expect(truncated.stderr).toMatch(/^error: .*c\.png: (cannot decode the image|not a valid PNG)/m);
    expect(fs.existsSync(outDir)).toBe(false);
    // Into an existing directory: it keeps only what it had.
    fs.mkdirSync(outDir);
    fs.writeFileSync(path.join(outDir, 'keep.txt'), 'x');
    expect(run(inDir, '--out-dir', outDir).status).toBe(2);
    expect(fs.readdirSync(outDir)).toEqual(['keep.txt']);
    // Found before any work: not an image, missing files, patterns matching nothing, two inputs for one output.
    fs.writeFileSync(path.join(dir, 'e.png'), 'not a png');
    const cases: [string[], RegExp][] = [
      [[path.join(inDir, 'a.png'), path.join(dir, 'e.png')], /e\.png: not a PNG or JPEG image/],
      [[path.join(dir, 'nothing.png')], /image not found: .*nothing\.png/],
      [[path.join(dir, 'zz*.png')], /zz\*\.png: matches no file/],
      [[path.join(inDir, 'a.png'), path.join(dir, 'many', 'a.png')], /a\.png and .*a\.png would both write/],
    ];
    for (const [inputs, pattern] of cases) {
      await expect(segmentMany(model, inputs, { outDir: path.join(dir, 'never'), progress: { quiet: true } })).rejects.toThrow(pattern);
      expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
    }
  });

  it('bisenet segment takes a checkpoint directly (converted in memory, nothing written beside it)', () => {
    const file = path.join(dir, 'f.png');
    writePng(file, 64, 64);
    const ck = fixture('coincheung-bisenetv2-n19', 'model.pth');
    const before = fs.readdirSync(path.dirname(ck));
    const a = path.join(dir, 'f-ck.png');
    const r = runCli(['segment', ck, '--image', file, '--out', a]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(path.dirname(ck))).toEqual(before);
    const b = path.join(dir, 'f-onnx.png');
    expect(runCli(['segment', model, '--image', file, '--out', b]).status).toBe(0);
    expect(Buffer.compare(PNG.sync.read(fs.readFileSync(a)).data, PNG.sync.read(fs.readFileSync(b)).data)).toBe(0);
    const trt = runCli(['segment', ck, '--image', file, '--out', path.join(dir, 'never.png'), '--runtime', 'tensorrt']);
    expect(trt.status).toBe(2);
    expect(trt.stderr).toMatch(/runtime tensorrt loads model files only; convert .* first/);
  });
});

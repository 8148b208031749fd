/**
 * `convert --json` and `segment --json`: the summaries agree with what was written (file sizes, mask
 * pixels per class), bare `--json` prints JSON only, `--json FILE` keeps the text and refuses to
 * replace a file without --force (before any work).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITYSCAPES_CLASSES, CITYSCAPES_PALETTE } from '../../src/model-file/presets.js';
import { bisenet } from '../helpers/cli.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

const CKPT = fixture(UPSTREAM, 'model.pth');
let work: string;

function card(file: string, w: number, h: number): void {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x);
      png.data[i] = (x * 5) & 255; png.data[i + 1] = (y * 3) & 255; png.data[i + 2] = y < h / 2 ? 200 : 60; png.data[i + 3] = 255;
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

/** Pixels per class of a palette mask PNG (Cityscapes colours). */
function maskHistogram(file: string): Map<number, number> {
  const png = PNG.sync.read(fs.readFileSync(file));
  const index = new Map(CITYSCAPES_PALETTE.map((c, k) => [c.join(), k]));
  const h = new Map<number, number>();
  for (let p = 0; p < png.width * png.height; p++) {
    const k = index.get(`${png.data[4 * p]},${png.data[4 * p + 1]},${png.data[4 * p + 2]}`);
    expect(k).toBeDefined();
    h.set(k!, (h.get(k!) ?? 0) + 1);
  }
  return h;
}

type Hist = { class: number; name: string | null; pixels: number; share: number }[];

beforeAll(() => {
  work = tmpDir('bisenet-json-');
  card(path.join(work, 'a.png'), 160, 96);
  card(path.join(work, 'b.png'), 100, 70);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('convert --json', () => {
  it('prints the target, files with their bytes, classes and outputs; the bytes are the files written', () => {
    const out = path.join(work, 'tfjs');
    const r = bisenet('convert', CKPT, '--to', 'tfjs-graph', '--labels', '--quantize', 'float16', '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ tool: 'bisenet convert', target: 'tfjs-graph', out, family: 'coincheung', numClasses: 19, weights: 'float16', dataset: 'cityscapes',
      outputs: [{ name: 'logits', kind: 'scores', channels: 19 }, { name: 'labels', kind: 'labels', channels: null }] });
    expect(j.classNames).toEqual(CITYSCAPES_CLASSES);
    expect(j.preprocessing.size_multiple).toBe(32);
    expect(j.files.map((f: { path: string }) => path.basename(f.path)).sort()).toEqual(fs.readdirSync(out).sort());
    for (const f of j.files) expect(f.bytes, f.path).toBe(fs.statSync(f.path).size);
    expect(j.bytes).toBe(j.files.reduce((a: number, f: { bytes: number }) => a + f.bytes, 0));
  });

  it('--json FILE keeps the text line; an existing FILE is refused before anything is written', () => {
    const out = path.join(work, 'm.onnx');
    const json = path.join(work, 'convert.json');
    let r = bisenet('convert', CKPT, '--to', 'onnx', '--out', out, '--json', json);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model\.pth: coincheung, 19 classes → .*m\.onnx \(onnx, opset 17/);
    const j = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(j).toMatchObject({ target: 'onnx', opset: 17, files: [{ path: out, bytes: fs.statSync(out).size }] });
    const out2 = path.join(work, 'm2.onnx');
    r = bisenet('convert', CKPT, '--to', 'onnx', '--out', out2, '--json', json);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: .*convert\.json.* exists/);
    expect(fs.existsSync(out2)).toBe(false);
    r = bisenet('convert', CKPT, '--to', 'onnx', '--out', out2, '--json', out2);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: --out ${out2} and --json ${out2} name the same file; give each output its own path\n`);
  });
});

describe('segment --json', () => {
  it('one image: its outputs, size, class histogram (as the mask has it) and times', () => {
    const out = path.join(work, 'a-mask.png');
    const r = bisenet('segment', CKPT, '--image', path.join(work, 'a.png'), '--out', out, '--overlay', '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ tool: 'bisenet segment', runtime: 'ort-cpu', numClasses: 19 });
    expect(j.images).toHaveLength(1);
    const im = j.images[0];
    expect(im).toMatchObject({ input: path.join(work, 'a.png'), outputs: [out, path.join(work, 'a-mask.overlay.png')], width: 160, height: 96 });
    for (const f of im.outputs) expect(fs.existsSync(f), f).toBe(true);
    const hist = im.classes as Hist;
    expect(new Map(hist.map((c) => [c.class, c.pixels]))).toEqual(maskHistogram(out));
    for (const c of hist) expect(c.name).toBe(CITYSCAPES_CLASSES[c.class]);
    expect(hist.reduce((a, c) => a + c.share, 0)).toBeCloseTo(1, 4);
    expect(im.ms).toBeGreaterThan(0);
    expect(im.stagesMs.inference).toBeGreaterThan(0);
  }, 120_000);

  it('many images: each in the order given, with its own size and histogram; the totals are their sums', () => {
    const dir = path.join(work, 'masks');
    const json = path.join(work, 'segment.json');
    const r = bisenet('segment', CKPT, path.join(work, 'b.png'), path.join(work, 'a.png'), '--out-dir', dir, '--json', json, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^segmented 2 images → /);
    const j = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(j.images.map((x: { input: string; width: number; height: number }) => [path.basename(x.input), x.width, x.height])).toEqual([['b.png', 100, 70], ['a.png', 160, 96]]);
    const total = new Map<number, number>();
    for (const x of j.images) {
      expect(x.outputs).toEqual([path.join(dir, `${path.basename(x.input, '.png')}.png`)]);
      expect(new Map((x.classes as Hist).map((c) => [c.class, c.pixels]))).toEqual(maskHistogram(x.outputs[0]));
      expect(x.doneMs).toBeGreaterThan(0);
      for (const c of x.classes as Hist) total.set(c.class, (total.get(c.class) ?? 0) + c.pixels);
    }
    expect(new Map((j.classes as Hist).map((c) => [c.class, c.pixels]))).toEqual(total);
    expect(j.framesPerSecond).toBeGreaterThan(0);
    expect(j.stagesMs.inference).toBeGreaterThan(0);
  }, 120_000);
});

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../src/convert.js';
import { inferArrays } from '../src/infer.js';
import { CITYSCAPES_PALETTE } from '../src/presets.js';
import { encodeSegmentation, paletteFor, resizeBilinearPlanes, segmentImage } from '../src/segment.js';
import { argmaxChannels } from '../src/verify/compare.js';
import { BIN, fixture, tmpDir } from './helpers/paths.js';

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
  fs.writeFileSync(model, convertCheckpoint(fixture('coincheung-bisenetv2-n19', 'model.pth'), { to: 'onnx' }).bytes);
});

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
    const raw = PNG.sync.read(Buffer.from(encodeSegmentation(s, true)));
    expect([raw.width, raw.height]).toEqual([70, 45]);
    expect(raw.data[0]).toBe(s.labels[0]);
    const colour = PNG.sync.read(Buffer.from(encodeSegmentation(s)));
    expect([...colour.data.subarray(0, 3)]).toEqual(CITYSCAPES_PALETTE[s.labels[0]!]);
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
    const ok = spawnSync(process.execPath, [BIN, 'segment', model, '--image', file, '--out', out], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(PNG.sync.read(fs.readFileSync(out)).width).toBe(64);
    const bad = spawnSync(process.execPath, [BIN, 'segment', model, '--image', model, '--out', path.join(dir, 'x.png')], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/model\.onnx: not a PNG or JPEG image/);
    expect(fs.existsSync(path.join(dir, 'x.png'))).toBe(false);
  });
});

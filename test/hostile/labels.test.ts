/**
 * Label maps (issue 20, class 9): read as their stored values for every bit depth and colour type a PNG allows
 * (greyscale 1/2/4/8/16-bit and palette indices, interlaced or not), or refused; a value the model has no
 * class for, other than 255, is an error (exit 2), never a silently wrong mIoU.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLabelMap, encodePng } from '../../src/segment/image.js';
import { BisenetError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A PNG written sample by sample (one per pixel), every filter type used in turn, optionally Adam7-interlaced. */
function png(values: ArrayLike<number>, w: number, h: number, depth: number, colorType: number, interlace = false, channels = 1): Buffer {
  const bpp = Math.max(1, (depth * channels) / 8);
  const raws: number[] = [];
  let row = 0;
  for (const [x0, y0, dx, dy] of interlace ? ADAM7 : [[0, 0, 1, 1] as const]) {
    const pw = Math.ceil((w - x0) / dx);
    const ph = Math.ceil((h - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * depth * channels) / 8);
    let prev = new Uint8Array(stride);
    for (let y = 0; y < ph; y++) {
      const line = new Uint8Array(stride);
      for (let x = 0; x < pw; x++) {
        for (let c = 0; c < channels; c++) {
          const v = values[((y0 + y * dy) * w + x0 + x * dx) * channels + c]!;
          const s = x * channels + c;
          if (depth === 16) { line[2 * s] = v >> 8; line[2 * s + 1] = v & 255; } else if (depth === 8) line[s] = v;
          else { const bit = s * depth; line[bit >> 3] |= v << (8 - depth - (bit & 7)); }
        }
      }
      const f = row++ % 5;
      const out = new Uint8Array(stride);
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? line[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const p = a + b - c;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1
          : (Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c);
        out[i] = (line[i]! - pred) & 255;
      }
      raws.push(f, ...out);
      prev = line;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = depth; ihdr[9] = colorType; ihdr[12] = interlace ? 1 : 0;
  const plte = colorType === 3 ? [chunk('PLTE', new Uint8Array(3 * 256).map((_, i) => (i * 37) & 255))] : [];
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...plte,
    chunk('IDAT', zlib.deflateSync(Buffer.from(raws))), chunk('IEND', new Uint8Array(0))]);
}

describe('label maps are read as stored', () => {
  const [w, h] = [13, 11]; // odd sizes: partial bytes at the end of rows and empty Adam7 passes
  for (const [colorType, depths] of [[0, [1, 2, 4, 8, 16]], [3, [1, 2, 4, 8]]] as const) {
    for (const depth of depths) {
      for (const interlace of [false, true]) {
        it(`${colorType === 0 ? 'greyscale' : 'palette'} ${depth}-bit${interlace ? ', interlaced' : ''}`, async () => {
          const max = depth === 16 ? 300 : (1 << depth) - 1;
          const values = Array.from({ length: w * h }, (_, i) => (i * 7 + (i >> 3)) % (max + 1));
          const d = await decodeLabelMap(png(values, w, h, depth, colorType, interlace), 'l.png');
          expect([d.width, d.height]).toEqual([w, h]);
          expect(Array.from(d.data)).toEqual(values);
        });
      }
    }
  }

  it('seeded fuzz: 120 random sizes, depths, colour types and interlacing read back exactly', async () => {
    let seed = 9;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    for (let i = 0; i < 120; i++) {
      const colorType = rnd(2) ? 0 : 3;
      const depths = colorType === 0 ? [1, 2, 4, 8, 16] : [1, 2, 4, 8];
      const depth = depths[rnd(depths.length)]!;
      const [w, h] = [1 + rnd(40), 1 + rnd(40)];
      const values = Array.from({ length: w * h }, () => rnd(depth === 16 ? 65536 : 1 << depth));
      const d = await decodeLabelMap(png(values, w, h, depth, colorType, rnd(2) === 1), 'r.png');
      expect(Array.from(d.data), `${w}×${h} type ${colorType} ${depth}-bit`).toEqual(values);
    }
  });

  it('an 8-bit greyscale map written by libvips reads back the same', async () => {
    const values = new Uint8Array(64 * 48).map((_, i) => (i % 19 === 0 ? 255 : i % 19));
    const d = await decodeLabelMap(await encodePng(values, 64, 48, 1), 'l.png');
    expect(Array.from(d.data)).toEqual(Array.from(values));
  });

  it('colour and alpha PNGs are refused, not guessed at', async () => {
    for (const [ct, ch] of [[2, 3], [4, 2], [6, 4]] as const) {
      await expect(decodeLabelMap(png(new Array(4 * 4 * ch).fill(1), 4, 4, 8, ct, false, ch), 'c.png')).rejects.toThrow(BisenetError);
    }
  });

  it('image data that inflates beyond its header, or a bad filter type, is refused', async () => {
    const good = png(new Array(16).fill(1), 4, 4, 8, 0);
    const bad = Buffer.from(good);
    // the first filter byte is 0; rewrite the IDAT with a filter byte of 9
    const raw = Buffer.alloc(4 * 5); raw[0] = 9;
    const ihdrEnd = 8 + 25;
    const rebuilt = Buffer.concat([bad.subarray(0, ihdrEnd), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
    await expect(decodeLabelMap(rebuilt, 'f.png')).rejects.toThrow(/filter type 9/);
    const long = Buffer.concat([bad.subarray(0, ihdrEnd), chunk('IDAT', zlib.deflateSync(Buffer.alloc(1000))), chunk('IEND', new Uint8Array(0))]);
    await expect(decodeLabelMap(long, 'l.png')).rejects.toThrow(/inflate/);
  });
});

describe('eval through the CLI', () => {
  let work: string;
  let model: string;
  beforeAll(async () => {
    work = tmpDir('bisenet-labels-');
    model = path.join(work, 'm.onnx');
    fs.writeFileSync(model, converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes);
    fs.mkdirSync(path.join(work, 'set', 'images'), { recursive: true });
    fs.mkdirSync(path.join(work, 'set', 'labels'));
    fs.writeFileSync(path.join(work, 'set', 'images', 'a.png'), await encodePng(new Uint8Array(64 * 64 * 3).fill(90), 64, 64, 3));
  }, 120_000);
  afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

  it('a 1-bit label map counts class 1 as class 1 (not as ignore)', () => {
    fs.writeFileSync(path.join(work, 'set', 'labels', 'a.png'), png(new Array(64 * 64).fill(1), 64, 64, 1, 0));
    const r = runCli(['eval', model, '--data', path.join(work, 'set'), '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4096 labelled pixels \(0 ignored\)/);
  });

  it('a 16-bit value beyond the classes (not 255) is one line, exit 2', () => {
    fs.writeFileSync(path.join(work, 'set', 'labels', 'a.png'), png(new Array(64 * 64).fill(300), 64, 64, 16, 0));
    const r = runCli(['eval', model, '--data', path.join(work, 'set'), '--quiet']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/label 300/);
  });

  it('an RGB label map is refused, one line, exit 2', () => {
    fs.writeFileSync(path.join(work, 'set', 'labels', 'a.png'), png(new Array(64 * 64 * 3).fill(1), 64, 64, 8, 2, false, 3));
    const r = runCli(['eval', model, '--data', path.join(work, 'set'), '--quiet']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/one class index per pixel/);
  });
});

/**
 * Images as inputs (the first round's class 6, images): a PNG is checked before it is decoded (a second IHDR,
 * animation chunks, an interlaced inflate bomb, a size past the limit), and an image whose run would exceed
 * --max-memory is refused naming the memory it needs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkPng } from '../../src/util/png-check.js';
import { bisenet, oneErrorLine } from '../helpers/cli.js';
import { PNG_SIGNATURE, pngChunk } from '../helpers/images.js';
import { upstreamOnnxFolder } from '../helpers/models.js';

let work: string;
let model: string;
upstreamOnnxFolder('bisenet-hostile-images-', (dir, m) => { work = dir; model = m; });

describe('6. images as inputs', () => {
  const sig = PNG_SIGNATURE;
  const chunk = pngChunk;
  const ihdr = (w: number, h: number, interlace = 0): Buffer => {
    const d = Buffer.alloc(13); d.writeUInt32BE(w); d.writeUInt32BE(h, 4); d[8] = 8; d[9] = 6; d[12] = interlace;
    return chunk('IHDR', d);
  };
  const end = chunk('IEND', Buffer.alloc(0));
  it('a second IHDR, APNG chunks, and an interlaced inflate bomb are refused before decoding', () => {
    const idat = chunk('IDAT', zlib.deflateSync(Buffer.alloc(68)));
    expect(() => checkPng(Buffer.concat([sig, ihdr(4, 4), ihdr(60000, 60000), idat, end]), 'a.png')).toThrowError(/second IHDR/);
    expect(() => checkPng(Buffer.concat([sig, ihdr(4, 4), chunk('acTL', Buffer.alloc(8)), idat, end]), 'b.png')).toThrowError(/animated PNG/);
    expect(() => checkPng(Buffer.concat([sig, ihdr(16, 16, 1), chunk('IDAT', zlib.deflateSync(Buffer.alloc(64 << 20))), end]), 'c.png')).toThrowError(/does not inflate within/);
    expect(() => checkPng(Buffer.concat([sig, ihdr(9000, 9000), idat, end]), 'd.png')).toThrowError(/more than the limit/);
  });
  it('an image whose logits would exceed --max-memory is refused naming the memory it needs', () => {
    const png = Buffer.concat([sig, ihdr(4096, 4096), chunk('IDAT', zlib.deflateSync(Buffer.alloc(4096 * (1 + 4 * 4096)))), end]);
    const img = path.join(work, 'big.png');
    fs.writeFileSync(img, png);
    const r = bisenet('--max-memory', '1GiB', 'segment', model, '--image', img, '--out', path.join(work, 'big-out.png'));
    oneErrorLine(r, /would need about [\d.]+ GiB, more than the limit of 1\.0 GiB \(--max-memory\)/);
    expect(fs.existsSync(path.join(work, 'big-out.png'))).toBe(false);
  }, 600_000);
});

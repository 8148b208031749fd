import * as zlib from 'node:zlib';
import { causeText, fail } from './errors.js';
import { LIMITS } from './limits.js';

/**
 * Checks a PNG's chunk structure before any decoder sees it, so that no chunk can make the decoder
 * allocate more than the pixel limit allows: exactly one IHDR, first; width × height within
 * LIMITS.imagePixels; a valid colour type / bit depth; no animation chunks (APNG frames carry their own
 * sizes; animated PNGs are refused); and, for interlaced images (which pngjs inflates without a bound),
 * the image data inflated here first with the exact size the header implies as a hard bound.
 * Returns the image's width and height.
 */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const ANIMATION = new Set(['acTL', 'fcTL', 'fdAT']);

export function checkPng(bytes: Uint8Array, label: string): { width: number; height: number } {
  const bad = (why: string): never => fail('format', `${label}: not a valid PNG (${why})`);
  if (bytes.length < 8 + 25) bad('truncated header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 8;
  let header: { width: number; height: number; depth: number; color: number; interlace: number } | null = null;
  const idat: Uint8Array[] = [];
  let idatBytes = 0;
  let sawEnd = false;
  while (p + 12 <= bytes.length) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4]!, bytes[p + 5]!, bytes[p + 6]!, bytes[p + 7]!);
    if (!/^[A-Za-z]{4}$/.test(type)) bad(`a chunk with an invalid type at byte ${p}`);
    if (len > bytes.length - p - 12) bad(`chunk ${type} runs past the end of the file`);
    const data = bytes.subarray(p + 8, p + 8 + len);
    if (!header && type !== 'IHDR') bad(`the first chunk is ${type}, not IHDR`);
    if (type === 'IHDR') {
      if (header) bad('a second IHDR chunk');
      if (len !== 13) bad('IHDR of the wrong length');
      header = { width: dv.getUint32(p + 8), height: dv.getUint32(p + 12), depth: data[8]!, color: data[9]!, interlace: data[12]! };
      const { width, height, depth, color, interlace } = header;
      if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) bad(`dimensions ${width}×${height}`);
      if (width * height > LIMITS.imagePixels) {
        fail('security', `${label}: ${width}×${height} is ${width * height} pixels, more than the limit of ${LIMITS.imagePixels} (--budget image-pixels)`);
      }
      if (!(DEPTHS[color] ?? []).includes(depth)) bad(`colour type ${color} with bit depth ${depth}`);
      if (data[10] !== 0 || data[11] !== 0 || interlace > 1) bad('unknown compression, filter or interlace method');
    } else if (ANIMATION.has(type)) {
      fail('format', `${label}: an animated PNG (APNG, chunk ${type}); only still images are supported`);
    } else if (type === 'IDAT') {
      idat.push(data);
      idatBytes += len;
    } else if (type === 'IEND') { sawEnd = true; break; }
    p += 12 + len;
  }
  if (!header) return bad('no IHDR chunk');
  if (!sawEnd) bad('no IEND chunk (truncated?)');
  if (idatBytes === 0) bad('no image data');
  if (header.interlace === 1) {
    const expected = interlacedBytes(header.width, header.height, CHANNELS[header.color]! * header.depth);
    let out: Buffer;
    try {
      out = zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
    } catch (e) {
      return fail('format', `${label}: the interlaced image data does not inflate within the ${expected} bytes its header implies (${causeText(e)})`);
    }
    if (out.length > expected) bad('image data larger than the header implies');
  }
  return { width: header.width, height: header.height };
}

/** Bytes of Adam7-interlaced scanlines (each with its filter byte) for an image of w×h at `bits` per pixel. */
function interlacedBytes(w: number, h: number, bits: number): number {
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((w - x0!) / dx!);
    const ph = Math.ceil((h - y0!) / dy!);
    if (pw > 0 && ph > 0) total += ph * (1 + Math.ceil((pw * bits) / 8));
  }
  return total;
}

/**
 * A PNG's stored sample values, undecorated: for a label map the values are class indices, so they must not
 * be scaled (a 1-bit image is 0/1, not 0/255), expanded through a palette or converted to a colour space.
 * Greyscale (bit depths 1, 2, 4, 8, 16) and palette images (1, 2, 4, 8: the index is the value) are read,
 * interlaced or not; colour and alpha images are refused (their samples are not one index per pixel).
 * The structure is checked first by checkPng (one IHDR first, pixel limit), and the image data is inflated
 * with the exact size its header implies as a hard bound.
 */
import * as zlib from 'node:zlib';
import { fail } from './errors.js';
import { checkPng } from './png-check.js';

export interface IndexImage { width: number; height: number; data: Uint8Array | Uint16Array; depth: number; colorType: number }

const COLOUR_NAMES: Record<number, string> = { 0: 'greyscale', 2: 'RGB', 3: 'palette', 4: 'greyscale with alpha', 6: 'RGBA' };
const PASSES = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

export function decodePngIndices(bytes: Uint8Array, label: string): IndexImage {
  const { width, height } = checkPng(bytes, label);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const depth = bytes[8 + 8 + 8]!;
  const colorType = bytes[8 + 8 + 9]!;
  const interlace = bytes[8 + 8 + 12]!;
  if (colorType !== 0 && colorType !== 3) {
    fail('format', `${label}: a label map must hold one class index per pixel (a greyscale or palette PNG); this one is ${COLOUR_NAMES[colorType] ?? `colour type ${colorType}`}, ${depth}-bit`);
  }
  const idat: Uint8Array[] = [];
  for (let p = 8; p + 12 <= bytes.length;) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4]!, bytes[p + 5]!, bytes[p + 6]!, bytes[p + 7]!);
    if (type === 'IDAT') idat.push(bytes.subarray(p + 8, p + 8 + len));
    if (type === 'IEND') break;
    p += 12 + len;
  }
  const passes = interlace ? PASSES : [[0, 0, 1, 1] as const];
  const geometry = passes.map(([x0, y0, dx, dy]) => {
    const w = Math.max(0, Math.ceil((width - x0) / dx));
    const h = Math.max(0, Math.ceil((height - y0) / dy));
    return { x0, y0, dx, dy, w, h, stride: w && h ? Math.ceil((w * depth) / 8) : 0 };
  });
  const expected = geometry.reduce((s, g) => s + (g.w && g.h ? g.h * (1 + g.stride) : 0), 0);
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    return fail('format', `${label}: the image data does not inflate within the ${expected} bytes its header implies (${(e as Error).message.split('\n')[0]})`);
  }
  if (raw.length !== expected) fail('format', `${label}: the image data inflates to ${raw.length} bytes, its header implies ${expected}`);
  const data = depth === 16 ? new Uint16Array(width * height) : new Uint8Array(width * height);
  const bpp = Math.max(1, depth / 8); // bytes per complete pixel, for the filters (one sample per pixel)
  let off = 0;
  for (const g of geometry) {
    if (!g.w || !g.h) continue;
    let prev: Uint8Array = new Uint8Array(g.stride);
    for (let y = 0; y < g.h; y++) {
      const filter = raw[off]!;
      const line = raw.subarray(off + 1, off + 1 + g.stride);
      off += 1 + g.stride;
      unfilter(filter, line, prev, bpp, label);
      const row = g.y0 + y * g.dy;
      for (let x = 0; x < g.w; x++) {
        let v: number;
        if (depth === 16) v = (line[2 * x]! << 8) | line[2 * x + 1]!;
        else if (depth === 8) v = line[x]!;
        else {
          const bit = x * depth;
          v = (line[bit >> 3]! >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
        }
        data[row * width + g.x0 + x * g.dx] = v;
      }
      prev = line;
    }
  }
  return { width, height, data, depth, colorType };
}

/** Undoes one scanline's filter in place (PNG filter method 0: None, Sub, Up, Average, Paeth). */
function unfilter(filter: number, line: Uint8Array, prev: Uint8Array, bpp: number, label: string): void {
  const n = line.length;
  switch (filter) {
    case 0: return;
    case 1: for (let i = bpp; i < n; i++) line[i] = (line[i]! + line[i - bpp]!) & 255; return;
    case 2: for (let i = 0; i < n; i++) line[i] = (line[i]! + prev[i]!) & 255; return;
    case 3: for (let i = 0; i < n; i++) line[i] = (line[i]! + (((i >= bpp ? line[i - bpp]! : 0) + prev[i]!) >> 1)) & 255; return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? line[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        line[i] = (line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default: fail('format', `${label}: not a valid PNG (scanline filter type ${filter})`);
  }
}

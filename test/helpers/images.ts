/** Images the tests build by hand. */
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';

/**
 * A street-like test card, 160×96 RGB(A) PNG: sky, buildings, road. Any picture would do (the mask shows what a
 * model's weights see); 160×96 is the upstream golden input's size and a multiple of 32, so a model sees it
 * unscaled and a page that already ran the golden input reuses its compiled kernels.
 */
export function streetCard(): Buffer {
  const png = new PNG({ width: 160, height: 96 });
  for (let y = 0; y < 96; y++) {
    for (let x = 0; x < 160; x++) {
      const i = 4 * (y * 160 + x);
      const [r, g, b] = y < 32 ? [120, 170, 230] : y < 64 ? [(x * 3) & 255, 90, 80] : [70, 70, 75 + (x & 31)];
      png.data[i] = r; png.data[i + 1] = g; png.data[i + 2] = b; png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

/** The 8 bytes every PNG starts with. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data and CRC-32, for PNGs built byte by byte (hostile or minimal). */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length); b.write(type, 4, 'latin1'); b.set(data, 8);
  b.writeUInt32BE(zlib.crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

/**
 * Image files in and out for `segment` and `eval`, through sharp (libvips): decode to 8-bit RGB,
 * label maps to 8-bit indices, and PNG encoding of masks and overlays, each off the JavaScript thread.
 */
import * as fs from 'node:fs';
import sharp from 'sharp';
import { fail } from '../util/errors.js';
import { readFileChecked, regularFileSize } from '../util/fs.js';
import { LIMITS } from '../util/limits.js';
import { checkPng } from '../util/png-check.js';
import { decodePngIndices } from '../util/png-index.js';

/** Largest image accepted (pixels, --budget image-pixels), so a hostile header cannot make the decoder allocate gigabytes. */
const maxPixels = (): number => LIMITS.imagePixels;

export interface RgbImage { width: number; height: number; rgb: Uint8Array }

// libvips keeps a cache of decoded images for reuse; one pass over a folder never reuses one.
sharp.cache(false);

type Kind = 'png' | 'jpeg';

/** PNG or JPEG, from the first bytes (the name is not trusted). */
export function imageKind(bytes: Uint8Array): Kind | null {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** An image's bytes, or its file (read by libvips in its own thread; only the first bytes are read here). */
export type ImageSource = Uint8Array | string;

function head(src: ImageSource): Uint8Array {
  if (typeof src !== 'string') return src;
  let fd: number;
  try {
    fd = fs.openSync(src, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail('io', code === 'ENOENT' ? `image not found: ${src}` : `${src}: cannot read (${code ?? String(e)})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) fail('io', `${src}: is a directory, expected an image`);
    if (!st.isFile()) fail('io', `${src}: not a regular file (a FIFO, device or socket), expected an image`);
    const b = new Uint8Array(8);
    fs.readSync(fd, b, 0, 8, 0);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

function opened(src: ImageSource, label: string): ReturnType<typeof sharp> {
  const kind = imageKind(head(src));
  if (!kind) fail('format', `${label}: not a PNG or JPEG image`);
  // JPEGs are read by libvips from the file: its size is held to the same limit as every file read whole.
  if (typeof src === 'string' && kind === 'jpeg') {
    const bytes = regularFileSize(src, 'image');
    if (bytes > LIMITS.fileBytes) fail('security', `${label}: ${bytes} bytes, more than the limit of ${LIMITS.fileBytes} (--budget file-bytes)`);
  }
  // PNG structure first (one IHDR, no APNG chunks, interlaced data inflating within its size): libvips
  // would otherwise trust a first header that later chunks contradict.
  if (kind === 'png') checkPng(typeof src === 'string' ? readFileChecked(src, 'image') : src, label);
  // limitInputPixels is checked from the header, before any pixel is decoded.
  return sharp(src, { limitInputPixels: maxPixels(), sequentialRead: true });
}

function decodeError(e: unknown, label: string): never {
  if ((e as Error).name === 'BisenetError') throw e;
  const msg = (e as Error).message ?? String(e);
  if (/pixel limit/i.test(msg)) fail('format', `${label}: the image is larger than ${maxPixels()} pixels (--budget image-pixels)`);
  return fail('format', `${label}: cannot decode the image (${msg.split('\n')[0]})`);
}

/** The header only: size and channels, without decoding pixels (to check a whole input list up front). */
export async function probeImage(bytes: ImageSource, label: string): Promise<{ width: number; height: number; channels: number; kind: Kind; palette: boolean; depth: string }> {
  try {
    const m = await opened(bytes, label).metadata();
    if (!m.width || !m.height) fail('format', `${label}: the image has no size`);
    if (m.width * m.height > maxPixels()) fail('format', `${label}: ${m.width}×${m.height} is larger than ${maxPixels()} pixels (--budget image-pixels)`);
    return { width: m.width, height: m.height, channels: m.channels ?? 0, kind: imageKind(head(bytes))!, palette: Boolean(m.isPalette), depth: String(m.depth ?? '') };
  } catch (e) {
    return decodeError(e, label);
  }
}

/**
 * Decodes a PNG or JPEG (its bytes, or its file) to 8-bit RGB, as PIL's `convert('RGB')` does: alpha dropped, grey and palette
 * expanded, 16-bit scaled to 8. EXIF orientation is not applied (nor is it by the training pipelines
 * that read Cityscapes), so pixels map to label pixels one to one.
 */
export async function decodeImage(bytes: ImageSource, label: string): Promise<RgbImage> {
  try {
    const { data, info } = await opened(bytes, label).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) fail('format', `${label}: decoded to ${info.channels} channels, expected RGB`);
    return { width: info.width, height: info.height, rgb: data };
  } catch (e) {
    return decodeError(e, label);
  }
}

/**
 * A label map: a PNG of class indices (Cityscapes' `*_labelTrainIds.png`, PASCAL VOC's palette PNGs), read as
 * stored: greyscale of any bit depth (a 1-bit map is 0/1) or palette indices, never scaled or colour-mapped
 * (src/util/png-index.ts). Colour and alpha PNGs are refused rather than guessed at.
 */
export async function decodeLabelMap(bytes: ImageSource, label: string): Promise<{ width: number; height: number; data: Uint8Array | Uint16Array }> {
  if (imageKind(head(bytes)) !== 'png') fail('format', `${label}: a label map must be a PNG of class indices (greyscale or palette)`);
  const file = typeof bytes === 'string' ? readFileChecked(bytes, 'label map') : bytes;
  const m = decodePngIndices(file, label);
  return { width: m.width, height: m.height, data: m.data };
}

/** An 8-bit RGB (3 channels) or grey (1 channel) buffer as PNG bytes. Runs in libvips' threads. */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  const img = sharp(data, { raw: { width, height, channels } });
  // One channel stays one channel (class indices); sharp would otherwise write it as sRGB.
  return (channels === 1 ? img.toColourspace('b-w') : img).png({ compressionLevel: 6 }).toBuffer();
}

/** Palette colours of `labels` into `out` (width·height·3 bytes). */
export function paintLabels(labels: Uint8Array | Uint16Array, palette: number[][], out: Uint8Array): void {
  const flat = new Uint8Array(palette.length * 3);
  palette.forEach((c, k) => flat.set([c[0]!, c[1]!, c[2]!], 3 * k));
  for (let p = 0, j = 0; p < labels.length; p++, j += 3) {
    const k = 3 * labels[p]!;
    out[j] = flat[k]!; out[j + 1] = flat[k + 1]!; out[j + 2] = flat[k + 2]!;
  }
}

/** The palette blended on the photo: (1 − alpha)·photo + alpha·colour, into `out` (width·height·3 bytes). */
export function blendOverlay(rgb: Uint8Array, labels: Uint8Array | Uint16Array, palette: number[][], out: Uint8Array, alpha = 0.5): void {
  const a = Math.round(alpha * 256);
  const tint = new Int32Array(palette.length * 3);
  palette.forEach((c, k) => { for (let i = 0; i < 3; i++) tint[3 * k + i] = a * c[i]!; });
  const keep = 256 - a;
  for (let p = 0, j = 0; p < labels.length; p++, j += 3) {
    const k = 3 * labels[p]!;
    out[j] = (keep * rgb[j]! + tint[k]! + 128) >> 8;
    out[j + 1] = (keep * rgb[j + 1]! + tint[k + 1]! + 128) >> 8;
    out[j + 2] = (keep * rgb[j + 2]! + tint[k + 2]! + 128) >> 8;
  }
}

/**
 * Segmenting images, as the reference doc says users do it: RGB, scaled and normalised with the
 * model's preset, resized (bilinear, half-pixel) up to a multiple of 32 when needed, logits resized
 * back to the image, argmax over classes, coloured with the dataset's palette. The work is in
 * ./segment/ (shared with `eval`); this module is its public face, plus a synchronous pure-JS decoder.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { fail } from '../util/errors.js';
import type { RgbImage } from './image.js';
import { LIMITS } from '../util/limits.js';
import { checkPng } from '../util/png-check.js';

export type { RgbImage } from './image.js';
export { decodeRgb, decodeLabelMap, probeImage, MAX_PIXELS } from './image.js';
export { resizeBilinearPlanes, imageToInput, processingSize, FrameRunner, type Labels, type StageTimes } from './frame.js';
export { modelPreprocessing, paletteFor, openModel, type ModelInfo, type SegModel, type OpenOptions as SegmentOptions } from './model.js';
export { segmentImage, segmentMany, encodeSegmentation, encodeMask, encodeOverlay, classShares, type Segmentation, type SegmentManyOptions, type SegmentManySummary } from './run.js';
export { expandInputs } from './inputs.js';

/** Largest image accepted (pixels, --budget image-pixels), so a hostile header cannot make the decoder allocate gigabytes. */
const maxPixels = (): number => LIMITS.imagePixels;

/** Synchronous pure-JS PNG/JPEG decoding (pngjs, jpeg-js) for library users without sharp's native code; the CLI decodes with sharp. */
export function decodeImage(bytes: Uint8Array, label: string): RgbImage {
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
      // The decoder allocates width×height×4 from the header before reading any pixel: every chunk is checked first.
      checkPng(bytes, label);
      const png = PNG.sync.read(Buffer.from(bytes));
      ({ width, height } = png);
      rgba = png.data;
    } else if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels() / 1e6, maxMemoryUsageInMB: Math.ceil((maxPixels() * 8) / 2 ** 20) });
      ({ width, height } = img);
      rgba = img.data;
    } else {
      return fail('format', `${label}: not a PNG or JPEG image`);
    }
  } catch (e) {
    if ((e as Error).name === 'BisenetError') throw e;
    return fail('format', `${label}: cannot decode the image (${(e as Error).message})`);
  }
  if (width * height > maxPixels()) fail('format', `${label}: ${width}×${height} is larger than ${maxPixels()} pixels`);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) { rgb[3 * i] = rgba[j]!; rgb[3 * i + 1] = rgba[j + 1]!; rgb[3 * i + 2] = rgba[j + 2]!; }
  return { width, height, rgb };
}


/**
 * Segmenting images, as the reference doc says users do it: RGB, scaled and normalised with the
 * model's preset, resized (bilinear, half-pixel) up to a multiple of 32 when needed, logits resized
 * back to the image, argmax over classes, coloured with the dataset's palette. The work is in
 * this folder (shared with `eval`); this module is its public face. Images are decoded by libvips (sharp), as the CLI decodes them.
 */
export type { RgbImage } from './image.js';
export { decodeImage, decodeLabelMap, probeImage, type ImageSource } from './image.js';
export { resizeBilinearPlanes, imageToInput, processingSize, FrameRunner, type Labels, type StageTimes } from './frame.js';
export { paletteFor, openModel, type ModelInfo, type SegModel, type OpenOptions as SegmentOptions } from './model.js';
export { segmentImage, segmentMany, encodeSegmentation, encodeMask, encodeOverlay, classShares, type Segmentation, type SegmentManyOptions, type SegmentManySummary } from './run.js';
export { expandInputs } from './inputs.js';


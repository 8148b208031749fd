/**
 * The bounds both model checkers (ONNX: ./onnx.ts; TensorFlow.js: ./tfjs.ts; and the `.tflite` checker) hold
 * constants to, so that a model in either format is refused for the same reasons: sizes set by constants are read
 * before a runtime builds anything, and one that would make BiSeNetV2's tensors unboundedly large is refused.
 * The checkers' op tables name, for each op, the value that carries a size factor and which of these bounds
 * it is held to (`area`: MAX_AMPLIFICATION; `tensor`: constantTensorBudget; `pad`: MAX_PAD).
 */
import { LIMITS } from '../util/limits.js';

/** The most a resize (UpSampling2D, Resize, ConvTranspose strides, Tile repeats) may grow a tensor, in area: BiSeNetV2 needs 32×32. */
export const MAX_AMPLIFICATION = 32 * 32;

/** The largest pad on one side of one axis (Pad, ZeroPadding2D): BiSeNetV2's are 1. */
export const MAX_PAD = 1024;

/** The most values a constant combined elementwise with run-time data may hold (BiSeNetV2's hold at most a few hundred). */
export const MAX_BROADCAST_CONSTANT = 2 ** 20;

/**
 * Bytes one float32 tensor whose shape constants set may take: a quarter of the run's budget, since a run holds
 * it, the runtime's copy of an output, the caller's and the file written from it.
 */
export const constantTensorBudget = (): number => LIMITS.modelMemory / 4;

/** The product of magnitudes (a non-finite entry makes it Infinity): a size or a growth factor. */
export const product = (v: readonly number[]): number => v.reduce((a, b) => a * (Number.isFinite(b) ? Math.abs(b) : Infinity), 1);

/** The shape elementwise ops give inputs of these shapes (numpy broadcasting, aligned on the last axis). */
export function broadcastShape(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((x) => x.length));
  return Array.from({ length: rank }, (_, i) => Math.max(...shapes.map((x) => x[x.length - rank + i] ?? 1)));
}

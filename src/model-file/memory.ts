import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRecordedMetadata } from './index.js';
import { fail } from '../util/errors.js';
import { formatBytes, LIMITS } from '../util/limits.js';

/**
 * Memory a model run will take, estimated before it starts, and refused beyond LIMITS.modelMemory
 * (`--max-memory`): an 8192×8192 image or a 1×3×8192×8192 input would otherwise ask the runtime for
 * many gigabytes of logits and intermediates. The estimate per input pixel: the float32 input (12 B),
 * BiSeNetV2's live intermediates (about 256 B: 64 channels at ½ resolution, 1024 at ⅛, a few live at
 * once) and the logits at full size, twice (the runtime's and ours: 8 B per class).
 */
export const WORKING_BYTES_PER_PIXEL = 256;
/** Class count assumed when a model records none (the estimate must not be optimistic). */
export const UNKNOWN_CLASSES = 256;

export function modelRunBytes(batch: number, h: number, w: number, classes: number): number {
  return batch * h * w * (12 + WORKING_BYTES_PER_PIXEL + 8 * classes);
}

/** The class count a model records, or UNKNOWN_CLASSES when it records none (or nothing usable). */
function recordedClasses(modelPath: string): number {
  try { return readRecordedMetadata(modelPath).numClasses ?? UNKNOWN_CLASSES; } catch { return UNKNOWN_CLASSES; }
}

/** What a run's budget needs of a model: its bytes as stored and the class count it records. */
export interface ModelCost { bytes: number; classes: number }

/** A model file's cost, read once per command (reading it reads the whole model: never once per input). */
export function modelCost(modelPath: string): ModelCost {
  return { bytes: modelFileBytes(modelPath), classes: recordedClasses(modelPath) };
}

/**
 * Memory a runtime takes to hold a model of `modelBytes` (its weights as stored): our copy of the bytes, the
 * runtime's copy and the optimized copy it builds (onnxruntime keeps both while it prepares a session).
 */
export function modelLoadBytes(modelBytes: number): number {
  return 3 * modelBytes;
}

/** The bytes of a model as stored: a file, or every file of a model directory (not recursing). */
export function modelFileBytes(modelPath: string): number {
  try {
    const st = fs.statSync(modelPath);
    if (st.isFile()) return st.size;
    if (!st.isDirectory()) return 0;
    return fs.readdirSync(modelPath).reduce((s, n) => { try { const f = fs.statSync(path.join(modelPath, n)); return s + (f.isFile() ? f.size : 0); } catch { return s; } }, 0);
  } catch { return 0; }
}

export function checkRunMemory(label: string, bytes: number, what: string, advice = 'use a smaller input'): void {
  if (bytes > LIMITS.modelMemory) {
    fail('security', `${label}: ${what} would need about ${formatBytes(bytes)}, more than the limit of ${formatBytes(LIMITS.modelMemory)} (--max-memory); ${advice}`);
  }
}

/**
 * What a model path is, decided in one place: an ONNX file, a TensorFlow.js model (its directory or its
 * model.json), a .tflite file, a TensorRT directory, or a checkpoint. Where the first bytes tell, they
 * decide (a TFLite flatbuffer's `TFL3` identifier, a zip or pickle checkpoint, a safetensors header, a
 * JSON document); otherwise the file's name does. Imports util only, so that the runtime registry can
 * ask it without loading any reader.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readFilePrefix } from '../util/fs.js';

export type ModelKind = 'onnx' | 'tfjs' | 'tflite' | 'tensorrt' | 'checkpoint';

/** File names a checkpoint goes by (the checkpoint readers detect the format itself from the bytes). */
export const CHECKPOINT_EXTENSIONS = ['.pth', '.pt', '.pth.tar', '.tar', '.ckpt', '.bin', '.safetensors', '.pdparams'];

/** Whether `p` is named as a checkpoint (by name only; `modelKind` also reads the bytes). */
export const isCheckpointPath = (p: string): boolean => CHECKPOINT_EXTENSIONS.some((e) => p.toLowerCase().endsWith(e));

/** The kind a file name says, or null. */
export function kindFromName(p: string): ModelKind | null {
  const lower = p.toLowerCase();
  if (lower.endsWith('.onnx')) return 'onnx';
  if (lower.endsWith('.tflite')) return 'tflite';
  if (lower.endsWith('.json')) return 'tfjs';
  if (isCheckpointPath(lower)) return 'checkpoint';
  return null;
}

/** How many leading bytes `kindFromBytes` reads. */
const SNIFF_BYTES = 16;

/**
 * The kind the first bytes of a file prove, or null where they prove none. Only signatures that no
 * model of another kind can start with count: an ONNX ModelProto starts with a protobuf tag (field 1
 * to 25), never `PK`, a pickle's 0x80, `{` or a flatbuffer's identifier at offset 4.
 */
export function kindFromBytes(b: Uint8Array): ModelKind | null {
  if (b.length >= 8 && b[4] === 0x54 && b[5] === 0x46 && b[6] === 0x4c && b[7] === 0x33) return 'tflite'; // 'TFL3'
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04) return 'checkpoint'; // zip: torch.save
  if (b.length >= 2 && b[0] === 0x80 && b[1] >= 2 && b[1] <= 5) return 'checkpoint'; // pickle protocol 2–5: legacy .pth, .pdparams
  // safetensors: a little-endian u64 header length, then the JSON header itself.
  if (b.length >= 9 && b[8] === 0x7b && b[6] === 0 && b[7] === 0) return 'checkpoint';
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  if (i === 0 && b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3; // a UTF-8 byte order mark
  if (i < b.length && b[i] === 0x7b) return 'tfjs'; // '{': a JSON document, a tfjs model.json
  return null;
}

/**
 * What `modelPath` is, or null where neither its name nor its bytes nor its contents say. A directory is
 * a tfjs model when it holds model.json, a TensorRT model when it holds tensorrt.json. A regular file
 * is what its first bytes prove, else what its name says. A path that is not there (or cannot be read)
 * is what its name says, so that the reader that loads it reports the problem in its own words.
 */
export function modelKind(modelPath: string): ModelKind | null {
  let st: fs.Stats | undefined;
  try { st = fs.statSync(modelPath, { throwIfNoEntry: false }); } catch { st = undefined; }
  if (st?.isDirectory()) {
    if (fs.existsSync(path.join(modelPath, 'model.json'))) return 'tfjs';
    if (fs.existsSync(path.join(modelPath, 'tensorrt.json'))) return 'tensorrt';
    return null;
  }
  if (st?.isFile()) {
    let head: Uint8Array | null = null;
    try { head = readFilePrefix(modelPath, SNIFF_BYTES, 'model'); } catch { head = null; }
    const byBytes = head ? kindFromBytes(head) : null;
    if (byBytes) return byBytes;
  }
  return kindFromName(modelPath);
}

/**
 * ONNX files read, and ONNX bytes ⇄ ModelProto, for every reader of ONNX models: the one place (with the
 * emitters, which write them) that touches onnx-proto's codec. Imports util only, so that a runtime may use
 * it without loading the rest of the room.
 */
import { causeText, fail } from '../util/errors.js';
import { readFileChecked } from '../util/fs.js';
import { onnxProto, type OnnxProto } from '../util/onnx-proto.js';

export type { OnnxProto };
export type OnnxModel = OnnxProto.onnx.ModelProto;

/** An ONNX file's bytes, read within the budgets (`--budget file-bytes`); not decoded (see decodeOnnx). */
export const readOnnxFile = (modelPath: string): Buffer => readFileChecked(modelPath, 'ONNX model');

/** Decodes ONNX bytes; bytes that are not an ONNX model are the user's error (exit 2) naming `label`. */
export function decodeOnnx(bytes: Uint8Array, label: string): OnnxModel {
  try { return onnxProto.onnx.ModelProto.decode(bytes); } catch (e) {
    return fail('format', `${label}: not an ONNX model (${causeText(e)})`);
  }
}

/** Decodes ONNX bytes, or null where they are not an ONNX model (for checks that leave the report to the runtime). */
export function tryDecodeOnnx(bytes: Uint8Array): OnnxModel | null {
  try { return onnxProto.onnx.ModelProto.decode(bytes); } catch { return null; }
}

/** ONNX's tensor element types (TensorProto.DataType). */
export const ONNX_DATA_TYPE = onnxProto.onnx.TensorProto.DataType;

/** Encodes an ONNX model (one decoded here and changed: outputs exposed, a fault planted). */
export const encodeOnnx = (model: OnnxModel): Uint8Array => onnxProto.onnx.ModelProto.encode(model).finish();

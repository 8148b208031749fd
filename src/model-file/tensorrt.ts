/**
 * A TensorRT model directory (bisenet convert --to tensorrt) read in the model-file room: its manifest,
 * tensorrt.json, within the budgets and through the bounded JSON parser, and the ONNX file it names (which
 * must stay inside the directory); trtexec reads that ONNX itself. Imports util only, so that the tensorrt
 * runner takes its manifest from here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TensorrtManifest } from '../emit/tensorrt.js';
import { fail } from '../util/errors.js';
import { readFileChecked } from '../util/fs.js';
import { parseJsonBounded } from '../util/json.js';

export type { TensorrtManifest };

/** The ONNX file and manifest of a TensorRT directory (bisenet convert --to tensorrt), or a plain .onnx with none. */
export function readTensorrtModel(modelPath: string): { onnx: string; manifest: TensorrtManifest | null } {
  let st: fs.Stats;
  try { st = fs.statSync(modelPath); } catch { return fail('io', `model not found: ${modelPath}`); }
  if (st.isDirectory()) {
    const mf = path.join(modelPath, 'tensorrt.json');
    if (!fs.existsSync(mf)) fail('usage', `${modelPath}: not a TensorRT model directory (no tensorrt.json); convert with --to tensorrt`);
    const m = parseJsonBounded(readFileChecked(mf, 'tensorrt.json').toString('utf8'), mf, 'tensorrt.json') as TensorrtManifest;
    if (typeof m !== 'object' || m === null) fail('format', `${mf}: not a bisenet TensorRT manifest`);
    if (m.format !== 'bisenet-tensorrt' || typeof m.onnx !== 'string' || path.isAbsolute(m.onnx) || m.onnx.includes('..')) fail('format', `${mf}: not a bisenet TensorRT manifest`);
    return { onnx: path.join(modelPath, m.onnx), manifest: m };
  }
  return { onnx: modelPath, manifest: null };
}

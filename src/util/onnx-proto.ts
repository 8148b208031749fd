/** onnx-proto (protobufjs' generated ONNX classes), loaded once for every module that reads or writes ONNX. */
import { createRequire } from 'node:module';
import type * as OnnxProto from 'onnx-proto';

export type { OnnxProto };

/**
 * Loaded with `require`, not `import`: Node's ESM loader first lexes a CommonJS module's whole source
 * for its export names, and onnx-proto is 330 KB of generated code — 50–100 ms of every
 * `bisenet convert` on the 2-core VM (measured: import 175–370 ms, require 71–95 ms, issue 13).
 */
export const onnxProto = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto;

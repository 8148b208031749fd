/** bisenet-port as a library: everything the CLI does, callable from code. */
export { loadCheckpoint, type Checkpoint, type TensorEntry } from './checkpoint/index.js';
export { parseNpy, readNpy, encodeNpy, writeNpy } from './checkpoint/npy.js';
export { readSafetensors, writeSafetensors } from './checkpoint/safetensors.js';
export { bisenetv2, VARIANTS, type BisenetV2Options, type Family } from './models/bisenetv2.js';
export { graphParams, nodeParams, type Graph, type Node, type ParamSpec } from './ir/graph.js';
export { inferShapes, checkInputShape } from './ir/shapes.js';
export { foldBatchNorm } from './ir/fold.js';
export { LAYOUTS, detectFamily, familyKey, portWeights, summarize, type Ported, type Weights } from './port/index.js';
export { emitOnnx, DEFAULT_OPSET } from './emit/onnx.js';
export { convertCheckpoint, type ConvertOptions } from './convert.js';
export { inferArrays } from './infer.js';
export { RUNTIMES, loadRunner, type Runner, type RuntimeInfo } from './runtime/index.js';
export { verifyGolden, DEFAULT_TOLERANCE, type VerifyReport } from './verify/index.js';
export { formatReport, reportJson } from './verify/report.js';
export { BisenetError } from './util/errors.js';
export type { NdArray, DType } from './util/ndarray.js';

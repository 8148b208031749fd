/** The ONNX opsets the ONNX emitter writes: constants only, so that the CLI can check --opset without loading the emitter. */
export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

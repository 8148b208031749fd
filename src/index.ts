/** bisenet-port as a library: everything the CLI does, callable from code. */
export { loadCheckpoint, parseCheckpoint, type Checkpoint, type TensorEntry } from './checkpoint/index.js';
export { parseNpy, readNpy, encodeNpy, writeNpy } from './checkpoint/npy.js';
export { readSafetensors, writeSafetensors } from './checkpoint/safetensors.js';
export { bisenetv2, VARIANTS, type BisenetV2Options, type Family } from './models/bisenetv2.js';
export { graphParams, nodeParams, type Graph, type GraphOutput, type Node, type ParamSpec } from './ir/graph.js';
export { inferShapes, checkInputShape } from './ir/shapes.js';
export { convMacs, gflops } from './ir/cost.js';
export { foldBatchNorm } from './ir/fold.js';
export { LAYOUTS, detectFamily, familyKey, portWeights, summarize, type Ported, type Weights } from './port/index.js';
export { emitOnnx, DEFAULT_OPSET } from './emit/onnx.js';
export { emitTfjsLayers } from './emit/tfjs-layers.js';
export { emitTfjsGraph } from './emit/tfjs-graph.js';
export { emitTensorrt, trtexecArgs, calibrationCache, parseCalibrationCache } from './emit/tensorrt.js';
export { validateCalibration, threshold, STATISTICS, type Calibration, type TensorRange, type Statistic } from './emit/calibration.js';
export { calibrate, type CalibrateOptions } from './quant/calibrate.js';
export { quantizeSearch, type QuantizeOptions, type QuantizeResult } from './quant/sensitivity.js';
export { TARGETS, TARGET_IDS, type Target, type TargetInfo } from './emit/targets.js';
export { modelMetadataFor, preprocessingFor, DATASETS, type Dataset } from './model-file/presets.js';
export { convertCheckpoint, readCalibration, type ConvertOptions } from './convert/index.js';
export { inferArrays } from './infer/index.js';
// decodeImage(bytes or path, label): Promise<RgbImage>, the decoder segment and eval use (sharp; PNG structure checked
// first, --budget image-pixels). Until 0.1.0 it was synchronous (pngjs, jpeg-js) and took bytes only.
export { segmentImage, segmentMany, encodeSegmentation, decodeImage, openModel, FrameRunner, type RgbImage } from './segment/index.js';
export { evaluate, evalJson, listLabelledSet, referenceMiou, type EvalReport } from './eval/index.js';
export { ConfusionMatrix, type Scores } from './eval/metrics.js';
export { RUNTIMES, loadRunner, probeRuntime, installLine, type Runner, type RuntimeInfo, type RuntimeEntry } from './runtime/index.js';
export { verifyGolden, DEFAULT_TOLERANCE, type VerifyReport } from './verify/index.js';
export { formatReport, reportJson } from './verify/report.js';
export { reportJunit } from './verify/junit.js';
export { runBench, parseSizes, type BenchOptions, type BenchReport } from './bench/index.js';
export { parseOrtProfile } from './bench/ort-profile.js';
export { BisenetError } from './util/errors.js';
export type { NdArray, DType } from './util/ndarray.js';
export { startServe, type ServeOptions } from './serve/index.js';
export { interpret, type Tensor64 } from './reference/interpreter.js';
export { diffModels, DEFAULT_LAYER_TOLERANCE, type DiffReport, type TensorDiff } from './diff/index.js';
export { formatDiff, diffJson } from './diff/report.js';

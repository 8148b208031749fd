/**
 * The emitter of each target of the registry (`./targets.ts`), kept apart from it so that reading
 * the registry (the CLI's choices and help) does not load the emitters and their protobuf code.
 * A target without an emitter here does not compile.
 */
import type { WeightMap } from '../ir/fold.js';
import type { Graph } from '../ir/graph.js';
import { fail } from '../util/errors.js';
import { emitOnnxChunks } from './onnx.js';
import type { Int8Options } from './onnx-precision.js';
import type { EmitOptions, Target } from './targets.js';
import { emitTensorrt } from './tensorrt.js';
import { emitTflite } from './tflite.js';
import { emitTfjsGraph } from './tfjs-graph.js';
import { emitTfjsLayers } from './tfjs-layers.js';

/**
 * int8 options from the emit options. Biases stay float32 for both targets: int32 biases behind a
 * DequantizeLinear (onnxruntime's quantizer's form) measured worse in ort-cpu on the trained model
 * (label agreement with PyTorch 99.25 % against 99.68 % on 6 held-out images; docs/precision.md).
 */
function int8Options(o: EmitOptions, int32Bias: boolean): Int8Options | undefined {
  if (!o.calibration) return undefined;
  return { calibration: o.calibration, statistic: o.statistic ?? 'entropy', keepFloat: new Set(o.keepFloat ?? []), int32Bias, quantizeOutputs: o.qdqOutputs };
}

/** A directory's files by name, one file's bytes, or one file as pieces in order (not copied together). */
export type Emitter = (graph: Graph, weights: WeightMap, opts: EmitOptions) => Map<string, Uint8Array> | Uint8Array | Uint8Array[];

export const EMITTERS: { [T in Target]: Emitter } = {
  onnx: (g, w, o) => emitOnnxChunks(g, w, { opset: o.opset, groupedConv: o.groupedConv, metadata: o.metadata, expose: o.expose,
    precision: o.precision, int8: int8Options(o, false) }),
  'tfjs-layers': (g, w, o) => emitTfjsLayers(g, w, { quantize: o.quantize, shardBytes: o.shardBytes, metadata: o.metadata, expose: o.expose }),
  'tfjs-graph': (g, w, o) => emitTfjsGraph(g, w, { quantize: o.quantize, shardBytes: o.shardBytes, metadata: o.metadata, expose: o.expose }),
  tensorrt: (g, w, o) => emitTensorrt(g, w, { shapes: o.shapes, opset: o.opset, metadata: o.metadata, precision: o.precision, int8: int8Options(o, false) }),
  tflite: (g, w, o) => {
    if (o.quantize !== undefined && o.quantize !== 'float16') fail('usage', `--quantize ${o.quantize}: the tflite target stores float16 weights only (--quantize float16); integer TFLite is --precision int8 --calibration calib.json`);
    if (o.precision === 'fp16') fail('usage', '--precision fp16: the tflite target stores float16 weights with --quantize float16 (computing in float32); its reduced precision is --precision int8');
    const int8 = o.precision === 'int8' && o.calibration ? { calibration: o.calibration, statistic: o.statistic ?? 'entropy', keepFloat: new Set(o.keepFloat ?? []) } : undefined;
    if (o.precision === 'int8' && !int8) fail('usage', '--precision int8 needs --calibration calib.json (write it with bisenet calibrate)');
    return emitTflite(g, w, { shapes: o.shapes, quantize: o.quantize, metadata: o.metadata, expose: o.expose, int8 });
  },
};

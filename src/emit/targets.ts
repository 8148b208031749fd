/**
 * Every conversion target, by id, in one table: what it writes and which options apply to it. The
 * converter (`src/convert/index.ts`), the CLI's `--to` choices and help, and the runtime registry's `model`
 * field read this table; adding a target is adding an entry here and its emitter in `./emitters.ts`
 * (the compiler asks for it). Data only, so that the CLI starts without loading the emitters.
 */
import type { Quantization } from './tfjs-common.js';
import type { Calibration, Statistic } from './calibration.js';
import type { Precision } from './onnx-precision.js';

/** The options an emitter may take; each target names the ones that apply to it. */
export interface EmitOptions {
  opset?: number;
  quantize?: Quantization;
  shardBytes?: number;
  groupedConv?: 'native' | 'depthwise';
  shapes?: string;
  /** Also output these IR tensors (or 'all' the target holds), after the model's own outputs (bisenet diff). */
  expose?: 'all' | string[];
  /** onnx, tensorrt: fp32 (default), fp16, or int8 (needs `calibration`); tflite: fp32 or int8 (integer TFLite). */
  precision?: Precision;
  /** int8: the ranges from `bisenet calibrate`, the statistic to take from them, the conv layers kept in float. */
  calibration?: Calibration;
  statistic?: Statistic;
  keepFloat?: string[];
  /** int8 onnx: Q/DQ on conv outputs too (onnxruntime's fusable form) */
  qdqOutputs?: boolean;
  metadata: Record<string, string>;
}
export type EmitOption = Exclude<keyof EmitOptions, 'metadata'>;

/** The flag a user writes for each option (for "applies to … only" messages). */
export const OPTION_FLAGS: Record<EmitOption, string> = {
  opset: '--opset', quantize: '--quantize', shardBytes: '--shard-size', groupedConv: '--grouped-conv', shapes: '--shapes', expose: '--expose',
  precision: '--precision', calibration: '--calibration', statistic: '--statistic', keepFloat: '--keep-float', qdqOutputs: '--qdq-outputs',
};

export interface TargetInfo {
  description: string;
  /** Written as a directory (the file named `main` in it is what runtimes open) rather than one file. */
  directory: boolean;
  /** The model file: the file itself (`null`), or its name inside the directory. */
  main: string | null;
  /** A file target: the ending its name must have, and what the file is called in messages. */
  file?: { extension: string; what: string };
  /** Options that mean something for this target; any other given is refused. */
  options: EmitOption[];
}

const tfjsOptions: EmitOption[] = ['quantize', 'shardBytes', 'expose'];

export const TARGETS = {
  onnx: {
    description: 'one .onnx file (opset 13–21), for onnxruntime and anything that reads ONNX',
    directory: false, main: null, file: { extension: '.onnx', what: 'an ONNX model' }, options: ['opset', 'groupedConv', 'expose', 'precision', 'calibration', 'statistic', 'keepFloat', 'qdqOutputs'],
  },
  'tfjs-layers': {
    description: 'TensorFlow.js layers model: a directory with model.json and weight shards (needs registerBisenetLayers)',
    directory: true, main: 'model.json', options: tfjsOptions,
  },
  'tfjs-graph': {
    description: 'TensorFlow.js graph model: a directory with model.json and weight shards (no custom code)',
    directory: true, main: 'model.json', options: tfjsOptions,
  },
  tensorrt: {
    description: 'a directory with an ONNX model tailored to TensorRT\'s parser, its shapes and the trtexec build script',
    directory: true, main: 'model.onnx', options: ['opset', 'shapes', 'precision', 'calibration', 'statistic', 'keepFloat'],
  },
  tflite: {
    description: 'one .tflite file (LiteRT), builtin ops, NHWC, input size fixed by --shapes (default 1x3x512x1024)',
    directory: false, main: null, file: { extension: '.tflite', what: 'a TFLite model' }, options: ['shapes', 'quantize', 'expose', 'precision', 'calibration', 'statistic', 'keepFloat'],
  },
} satisfies Record<string, TargetInfo>;

export type Target = keyof typeof TARGETS;
export const TARGET_IDS = Object.keys(TARGETS) as Target[];

export function isTarget(id: string): id is Target {
  return Object.hasOwn(TARGETS, id);
}

/** One line per target, for `--help`. */
export const targetHelp = (): string => TARGET_IDS.map((id) => wrap(`  ${id.padEnd(12)} `, TARGETS[id].description)).join('\n');

/** `head` then `text` wrapped at word breaks to lines of at most 100 columns, continuation lines indented under the text. */
function wrap(head: string, text: string, width = 100): string {
  const lines: string[] = [];
  let line = head;
  for (const word of text.split(' ')) {
    if (line.length + word.length + 1 > width && line.trim().length > head.trim().length) { lines.push(line.trimEnd()); line = ' '.repeat(head.length); }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

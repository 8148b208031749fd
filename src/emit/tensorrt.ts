/**
 * The TensorRT target: a directory holding an ONNX model tailored for TensorRT's ONNX parser and the
 * `trtexec` commands that build its engine. Tailored means: the input's shape is static (one
 * `--shapes` size) or bounded by an optimization profile (min:opt:max), the labels output is a
 * standard ArgMax cast to int32 (TensorRT's index type; upstream's `CustomArgMax` plugin is not
 * needed), and every op is one TensorRT implements (checked on the emitted model).
 */
import { onnxProto } from '../util/onnx-proto.js';
import type { WeightMap } from '../ir/fold.js';
import type { Graph } from '../ir/graph.js';
import { checkInputShape } from '../ir/shapes.js';
import { fail } from '../util/errors.js';
import { DEFAULT_OPSET, emitOnnx } from './onnx.js';

export interface TrtShapes {
  min: number[];
  opt: number[];
  max: number[];
  /** one size: the ONNX input has fixed dims and no profile is needed */
  static: boolean;
}

export const DEFAULT_TRT_SHAPES = '1x3x512x1024';

/** Ops the emitted models use that TensorRT's ONNX parser (TensorRT 8.6 and 10) supports. */
export const TENSORRT_OPS = new Set(['Conv', 'Relu', 'Sigmoid', 'Add', 'Mul', 'Concat', 'GlobalAveragePool', 'MaxPool', 'AveragePool',
  'Resize', 'ArgMax', 'Cast', 'Identity', 'Shape', 'Slice', 'Gather', 'BatchNormalization']);

function parseDims(text: string, what: string): number[] {
  const dims = text.trim().split(/[x×*,]/).map((d) => Number(d));
  if (dims.length !== 4 || !dims.every((d) => Number.isInteger(d) && d > 0)) fail('usage', `--shapes ${what} ${text}: expected N×C×H×W, e.g. 1x3x512x1024`);
  return dims;
}

/**
 * `--shapes`: one size `1x3x512x1024` (static), or a profile `MIN:OPT:MAX`, e.g.
 * `1x3x256x512:1x3x512x1024:1x3x1024x2048`. H and W must be multiples of 32; min ≤ opt ≤ max.
 */
export function parseShapes(text: string | undefined, graph: Graph): TrtShapes {
  const t = (text ?? DEFAULT_TRT_SHAPES).replace(/^input:/, '');
  const parts = t.split(':');
  if (parts.length !== 1 && parts.length !== 3) fail('usage', `--shapes ${t}: give one size (1x3x512x1024) or min:opt:max sizes`);
  const [min, opt, max] = parts.length === 1 ? [parseDims(parts[0]!, ''), parseDims(parts[0]!, ''), parseDims(parts[0]!, '')]
    : [parseDims(parts[0]!, 'min'), parseDims(parts[1]!, 'opt'), parseDims(parts[2]!, 'max')];
  for (const [name, s] of [['min', min], ['opt', opt], ['max', max]] as const) checkInputShape(graph, s, `--shapes ${parts.length === 1 ? '' : `${name} `}size`);
  for (let i = 0; i < 4; i++) {
    if (!(min[i]! <= opt[i]! && opt[i]! <= max[i]!)) fail('usage', `--shapes ${t}: min ≤ opt ≤ max must hold in every dimension`);
  }
  const isStatic = parts.length === 1 || (min.join() === max.join());
  return { min, opt, max, static: isStatic };
}

const dimsStr = (d: number[]): string => d.join('x');

export type Precision = 'fp32' | 'fp16' | 'int8';
export const PRECISIONS: Precision[] = ['fp32', 'fp16', 'int8'];

/** trtexec's arguments to build (and time) an engine for a precision; `onnx`/`engine` are paths. */
export function trtexecArgs(shapes: TrtShapes, precision: Precision, onnx = 'model.onnx', engine = `model.${precision}.engine`, inputName = 'input'): string[] {
  const args = [`--onnx=${onnx}`, `--saveEngine=${engine}`];
  if (precision === 'fp16') args.push('--fp16');
  // int8 without a calibration cache gives TensorRT placeholder scales: fine for timing, not for accuracy.
  if (precision === 'int8') args.push('--int8', '--fp16');
  if (!shapes.static) {
    args.push(`--minShapes=${inputName}:${dimsStr(shapes.min)}`, `--optShapes=${inputName}:${dimsStr(shapes.opt)}`, `--maxShapes=${inputName}:${dimsStr(shapes.max)}`);
  }
  return args;
}

export interface TensorrtManifest {
  format: 'bisenet-tensorrt';
  onnx: string;
  input: string;
  outputs: string[];
  labels: 'int32' | null;
  shapes: { min: number[]; opt: number[]; max: number[]; static: boolean };
  opset: number;
  /** precision → the trtexec command line that builds model.<precision>.engine */
  commands: Record<Precision, string>;
}

function buildScript(shapes: TrtShapes): string {
  const q = (a: string) => `'${a}'`;
  const lines = [
    '#!/bin/sh',
    '# Builds a TensorRT engine from model.onnx with trtexec (TensorRT 8.6 or 10), then times it.',
    '#   sh build_engine.sh [fp32|fp16|int8]       (default fp32; TRTEXEC=/path/to/trtexec to choose one)',
    '# int8 without a calibration cache (add --calib=FILE) uses placeholder scales: for timing only.',
    'set -eu',
    'cd "$(dirname "$0")"',
    'TRTEXEC="${TRTEXEC:-trtexec}"',
    'command -v "$TRTEXEC" >/dev/null 2>&1 || { echo "trtexec not found: install TensorRT, or set TRTEXEC" >&2; exit 127; }',
    'case "${1:-fp32}" in',
  ];
  for (const p of PRECISIONS) lines.push(`  ${p}) exec "$TRTEXEC" ${trtexecArgs(shapes, p).map(q).join(' ')} ;;`);
  lines.push('  *) echo "usage: sh build_engine.sh [fp32|fp16|int8]" >&2; exit 2 ;;', 'esac', '');
  return lines.join('\n');
}

/** Emits the TensorRT directory: model.onnx, build_engine.sh, tensorrt.json. */
export function emitTensorrt(graph: Graph, weights: WeightMap, opts: { shapes?: string; opset?: number; metadata?: Record<string, string> } = {}): Map<string, Uint8Array> {
  const shapes = parseShapes(opts.shapes, graph);
  const opset = opts.opset ?? DEFAULT_OPSET;
  const inputDims: (number | string)[] = shapes.static ? shapes.opt : [
    shapes.min[0] === shapes.max[0] ? shapes.min[0]! : 'N', graph.input.channels,
    shapes.min[2] === shapes.max[2] ? shapes.min[2]! : 'H', shapes.min[3] === shapes.max[3] ? shapes.min[3]! : 'W'];
  const onnx = emitOnnx(graph, weights, { opset, inputDims, labelsType: 'int32', metadata: { ...(opts.metadata ?? {}), target: 'tensorrt' } });
  const model = onnxProto.onnx.ModelProto.decode(onnx);
  const unsupported = [...new Set((model.graph?.node ?? []).map((n) => n.opType ?? '').filter((op) => !TENSORRT_OPS.has(op)))];
  if (unsupported.length) fail('format', `the TensorRT model would hold ops TensorRT lacks: ${unsupported.join(', ')}`);
  const hasLabels = graph.outputs.some((o) => o.dtype === 'index');
  const manifest: TensorrtManifest = {
    format: 'bisenet-tensorrt',
    onnx: 'model.onnx',
    input: graph.input.name,
    outputs: graph.outputs.map((o) => o.name),
    labels: hasLabels ? 'int32' : null,
    shapes: { min: shapes.min, opt: shapes.opt, max: shapes.max, static: shapes.static },
    opset,
    commands: Object.fromEntries(PRECISIONS.map((p) => [p, ['trtexec', ...trtexecArgs(shapes, p)].join(' ')])) as Record<Precision, string>,
  };
  const text = (s: string) => new TextEncoder().encode(s);
  return new Map<string, Uint8Array>([
    ['model.onnx', onnx],
    ['build_engine.sh', text(buildScript(shapes))],
    ['tensorrt.json', text(`${JSON.stringify(manifest, null, 2)}\n`)],
  ]);
}

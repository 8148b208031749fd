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
import { threshold, type Calibration, type Statistic } from './calibration.js';
import type { Int8Options } from './onnx-precision.js';

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
  'Resize', 'ArgMax', 'Cast', 'Identity', 'Shape', 'Slice', 'Gather', 'BatchNormalization', 'QuantizeLinear', 'DequantizeLinear']);

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

/** The engines build_engine.sh makes: int8 from the calibration cache (implicit quantization), int8-qdq from the QDQ model (explicit). */
export type Precision = 'fp32' | 'fp16' | 'int8' | 'int8-qdq';
export const PRECISIONS: Precision[] = ['fp32', 'fp16', 'int8'];

/** The calibration cache's file name, beside model.onnx, and the QDQ model's. */
export const CALIB_CACHE = 'calib.cache';
export const QDQ_MODEL = 'model.qdq.onnx';
/**
 * The header of the cache: TensorRT writes `TRT-<version>-<calibrator>` and reads back caches of the
 * calibrator it runs; 8601 is TensorRT 8.6.1 (trtexec's --calib reads it with the legacy calibrator).
 */
export const CACHE_HEADER = 'TRT-8601-EntropyCalibration2';

/** A float32's bits as 8 hex digits (big-endian), as TensorRT writes scales in its cache. */
export function float32Hex(v: number): string {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, v);
  return b.getUint32(0).toString(16).padStart(8, '0');
}

/**
 * TensorRT's calibration cache text from calib.json: the header line, then `<tensor>: <hex>` for every
 * calibrated tensor the ONNX model holds (`tensors`: its graph input and node outputs), scale = T / 127.
 */
export function calibrationCache(c: Calibration, statistic: Statistic, tensors: Set<string>, header = CACHE_HEADER): string {
  const lines = [header];
  for (const [name, r] of Object.entries(c.tensors)) {
    if (!tensors.has(name)) continue;
    if (/[\s:]/.test(name)) fail('format', `tensor name ${name.slice(0, 100)} cannot be written in a TensorRT cache (spaces or colons)`);
    const t = threshold(r, statistic);
    lines.push(`${name}: ${float32Hex(t > 0 ? t / 127 : 1 / 127)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Parses a TensorRT calibration cache (the format calibrationCache writes and TensorRT reads): header and scales. */
export function parseCalibrationCache(text: string): { header: string; scales: Map<string, number> } {
  const lines = text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
  const header = lines[0] ?? '';
  if (!/^TRT-\d+-[A-Za-z0-9]+Calibration\d*$/.test(header)) fail('format', `not a TensorRT calibration cache: the header is ${JSON.stringify(header.slice(0, 80))}, expected TRT-<version>-<calibrator>`);
  const scales = new Map<string, number>();
  for (const line of lines.slice(1)) {
    const m = /^(\S+): ([0-9a-f]{8})$/.exec(line);
    if (!m) fail('format', `TensorRT calibration cache: line ${JSON.stringify(line.slice(0, 80))} is not "<tensor>: <8 hex digits>"`);
    if (scales.has(m![1]!)) fail('format', `TensorRT calibration cache: tensor ${m![1]} twice`);
    const b = new DataView(new ArrayBuffer(4));
    b.setUint32(0, parseInt(m![2]!, 16));
    scales.set(m![1]!, b.getFloat32(0));
  }
  return { header, scales };
}

/** trtexec's arguments to build (and time) an engine for a precision; `onnx`/`engine` are paths. */
export function trtexecArgs(shapes: TrtShapes, precision: Precision, onnx = 'model.onnx', engine = `model.${precision}.engine`, inputName = 'input', calib?: string): string[] {
  const args = [`--onnx=${precision === 'int8-qdq' ? QDQ_MODEL : onnx}`, `--saveEngine=${engine}`];
  if (precision === 'fp16') args.push('--fp16');
  // int8 without a calibration cache gives TensorRT placeholder scales: fine for timing, not for accuracy.
  if (precision === 'int8') args.push('--int8', '--fp16', ...(calib ? [`--calib=${calib}`] : []));
  // The QDQ model carries its own scales (explicit quantization): layers without Q/DQ run in fp16.
  if (precision === 'int8-qdq') args.push('--int8', '--fp16');
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
  commands: Partial<Record<Precision, string>>;
  /** the engine `sh build_engine.sh` builds without an argument */
  precision: 'fp32' | 'fp16' | 'int8';
  /** int8 models: the calibration cache (implicit quantization) and the QDQ model (explicit), with what they were made from */
  int8?: { cache: string; qdq_onnx: string; statistic: Statistic; calibration_images: number; float_convs: string[] };
}

function buildScript(shapes: TrtShapes, modes: Precision[], calib: string | undefined, fallback: string): string {
  const q = (a: string) => `'${a}'`;
  const usage = modes.join('|');
  const lines = [
    '#!/bin/sh',
    '# Builds a TensorRT engine from model.onnx with trtexec (TensorRT 8.6 or 10), then times it.',
    `#   sh build_engine.sh [${usage}]       (default ${fallback}; TRTEXEC=/path/to/trtexec to choose one)`,
    calib ? `# int8: the plain model with the scales of ${calib} (implicit quantization, from bisenet calibrate);`
      + `\n# int8-qdq: ${QDQ_MODEL}, whose Q/DQ nodes carry the scales (explicit quantization; layers kept in float run in fp16).`
      : '# int8 without a calibration cache (convert with --precision int8 --calibration calib.json) uses placeholder scales: for timing only.',
    'set -eu',
    'cd "$(dirname "$0")"',
    'TRTEXEC="${TRTEXEC:-trtexec}"',
    'command -v "$TRTEXEC" >/dev/null 2>&1 || { echo "trtexec not found: install TensorRT, or set TRTEXEC" >&2; exit 127; }',
    `case "\${1:-${fallback}}" in`,
  ];
  for (const p of modes) lines.push(`  ${p}) exec "$TRTEXEC" ${trtexecArgs(shapes, p, undefined, undefined, undefined, calib).map(q).join(' ')} ;;`);
  lines.push(`  *) echo "usage: sh build_engine.sh [${usage}]" >&2; exit 2 ;;`, 'esac', '');
  return lines.join('\n');
}

export interface TensorrtEmitOptions {
  shapes?: string;
  opset?: number;
  metadata?: Record<string, string>;
  /** the engine built by default; int8 also writes the calibration cache and the QDQ model (needs `int8`) */
  precision?: 'fp32' | 'fp16' | 'int8';
  int8?: Int8Options;
}

/** The tensors an ONNX model holds by name: its graph inputs and every node output. */
export function onnxTensorNames(bytes: Uint8Array): Set<string> {
  const g = onnxProto.onnx.ModelProto.decode(bytes).graph;
  return new Set([...(g?.input ?? []).map((i) => i.name ?? ''), ...(g?.node ?? []).flatMap((n) => n.output ?? [])].filter(Boolean));
}

function checkOps(onnx: Uint8Array, what: string): void {
  const model = onnxProto.onnx.ModelProto.decode(onnx);
  const unsupported = [...new Set((model.graph?.node ?? []).map((n) => n.opType ?? '').filter((op) => !TENSORRT_OPS.has(op)))];
  if (unsupported.length) fail('format', `the TensorRT ${what} would hold ops TensorRT lacks: ${unsupported.join(', ')}`);
}

/** Emits the TensorRT directory: model.onnx, build_engine.sh, tensorrt.json (and for int8: calib.cache, model.qdq.onnx). */
export function emitTensorrt(graph: Graph, weights: WeightMap, opts: TensorrtEmitOptions = {}): Map<string, Uint8Array> {
  const shapes = parseShapes(opts.shapes, graph);
  const opset = opts.opset ?? DEFAULT_OPSET;
  const precision = opts.precision ?? 'fp32';
  if (precision === 'int8' && !opts.int8) fail('usage', '--precision int8 needs --calibration calib.json (write it with bisenet calibrate); without it build_engine.sh int8 uses placeholder scales');
  const inputDims: (number | string)[] = shapes.static ? shapes.opt : [
    shapes.min[0] === shapes.max[0] ? shapes.min[0]! : 'N', graph.input.channels,
    shapes.min[2] === shapes.max[2] ? shapes.min[2]! : 'H', shapes.min[3] === shapes.max[3] ? shapes.min[3]! : 'W'];
  const metadata = { ...(opts.metadata ?? {}), target: 'tensorrt' };
  // model.onnx stays float32: TensorRT picks fp16 or int8 kernels from the build flags.
  const onnx = emitOnnx(graph, weights, { opset, inputDims, labelsType: 'int32', metadata });
  checkOps(onnx, 'model');
  const text = (s: string) => new TextEncoder().encode(s);
  const files = new Map<string, Uint8Array>([['model.onnx', onnx]]);
  let int8: TensorrtManifest['int8'];
  const modes: Precision[] = [...PRECISIONS];
  if (opts.int8) {
    const qdq = emitOnnx(graph, weights, { opset, inputDims, labelsType: 'int32', metadata, precision: 'int8', int8: opts.int8 });
    checkOps(qdq, 'QDQ model');
    files.set(QDQ_MODEL, qdq);
    files.set(CALIB_CACHE, text(calibrationCache(opts.int8.calibration, opts.int8.statistic, onnxTensorNames(onnx))));
    modes.push('int8-qdq');
    int8 = { cache: CALIB_CACHE, qdq_onnx: QDQ_MODEL, statistic: opts.int8.statistic, calibration_images: opts.int8.calibration.images.count, float_convs: [...opts.int8.keepFloat] };
  }
  const calib = opts.int8 ? CALIB_CACHE : undefined;
  const hasLabels = graph.outputs.some((o) => o.dtype === 'index');
  const manifest: TensorrtManifest = {
    format: 'bisenet-tensorrt',
    onnx: 'model.onnx',
    input: graph.input.name,
    outputs: graph.outputs.map((o) => o.name),
    labels: hasLabels ? 'int32' : null,
    shapes: { min: shapes.min, opt: shapes.opt, max: shapes.max, static: shapes.static },
    opset,
    commands: Object.fromEntries(modes.map((p) => [p, ['trtexec', ...trtexecArgs(shapes, p, undefined, undefined, undefined, calib)].join(' ')])),
    precision,
    ...(int8 ? { int8 } : {}),
  };
  files.set('build_engine.sh', text(buildScript(shapes, modes, calib, precision)));
  files.set('tensorrt.json', text(`${JSON.stringify(manifest, null, 2)}\n`));
  return files;
}

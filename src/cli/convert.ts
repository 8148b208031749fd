import * as fs from 'node:fs';
import * as path from 'node:path';
import { convertCheckpoint } from '../convert/index.js';
import { DEFAULT_OPSET } from '../emit/opset.js';
import { TARGETS, type Target } from '../emit/targets.js';
import type { Quantization } from '../emit/tfjs-common.js';
import type { Family } from '../models/bisenetv2.js';
import { fail } from '../util/errors.js';
import { checkModelOutName } from './options.js';
import type { Dataset } from '../model-file/presets.js';
import { writeDirAtomic, writeFileAtomic } from '../util/fs.js';
import { checkOutputs } from '../util/outputs.js';
import { escapeText } from '../util/render.js';
import type { Statistic } from '../emit/calibration.js';
import type { Precision } from '../emit/onnx-precision.js';

interface Opts { to: Target; out: string; opset?: number; aux?: boolean; labels?: boolean; family?: Family; classes?: number; force?: boolean; quantize?: Quantization; shardSize?: number;
  groupedConv?: 'native' | 'depthwise'; shapes?: string; dataset?: Dataset | 'none'; expose?: string; allowNonfinite?: boolean; json?: string | boolean;
  precision?: Precision; calibration?: string; statistic?: Statistic; keepFloat?: string; qdqOutputs?: boolean }

function recordedSummary(meta: Record<string, string>): { dataset: string; classNames: string[] | null; preprocessing: unknown } {
  return { dataset: meta.dataset ?? 'unknown', classNames: meta.class_names ? JSON.parse(meta.class_names) as string[] : null, preprocessing: meta.preprocessing ? JSON.parse(meta.preprocessing) as unknown : null };
}

/** Names of model, checkpoint and data files: a directory target given one would make a directory that looks like a file. */
const FILE_NAME = /\.(json|onnx|tflite|pth|pt|pdparams|safetensors|npy|npz|pb|bin|png|jpe?g)$/i;

/** A directory --force may replace: absent, empty, or a model directory (holds model.json). */
function checkReplaceableDir(dir: string): void {
  let st: fs.Stats;
  try { st = fs.statSync(dir); } catch { return; }
  if (!st.isDirectory()) return;
  const entries = fs.readdirSync(dir);
  if (entries.length && !entries.includes('model.json') && !entries.includes('tensorrt.json')) fail('usage', `--out ${dir}: an existing directory that is not a model directory (no model.json); not replacing it`);
}

export function convertCommand(file: string, o: Opts): void {
  const t0 = performance.now();
  checkModelOutName(o.to, o.out);
  const isDir = TARGETS[o.to].directory;
  const jsonFile = typeof o.json === 'string' ? o.json : null;
  // The model and its --json summary: one check (never an input, two outputs never one path, exists → --force).
  // A directory target named like a file: where nothing is there, the name is the problem; where something is
  // (the checkpoint itself, a file of the user's), the output check speaks first.
  const badName = isDir && FILE_NAME.test(o.out);
  const nameError = (): never => fail('usage', `--out ${o.out}: a ${o.to} model is a directory (${TARGETS[o.to].main} and the files beside it); name the directory`);
  if (badName && !fs.existsSync(o.out)) nameError();
  checkOutputs([{ path: o.out, what: '--out', dir: isDir }, ...(jsonFile ? [{ path: jsonFile, what: '--json' }] : [])], [file], Boolean(o.force));
  if (badName) nameError();
  if (isDir) checkReplaceableDir(o.out);
  const c = convertCheckpoint(file, { to: o.to, opset: o.opset, aux: o.aux, labels: o.labels, family: o.family, numClasses: o.classes,
    quantize: o.quantize, shardBytes: o.shardSize === undefined ? undefined : Math.round(o.shardSize * 2 ** 20), groupedConv: o.groupedConv, shapes: o.shapes, dataset: o.dataset,
    expose: o.expose === undefined ? undefined : o.expose === 'all' ? 'all' : o.expose.split(',').map((t) => t.trim()).filter(Boolean), allowNonfinite: o.allowNonfinite,
    precision: o.precision, calibration: o.calibration, statistic: o.statistic, keepFloat: o.keepFloat?.split(',').map((t) => t.trim()).filter(Boolean), qdqOutputs: o.qdqOutputs });
  if (c.ported.nonfinite.length) {
    process.stderr.write(`warning: ${c.ported.nonfinite.length} tensor(s) hold NaN/Inf or a negative running variance (first: ${c.ported.nonfinite.slice(0, 3).map((k) => escapeText(k, 100)).join(', ')}); converted because of --allow-nonfinite\n`);
  }
  if (c.files) writeDirAtomic(o.out, c.files);
  else writeFileAtomic(o.out, c.chunks ?? c.bytes);
  const outputs = c.graph.outputs.map((x) => x.name).join(', ');
  const ms = (performance.now() - t0).toFixed(0);
  if (o.json !== undefined && o.json !== false) {
    const files = c.files ? [...c.files].map(([f, d]) => ({ path: path.join(o.out, f), bytes: d.length })) : [{ path: o.out, bytes: c.byteLength }];
    const summary = {
      tool: 'bisenet convert', version: 1, checkpoint: file, family: c.ported.family, numClasses: c.ported.numClasses, target: o.to,
      out: o.out, files, bytes: files.reduce((a, f) => a + f.bytes, 0),
      ...(o.to === 'onnx' || o.to === 'tensorrt' ? { opset: o.opset ?? DEFAULT_OPSET } : {}),
      ...(c.files && o.to !== 'tensorrt' ? { weights: o.quantize ?? 'float32' } : {}),
      // What a consumer reads: an index output is the in-graph argmax (int64 in ONNX, int32 in tfjs and TensorRT).
      outputs: c.graph.outputs.map((x) => ({ name: x.name, kind: x.dtype === 'index' ? 'labels' : 'scores', channels: x.channels })),
      // What the model records for its consumers.
      ...recordedSummary(c.metadata),
      nonfinite: c.ported.nonfinite.length,
      ms: Number(ms),
    };
    const body = `${JSON.stringify(summary, null, 2)}\n`;
    if (jsonFile) writeFileAtomic(jsonFile, body);
    else { process.stdout.write(body); return; }
  }
  if (c.files && o.to === 'tensorrt') {
    const m = JSON.parse(new TextDecoder().decode(c.files.get('tensorrt.json'))) as { shapes: { min: number[]; opt: number[]; max: number[]; static: boolean }; commands: Record<string, string> };
    const s = m.shapes.static ? m.shapes.opt.join('x') : `${m.shapes.min.join('x')} … ${m.shapes.opt.join('x')} … ${m.shapes.max.join('x')}`;
    process.stdout.write(`${path.basename(file)}: ${c.ported.family}, ${c.ported.numClasses} classes → ${o.out}/ (tensorrt: model.onnx for input ${s}, outputs ${outputs}${c.graph.outputs.some((x) => x.dtype === 'index') ? ' (labels int32)' : ''}${c.files.has('calib.cache') ? ', calib.cache and model.qdq.onnx for int8' : ''}; build the engine with: sh ${path.join(o.out, 'build_engine.sh')} [${Object.keys(m.commands).join('|')}]) in ${ms} ms\n`);
    return;
  }
  if (c.files) {
    const bytes = [...c.files.values()].reduce((s, f) => s + f.length, 0);
    const shards = c.files.size - 1;
    process.stdout.write(`${path.basename(file)}: ${c.ported.family}, ${c.ported.numClasses} classes → ${o.out}/ (${o.to}, model.json + ${shards} shard${shards > 1 ? 's' : ''}, weights ${o.quantize ?? 'float32'}, outputs ${outputs}, ${(bytes / 2 ** 20).toFixed(1)} MiB) in ${ms} ms\n`);
    return;
  }
  if (o.to === 'tflite') {
    process.stdout.write(`${path.basename(file)}: ${c.ported.family}, ${c.ported.numClasses} classes → ${o.out} (tflite, input ${o.shapes ?? '1x3x512x1024'} fixed, ${o.precision === 'int8' ? `int8 weights and activations (${o.statistic ?? 'entropy'} scales), float input and outputs` : `weights ${o.quantize ?? 'float32'}`}, outputs ${outputs}, ${(c.byteLength / 2 ** 20).toFixed(1)} MiB) in ${ms} ms\n`);
    return;
  }
  const prec = o.precision && o.precision !== 'fp32' ? `, ${o.precision}${o.precision === 'int8' ? ` (${o.statistic ?? 'entropy'} scales${o.keepFloat ? `, kept in float: ${o.keepFloat}` : ''})` : ''}` : '';
  process.stdout.write(`${path.basename(file)}: ${c.ported.family}, ${c.ported.numClasses} classes → ${o.out} (${o.to}${prec}, opset ${o.opset ?? DEFAULT_OPSET}, outputs ${outputs}, ${(c.byteLength / 2 ** 20).toFixed(1)} MiB) in ${ms} ms\n`);
}

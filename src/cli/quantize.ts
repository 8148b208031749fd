import * as path from 'node:path';
import { convertCheckpoint, readCalibration } from '../convert/index.js';
import type { Statistic } from '../emit/calibration.js';
import { TARGETS } from '../emit/targets.js';
import { quantizeSearch } from '../quant/sensitivity.js';
import { fail } from '../util/errors.js';
import { checkModelOutName } from './options.js';
import * as fs from 'node:fs';
import { userTmpDir } from '../util/temp.js';
import { trackTemp, untrackTemp, writeDirAtomic, writeFileAtomic } from '../util/fs.js';
import { checkOutputs } from '../util/outputs.js';
import { ExitCode } from './exit.js';
import { INT8_MIOU_DROP } from '../verify/tolerance.js';

interface Opts {
  to: 'onnx' | 'tensorrt' | 'tflite'; out: string; calibrationData: string; evalData: string; maxMiouDrop?: number; calibration?: string; statistic?: Statistic;
  keepFloat?: string; calibrationLimit?: number; evalLimit?: number; sensitivityImages?: number; maxFloat?: number; shapes?: string; labels?: boolean; qdqOutputs?: boolean;
  threads?: number; quiet?: boolean; force?: boolean;
}

const f2 = (v: number): string => v.toFixed(2);

/** `bisenet quantize`: int8 with the most damaging layers kept in float until eval's mIoU is within the bound; exit 1 if no mix reaches it. */
export async function quantizeCommand(checkpoint: string, opts: Opts): Promise<void> {
  const o = { ...opts, maxMiouDrop: opts.maxMiouDrop ?? INT8_MIOU_DROP };
  checkModelOutName(o.to, o.out);
  if (o.qdqOutputs && o.to !== 'onnx') fail('usage', '--qdq-outputs applies to --to onnx only (TensorRT wants conv inputs quantized only)');
  if (TARGETS[o.to].directory && o.out.toLowerCase().endsWith('.onnx')) fail('usage', `--out ${o.out}: a ${o.to} model is a directory; name the directory`);
  checkOutputs([{ path: o.out, what: '--out', dir: TARGETS[o.to].directory }], [checkpoint, o.calibrationData, o.evalData, o.calibration], Boolean(o.force));
  const calibration = o.calibration ? readCalibration(o.calibration) : undefined;
  const log = o.quiet ? undefined : (line: string) => { process.stderr.write(`quantize: ${line}\n`); };
  const r = await quantizeSearch(checkpoint, {
    calibrationData: o.calibrationData, evalData: o.evalData, maxMiouDrop: o.maxMiouDrop, calibration, statistic: o.statistic,
    keepFloat: o.keepFloat?.split(',').map((t) => t.trim()).filter(Boolean), calibrationLimit: o.calibrationLimit, evalLimit: o.evalLimit,
    sensitivityImages: o.sensitivityImages, maxFloat: o.maxFloat, threads: o.threads, log, qdqOutputs: o.qdqOutputs,
  });
  const damageOf = new Map(r.damage.map((d) => [d.conv, d.damage]));
  const searched = r.keepFloat.filter((c) => !r.userKeepFloat.includes(c));
  const lines = [
    `mIoU on ${o.evalData}: float32 ${f2(r.floatMiou)}, plain int8 ${f2(r.int8Miou)} (drop ${f2(r.floatMiou - r.int8Miou)}), result ${f2(r.resultMiou)} (drop ${f2(r.floatMiou - r.resultMiou)}; bound ${o.maxMiouDrop})`,
    `convs in float: ${r.keepFloat.length} of ${r.convs}${r.keepFloat.length ? ':' : ' (plain int8 is within the bound)'}`,
    ...r.userKeepFloat.map((c) => `  ${c}  (--keep-float)`),
    ...searched.map((c) => `  ${c}  (damage ${damageOf.get(c)!.toExponential(2)})`),
  ];
  if (!r.ok) {
    process.stdout.write(`${lines.join('\n')}\nno mix with at most ${searched.length} searched conv${searched.length === 1 ? '' : 's'} in float${r.userKeepFloat.length ? ` (besides the ${r.userKeepFloat.length} of --keep-float)` : ''} reaches a drop of ${o.maxMiouDrop} points; nothing written (raise --max-float or --max-miou-drop, or calibrate on more images)\n`);
    throw new ExitCode(1);
  }
  const choice = {
    max_miou_drop: o.maxMiouDrop, float_miou: round(r.floatMiou), int8_miou: round(r.int8Miou), result_miou: round(r.resultMiou),
    eval_data: path.basename(path.resolve(o.evalData)), calibration_images: r.calibration.images.count, statistic: o.statistic ?? 'entropy',
    keep_float: r.keepFloat.map((c) => ({ conv: c, damage: damageOf.has(c) ? Number(damageOf.get(c)!.toPrecision(4)) : null, by: r.userKeepFloat.includes(c) ? 'user' : 'search' })),
  };
  const convert = (metadata: Record<string, string>, labels = o.labels) => convertCheckpoint(checkpoint, { to: o.to, labels, shapes: o.shapes, precision: 'int8',
    calibration: r.calibration, statistic: o.statistic, keepFloat: r.keepFloat, qdqOutputs: o.qdqOutputs, metadata });
  if (o.to === 'tflite') {
    // The search ran on the QDQ ONNX form in onnxruntime (each conv's damage, quickly); the TFLite model with the
    // same convs in float is then scored in LiteRT itself, and held to the same bound.
    const tflite = await scoreInLiteRT(convert({}, true).bytes, o);
    lines.push(`TFLite int8 with these convs in float, scored in litert-wasm: ${f2(tflite)} (drop ${f2(r.floatMiou - tflite)})`);
    if (r.floatMiou - tflite > o.maxMiouDrop + 1e-9) {
      process.stdout.write(`${lines.join('\n')}\nin LiteRT the drop exceeds ${o.maxMiouDrop} points; nothing written (raise --max-float or --max-miou-drop, or name layers with --keep-float)\n`);
      throw new ExitCode(1);
    }
    Object.assign(choice, { litert_miou: round(tflite) });
  }
  const c = convert({ quantize_search: JSON.stringify(choice) });
  if (c.files) writeDirAtomic(o.out, c.files);
  else writeFileAtomic(o.out, c.chunks ?? c.bytes);
  process.stdout.write(`${lines.join('\n')}\n→ ${o.out} (${o.to}, int8 ${o.to === 'tflite' ? 'weights and activations' : `QDQ${o.to === 'tensorrt' ? ' in model.qdq.onnx, with calib.cache' : ''}`})\n`);
}

const round = (v: number): number => Math.round(v * 1e4) / 1e4;

/** The mIoU of a .tflite (given as bytes) on the eval data in litert-wasm; its temporary file is removed either way. */
async function scoreInLiteRT(bytes: Uint8Array, o: Opts): Promise<number> {
  const { evaluate } = await import('../eval/index.js');
  const dir = fs.mkdtempSync(path.join(userTmpDir(), 'bisenet-quantize-'));
  trackTemp(dir);
  try {
    const file = path.join(dir, 'model.tflite');
    fs.writeFileSync(file, bytes);
    const e = await evaluate(file, o.evalData, { runtime: 'litert-wasm', limit: o.evalLimit, threads: o.threads, progress: { quiet: true } });
    if (e.miou === null) fail('usage', `${o.evalData}: no labelled pixels to score the TFLite model on`);
    return e.miou!;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    untrackTemp(dir);
  }
}

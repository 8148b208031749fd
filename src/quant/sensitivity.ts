/**
 * `quantize`: int8 with the layers that cannot take it found and kept in float. Steps:
 *
 * 1. Calibrate on the calibration images (never the eval images), or take a given calib.json.
 * 2. Score float32 and plain int8 (every conv quantized but those named by --keep-float) with `eval`
 *    on the eval set. If plain int8 is within the bound, that is the answer.
 * 3. Sensitivity: for each conv, a model with that conv alone quantized is run on a few calibration
 *    images; its damage is the relative squared error of the logits against float32,
 *    Σ(q − f)² / Σf² (the inverse of the signal-to-quantization-noise ratio), the error this one
 *    layer's int8 weights and input add by the time they reach the output.
 * 4. The most damaging convs are kept in float, k = 1, 2, 4… of them, each mix scored by `eval`, until
 *    the mIoU drop against float32 is within the bound; then the smallest k in the last interval that
 *    meets it (binary search). More than --max-float convs in float is not a quantized model: the search
 *    then says so and fails.
 */
import * as fs from 'node:fs';
import { userTmpDir } from '../util/temp.js';
import * as path from 'node:path';
import { convertCheckpoint } from '../convert/index.js';
import type { Calibration, Statistic } from '../emit/calibration.js';
import { emitOnnx } from '../emit/onnx.js';
import { matchKeepFloat } from '../emit/onnx-precision.js';
import { evaluate } from '../eval/index.js';
import { modelMetadataFor, type Preprocessing } from '../model-file/presets.js';
import { runtimeById, type Runner } from '../runtime/index.js';
import { fillInput, processingSize } from '../segment/frame.js';
import { decodeImage } from '../segment/image.js';
import { fail } from '../util/errors.js';
import type { NdArray } from '../util/ndarray.js';
import { calibrate, listCalibrationImages } from './calibrate.js';

export interface QuantizeOptions {
  calibrationData: string;
  evalData: string;
  maxMiouDrop: number;
  /** a calib.json made before (skips step 1) */
  calibration?: Calibration;
  statistic?: Statistic;
  keepFloat?: string[];
  /** calibration images used (default all) */
  calibrationLimit?: number;
  /** eval images used (default all) */
  evalLimit?: number;
  /** calibration images the sensitivity is measured on (default 2) */
  sensitivityImages?: number;
  /** most convs the search may keep in float (default: a quarter of them) */
  maxFloat?: number;
  threads?: number;
  /** search and write the --qdq-outputs form (conv outputs quantized too: onnxruntime's integer kernels) */
  qdqOutputs?: boolean;
  /** one line per step, e.g. to stderr */
  log?: (line: string) => void;
}

export interface LayerDamage { conv: string; damage: number }

export interface QuantizeResult {
  ok: boolean;
  calibration: Calibration;
  floatMiou: number;
  int8Miou: number;
  /** the mIoU of the chosen mix (int8Miou when nothing more had to stay in float; the last tried when !ok) */
  resultMiou: number;
  /** convs kept in float: the user's, then the search's */
  keepFloat: string[];
  userKeepFloat: string[];
  /** every conv's damage, most damaging first (empty when plain int8 was within the bound) */
  damage: LayerDamage[];
  tried: { float: number; miou: number }[];
  convs: number;
}

const relSqErr = (q: Float32Array, f: Float32Array): number => {
  let num = 0; let den = 0;
  for (let i = 0; i < f.length; i++) { const d = q[i]! - f[i]!; num += d * d; den += f[i]! * f[i]!; }
  return den > 0 ? num / den : num;
};

export async function quantizeSearch(checkpoint: string, o: QuantizeOptions): Promise<QuantizeResult> {
  const log = o.log ?? (() => {});
  if (!(o.maxMiouDrop >= 0)) fail('usage', '--max-miou-drop must be a non-negative number of points');
  const statistic = o.statistic ?? 'entropy';
  // Calibrating on the images that judge the result would grade the model on its own answers.
  const imagesDir = (d: string): string => { const sub = path.join(d, 'images'); return fs.realpathSync(fs.existsSync(sub) ? sub : d); };
  if (fs.existsSync(o.calibrationData) && fs.existsSync(o.evalData) && imagesDir(o.calibrationData) === imagesDir(o.evalData)) {
    fail('usage', `--calibration-data and --eval-data are the same images (${o.evalData}); calibrate on other images of the same kind`);
  }
  // Everything the user named is checked before the long steps.
  const float = convertCheckpoint(checkpoint, { to: 'onnx', labels: true });
  const convs = float.graph.nodes.filter((n) => n.attrs.op === 'conv').map((n) => n.name);
  const userKeep = o.keepFloat?.length ? [...matchKeepFloat(o.keepFloat, convs)] : [];
  const maxFloat = o.maxFloat ?? Math.max(1, Math.floor(convs.length / 4));
  const sensImages = listCalibrationImages(o.calibrationData, Math.min(o.sensitivityImages ?? 2, o.calibrationLimit ?? Infinity));
  const calibration = o.calibration ?? await calibrate(checkpoint, o.calibrationData, { limit: o.calibrationLimit, threads: o.threads, progress: { quiet: true } });
  const meta = modelMetadataFor(float.ported.family, float.ported.numClasses);
  if (!meta.preprocessing) fail('usage', `${checkpoint}: ${float.ported.numClasses} classes imply no dataset preset; quantize feeds images as segment does and needs one`);
  const pre = JSON.parse(meta.preprocessing!) as Preprocessing;
  const int8Model = (keep: Iterable<string>): Uint8Array => emitOnnx(float.graph, float.ported.weights, {
    metadata: meta, precision: 'int8', int8: { calibration, statistic, keepFloat: new Set(keep), int32Bias: false, quantizeOutputs: o.qdqOutputs },
  });

  const tmp = fs.mkdtempSync(path.join(userTmpDir(), 'bisenet-quantize-'));
  try {
    let n = 0;
    const score = async (bytes: Uint8Array): Promise<number> => {
      const file = path.join(tmp, `candidate-${n++}.onnx`);
      fs.writeFileSync(file, bytes);
      const r = await evaluate(file, o.evalData, { limit: o.evalLimit, threads: o.threads, progress: { quiet: true } });
      fs.rmSync(file, { force: true });
      if (r.miou === null) fail('usage', `${o.evalData}: no class is present in its labels or the predictions; cannot score mIoU`);
      return r.miou!;
    };
    const floatMiou = await score(float.bytes);
    log(`float32: mIoU ${floatMiou.toFixed(2)}`);
    const int8Miou = await score(int8Model(userKeep));
    log(`int8 (${convs.length - userKeep.length} of ${convs.length} convs quantized${userKeep.length ? `, ${userKeep.length} kept by --keep-float` : ''}): mIoU ${int8Miou.toFixed(2)} (drop ${(floatMiou - int8Miou).toFixed(2)})`);
    const base = { calibration, floatMiou, int8Miou, userKeepFloat: userKeep, convs: convs.length };
    if (floatMiou - int8Miou <= o.maxMiouDrop + 1e-9) {
      return { ...base, ok: true, resultMiou: int8Miou, keepFloat: userKeep, damage: [], tried: [] };
    }

    if (Math.min(maxFloat, convs.length - userKeep.length) < 1) {
      return { ...base, ok: false, resultMiou: int8Miou, keepFloat: userKeep, damage: [], tried: [] };
    }
    // Sensitivity, one conv at a time, on calibration images.
    const rt = runtimeById('ort-cpu');
    const inputs: NdArray[] = [];
    for (const f of sensImages) {
      const img = await decodeImage(f, f);
      const { H, W } = processingSize(img.width, img.height, pre);
      const data = new Float32Array(3 * H * W);
      fillInput(img, pre, H, W, data);
      inputs.push({ dtype: 'float32' as const, shape: [1, 3, H, W], data });
    }
    const logits = async (bytes: Uint8Array): Promise<Float32Array[]> => {
      const runner: Runner = await rt.load('candidate', { threads: o.threads, files: new Map([['model.onnx', bytes]]) });
      try {
        const out: Float32Array[] = [];
        for (const x of inputs) out.push((await runner.run({ [runner.inputNames[0]!]: x }, { outputs: ['logits'] })).logits!.data as Float32Array);
        return out;
      } finally { await runner.dispose(); }
    };
    const ref = await logits(float.bytes);
    const candidates = convs.filter((c) => !userKeep.includes(c));
    const damage: LayerDamage[] = [];
    for (const [i, c] of candidates.entries()) {
      const q = await logits(int8Model(convs.filter((x) => x !== c)));
      damage.push({ conv: c, damage: q.reduce((s, a, k) => s + relSqErr(a, ref[k]!), 0) / q.length });
      if ((i + 1) % 10 === 0 || i + 1 === candidates.length) log(`sensitivity: ${i + 1}/${candidates.length} convs measured`);
    }
    damage.sort((a, b) => b.damage - a.damage);
    log(`most damaging: ${damage.slice(0, 5).map((d) => `${d.conv} (${d.damage.toExponential(2)})`).join(', ')}`);

    const tried: { float: number; miou: number }[] = [];
    const results = new Map<number, number>([[0, int8Miou]]);
    const tryK = async (k: number): Promise<number> => {
      if (!results.has(k)) {
        const m = await score(int8Model([...userKeep, ...damage.slice(0, k).map((d) => d.conv)]));
        results.set(k, m);
        tried.push({ float: k, miou: m });
        log(`${k} most damaging conv${k > 1 ? 's' : ''} in float: mIoU ${m.toFixed(2)} (drop ${(floatMiou - m).toFixed(2)})`);
      }
      return results.get(k)!;
    };
    const meets = (m: number): boolean => floatMiou - m <= o.maxMiouDrop + 1e-9;
    const limit = Math.min(maxFloat, damage.length);
    let lo = 0; let hi = -1;
    for (let k = 1; k <= limit; k = Math.min(2 * k, limit)) {
      if (meets(await tryK(k))) { hi = k; break; }
      lo = k;
      if (k >= limit) break;
    }
    if (hi < 0) {
      const last = results.get(lo)!;
      return { ...base, ok: false, resultMiou: last, keepFloat: [...userKeep, ...damage.slice(0, lo).map((d) => d.conv)], damage, tried };
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (meets(await tryK(mid))) hi = mid; else lo = mid;
    }
    return { ...base, ok: true, resultMiou: results.get(hi)!, keepFloat: [...userKeep, ...damage.slice(0, hi).map((d) => d.conv)], damage, tried };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

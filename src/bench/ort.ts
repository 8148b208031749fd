/**
 * Timing onnxruntime-node with its own profiler on: end-to-end `session.run` as JavaScript sees it, beside
 * the kernel time onnxruntime records for the same runs, so the time outside the kernels is a number.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkOnnxAmplification } from '../model-check/onnx.js';
import { causeText, fail } from '../util/errors.js';
import { readFileChecked } from '../util/fs.js';
import { ortLogSeverity } from '../util/verbosity.js';
import { loadOrt, ortRunError, withOrtTempDir } from '../runtime/ort.js';
import { parseOrtProfile } from './ort-profile.js';

/** One timed configuration: an input and the outputs fetched. */
export interface OrtCase { key: string; shape: number[]; fetch: string[] }
export interface OrtCaseTimes { e2eMs: number[]; kernelMs: number[] | null; ortRunMs: number[] | null }

/**
 * Runs every case `warmup + runs` times in one profiled session (the same options as the ort-cpu runner:
 * intra-op threads, one inter-op thread, all graph optimizations). The input tensor is made once per case
 * and reused, as a frame loop would. Profiling costs a timestamp per kernel, well under 1 % here.
 */
export async function timeOrtCpu(modelPath: string, casesFor: (outputNames: string[]) => OrtCase[], o: { runs: number; warmup: number; threads: number; workDir: string },
): Promise<{ inputName: string; outputNames: string[]; times: Map<string, OrtCaseTimes> }> {
  const ort = await loadOrt();
  const prefix = path.join(o.workDir, `ort-profile-${path.basename(modelPath, '.onnx')}`);
  let session: import('onnxruntime-node').InferenceSession;
  // The same reading and checks as the ort-cpu runner: a regular file within the size budget, constant-sized ops bounded.
  const bytes = readFileChecked(modelPath, 'ONNX model');
  checkOnnxAmplification(bytes, modelPath);
  try {
    session = await withOrtTempDir(() => ort.InferenceSession.create(bytes, {
      intraOpNumThreads: o.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'],
      enableProfiling: true, profileFilePrefix: prefix, logSeverityLevel: ortLogSeverity(),
    }));
  } catch (e) {
    return fail('format', `${modelPath}: onnxruntime cannot load this model: ${causeText(e)}`);
  }
  const inputName = session.inputNames[0]!;
  const cases = casesFor([...session.outputNames]);
  const order: { key: string; timed: boolean }[] = [];
  const e2e = new Map<string, number[]>();
  try {
    for (const c of cases) {
      const x = new ort.Tensor('float32', inputData(c.shape), c.shape);
      const times: number[] = [];
      for (let i = 0; i < o.warmup + o.runs; i++) {
        const t0 = performance.now();
        let out: import('onnxruntime-node').InferenceSession.OnnxValueMapType;
        try {
          out = await session.run({ [inputName]: x }, c.fetch);
        } catch (e) {
          return fail('runtime', ortRunError(modelPath, e));
        }
        // Touch the outputs as a caller would (the data is already in JS memory: nothing is copied).
        for (const k of c.fetch) if (!out[k]) fail('runtime', `${modelPath}: no output ${k}`);
        const t = performance.now() - t0;
        if (i >= o.warmup) times.push(t);
        order.push({ key: c.key, timed: i >= o.warmup });
      }
      e2e.set(c.key, times);
    }
  } finally {
    session.endProfiling();
  }
  const outputNames = [...session.outputNames];
  await session.release();
  const file = fs.readdirSync(o.workDir).map((f) => path.join(o.workDir, f)).find((f) => f.startsWith(prefix) && f.endsWith('.json'));
  const profiled = file ? parseOrtProfile(JSON.parse(fs.readFileSync(file, 'utf8'))) : null;
  if (file) fs.rmSync(file, { force: true });
  const times = new Map<string, OrtCaseTimes>();
  // The trace's model_run events are in call order: pair them with our calls when the counts agree.
  const paired = profiled && profiled.runs.length === order.length;
  for (const c of cases) {
    const kernelMs: number[] = [];
    const ortRunMs: number[] = [];
    if (paired) order.forEach((r, i) => { if (r.key === c.key && r.timed) { kernelMs.push(profiled!.runs[i]!.kernelMs); ortRunMs.push(profiled!.runs[i]!.runMs); } });
    times.set(c.key, { e2eMs: e2e.get(c.key)!, kernelMs: paired ? kernelMs : null, ortRunMs: paired ? ortRunMs : null });
  }
  return { inputName, outputNames, times };
}

/** A deterministic input in roughly the range of a normalized image. */
export function inputData(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37) * 1.5;
  return data;
}

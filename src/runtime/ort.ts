import * as fs from 'node:fs';
import * as os from 'node:os';
import { userTmpDir, withTmpdir } from '../util/temp.js';
import * as path from 'node:path';
import { causeText, fail } from '../util/errors.js';
import { ortEnvLogLevel, ortLogSeverity } from '../util/verbosity.js';
import { checkOnnxAmplification } from '../model-check/onnx.js';
import { readOnnxFile } from '../model-file/onnx.js';
import type { NdArray } from '../util/ndarray.js';
import { exposeOnnxTensors } from './onnx-expose.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';

type Ort = typeof import('onnxruntime-node');

/** onnxruntime-node, with its log kept to what --verbose asks for (the ort-cpu runner and bench's profiled sessions). */
export async function loadOrt(): Promise<Ort> {
  try {
    const ort = await import('onnxruntime-node');
    ort.env.logLevel = ortEnvLogLevel();
    return ort;
  } catch (e) {
    return fail('runtime', `onnxruntime-node is not available: ${(e as Error).message}`);
  }
}

/**
 * onnxruntime-node leaves a `mat-debug-<pid>.log` and a `.ses` file in TMPDIR from every session it creates
 * (hundreds pile up). Each session is created with TMPDIR pointing at a fresh folder of our own, removed as
 * soon as the session exists (the files are not read again; an open one lives on until closed), and at exit
 * should creating it fail midway.
 */
export async function withOrtTempDir<T>(create: () => Promise<T>): Promise<T> {
  let dir: string;
  try { dir = fs.mkdtempSync(path.join(userTmpDir(), 'bisenet-ort-')); } catch { return create(); } // no writable TMPDIR: as before
  const rm = (): void => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } };
  process.once('exit', rm);
  try {
    return await withTmpdir(dir, create);
  } finally {
    rm();
    process.off('exit', rm);
  }
}

function toOrtTensor(ort: Ort, a: NdArray): import('onnxruntime-node').Tensor {
  switch (a.dtype) {
    case 'float32': return new ort.Tensor('float32', a.data as Float32Array, a.shape);
    case 'int64': return new ort.Tensor('int64', a.data as BigInt64Array, a.shape);
    default: return fail('usage', `inputs of dtype ${a.dtype} are not supported; use float32`);
  }
}

function fromOrtTensor(t: import('onnxruntime-node').Tensor): NdArray {
  const shape = t.dims.map(Number);
  if (t.type === 'float32') return { dtype: 'float32', shape, data: t.data as Float32Array };
  if (t.type === 'int64') return { dtype: 'int64', shape, data: t.data as BigInt64Array };
  if (t.type === 'int32') return { dtype: 'int32', shape, data: t.data as Int32Array };
  return fail('runtime', `output of type ${t.type} is not supported`);
}

/** onnxruntime-node on the CPU. Threads are set explicitly: the default runs ~1.8× slower here. */
/** onnxruntime's run error as one line, with what to do where the cause is known (a fixed-size model given another size). */
export function ortRunError(modelPath: string, e: unknown): string {
  const text = causeText(e);
  const hint = /invalid dimensions for input/i.test(text) ? ' (this model takes a fixed input size: give an input of that size, or convert the checkpoint again for this size)' : '';
  return `onnxruntime failed to run ${modelPath}: ${text}${hint}`;
}

export const ortCpu: RuntimeInfo = {
  id: 'ort-cpu',
  inMemory: true,
  async load(modelPath: string, opts: RunnerOptions): Promise<Runner> {
    const read: Uint8Array = opts.files?.get('model.onnx') ?? opts.onnx?.bytes ?? readOnnxFile(modelPath);
    let bytes = read;
    // Intermediates asked for become extra graph outputs of an in-memory copy of the model.
    const probe = opts.expose ? exposeOnnxTensors(bytes, opts.expose, modelPath) : null;
    if (probe) bytes = probe.bytes;
    checkOnnxAmplification(bytes, modelPath, bytes === opts.onnx?.bytes ? opts.onnx.model : undefined);
    const ort = await loadOrt();
    const threads = opts.threads ?? os.availableParallelism();
    let session: import('onnxruntime-node').InferenceSession;
    try {
      session = await withOrtTempDir(() => ort.InferenceSession.create(bytes, {
        intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'],
        // onnxruntime's warnings (unused initializers removed…) are not the user's to act on: --verbose shows them.
        logSeverityLevel: ortLogSeverity(),
      }));
    } catch (e) {
      return fail('format', `${modelPath}: onnxruntime cannot load this model: ${causeText(e)}`);
    }
    return {
      runtime: 'ort-cpu',
      device: `CPU (${threads} thread${threads > 1 ? 's' : ''})`,
      inputNames: [...session.inputNames],
      outputNames: probe ? probe.outputs : [...session.outputNames],
      exposed: probe?.exposed,
      async run(inputs, runOpts) {
        const outputs = runOpts?.outputs;
        const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
        for (const [k, v] of Object.entries(inputs)) feeds[k] = toOrtTensor(ort, v);
        // Fetching only the outputs asked for saves reading back (and allocating) the others.
        const fetches = outputs?.filter((n) => session.outputNames.includes(n));
        let result: import('onnxruntime-node').InferenceSession.OnnxValueMapType;
        try {
          result = await session.run(feeds, fetches?.length ? fetches : session.outputNames);
        } catch (e) {
          return fail('runtime', ortRunError(modelPath, e));
        }
        const out: Record<string, NdArray> = {};
        for (const name of session.outputNames) if (result[name]) out[name] = fromOrtTensor(result[name] as import('onnxruntime-node').Tensor);
        return out;
      },
      async dispose() { await session.release(); },
    };
  },
};

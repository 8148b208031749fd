/**
 * onnxruntime-web's WebGPU execution provider, run from Node on dawn.node (src/runtime/webgpu.ts).
 *
 * Two runtimes, on purpose:
 *  - `ort-webgpu`: with the workaround, `preferredLayout: 'NCHW'`. onnxruntime-web 1.30's WebGPU EP
 *    computes grouped convolutions with several output channels per group wrongly in its NHWC
 *    kernels (BiSeNetV2's GE layers have 6 per group: max |Δ| ≈ 6–10, a third of the labels wrong),
 *    and NHWC is what the EP uses unless told otherwise (its typings say the default is NCHW; it is not).
 *  - `ort-webgpu-default`: onnxruntime-web's defaults, kept so that `bisenet verify` and
 *    `npm run gpu-check` show the bug as the parity failure it is (and show when a release fixes it).
 * `bisenet convert --to onnx --ort-webgpu-safe` emits a model that avoids it on either.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import { fail } from '../util/errors.js';
import { readFileChecked } from '../util/fs.js';
import { isVerbose, ortLogSeverity } from '../util/verbosity.js';
import { checkOnnxAmplification } from './onnx-check.js';
import type { NdArray } from '../util/ndarray.js';
import { exposeOnnxTensors } from './onnx-expose.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';
import { installNavigatorGpu, openAdapter, type OpenedAdapter } from './webgpu.js';

type OrtWeb = typeof import('onnxruntime-web');
type Layout = 'NCHW' | 'NHWC' | 'default';

interface OrtWebState { ort: OrtWeb; opened: OpenedAdapter; deviceText: string }
let statePromise: Promise<OrtWebState> | null = null;

/**
 * onnxruntime-web, once per process: its wasm module and WebGPU device are process-wide, so the
 * first runner's --device is the one every later ort-webgpu runner gets.
 */
async function loadOrtWeb(deviceText: string): Promise<OrtWebState> {
  statePromise ??= (async () => {
    const opened = await openAdapter(deviceText);
    installNavigatorGpu(opened.gpu);
    let ort: OrtWeb;
    try {
      ort = (await import('onnxruntime-web/webgpu')) as unknown as OrtWeb;
    } catch (e) {
      statePromise = null;
      return fail('runtime', `onnxruntime-web is not available: ${(e as Error).message.split('\n')[0]}`);
    }
    // One wasm thread: the work is on the GPU, and threads would need worker_threads and shared memory.
    ort.env.wasm.numThreads = 1;
    // Node reads the .wasm (and its .mjs glue) from the package's dist/ folder by file URL. The
    // `webgpu` build of 1.30 is the asyncify one (the C++ WebGPU EP), not JSEP. package.json is not
    // exported; the files are.
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm'));
    ort.env.wasm.wasmPaths = `${pathToFileURL(dist).href}/`;
    (ort.env.webgpu as { adapter: unknown }).adapter = opened.adapter;
    ort.env.logLevel = isVerbose() ? 'warning' : 'error';
    return { ort, opened, deviceText };
  })();
  const state = await statePromise;
  if (state.deviceText !== deviceText) {
    fail('usage', `onnxruntime-web has one WebGPU device per process; it is on --device ${state.deviceText}, so --device ${deviceText} cannot be used too`);
  }
  return state;
}

/**
 * Workaround: onnxruntime-web's WebGPU wasm (≈27 MB) takes V8's optimizing compiler about half a
 * minute on two cores in Node; with Liftoff alone it compiles in seconds, and that code only drives
 * the GPU. The flag is on while the first session is created (which compiles the module), and off
 * after it, so other wasm in the process (tfjs-wasm) is optimized as usual.
 */
async function withLiftoffOnly<T>(f: () => Promise<T>): Promise<T> {
  v8.setFlagsFromString('--liftoff-only');
  try {
    return await f();
  } finally {
    v8.setFlagsFromString('--no-liftoff-only');
  }
}

function toTensor(ort: OrtWeb, a: NdArray): import('onnxruntime-web').Tensor {
  if (a.dtype === 'float32') return new ort.Tensor('float32', a.data as Float32Array, a.shape);
  if (a.dtype === 'int64') return new ort.Tensor('int64', a.data as BigInt64Array, a.shape);
  return fail('usage', `inputs of dtype ${a.dtype} are not supported; use float32`);
}

function fromTensor(t: import('onnxruntime-web').Tensor): NdArray {
  const shape = t.dims.map(Number);
  // Copies: the tensor's data may be a view on wasm memory that the next run reuses.
  if (t.type === 'float32') return { dtype: 'float32', shape, data: Float32Array.from(t.data as Float32Array) };
  if (t.type === 'int64') return { dtype: 'int64', shape, data: BigInt64Array.from(t.data as BigInt64Array) };
  if (t.type === 'int32') return { dtype: 'int32', shape, data: Int32Array.from(t.data as Int32Array) };
  return fail('runtime', `output of type ${t.type} is not supported`);
}

function makeRuntime(id: string, layout: Layout): RuntimeInfo {
  return {
    id,
    accepts: (p) => p.toLowerCase().endsWith('.onnx'),
    inMemory: true,
    async load(modelPath: string, opts: RunnerOptions & { device?: string }): Promise<Runner> {
      let bytes: Uint8Array = opts.files?.get('model.onnx') ?? readFileChecked(modelPath, 'ONNX model');
    // Intermediates asked for become extra graph outputs of an in-memory copy of the model.
    const probe = opts.expose ? exposeOnnxTensors(bytes, opts.expose, modelPath) : null;
    if (probe) bytes = probe.bytes;
      checkOnnxAmplification(bytes, modelPath);
      const { ort, opened } = await loadOrtWeb(opts.device ?? 'auto');
      const ep = layout === 'default' ? 'webgpu' : { name: 'webgpu' as const, preferredLayout: layout };
      let session: import('onnxruntime-web').InferenceSession;
      try {
        session = await withLiftoffOnly(() => ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all', logSeverityLevel: ortLogSeverity() }));
      } catch (e) {
        return fail('format', `${modelPath}: onnxruntime-web cannot load this model: ${(e as Error).message.split('\n')[0]}`);
      }
      return {
        runtime: id,
        device: `${opened.label}, ${layout === 'default' ? 'default layout' : `${layout} layout`}`,
        inputNames: [...session.inputNames],
        outputNames: probe ? probe.outputs : [...session.outputNames],
      exposed: probe?.exposed,
        async run(inputs, runOpts) {
          const outputs = runOpts?.outputs;
          const feeds: Record<string, import('onnxruntime-web').Tensor> = {};
          for (const [k, v] of Object.entries(inputs)) feeds[k] = toTensor(ort, v);
          const fetches = outputs?.filter((n) => session.outputNames.includes(n));
          let result: import('onnxruntime-web').InferenceSession.OnnxValueMapType;
          try {
            result = await session.run(feeds, fetches?.length ? fetches : session.outputNames);
          } catch (e) {
            return fail('runtime', `onnxruntime-web (${id}) failed to run ${modelPath}: ${(e as Error).message.split('\n')[0]}`);
          }
          const out: Record<string, NdArray> = {};
          for (const name of session.outputNames) {
            const t = result[name] as import('onnxruntime-web').Tensor | undefined;
            if (!t) continue;
            out[name] = fromTensor(t);
            t.dispose?.();
          }
          return out;
        },
        async dispose() { await session.release(); },
      };
    },
  };
}

export const ortWebgpu: RuntimeInfo = makeRuntime('ort-webgpu', 'NCHW');
export const ortWebgpuDefault: RuntimeInfo = makeRuntime('ort-webgpu-default', 'default');

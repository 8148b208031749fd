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
import { causeText, fail } from '../util/errors.js';
import { ortEnvLogLevel, ortLogSeverity } from '../util/verbosity.js';
import { checkOnnxAmplification } from '../model-check/onnx.js';
import { readOnnxFile } from '../model-file/onnx.js';
import type { NdArray } from '../util/ndarray.js';
import { exposeOnnxTensors } from './onnx-expose.js';
import type { GpuPhases, Runner, RunnerOptions, RuntimeInfo } from './types.js';
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
      return fail('runtime', `onnxruntime-web is not available: ${causeText(e)}`);
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
    ort.env.logLevel = ortEnvLogLevel();
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

/**
 * onnxruntime-web's WebGPU build is one asyncify wasm module per process, and it cannot take a second call
 * while one is suspended: two session creations at once fail ("another WebGPU EP inference session is being
 * created"), two runs at once corrupt it ("no overload matched for setPipeline", then "memory access out of
 * bounds" in every later call). So every call into it (create, run with its read-back, release) queues here:
 * each starts once the one before has settled, even if whoever asked for that one stopped waiting (a
 * timed-out caller's call still runs to its end before the next begins). Runners may be used concurrently.
 */
let queue: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(call: () => Promise<T>): Promise<T> {
  const next = queue.then(call, call);
  queue = next.catch(() => undefined);
  return next;
}

/** Input buffers on the GPU, one per input name, reused from frame to frame while the size stays. */
class GpuInputs {
  private readonly buffers = new Map<string, GPUBuffer>();
  constructor(private readonly device: GPUDevice) {}

  upload(ort: OrtWeb, name: string, a: NdArray): import('onnxruntime-web').Tensor {
    if (a.dtype !== 'float32') return fail('usage', `inputs of dtype ${a.dtype} are not supported; use float32`);
    const bytes = a.data.byteLength;
    let buf = this.buffers.get(name);
    if (!buf || buf.size !== bytes) {
      buf?.destroy();
      // GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST (the constants are not globals in Node).
      buf = this.device.createBuffer({ size: bytes, usage: 0x80 | 0x04 | 0x08 });
      this.buffers.set(name, buf);
    }
    const data = a.data as Float32Array;
    this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    return ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: a.shape });
  }

  destroy(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
  }
}

/** Downloads an output (a GPU buffer, or CPU data for outputs the EP left on the CPU) into a fresh array. */
async function readBack(t: import('onnxruntime-web').Tensor): Promise<NdArray> {
  const shape = t.dims.map(Number);
  if (t.type !== 'float32' && t.type !== 'int64' && t.type !== 'int32') {
    t.dispose();
    return fail('runtime', `output of type ${t.type} is not supported`);
  }
  // getData(true) copies into a fresh array and releases the GPU buffer. CPU-located data may be a view on
  // wasm memory that the next run reuses, so it is copied.
  if (t.location === 'gpu-buffer') {
    const data = await t.getData(true);
    return { dtype: t.type, shape, data } as NdArray;
  }
  const data = t.type === 'float32' ? Float32Array.from(t.data as Float32Array)
    : t.type === 'int64' ? BigInt64Array.from(t.data as BigInt64Array) : Int32Array.from(t.data as Int32Array);
  t.dispose();
  return { dtype: t.type, shape, data } as NdArray;
}

function makeRuntime(id: string, layout: Layout): RuntimeInfo {
  return {
    id,
    inMemory: true,
    async load(modelPath: string, opts: RunnerOptions & { device?: string }): Promise<Runner> {
      let bytes: Uint8Array = opts.files?.get('model.onnx') ?? opts.onnx?.bytes ?? readOnnxFile(modelPath);
    // Intermediates asked for become extra graph outputs of an in-memory copy of the model.
    const probe = opts.expose ? exposeOnnxTensors(bytes, opts.expose, modelPath) : null;
    if (probe) bytes = probe.bytes;
      checkOnnxAmplification(bytes, modelPath, bytes === opts.onnx?.bytes ? opts.onnx.model : undefined);
      const { ort, opened } = await loadOrtWeb(opts.device ?? 'auto');
      const ep = layout === 'default' ? 'webgpu' : { name: 'webgpu' as const, preferredLayout: layout };
      let session: import('onnxruntime-web').InferenceSession;
      try {
        // Outputs stay in GPU buffers until read: only the ones a caller asks for are ever downloaded.
        session = await oneAtATime(() => withLiftoffOnly(() => ort.InferenceSession.create(bytes, {
          executionProviders: [ep], graphOptimizationLevel: 'all', logSeverityLevel: ortLogSeverity(), preferredOutputLocation: 'gpu-buffer',
        })));
      } catch (e) {
        return fail('format', `${modelPath}: onnxruntime-web cannot load this model: ${causeText(e)}`);
      }
      const device = (await ort.env.webgpu.device) as GPUDevice | undefined;
      if (!device) return fail('runtime', `onnxruntime-web (${id}) opened no WebGPU device`);
      const inputs = new GpuInputs(device);
      let phases: GpuPhases | undefined;
      return {
        runtime: id,
        device: `${opened.label}, ${layout === 'default' ? 'default layout' : `${layout} layout`}`,
        inputNames: [...session.inputNames],
        outputNames: probe ? probe.outputs : [...session.outputNames],
      exposed: probe?.exposed,
        phases: () => phases,
        run: (feedsIn, runOpts) => oneAtATime(async () => {
          const outputs = runOpts?.outputs;
          // Upload: each input into a GPU buffer kept from frame to frame (re-made only when its size changes).
          const t0 = performance.now();
          const feeds: Record<string, import('onnxruntime-web').Tensor> = {};
          for (const [k, v] of Object.entries(feedsIn)) feeds[k] = inputs.upload(ort, k, v);
          await device.queue.onSubmittedWorkDone();
          const t1 = performance.now();
          const fetches = outputs?.filter((n) => session.outputNames.includes(n));
          let result: import('onnxruntime-web').InferenceSession.OnnxValueMapType;
          try {
            result = await session.run(feeds, fetches?.length ? fetches : session.outputNames);
            await device.queue.onSubmittedWorkDone();
          } catch (e) {
            return fail('runtime', `onnxruntime-web (${id}) failed to run ${modelPath}: ${causeText(e)}`);
          }
          const t2 = performance.now();
          // Read-back: only the outputs fetched, each downloaded once and its GPU buffer released.
          const out: Record<string, NdArray> = {};
          for (const name of session.outputNames) {
            const t = result[name] as import('onnxruntime-web').Tensor | undefined;
            if (!t) continue;
            out[name] = await readBack(t);
          }
          phases = { uploadMs: t1 - t0, computeMs: t2 - t1, readbackMs: performance.now() - t2 };
          return out;
        }),
        dispose: () => oneAtATime(async () => { inputs.destroy(); await session.release(); }),
      };
    },
  };
}

export const ortWebgpu: RuntimeInfo = makeRuntime('ort-webgpu', 'NCHW');
export const ortWebgpuDefault: RuntimeInfo = makeRuntime('ort-webgpu-default', 'default');

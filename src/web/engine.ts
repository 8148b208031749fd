/**
 * Runs in the browser (served as /lib/web/engine.js): opens a model on one backend — tfjs WebGL,
 * WebGPU or wasm, onnxruntime-web wasm or WebGPU — and runs NCHW inputs to NCHW outputs through the
 * same model loader and layout conversion as the Node runners (../runtime/tfjs-model.ts).
 */
import type * as TfcNs from '@tensorflow/tfjs-core';
import type * as OrtNs from 'onnxruntime-web';
import { toNchw, toNhwc } from '../runtime/layout.js';
import { loadTfjsModel, runLoaded, type TfjsParts } from '../runtime/tfjs-model.js';
import type { TfjsNamespace } from '../tfjs-custom-layers.js';
import type { NdArray } from '../util/ndarray.js';

/** The UMD globals the page's <script> tags define. */
type TfGlobal = typeof TfcNs & TfjsNamespace & TfjsParts['layers'] & TfjsParts['converter'] & {
  wasm: { setWasmPaths(prefix: string): void; setThreadsCount(n: number): void; getThreadsCount(): number };
};
declare const tf: TfGlobal;
declare const ort: typeof OrtNs;
/** Where the page server serves LiteRT.js's wasm builds (src/runtime/web-server.ts, LITERT_WASM_DIR). */
const LITERT_WASM_DIR = '/vendor/@litertjs/core-wasm/';

export type Backend = 'tfjs-webgl' | 'tfjs-webgpu' | 'tfjs-wasm' | 'ort-wasm' | 'ort-webgpu' | 'litert-wasm' | 'litert-webgpu';
export type Flags = Record<string, boolean | number | string>;

export interface EngineSpec {
  backend: Backend;
  /** URL of model.json (tfjs) or of the .onnx file */
  modelUrl: string;
  /** tfjs environment flags, set before the backend starts (WEBGL_FORCE_F16_TEXTURES, WEBGL_PACK…) */
  flags?: Flags;
  /** wasm threads (default: what the browser offers) */
  threads?: number;
}

export interface Engine {
  backend: Backend;
  /** the adapter, renderer or CPU setting it runs on */
  device: string;
  inputName: string;
  outputNames: string[];
  /** The one input shape (NCHW) a model of fixed size (TFLite) takes; absent: any multiple of 32. */
  fixedInput?: number[];
  run(input: NdArray): Promise<Record<string, NdArray>>;
  dispose(): Promise<void>;
}

interface GpuAdapterLike { info?: { vendor?: string; architecture?: string; device?: string; description?: string } }
const gpu = (): { requestAdapter(): Promise<GpuAdapterLike | null> } | undefined => (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;

/** The WebGPU adapter's name as the browser reports it (vendor, architecture, description). */
async function webgpuAdapterName(): Promise<string> {
  const g = gpu();
  if (!g) throw new Error(isSecureContext ? 'this browser offers no WebGPU (navigator.gpu is missing)' : 'WebGPU needs a secure context (https or localhost)');
  const a = await g.requestAdapter();
  if (!a) throw new Error('this browser offers WebGPU but no adapter');
  const i = a.info ?? {};
  return [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') || 'unnamed adapter';
}

const threadsOffered = (): number => (crossOriginIsolated ? Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8)) : 1);

async function openTfjs(spec: EngineSpec): Promise<Engine> {
  const backend = spec.backend.slice('tfjs-'.length);
  for (const [k, v] of Object.entries(spec.flags ?? {})) tf.env().set(k, v);
  if (backend === 'wasm') {
    tf.wasm.setWasmPaths('/vendor/@tensorflow/tfjs-backend-wasm/');
    tf.wasm.setThreadsCount(spec.threads ?? threadsOffered());
  }
  let ok = false;
  try { ok = await tf.setBackend(backend); } catch (e) { throw new Error(`tfjs ${backend} backend failed to start: ${(e as Error).message}`); }
  if (!ok) throw new Error(`tfjs ${backend} backend failed to start in this browser`);
  await tf.ready();
  const response = await fetch(spec.modelUrl);
  if (!response.ok) throw new Error(`${spec.modelUrl}: HTTP ${response.status}`);
  const json = await response.json() as Parameters<typeof loadTfjsModel>[2];
  const model = await loadTfjsModel({ tf, layers: tf, converter: tf }, tf.io.browserHTTPRequest(spec.modelUrl), json, spec.modelUrl, async () => {
    // Imported here, not above: it needs the UMD `tf`, which ONNX pages do not load.
    (await import('../tfjs-custom-layers.js')).registerBisenetLayers(tf);
  });
  return {
    backend: spec.backend,
    device: `${await tfjsDevice(backend)} (${model.kind})`,
    inputName: model.inputName,
    outputNames: [...model.outputNames],
    async run(input) {
      if (tf.getBackend() !== backend) await tf.setBackend(backend);
      return runLoaded(tf, model, { [model.inputName]: input }, spec.backend, spec.modelUrl);
    },
    async dispose() { model.dispose(); },
  };
}

/** What a tfjs backend runs on, with the settings that change its arithmetic. */
async function tfjsDevice(backend: string): Promise<string> {
  const env = tf.env();
  if (backend === 'webgl') {
    const gl = (tf.backend() as unknown as { gpgpu: { gl: WebGLRenderingContext } }).gpgpu.gl;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    const f16 = env.getBool('WEBGL_FORCE_F16_TEXTURES') || !env.getBool('WEBGL_RENDER_FLOAT32_ENABLED');
    return `WebGL${env.getNumber('WEBGL_VERSION')} ${renderer}, ${f16 ? 'float16' : 'float32'} textures, ${env.getBool('WEBGL_PACK') ? 'packed' : 'unpacked'}`;
  }
  if (backend === 'webgpu') return `WebGPU ${await webgpuAdapterName()}`;
  const simd = await env.getAsync('WASM_HAS_SIMD_SUPPORT');
  return `WebAssembly${simd ? ' SIMD' : ''}, ${tf.wasm.getThreadsCount()} thread(s)`;
}

function toOrtTensor(a: NdArray): OrtNs.Tensor {
  if (a.dtype !== 'float32') throw new Error(`inputs of dtype ${a.dtype} are not supported; use float32`);
  return new ort.Tensor('float32', a.data as Float32Array, a.shape);
}

function fromOrtTensor(t: OrtNs.Tensor): NdArray {
  const shape = t.dims.map(Number);
  if (t.type === 'float32') return { dtype: 'float32', shape, data: Float32Array.from(t.data as Float32Array) };
  if (t.type === 'int64') return { dtype: 'int64', shape, data: BigInt64Array.from(t.data as BigInt64Array) };
  if (t.type === 'int32') return { dtype: 'int32', shape, data: Int32Array.from(t.data as Int32Array) };
  throw new Error(`output of type ${t.type} is not supported`);
}

async function openOrt(spec: EngineSpec): Promise<Engine> {
  ort.env.wasm.wasmPaths = '/vendor/onnxruntime-web/';
  ort.env.wasm.numThreads = spec.threads ?? threadsOffered();
  ort.env.logLevel = 'error';
  let device: string;
  let ep: OrtNs.InferenceSession.ExecutionProviderConfig;
  if (spec.backend === 'ort-webgpu') {
    device = `WebGPU ${await webgpuAdapterName()}, NCHW layout`;
    // onnxruntime-web 1.30's WebGPU EP computes grouped convs wrongly in its default NHWC layout
    // (docs/gpu.md); NCHW is the workaround, as in Node's ort-webgpu.
    ep = { name: 'webgpu', preferredLayout: 'NCHW' } as OrtNs.InferenceSession.ExecutionProviderConfig;
  } else {
    device = `WebAssembly SIMD, ${ort.env.wasm.numThreads} thread(s)`;
    ep = 'wasm';
  }
  const session = await ort.InferenceSession.create(spec.modelUrl, { executionProviders: [ep], graphOptimizationLevel: 'all' });
  return {
    backend: spec.backend,
    device,
    inputName: session.inputNames[0]!,
    outputNames: [...session.outputNames],
    async run(input) {
      const result = await session.run({ [session.inputNames[0]!]: toOrtTensor(input) });
      const out: Record<string, NdArray> = {};
      for (const name of session.outputNames) {
        const t = result[name] as OrtNs.Tensor;
        out[name] = fromOrtTensor(t);
        t.dispose?.();
      }
      return out;
    },
    async dispose() { await session.release(); },
  };
}

type LiteRtNs = typeof import('@litertjs/core');
let litert: Promise<LiteRtNs> | null = null;

/** LiteRT.js in the page: its ES module (import map), and the wasm build it picks for this browser (threads where isolated). */
async function openLitert(spec: EngineSpec): Promise<Engine> {
  litert ??= (async () => {
    const lrt = await import('@litertjs/core');
    await lrt.loadLiteRt(LITERT_WASM_DIR, { threads: crossOriginIsolated && (spec.threads ?? 2) > 1 });
    return lrt;
  })();
  const lrt = await litert;
  const gpu = spec.backend === 'litert-webgpu';
  const device = gpu ? `WebGPU ${await webgpuAdapterName()}` : `LiteRT.js wasm (XNNPACK), ${crossOriginIsolated ? 'threaded build' : '1 thread'}`;
  const response = await fetch(spec.modelUrl);
  if (!response.ok) throw new Error(`${spec.modelUrl}: HTTP ${response.status}`);
  const model = await lrt.loadAndCompile(new Uint8Array(await response.arrayBuffer()), { accelerator: gpu ? 'webgpu' : 'wasm' });
  if (gpu && !model.isFullyAccelerated) { model.delete(); throw new Error('LiteRT could not run the whole model on WebGPU (it would fall back to wasm)'); }
  const input = model.getInputDetails()[0]!;
  const outputs = model.getOutputDetails();
  return {
    backend: spec.backend,
    device,
    inputName: input.name,
    outputNames: outputs.map((o) => o.name),
    fixedInput: [input.shape[0]!, input.shape[3]!, input.shape[1]!, input.shape[2]!],
    async run(x) {
      const want = [input.shape[0], input.shape[3], input.shape[1], input.shape[2]];
      if (x.shape.join() !== want.join()) throw new Error(`the model takes input ${want.join('×')} only (fixed when converting: --shapes), given ${x.shape.join('×')}`);
      const nhwc = toNhwc(x);
      const t = new lrt.Tensor(nhwc.data as Float32Array, nhwc.shape);
      const results = await model.run([t]);
      t.delete();
      const out: Record<string, NdArray> = {};
      for (let i = 0; i < results.length; i++) {
        const r = gpu ? await results[i]!.moveTo('wasm') : results[i]!;
        const data = r.toTypedArray();
        const shape = [...outputs[i]!.shape];
        out[outputs[i]!.name] = data instanceof Int32Array ? { dtype: 'int32', shape, data: data.slice() } : toNchw(shape, data as Float32Array);
        r.delete();
      }
      return out;
    },
    async dispose() { model.delete(); },
  };
}

/** Opens a model on a backend; throws an Error with a one-line message where the browser cannot. */
export async function openEngine(spec: EngineSpec): Promise<Engine> {
  if (spec.backend.startsWith('litert-')) return openLitert(spec);
  return spec.backend.startsWith('tfjs-') ? openTfjs(spec) : openOrt(spec);
}


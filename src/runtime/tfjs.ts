/**
 * TensorFlow.js runners: `tfjs-wasm` (@tensorflow/tfjs-backend-wasm, XNNPACK, SIMD) and
 * `tfjs-cpu` (@tensorflow/tfjs-backend-cpu, plain JS), loading our layers and graph models from
 * the file system without tfjs-node. The runner interface is NCHW; tfjs runs NHWC: the layout is
 * converted in one place, `toNhwc`/`toNchw` of ./layout.js (which browser pages import too).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as TfcNs from '@tensorflow/tfjs-core';
import type * as TflNs from '@tensorflow/tfjs-layers';
import type * as TfconvNs from '@tensorflow/tfjs-converter';
import { METADATA_KEY, type BisenetTfjsMetadata } from '../emit/tfjs-common.js';
import { fail } from '../util/errors.js';
import { checkAmplification } from '../model-check/tfjs.js';
import { checkModelJson, memoryWeights, parseModelJson, readDirWeights, readModelJson, type ModelJson } from '../model-file/tfjs.js';
import { loadTfjsModel, runLoaded, type Loaded } from './tfjs-model.js';
import { platformHasWasmThreads, prepareWasmThreads, releaseWasmThreadWorkers, type WasmThreads } from './tfjs-wasm-threads.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';

export { toNchw, toNhwc } from './layout.js';
export { runLoaded, type Loaded } from './tfjs-model.js';

type Tfc = typeof TfcNs;
type Backend = 'wasm' | 'cpu';

export interface Tfjs { tf: Tfc; layers: typeof TflNs; converter: typeof TfconvNs }
let tfjsPromise: Promise<Tfjs> | null = null;

/** tfjs, loaded once (it is heavy, and only tfjs models need it). */
async function loadTfjs(): Promise<Tfjs> {
  tfjsPromise ??= (async () => {
    try {
      const tf = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-backend-cpu');
      await import('@tensorflow/tfjs-backend-wasm');
      const layers = await import('@tensorflow/tfjs-layers');
      const converter = await import('@tensorflow/tfjs-converter');
      return { tf, layers, converter };
    } catch (e) {
      tfjsPromise = null;
      return fail('runtime', `TensorFlow.js is not available: ${(e as Error).message}`);
    }
  })();
  return tfjsPromise;
}

let wasmPathsSet = false;
/** The wasm build that started and its thread count (the backend starts once per process). */
let wasmBuild: WasmThreads | null = null;

/** Makes `backend` the active tfjs backend (initializing it the first time; wasm with `threads` threads). */
async function useBackend(tf: Tfc, backend: Backend, threads = 1): Promise<void> {
  let undoThreads: (() => void) | null = null;
  if (backend === 'wasm' && !wasmPathsSet) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // In Node the .wasm binaries are read from the package's dist/ folder by file path.
    const require = createRequire(import.meta.url);
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
    wasm.setWasmPaths(dist);
    wasmPathsSet = true;
    const missing = threads > 1 ? platformHasWasmThreads() : 'one thread asked for';
    if (!missing) undoThreads = prepareWasmThreads(tf, wasm, threads);
    wasmBuild = { build: 'simd', threads: 1, why: missing ?? undefined };
  }
  if (tf.getBackend() !== backend) {
    let ok = false;
    try { ok = await tf.setBackend(backend); } catch (e) { fail('runtime', `tfjs backend ${backend} failed to start: ${(e as Error).message}`); } finally { undoThreads?.(); }
    if (!ok) fail('runtime', `tfjs backend ${backend} failed to start`);
  }
  await tf.ready();
  if (undoThreads) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasmBuild = { build: 'threaded-simd', threads: wasm.getThreadsCount() };
  }
  // The cpu backend greets Node users with advice to install tfjs-node on its first write; not ours to print.
  const b = tf.backend() as unknown as { firstUse?: boolean };
  if (backend === 'cpu' && b.firstUse) b.firstUse = false;
}

// ---------------------------------------------------------------------------------------------
// Model files: read in the model-file room (../model-file/tfjs.ts), handed to tfjs through an IOHandler

/**
 * A tfjs IOHandler over a model's files (what tfjs-node's file:// handler does, without tfjs-node):
 * model.json as the room read it (`read`; read here from `modelPath` where not given) and its weight shards,
 * read by the room under its shard rules (relative to model.json, inside its directory), or the model's
 * `files` held in memory (a converted checkpoint's).
 */
export function fileSystemHandler(tf: Tfc, modelPath: string, files?: ReadonlyMap<string, Uint8Array>, read?: { file: string; json: ModelJson }): TfcNs.io.IOHandler {
  return {
    async load() {
      if (files) {
        const json = files.get('model.json');
        if (!json) fail('usage', `${modelPath}: the in-memory model has no model.json`);
        const parsed = read?.json ?? parseModelJson(json!, modelPath);
        return tf.io.getModelArtifactsForJSON(parsed as unknown as TfcNs.io.ModelJSON, async (manifest) => memoryWeights(modelPath, parsed, manifest, files));
      }
      const { file, json } = read ?? readModelJson(modelPath);
      return tf.io.getModelArtifactsForJSON(json as unknown as TfcNs.io.ModelJSON, async (manifest) => readDirWeights(file, json, manifest));
    },
  };
}


// ---------------------------------------------------------------------------------------------
// Runners

/**
 * Loads a tfjs model: from `files` in memory, else from the model.json the caller read (`read`: src/model-file,
 * checked here to be one), else read here through the model-file room; each model.json read once.
 */
export async function loadModel(t: Tfjs, modelPath: string, files?: ReadonlyMap<string, Uint8Array>, expose?: 'all' | string[], read?: RunnerOptions['tfjs']): Promise<Loaded> {
  const inMemory = files?.has('model.json') ?? false;
  const { file, json } = inMemory ? { file: modelPath, json: parseModelJson(files!.get('model.json')!, modelPath) }
    : read ? { file: read.file, json: checkModelJson(read.json, read.file) } : readModelJson(modelPath);
  // Checked before tfjs builds anything: the recorded names' schema, and constant size factors.
  recordedIo(json.userDefinedMetadata?.[METADATA_KEY], file);
  checkAmplification(json, file);
  const handler = fileSystemHandler(t.tf, modelPath, files, { file, json });
  return loadTfjsModel(t, handler, json, file, async () => { (await import('../tfjs-custom-layers.js')).registerBisenetLayers(); }, expose);
}

/**
 * tfjs-wasm threads: 1 (the SIMD build), unless BISENET_WASM_THREADS=N asks for the threaded build
 * (./tfjs-wasm-threads.ts). Experimental, not tied to --threads: 1.6–1.9× faster at 512×1024 on the idle
 * 2-core VM, slower than one thread when its cores are shared (docs/performance.md, "tfjs-wasm and threads").
 */
function wasmThreadsFromEnv(): number {
  const n = Number(process.env.BISENET_WASM_THREADS);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/** The input and output names a model records, checked: a string and a short list of strings, or absent. */
function recordedIo(raw: unknown, file: string): Pick<BisenetTfjsMetadata, 'input' | 'outputs'> | null {
  if (raw === undefined || raw === null) return null;
  const bad = (why: string): never => fail('format', `${file}: userDefinedMetadata.${METADATA_KEY} ${why}`);
  if (typeof raw !== 'object' || Array.isArray(raw)) bad('is not an object');
  const m = raw as Record<string, unknown>;
  if (m.input !== undefined && (typeof m.input !== 'string' || m.input.length > 200)) bad('has an input name that is not a string');
  if (m.outputs !== undefined && !(Array.isArray(m.outputs) && m.outputs.length >= 1 && m.outputs.length <= 64 && m.outputs.every((o) => typeof o === 'string' && o.length <= 200))) {
    bad('has outputs that are not a list of names');
  }
  return { input: m.input as string, outputs: m.outputs as string[] };
}

function makeRuntime(backend: Backend): RuntimeInfo {
  const id = `tfjs-${backend}`;
  return {
    id,
    inMemory: true,
    async load(modelPath: string, opts: RunnerOptions): Promise<Runner> {
      const t = await loadTfjs();
      await useBackend(t.tf, backend, wasmThreadsFromEnv());
      const model = await loadModel(t, modelPath, opts.files, opts.expose, opts.tfjs);
      const simd = backend === 'wasm' && (await t.tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      const w = wasmBuild ?? { build: 'simd', threads: 1 };
      const wasmDevice = w.build === 'threaded-simd' ? `WebAssembly SIMD, threaded build (experimental), ${w.threads} thread${w.threads > 1 ? 's' : ''}` : `WebAssembly${simd ? ' SIMD' : ''}, 1 thread`;
      return {
        runtime: id,
        device: backend === 'wasm' ? `CPU, ${wasmDevice} (${model.kind})` : `CPU, JavaScript (${model.kind})`,
        inputNames: [model.inputName],
        outputNames: [...model.outputNames],
        exposed: model.exposed,
        async run(inputs, runOpts) {
          await useBackend(t.tf, backend);
          return runLoaded(t.tf, model, inputs, id, modelPath, runOpts?.outputs);
        },
        async dispose() { model.dispose(); releaseWasmThreadWorkers(); },
      };
    },
  };
}

export const tfjsWasm: RuntimeInfo = makeRuntime('wasm');
export const tfjsCpu: RuntimeInfo = makeRuntime('cpu');

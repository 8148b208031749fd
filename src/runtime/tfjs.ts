/**
 * TensorFlow.js runners: `tfjs-wasm` (@tensorflow/tfjs-backend-wasm, XNNPACK, SIMD) and
 * `tfjs-cpu` (@tensorflow/tfjs-backend-cpu, plain JS), loading our layers and graph models from
 * the file system without tfjs-node. The runner interface is NCHW; tfjs runs NHWC: the layout is
 * converted in one place, `toNhwc`/`toNchw` of ./layout.js (which browser pages import too).
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as TfcNs from '@tensorflow/tfjs-core';
import type * as TflNs from '@tensorflow/tfjs-layers';
import type * as TfconvNs from '@tensorflow/tfjs-converter';
import { METADATA_KEY, type BisenetTfjsMetadata } from '../emit/tfjs-common.js';
import { fail } from '../util/errors.js';
import { readFileChecked, regularFileSize, resolveInside } from '../util/fs.js';
import { LIMITS } from '../util/limits.js';
import { escapeText, render, shapeText } from '../util/render.js';
import { parseJsonBounded } from '../util/json.js';
import { bytesPerValue, checkAmplification, checkTfjsConstants, type ModelJson } from '../model-check/tfjs.js';
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
// Model files

/** The model.json of a tfjs model given as its directory or the file itself. */
export function modelJsonPath(modelPath: string): string {
  try {
    if (fs.statSync(modelPath).isDirectory()) return path.join(modelPath, 'model.json');
  } catch { /* not there: reported by the reader */ }
  return modelPath;
}


export function readModelJson(modelPath: string): { file: string; json: ModelJson } {
  const file = modelJsonPath(modelPath);
  return { file, json: parseModelJson(readFileChecked(file, 'TensorFlow.js model.json'), file) };
}

export function parseModelJson(bytes: Uint8Array, file: string): ModelJson {
  const json = parseJsonBounded(Buffer.from(bytes).toString('utf8'), file, 'model.json') as ModelJson;
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !json.modelTopology) fail('format', `${file}: not a TensorFlow.js model.json (no modelTopology)`);
  return json;
}

const QUANT_DTYPES = new Set(['uint8', 'uint16', 'float16']);

/**
 * Validates a weights manifest and joins its shards into one buffer, before tfjs sees either:
 * every group has string paths inside the model directory, every weight a name, a known dtype, a
 * shape of sizes and a well-formed quantization, and the shards hold exactly the bytes described.
 */
export function assembleWeights(file: string, manifest: unknown, readShard: (relPath: string) => Uint8Array,
  shardSize?: (relPath: string) => number): [TfcNs.io.WeightsManifestEntry[], ArrayBuffer] {
  if (!Array.isArray(manifest)) fail('format', `${file}: weightsManifest must be a list of groups`);
  const specs: TfcNs.io.WeightsManifestEntry[] = [];
  const paths: string[] = [];
  const seen = new Set<string>();
  let expected = 0;
  for (const group of manifest as unknown[]) {
    const g = group as { paths?: unknown; weights?: unknown };
    if (typeof g !== 'object' || g === null || !Array.isArray(g.paths) || !Array.isArray(g.weights)) fail('format', `${file}: a weights group needs "paths" and "weights" lists`);
    for (const w of g.weights as unknown[]) {
      const e = w as TfcNs.io.WeightsManifestEntry;
      if (typeof e !== 'object' || e === null || typeof e.name !== 'string') fail('format', `${file}: a weight entry has no name`);
      if (!Array.isArray(e.shape) || e.shape.length > LIMITS.rank || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail('format', `${file}: weight ${escapeText(e.name, 200)} has an invalid shape`);
      const q = e.quantization;
      if (q !== undefined && (typeof q !== 'object' || q === null || !QUANT_DTYPES.has(q.dtype)
        || (q.dtype !== 'float16' && !(Number.isFinite(q.scale) && Number.isFinite(q.min))))) fail('format', `${file}: weight ${escapeText(e.name, 200)} has an invalid quantization`);
      const n = e.shape.reduce((a, b) => a * b, 1);
      expected += n * bytesPerValue(e);
      if (!Number.isSafeInteger(expected)) fail('format', `${file}: weight ${escapeText(e.name, 200)} of shape ${shapeText(e.shape)} is too large`);
      specs.push(e);
    }
    for (const p of g.paths as unknown[]) {
      if (typeof p !== 'string' || p.length === 0 || path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) fail('format', `${file}: weight shard path ${typeof p === 'string' ? escapeText(p, 200) : render(p)} leaves the model directory`);
      if (seen.has(path.normalize(p))) fail('format', `${file}: weight shard ${escapeText(p, 200)} is listed more than once`);
      paths.push(path.normalize(p));
      seen.add(path.normalize(p));
    }
  }
  // Sizes first (stat, no reading), so a manifest cannot make us read more than it describes.
  if (shardSize) {
    let onDisk = 0;
    for (const p of paths) onDisk += shardSize(p);
    if (onDisk !== expected) fail('format', `${file}: weight shards hold ${onDisk} bytes, the manifest describes ${expected}`);
  }
  const buffers = paths.map((p) => readShard(p));
  const total = buffers.reduce((s, b) => s + b.byteLength, 0);
  if (total !== expected) fail('format', `${file}: weight shards hold ${total} bytes, the manifest describes ${expected}`);
  const all = new Uint8Array(total);
  let o = 0;
  for (const b of buffers) { all.set(b, o); o += b.byteLength; }
  return [specs, all.buffer];
}

/**
 * A tfjs IOHandler that reads model.json and its weight shards from the file system (what
 * tfjs-node's file:// handler does, without tfjs-node). Shard paths are relative to model.json and
 * must stay inside its directory.
 */
export function fileSystemHandler(tf: Tfc, modelPath: string, files?: ReadonlyMap<string, Uint8Array>): TfcNs.io.IOHandler {
  return {
    async load() {
      if (files) return memoryArtifacts(tf, modelPath, files);
      const { file, json } = readModelJson(modelPath);
      return tf.io.getModelArtifactsForJSON(json as unknown as TfcNs.io.ModelJSON, async (manifest) => readDirWeights(file, json, manifest));
    },
  };
}

/**
 * The weights of a model directory (the one `file`, its model.json, is in), read under the shard rules — real paths,
 * so that a shard that is a link out of the directory is refused too; regular files; sizes before reading — and
 * the constants in them checked (checkTfjsConstants). `onShard` sees each shard as it is read (the browser route).
 */
export function readDirWeights(file: string, json: ModelJson, manifest: unknown,
  onShard?: (relPath: string, bytes: Uint8Array) => void): [TfcNs.io.WeightsManifestEntry[], ArrayBuffer] {
  const dir = path.dirname(path.resolve(file));
  const shard = (p: string): string => resolveInside(dir, p, 'weight shard', file);
  const [specs, data] = assembleWeights(file, manifest, (p) => {
    const bytes = readFileChecked(shard(p), 'weight shard');
    onShard?.(p, bytes);
    return bytes;
  }, (p) => regularFileSize(shard(p), 'weight shard'));
  checkTfjsConstants(json, specs, data, file);
  return [specs, data];
}

/** The same from a model held in memory (`files`: model.json and its shards by name; a converted checkpoint). */
function memoryArtifacts(tf: Tfc, label: string, files: ReadonlyMap<string, Uint8Array>): Promise<TfcNs.io.ModelArtifacts> {
  const json = files.get('model.json');
  if (!json) fail('usage', `${label}: the in-memory model has no model.json`);
  const parsed = parseModelJson(json!, label);
  return tf.io.getModelArtifactsForJSON(parsed as unknown as TfcNs.io.ModelJSON, async (manifest) => {
    const [specs, data] = assembleWeights(label, manifest, (p) => files.get(p) ?? fail('format', `${label}: weight shard ${p} is missing`));
    checkTfjsConstants(parsed, specs, data, label);
    return [specs, data];
  });
}


// ---------------------------------------------------------------------------------------------
// Runners

export async function loadModel(t: Tfjs, modelPath: string, files?: ReadonlyMap<string, Uint8Array>, expose?: 'all' | string[]): Promise<Loaded> {
  const { file, json } = files?.has('model.json') ? { file: modelPath, json: parseModelJson(files.get('model.json')!, modelPath) } : readModelJson(modelPath);
  // Checked before tfjs builds anything: the recorded names' schema, and constant size factors.
  recordedIo(json.userDefinedMetadata?.[METADATA_KEY], file);
  checkAmplification(json, file);
  return loadTfjsModel(t, fileSystemHandler(t.tf, modelPath, files), json, file, async () => { (await import('../tfjs-custom-layers.js')).registerBisenetLayers(); }, expose);
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
      const model = await loadModel(t, modelPath, opts.files, opts.expose);
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

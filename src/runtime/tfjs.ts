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
import type { NdArray } from '../util/ndarray.js';
import { broadcastShape, constantTensorBudget, MAX_AMPLIFICATION, MAX_BROADCAST_CONSTANT, MAX_PAD, product } from './model-bounds.js';
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

interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: TfcNs.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
  [k: string]: unknown;
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

function bytesPerValue(w: TfcNs.io.WeightsManifestEntry): number {
  const q = w.quantization?.dtype;
  if (q === 'uint8') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  if (w.dtype === 'float32' || w.dtype === 'int32') return 4;
  if (w.dtype === 'bool') return 1;
  return fail('format', `weight ${w.name}: dtype ${w.dtype} is not supported`);
}

// ---------------------------------------------------------------------------------------------
// Runners

export async function loadModel(t: Tfjs, modelPath: string, files?: ReadonlyMap<string, Uint8Array>, expose?: 'all' | string[]): Promise<Loaded> {
  const { file, json } = files?.has('model.json') ? { file: modelPath, json: parseModelJson(files.get('model.json')!, modelPath) } : readModelJson(modelPath);
  // Checked before tfjs builds anything: the recorded names' schema, and constant size factors.
  recordedIo(json.userDefinedMetadata?.[METADATA_KEY], file);
  checkAmplification(json, file);
  return loadTfjsModel(t, fileSystemHandler(t.tf, modelPath, files), json, file, async () => { (await import('../tfjs.js')).registerBisenetLayers(); }, expose);
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

/**
 * Layers that multiply their input's size by constants written in the model (UpSampling2D size, Tile
 * reps) are bounded before tfjs builds anything: BiSeNetV2 upsamples by at most 32×32 per layer, so a
 * model asking for more (an UpSampling2D of 500×500) is refused rather than run into gigabytes.
 */
export function checkAmplification(json: ModelJson, file: string): void {
  checkTopology(json, file);
  const topo = json.modelTopology as { model_config?: { config?: { layers?: unknown } }; config?: { layers?: unknown }; node?: unknown } | undefined;
  const layers = topo?.model_config?.config?.layers ?? topo?.config?.layers;
  if (Array.isArray(layers)) {
    for (const l of layers as { class_name?: unknown; config?: { size?: unknown; name?: unknown } }[]) {
      const size = l?.config?.size;
      const scale = (l?.config as { scale?: unknown } | undefined)?.scale;
      if (l?.class_name === 'BisenetResize' && typeof scale === 'number' && !(scale * scale <= MAX_AMPLIFICATION)) {
        fail('security', `${file}: layer ${render(l.config?.name)} resizes by ${scale}, more than ${MAX_AMPLIFICATION}× in area (the model would need unbounded memory)`);
      }
      if (l?.class_name === 'UpSampling2D' && Array.isArray(size)) {
        const f = size.reduce((a: number, b) => a * (typeof b === 'number' ? b : Infinity), 1);
        if (!(f <= MAX_AMPLIFICATION)) fail('security', `${file}: layer ${render(l.config?.name)} upsamples by ${render(size)}, more than ${MAX_AMPLIFICATION}× in area (the model would need unbounded memory)`);
      }
    }
  }
  if (Array.isArray(topo?.node)) {
    for (const n of topo!.node as { op?: unknown; name?: unknown }[]) {
      if (n?.op === 'Tile') fail('security', `${file}: node ${render(n.name)} is a Tile, whose output size the model's constants set; refused (BiSeNetV2 has none)`);
    }
  }
}

/** A number or a list of numbers, each a positive integer of sane size. */
const positiveInts = (v: unknown): boolean => (Array.isArray(v) ? v.length >= 1 && v.length <= 8 && v.every(positiveInt) : positiveInt(v));
const positiveInt = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 65536;

/** Graph ops whose output has the broadcast shape of their inputs. */
const TF_ELEMENTWISE = new Set(['Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Div', 'Maximum', 'Minimum', 'SquaredDifference', 'Pow', 'FloorDiv', 'FloorMod',
  'Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr', 'Select', 'SelectV2', 'AddN']);

/** The activations and adds tfjs computes inside a fused conv or matmul. */
const FUSED_OPS = new Set(['BiasAdd', 'Relu', 'Relu6', 'Prelu', 'LeakyRelu', 'Sigmoid', 'Elu']);

/** The node a graph-model input names: `name`, `name:1` (an output index) or `^name` (a control dependency). */
const producerOf = (input: string): string => input.replace(/^\^/, '').replace(/:\d+$/, '');

/** Graph ops that build loops (TF's while): BiSeNetV2 has none, and their work cannot be bounded statically. */
const LOOP_OPS = new Set(['Enter', 'Exit', 'NextIteration', 'LoopCond', 'While', 'StatelessWhile']);

/**
 * The model's wiring, checked before tfjs walks it: every layer or node a connection names exists, node and
 * tensor indices are in range, names are unique, and there is no cycle (tfjs loops forever on a layers model
 * whose inbound nodes form one, and fails inside on a graph model's). Linear in the size of the topology.
 */
export function checkTopology(json: ModelJson, file: string): void {
  const topo = json.modelTopology as { node?: unknown; config?: { layers?: unknown; input_layers?: unknown; output_layers?: unknown } } | undefined;
  const bad = (why: string): never => fail('format', `${file}: ${why}`);
  // Without weights tfjs would run the layers with fresh random initialisers: a model, but not this one.
  if (!Array.isArray(json.weightsManifest) || json.weightsManifest.length === 0) bad('no weightsManifest (the model has no weights)');
  const edges = new Map<string, string[]>(); // node → the nodes it reads
  const layers = topo?.config?.layers;
  if (Array.isArray(layers)) {
    const nodeCount = new Map<string, number>();
    for (const l of layers as { name?: unknown; inbound_nodes?: unknown }[]) {
      if (typeof l?.name !== 'string') bad('a layer has no name');
      if (nodeCount.has(l.name as string)) bad(`layer ${render(l.name)} is defined twice`);
      if (l.inbound_nodes !== undefined && !Array.isArray(l.inbound_nodes)) bad(`layer ${render(l.name)}: inbound_nodes is not a list`);
      nodeCount.set(l.name as string, Math.max(1, (l.inbound_nodes as unknown[] | undefined)?.length ?? 0));
      // Window sizes, strides and dilations must be positive (XNNPACK prints its own errors on zeros, tfjs loops on some).
      const cfg = (l as { config?: Record<string, unknown> }).config ?? {};
      for (const key of ['strides', 'kernel_size', 'pool_size', 'dilation_rate']) {
        const v = cfg[key];
        if (v !== undefined && v !== null && !positiveInts(v)) bad(`layer ${render(l.name)}: ${key} ${render(v)} is not a list of positive integers (at most 65536)`);
      }
    }
    const ref = (where: string, r: unknown): string => {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || !Number.isSafeInteger(r[1]) || !Number.isSafeInteger(r[2])) return bad(`${where}: a connection is not [layer, node index, tensor index]`);
      const [name, node, tensor] = r as [string, number, number];
      const n = nodeCount.get(name);
      if (n === undefined) bad(`${where} reads layer ${render(name)}, which the model does not define`);
      if (node < 0 || node >= n! || tensor < 0 || tensor > 64) bad(`${where} reads node ${node}, tensor ${tensor} of layer ${render(name)}, which has ${n} node${n === 1 ? '' : 's'}`);
      return name;
    };
    for (const l of layers as { name: string; inbound_nodes?: unknown[] }[]) {
      const from: string[] = [];
      for (const node of l.inbound_nodes ?? []) {
        if (!Array.isArray(node)) bad(`layer ${render(l.name)}: an inbound node is not a list`);
        for (const r of node as unknown[]) from.push(ref(`layer ${render(l.name)}`, r));
      }
      edges.set(l.name, from);
    }
    for (const key of ['input_layers', 'output_layers'] as const) {
      const list = topo!.config![key];
      if (!Array.isArray(list) || list.length === 0) bad(`${key} is missing or empty`);
      for (const r of list as unknown[]) ref(key, r);
    }
  } else if (Array.isArray(topo?.node)) {
    for (const n of topo!.node as { name?: unknown; op?: unknown; input?: unknown }[]) {
      if (typeof n?.name !== 'string') bad('a graph node has no name');
      if (edges.has(n.name as string)) bad(`node ${render(n.name)} is defined twice`);
      const fused = (n as { attr?: { fused_ops?: { list?: { s?: unknown } } } }).attr?.fused_ops?.list?.s;
      if (fused !== undefined) {
        // Names are base64 in model.json; tfjs skips one it does not know, silently computing something else.
        const names = Array.isArray(fused) ? fused.map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64').toString('latin1') : '')) : [''];
        const unknown = names.find((f) => !FUSED_OPS.has(f));
        if (unknown !== undefined) bad(`node ${render(n.name)} fuses ${render(unknown)}, which TensorFlow.js does not compute (known: ${[...FUSED_OPS].join(', ')})`);
      }
      const attr = (n as { attr?: Record<string, { list?: { i?: unknown } }> }).attr ?? {};
      for (const key of ['strides', 'ksize', 'dilations']) {
        const v = attr[key]?.list?.i;
        if (v !== undefined && !(Array.isArray(v) && positiveInts(v.map(Number)))) bad(`node ${render(n.name)}: ${key} ${render(v)} are not positive integers (at most 65536)`);
      }
      if (LOOP_OPS.has(n.op as string)) fail('security', `${file}: node ${render(n.name)} is a ${render(n.op)}, part of a loop whose work the model sets; refused (BiSeNetV2 has no loops)`);
      if (n.input !== undefined && !(Array.isArray(n.input) && n.input.every((i) => typeof i === 'string'))) bad(`node ${render(n.name)}: its inputs are not a list of names`);
      edges.set(n.name as string, ((n.input as string[] | undefined) ?? []).map(producerOf));
    }
    for (const [name, from] of edges) for (const f of from) if (!edges.has(f)) bad(`node ${render(name)} reads ${render(f)}, which the graph does not define`);
  } else {
    return;
  }
  // Kahn's algorithm: whatever is left once every node with all its inputs placed has been placed lies on a cycle.
  const pending = new Map<string, number>();
  const readers = new Map<string, string[]>();
  for (const [name, from] of edges) {
    pending.set(name, from.length);
    for (const f of from) { const r = readers.get(f); if (r) r.push(name); else readers.set(f, [name]); }
  }
  const ready = [...pending].filter(([, k]) => k === 0).map(([n]) => n);
  let placed = 0;
  while (ready.length) {
    const n = ready.pop()!;
    placed++;
    for (const r of readers.get(n) ?? []) {
      const k = pending.get(r)! - 1;
      pending.set(r, k);
      if (k === 0) ready.push(r);
    }
  }
  if (placed < edges.size) {
    const on = [...pending].find(([, k]) => k > 0)![0];
    bad(`the model's connections form a cycle (through ${render(on)}); a model is a graph without cycles`);
  }
}

/**
 * The constants that size tensors in a graph model live in its weights, not its topology: checked once the
 * weights are read, before tfjs builds anything. A resize's target is either a constant [H, W] (bounded by
 * the memory one such tensor may take) or the input's own size times a constant factor (bounded like
 * UpSampling2D); Pad paddings are bounded per side; Fill and BroadcastTo shapes by memory. Layers models carry
 * theirs in the topology (ZeroPadding2D, Conv2DTranspose strides), checked here too.
 */
export function checkTfjsConstants(json: ModelJson, specs: TfcNs.io.WeightsManifestEntry[], data: ArrayBuffer, file: string): void {
  const topo = json.modelTopology as { node?: unknown; config?: { layers?: unknown } } | undefined;
  const tensorBudget = constantTensorBudget();
  const refuse = (what: string, why: string): never => fail('security', `${file}: ${what} ${why}; refused before running (the model would need unbounded memory)`);
  const layers = topo?.config?.layers;
  if (Array.isArray(layers)) {
    for (const l of layers as { class_name?: unknown; config?: { name?: unknown; padding?: unknown; strides?: unknown } }[]) {
      const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flat(2).map((x) => (typeof x === 'number' ? x : Infinity)) : typeof v === 'number' ? [v] : []);
      if (l?.class_name === 'ZeroPadding2D' && flat(l.config?.padding).some((p) => !(Math.abs(p) <= MAX_PAD))) {
        refuse(`layer ${render(l.config?.name)}`, `pads by ${render(l.config?.padding)} (more than ${MAX_PAD} on a side)`);
      }
      if (l?.class_name === 'Conv2DTranspose' && !(product(flat(l.config?.strides)) <= MAX_AMPLIFICATION)) {
        refuse(`layer ${render(l.config?.name)}`, `upsamples by strides ${render(l.config?.strides)}`);
      }
    }
  }
  if (!Array.isArray(topo?.node)) return;
  // int32 constants of at most 64 values, by name: the only ones that size tensors.
  const ints = new Map<string, number[]>();
  let offset = 0;
  for (const w of specs) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const bytes = n * bytesPerValue(w);
    if (w.dtype === 'int32' && !w.quantization && n <= 64 && offset + bytes <= data.byteLength) ints.set(w.name, Array.from(new Int32Array(data.slice(offset, offset + bytes))));
    offset += bytes;
  }
  const nodes = new Map<string, { op?: unknown; name?: unknown; input?: unknown }>();
  for (const n of topo!.node as { op?: unknown; name?: unknown; input?: unknown }[]) if (typeof n?.name === 'string') nodes.set(n.name, n);
  const inputName = (n: { input?: unknown }, i: number): string => {
    const v = Array.isArray(n.input) ? n.input[i] : undefined;
    return typeof v === 'string' ? producerOf(v) : '';
  };
  const constOf = (name: string): number[] | null => (nodes.get(name)?.op === 'Const' ? ints.get(name) ?? null : null);
  // Shapes of tensors made only from constants (weights, and elementwise ops on them): a broadcast of two small
  // constants can be huge ([S, 1] + [1, S]).
  const shapeOf = new Map<string, number[]>(specs.map((w) => [w.name, w.shape]));
  for (const n of nodes.values()) {
    const what = `node ${render(n.name)} (${render(n.op)})`;
    if (TF_ELEMENTWISE.has(n.op as string) && Array.isArray(n.input) && n.input.length >= 2) {
      const shapes = (n.input as unknown[]).map((_, i) => shapeOf.get(inputName(n, i)));
      if (shapes.every((x) => x !== undefined)) {
        const shape = broadcastShape(shapes as number[][]);
        if (4 * product(shape) > tensorBudget) refuse(what, `broadcasts constants to ${render(shape)}`);
        shapeOf.set(n.name as string, shape);
      } else {
        // Against run-time data the result is at least the constant times what the data brings: large ones are refused.
        const big = shapes.find((x) => x !== undefined && product(x) > MAX_BROADCAST_CONSTANT);
        if (big) refuse(what, `broadcasts a constant of shape ${render(big)} against run-time data (more than ${MAX_BROADCAST_CONSTANT} values)`);
      }
    }
    switch (n.op) {
      case 'ResizeBilinear': case 'ResizeNearestNeighbor': {
        const sizeName = inputName(n, 1);
        const size = constOf(sizeName);
        if (size && 4 * product(size) > tensorBudget) refuse(what, `resizes to ${render(size)}`);
        const sizeNode = nodes.get(sizeName);
        if (sizeNode?.op === 'Mul') {
          for (const i of [0, 1]) {
            const factor = constOf(inputName(sizeNode, i));
            if (factor && !(product(factor) <= MAX_AMPLIFICATION)) refuse(what, `resizes by ${render(factor)}, more than ${MAX_AMPLIFICATION}× in area`);
          }
        }
        break;
      }
      case 'Pad': case 'PadV2': case 'MirrorPad': {
        const pads = constOf(inputName(n, 1));
        if (pads && pads.some((p) => !(Math.abs(p) <= MAX_PAD))) refuse(what, `pads by ${render(pads)} (more than ${MAX_PAD} on a side)`);
        break;
      }
      case 'Fill': case 'BroadcastTo': {
        const shape = constOf(inputName(n, n.op === 'Fill' ? 0 : 1));
        if (shape && 4 * product(shape) > tensorBudget) refuse(what, `makes a tensor of shape ${render(shape)}`);
        break;
      }
      default:
    }
  }
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

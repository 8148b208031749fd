import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Target } from '../emit/targets.js';
import { fail, isBisenetError } from '../util/errors.js';
import { chromiumProbe, chromiumRuntime } from './chromium.js';
import { ortCpu } from './ort.js';
import { ortWebgpu, ortWebgpuDefault } from './ort-web.js';
import { installLine, isInstalled, missingPackages } from './packages.js';
import { findTrtexec, tensorrt, TENSORRT_MISSING } from './tensorrt.js';
import { reference } from './reference.js';
import { tfjsCpu, tfjsWasm } from './tfjs.js';
import { tfjsWebgpu } from './tfjs-webgpu.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';
import { openAdapter } from './webgpu.js';

export type { Runner, RunnerOptions, RuntimeInfo } from './types.js';
export { installLine, isInstalled, missingPackages } from './packages.js';

/** Which parity bar a runtime is held to by `doctor` and `gpu-check` (numbers: src/check/runtimes.ts). */
export type ToleranceClass = 'cpu' | 'gpu';

export interface Availability {
  available: boolean;
  /** the adapter or device where available, else why not */
  detail: string;
}

/** What the registry knows of a runtime besides how to load a model: one entry per runtime, below. */
export interface RuntimeMeta {
  /** The model format it loads, which `doctor` converts the checkpoint to for it ('checkpoint': it runs the checkpoint itself). */
  model: Target | 'checkpoint';
  /** Runs on a GPU (never a default; held to the GPU tolerance unless `tolerance` says otherwise). */
  gpu: boolean;
  tolerance: ToleranceClass;
  /** Optional packages it needs (peerDependencies marked optional): missing ones stop it with their `npm i` line. */
  packages: string[];
  /** May be picked when `--runtime` is not given (the first default that accepts the model wins). */
  default: boolean;
  /** Timed by `gpu-check` at full size by default (false: too slow; parity only). */
  timed: boolean;
  /** Known to fail parity, and why: reported, not counted against a check. */
  knownFailure?: string;
  /** Whether it can run here, without loading a model (its packages are checked before this is called). */
  probe(opts: RunnerOptions): Promise<Availability>;
}

export type RuntimeEntry = RuntimeInfo & RuntimeMeta;

const entry = (r: RuntimeInfo, meta: RuntimeMeta): RuntimeEntry => ({ ...r, ...meta });

/** Available where a module imports; `what` names it in the reason when it does not. */
const importProbe = (what: string, load: () => Promise<unknown>, detail: () => string) => async (): Promise<Availability> => {
  try { await load(); return { available: true, detail: detail() }; } catch (e) {
    return { available: false, detail: `${what} failed to load: ${(e as Error).message.split('\n')[0] ?? 'failed'}` };
  }
};

/** The WebGPU runtimes share one adapter probe per `--device`. */
const webgpuProbes = new Map<string, Promise<Availability>>();
const webgpuProbe = async (opts: RunnerOptions): Promise<Availability> => {
  const key = opts.device ?? '';
  let p = webgpuProbes.get(key);
  if (!p) {
    p = openAdapter(opts.device).then((a) => ({ available: true, detail: a.label }),
      (e: unknown) => ({ available: false, detail: isBisenetError(e) ? e.message : String(e) }));
    webgpuProbes.set(key, p);
  }
  return p;
};

const ortNodeProbe = importProbe('onnxruntime-node', () => import('onnxruntime-node'), () => `CPU (${os.availableParallelism()} threads)`);
const tfjsProbe = (detail: string) => importProbe('TensorFlow.js', () => import('@tensorflow/tfjs-core'), () => detail);

const CHROMIUM_TFJS_PACKAGES = ['playwright-core', '@tensorflow/tfjs-backend-webgl', '@tensorflow/tfjs-backend-webgpu'];
const CHROMIUM_ORT_PACKAGES = ['playwright-core', 'onnxruntime-web'];

/**
 * Every runtime the tool knows, by id, in one table that `--runtime`, the CLI help, `doctor` and
 * `gpu-check` read. Adding a runtime is adding its entry here (its runner lives in its own file).
 */
export const RUNTIMES: RuntimeEntry[] = [
  entry(ortCpu, { model: 'onnx', gpu: false, tolerance: 'cpu', packages: [], default: true, timed: true, probe: ortNodeProbe }),
  entry(tfjsWasm, { model: 'tfjs-graph', gpu: false, tolerance: 'cpu', packages: [], default: true, timed: true, probe: tfjsProbe('CPU, WebAssembly, 1 thread') }),
  entry(tfjsCpu, { model: 'tfjs-graph', gpu: false, tolerance: 'cpu', packages: [], default: false, timed: false, probe: tfjsProbe('CPU, JavaScript') }),
  // GPU runtimes (WebGPU through dawn.node; TensorRT through trtexec): never a default, named with --runtime.
  entry(ortWebgpu, { model: 'onnx', gpu: true, tolerance: 'gpu', packages: ['onnxruntime-web', 'webgpu'], default: false, timed: true, probe: webgpuProbe }),
  entry(ortWebgpuDefault, {
    model: 'onnx', gpu: true, tolerance: 'gpu', packages: ['onnxruntime-web', 'webgpu'], default: false, timed: true, probe: webgpuProbe,
    knownFailure: 'onnxruntime-web 1.30 WebGPU EP in its default NHWC layout computes grouped convs with several outputs per group wrongly (README: GPU runtimes)',
  }),
  entry(tfjsWebgpu, { model: 'tfjs-graph', gpu: true, tolerance: 'gpu', packages: ['@tensorflow/tfjs-backend-webgpu', 'webgpu'], default: false, timed: true, probe: webgpuProbe }),
  entry(tensorrt, {
    model: 'tensorrt', gpu: true, tolerance: 'gpu', packages: [], default: false, timed: true,
    probe: async () => { const t = findTrtexec(); return t ? { available: true, detail: `trtexec at ${t}` } : { available: false, detail: TENSORRT_MISSING }; },
  }),
  // Browser runtimes (headless Chromium through playwright-core, on a page served from 127.0.0.1): never a
  // default either. The tfjs pages load every tfjs backend's browser build, the ONNX pages onnxruntime-web's.
  // In the browser both tfjs formats are checked by doctor: layers (custom layers registered in the page) and graph.
  entry(chromiumRuntime('chromium-webgl'), { model: 'tfjs-layers', gpu: true, tolerance: 'gpu', packages: CHROMIUM_TFJS_PACKAGES, default: false, timed: true, probe: chromiumProbe }),
  entry(chromiumRuntime('chromium-wasm'), { model: 'tfjs-graph', gpu: false, tolerance: 'cpu', packages: CHROMIUM_TFJS_PACKAGES, default: false, timed: true, probe: chromiumProbe }),
  entry(chromiumRuntime('chromium-webgpu'), { model: 'tfjs-layers', gpu: true, tolerance: 'gpu', packages: CHROMIUM_TFJS_PACKAGES, default: false, timed: true, probe: chromiumProbe }),
  entry(chromiumRuntime('chromium-ort-wasm'), { model: 'onnx', gpu: false, tolerance: 'cpu', packages: CHROMIUM_ORT_PACKAGES, default: false, timed: true, probe: chromiumProbe }),
  entry(chromiumRuntime('chromium-ort-webgpu'), { model: 'onnx', gpu: true, tolerance: 'gpu', packages: CHROMIUM_ORT_PACKAGES, default: false, timed: true, probe: chromiumProbe }),
  // The float64 interpreter of the IR on a checkpoint: named with --runtime reference (diff and verify --layers
  // pick it for checkpoints). Its parity is the CPU bar; too slow to time at full size.
  entry(reference, {
    model: 'checkpoint', gpu: false, tolerance: 'cpu', packages: [], default: false, timed: false,
    probe: async () => ({ available: true, detail: 'CPU, JavaScript float64 (reference interpreter, on the checkpoint)' }),
  }),
];

export const RUNTIME_IDS = (): string[] => RUNTIMES.map((r) => r.id);

export function runtimeById(id: string): RuntimeEntry {
  const r = RUNTIMES.find((x) => x.id === id);
  if (!r) fail('usage', `unknown runtime ${id}; available: ${RUNTIME_IDS().join(', ')}`);
  return r!;
}

/** One line per runtime, for `--help`: id, what it is, and what a default install lacks for it. */
export const runtimeHelp = (): string => RUNTIMES.map((r) =>
  `  ${r.id.padEnd(20)} ${r.description}${r.packages.length ? ` [optional: ${installLine(r.packages)}]` : ''}`).join('\n');

/** The runtime to use for a model file when none is named. */
export function defaultRuntimeFor(modelPath: string): RuntimeEntry {
  const r = RUNTIMES.find((x) => x.default && x.accepts(modelPath));
  if (!r && !fs.existsSync(modelPath)) fail('io', `model not found: ${modelPath}`);
  if (!r) fail('usage', `${modelPath}: no runtime loads this kind of model (expected an .onnx file, or a TensorFlow.js model directory or its model.json)`);
  return r!;
}

/** Stops with the install line when a runtime's optional packages are missing. */
export function requirePackages(rt: RuntimeEntry, installed: (pkg: string) => boolean = isInstalled): void {
  const missing = missingPackages(rt.packages, installed);
  if (missing.length) {
    fail('runtime', `runtime ${rt.id} needs ${missing.join(' and ')}, not installed (optional): ${installLine(missing)}`);
  }
}

export interface RuntimeProbe extends Availability {
  id: string;
  description: string;
  gpu: boolean;
  /** Optional packages that are missing, and the line that installs them. */
  missing: string[];
  install?: string;
}

/** Whether a runtime can run here: its packages first, then its own probe. */
export async function probeRuntime(rt: RuntimeEntry, opts: RunnerOptions = {}, installed: (pkg: string) => boolean = isInstalled): Promise<RuntimeProbe> {
  const base = { id: rt.id, description: rt.description, gpu: rt.gpu };
  const missing = missingPackages(rt.packages, installed);
  if (missing.length) {
    const install = installLine(missing);
    return { ...base, available: false, detail: `not installed: ${install}`, missing, install };
  }
  return { ...base, ...(await rt.probe(opts)), missing };
}

export async function loadRunner(modelPath: string, runtimeId: string | undefined, opts: RunnerOptions = {}): Promise<Runner> {
  const rt = runtimeId ? runtimeById(runtimeId) : defaultRuntimeFor(modelPath);
  if (!rt.accepts(modelPath) && !fs.existsSync(modelPath)) fail('io', `model not found: ${modelPath}`);
  if (!rt.accepts(modelPath)) fail('usage', `runtime ${rt.id} cannot load ${modelPath}`);
  requirePackages(rt);
  return rt.load(modelPath, opts);
}

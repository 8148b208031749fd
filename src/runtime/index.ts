import * as fs from 'node:fs';
import * as os from 'node:os';
import { causeText, fail, isBisenetError } from '../util/errors.js';
import { modelKind } from '../model-file/kind.js';
import { acceptedKinds, RUNTIME_CATALOG, RUNTIME_IDS, type RuntimeCatalogEntry } from './catalog.js';
import { chromiumProbe, chromiumRuntime } from './chromium.js';
import { litertWasm } from './litert.js';
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
export { acceptedKinds, RUNTIME_CATALOG, RUNTIME_IDS, runtimeHelp, type RuntimeCatalogEntry, type ToleranceClass } from './catalog.js';

export interface Availability {
  available: boolean;
  /** the adapter or device where available, else why not */
  detail: string;
}

/** What the registry knows of a runtime besides how to load a model: its catalog entry (./catalog.ts) and its probe. */
export interface RuntimeMeta extends RuntimeCatalogEntry {
  /** Whether it can run here, without loading a model (its packages are checked before this is called). */
  probe(opts: RunnerOptions): Promise<Availability>;
}

/** A runtime: its runner, its catalog entry, and `accepts`, which asks the model-file room what a path is and the entry which kinds it loads. */
export type RuntimeEntry = RuntimeInfo & RuntimeMeta & {
  /** Whether it loads the model at this path (by the path's kind: src/model-file/kind.ts). */
  accepts: (modelPath: string) => boolean;
};

/** Available where a module imports; `what` names it in the reason when it does not. */
const importProbe = (what: string, load: () => Promise<unknown>, detail: () => string) => async (): Promise<Availability> => {
  try { await load(); return { available: true, detail: detail() }; } catch (e) {
    return { available: false, detail: `${what} failed to load: ${causeText(e)}` };
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

const trtProbe = async (): Promise<Availability> => {
  const t = findTrtexec();
  return t ? { available: true, detail: `trtexec at ${t}` } : { available: false, detail: TENSORRT_MISSING };
};

/** Each catalog entry's runner and probe, by id. */
const IMPLEMENTATIONS: Record<string, { runner: RuntimeInfo; probe: RuntimeMeta['probe'] }> = {
  'ort-cpu': { runner: ortCpu, probe: ortNodeProbe },
  'tfjs-wasm': { runner: tfjsWasm, probe: tfjsProbe('CPU, WebAssembly, 1 thread') },
  'litert-wasm': { runner: litertWasm, probe: importProbe('LiteRT.js', () => import('./litert.js').then((m) => m.loadLiteRt()), () => 'CPU, LiteRT.js wasm (XNNPACK), 1 thread') },
  'tfjs-cpu': { runner: tfjsCpu, probe: tfjsProbe('CPU, JavaScript') },
  'ort-webgpu': { runner: ortWebgpu, probe: webgpuProbe },
  'ort-webgpu-default': { runner: ortWebgpuDefault, probe: webgpuProbe },
  'tfjs-webgpu': { runner: tfjsWebgpu, probe: webgpuProbe },
  tensorrt: { runner: tensorrt, probe: trtProbe },
  'chromium-webgl': { runner: chromiumRuntime('chromium-webgl'), probe: chromiumProbe },
  'chromium-wasm': { runner: chromiumRuntime('chromium-wasm'), probe: chromiumProbe },
  'chromium-webgpu': { runner: chromiumRuntime('chromium-webgpu'), probe: chromiumProbe },
  'chromium-ort-wasm': { runner: chromiumRuntime('chromium-ort-wasm'), probe: chromiumProbe },
  'chromium-ort-webgpu': { runner: chromiumRuntime('chromium-ort-webgpu'), probe: chromiumProbe },
  'chromium-litert-wasm': { runner: chromiumRuntime('chromium-litert-wasm'), probe: chromiumProbe },
  'chromium-litert-webgpu': { runner: chromiumRuntime('chromium-litert-webgpu'), probe: chromiumProbe },
  reference: { runner: reference, probe: async () => ({ available: true, detail: 'CPU, JavaScript float64 (reference interpreter, on the checkpoint)' }) },
};

/**
 * Every runtime the tool knows, in the catalog's order: its catalog entry (./catalog.ts), its runner (each in
 * its own file) and its probe. `--runtime`, the CLI help, `doctor` and `gpu-check` read this.
 */
export const RUNTIMES: RuntimeEntry[] = RUNTIME_CATALOG.map((c) => {
  const impl = IMPLEMENTATIONS[c.id];
  if (!impl || impl.runner.id !== c.id) throw new Error(`runtime ${c.id} is in the catalog without its runner`);
  const kinds = acceptedKinds(c);
  const accepts = (modelPath: string): boolean => { const k = modelKind(modelPath); return k !== null && kinds.includes(k); };
  return { ...impl.runner, ...c, probe: impl.probe, accepts };
});
for (const id of Object.keys(IMPLEMENTATIONS)) if (!RUNTIME_IDS().includes(id)) throw new Error(`runtime ${id} has a runner but no catalog entry`);

export function runtimeById(id: string): RuntimeEntry {
  const r = RUNTIMES.find((x) => x.id === id);
  if (!r) fail('usage', `unknown runtime ${id}; available: ${RUNTIME_IDS().join(', ')}`);
  return r!;
}

/** The runtime to use for a model file when none is named. */
export function defaultRuntimeFor(modelPath: string): RuntimeEntry {
  const r = RUNTIMES.find((x) => x.default && x.accepts(modelPath));
  if (!r && !fs.existsSync(modelPath)) fail('io', `model not found: ${modelPath}`);
  if (!r) fail('usage', `${modelPath}: no runtime loads this kind of model (expected an .onnx file, a .tflite file, or a TensorFlow.js model directory or its model.json)`);
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

/** `runtime tfjs-wasm cannot load m.onnx; runtimes that load it: ort-cpu (default), …`: names the ones that can. */
export function cannotLoad(id: string, modelPath: string): string {
  const rt = RUNTIMES.find((r) => r.id === id);
  // A checkpoint runs in the reference interpreter only (diff, verify --layers): for a model runtime it is converted first.
  if (rt && rt.model !== 'checkpoint' && modelKind(modelPath) === 'checkpoint') {
    const out = ({ onnx: 'model.onnx', tflite: 'model.tflite' } as Record<string, string>)[rt.model] ?? rt.model;
    return `runtime ${id} cannot load ${modelPath}; convert the checkpoint first: bisenet convert ${modelPath} --to ${rt.model} --out ${out}`;
  }
  const able = RUNTIMES.filter((r) => r.accepts(modelPath)).map((r) => (r.default ? `${r.id} (default)` : r.id));
  return `runtime ${id} cannot load ${modelPath}; ${able.length ? `runtimes that load it: ${able.join(', ')}` : 'no runtime loads this kind of model (an .onnx file, or a TensorFlow.js model directory or its model.json)'}`;
}

export async function loadRunner(modelPath: string, runtimeId: string | undefined, opts: RunnerOptions = {}): Promise<Runner> {
  const rt = runtimeId ? runtimeById(runtimeId) : defaultRuntimeFor(modelPath);
  if (!rt.accepts(modelPath) && !fs.existsSync(modelPath)) fail('io', `model not found: ${modelPath}`);
  if (!rt.accepts(modelPath)) fail('usage', cannotLoad(rt.id, modelPath));
  requirePackages(rt);
  return rt.load(modelPath, opts);
}

/**
 * Every runtime the tool knows, by id, as data: what it is, which model format it loads, which bar it is
 * held to, which optional packages it needs. `--runtime`'s choices and help, `doctor`, `gpu-check` and the
 * registry (`./index.ts`, which pairs each entry with its runner and probe) read this table. Data only,
 * like `../emit/targets.ts`, so that the CLI starts without loading any runner (tfjs, onnxruntime,
 * onnx-proto, playwright): `bisenet convert` never needs them. Adding a runtime is adding its entry here
 * and its runner in `./index.ts` (the registry refuses an entry without one).
 */
import type { Target } from '../emit/targets.js';
import type { ModelKind } from '../model-file/kind.js';

/** Which parity bar a runtime is held to by `doctor` and `gpu-check` (numbers: src/verify/tolerance.ts). */
export type ToleranceClass = 'cpu' | 'gpu';

export interface RuntimeCatalogEntry {
  id: string;
  /** One line for `--help` and `doctor`. */
  description: string;
  /** The model format it loads, which `doctor` converts the checkpoint to for it ('checkpoint': it runs the checkpoint itself). */
  model: Target | 'checkpoint';
  /**
   * The kinds of model path it loads, as the model-file room decides them (src/model-file/kind.ts): the registry's
   * `accepts` asks this, never a runner. Absent: the kind of `model` (`acceptedKinds`).
   */
  kinds?: ModelKind[];
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
}

const CHROMIUM_TFJS_PACKAGES = ['playwright-core', '@tensorflow/tfjs-backend-webgl', '@tensorflow/tfjs-backend-webgpu'];
const CHROMIUM_ORT_PACKAGES = ['playwright-core', 'onnxruntime-web'];
const CHROMIUM_LITERT_PACKAGES = ['playwright-core', '@litertjs/core'];
const WEBGPU_ORT_PACKAGES = ['onnxruntime-web', 'webgpu'];
type Defaults = Pick<RuntimeCatalogEntry, 'gpu' | 'tolerance' | 'packages' | 'default' | 'timed'>;
const cpu: Defaults = { gpu: false, tolerance: 'cpu', packages: [], default: false, timed: true };
const gpu: Defaults = { gpu: true, tolerance: 'gpu', packages: [], default: false, timed: true };

export const RUNTIME_CATALOG: RuntimeCatalogEntry[] = [
  { ...cpu, id: 'ort-cpu', model: 'onnx', default: true, description: 'onnxruntime-node, CPU execution provider' },
  { ...cpu, id: 'tfjs-wasm', model: 'tfjs-graph', default: true, description: 'TensorFlow.js, WebAssembly backend (XNNPACK), no tfjs-node' },
  { ...cpu, id: 'litert-wasm', model: 'tflite', default: true, packages: ['@litertjs/core'], description: 'LiteRT.js (TFLite) wasm in Node, XNNPACK, 1 thread; .tflite models (input size fixed at conversion)' },
  { ...cpu, id: 'tfjs-cpu', model: 'tfjs-graph', timed: false, description: 'TensorFlow.js, plain JavaScript CPU backend (slow; a reference)' },
  // GPU runtimes (WebGPU through dawn.node; TensorRT through trtexec): never a default, named with --runtime.
  { ...gpu, id: 'ort-webgpu', model: 'onnx', packages: WEBGPU_ORT_PACKAGES, description: 'onnxruntime-web WebGPU EP (dawn.node), preferredLayout NCHW' },
  {
    ...gpu, id: 'ort-webgpu-default', model: 'onnx', packages: WEBGPU_ORT_PACKAGES,
    description: 'onnxruntime-web WebGPU EP with its defaults (NHWC: wrong on grouped convs in 1.30; kept to show it)',
    knownFailure: 'onnxruntime-web 1.30 WebGPU EP in its default NHWC layout computes grouped convs with several outputs per group wrongly (docs/gpu.md)',
  },
  { ...gpu, id: 'tfjs-webgpu', model: 'tfjs-graph', packages: ['@tensorflow/tfjs-backend-webgpu', 'webgpu'], description: 'TensorFlow.js, WebGPU backend (dawn.node: a GPU, or lavapipe in software)' },
  { ...gpu, id: 'tensorrt', model: 'tensorrt', kinds: ['onnx', 'tensorrt'], description: 'NVIDIA TensorRT through trtexec (engine built per input shape; fp32)' },
  // Browser runtimes (headless Chromium through playwright-core, on a page served from 127.0.0.1): never a
  // default either. The tfjs pages load every tfjs backend's browser build, the ONNX pages onnxruntime-web's.
  // In the browser both tfjs formats are checked by doctor: layers (custom layers registered in the page) and graph.
  {
    ...gpu, id: 'chromium-webgl', model: 'tfjs-layers', packages: CHROMIUM_TFJS_PACKAGES,
    description: 'TensorFlow.js WebGL backend in headless Chromium (float32 textures; --tfjs-flags WEBGL_FORCE_F16_TEXTURES=true, WEBGL_PACK=false)',
  },
  { ...cpu, id: 'chromium-wasm', model: 'tfjs-graph', packages: CHROMIUM_TFJS_PACKAGES, description: 'TensorFlow.js wasm backend in headless Chromium (SIMD, threads)' },
  { ...gpu, id: 'chromium-webgpu', model: 'tfjs-layers', packages: CHROMIUM_TFJS_PACKAGES, description: 'TensorFlow.js WebGPU backend in headless Chromium (Chromium\'s own Dawn)' },
  { ...cpu, id: 'chromium-ort-wasm', model: 'onnx', packages: CHROMIUM_ORT_PACKAGES, description: 'onnxruntime-web wasm EP in headless Chromium (SIMD, threads)' },
  { ...cpu, id: 'chromium-litert-wasm', model: 'tflite', packages: CHROMIUM_LITERT_PACKAGES, description: 'LiteRT.js (TFLite) wasm in headless Chromium (XNNPACK; the threaded build where the page is isolated)' },
  { ...gpu, id: 'chromium-litert-webgpu', model: 'tflite', packages: CHROMIUM_LITERT_PACKAGES, description: 'LiteRT.js (TFLite) WebGPU accelerator in headless Chromium (refused where LiteRT would fall back to wasm)' },
  { ...gpu, id: 'chromium-ort-webgpu', model: 'onnx', packages: CHROMIUM_ORT_PACKAGES, description: 'onnxruntime-web WebGPU EP in headless Chromium, preferredLayout NCHW' },
  // The float64 interpreter of the IR on a checkpoint: named with --runtime reference (diff and verify --layers
  // pick it for checkpoints). Its parity is the CPU bar; too slow to time at full size.
  { ...cpu, id: 'reference', model: 'checkpoint', timed: false, description: 'the float64 reference interpreter of the IR, on a checkpoint (slow: golden sizes)' },
];

/** The kind of model path each format is (a TensorRT runtime also builds its engine from an .onnx: its entry says so). */
const KIND_OF: Record<RuntimeCatalogEntry['model'], ModelKind> = {
  onnx: 'onnx', 'tfjs-graph': 'tfjs', 'tfjs-layers': 'tfjs', tflite: 'tflite', tensorrt: 'tensorrt', checkpoint: 'checkpoint',
};

/** The kinds of model path a runtime loads: its entry's `kinds`, else the kind of its `model`. */
export const acceptedKinds = (r: Pick<RuntimeCatalogEntry, 'model' | 'kinds'>): ModelKind[] => r.kinds ?? [KIND_OF[r.model]];

export const RUNTIME_IDS = (): string[] => RUNTIME_CATALOG.map((r) => r.id);

/**
 * One short line per runtime, for `--help`: id and what it is (the description up to its first aside), and a
 * mark where a default install lacks packages for it; `bisenet doctor --list` gives each one's install line.
 */
export const runtimeHelp = (): string => [
  ...RUNTIME_CATALOG.map((r) => `  ${r.id.padEnd(20)} ${r.description.split(/ \(|; /)[0]}${r.packages.length ? ' *' : ''}`),
  '  * needs optional packages: bisenet doctor --list says which are installed, and the npm i line for the others',
].join('\n');

import type { NdArray } from '../util/ndarray.js';

/**
 * One interface for every runtime (onnxruntime-node, tfjs, browser, GPU): inputs and outputs are
 * NCHW NdArrays keyed by name, whatever layout the runtime uses inside.
 */
export interface Runner {
  /** e.g. "ort-cpu" */
  readonly runtime: string;
  /** Human-readable device/adapter, e.g. "CPU (2 threads)". */
  readonly device: string;
  readonly inputNames: string[];
  readonly outputNames: string[];
  /**
   * Runs the model. `outputs` names the outputs wanted (e.g. only `labels`): runtimes that can skip
   * computing or reading back the others do; every runtime returns at least the ones named.
   */
  run(inputs: Record<string, NdArray>, outputs?: string[]): Promise<Record<string, NdArray>>;
  dispose(): Promise<void>;
}

export interface RunnerOptions {
  /** Threads for CPU runtimes; default: all cores. */
  threads?: number;
  /** GPU runtimes: which adapter (`--device`; see DEVICE_HELP in ./webgpu.ts). */
  device?: string;
  /**
   * The model's files held in memory (a checkpoint converted on the fly: `model.onnx`, or a tfjs
   * `model.json` and its shards); the model path then only names them in messages. Only runtimes
   * marked `inMemory` take this.
   */
  files?: ReadonlyMap<string, Uint8Array>;
  /** Browser tfjs runtimes: TensorFlow.js environment flags set before the backend starts (`--tfjs-flags`). */
  flags?: Record<string, boolean | number | string>;
}

export interface RuntimeInfo {
  id: string;
  description: string;
  /** Which model files it loads. */
  accepts: (modelPath: string) => boolean;
  load(modelPath: string, opts: RunnerOptions): Promise<Runner>;
  /** Loads a model held in memory (`RunnerOptions.files`, in the registry's `model` format); absent: model files only. */
  inMemory?: boolean;
}

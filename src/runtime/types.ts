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
   * Intermediate tensors `run` returns beside the outputs (where `expose` was asked for), under
   * their names in the model, which are the IR's; always NCHW, whatever layout the runtime uses.
   */
  readonly exposed?: string[];
  run(inputs: Record<string, NdArray>): Promise<Record<string, NdArray>>;
  dispose(): Promise<void>;
}

export interface RunnerOptions {
  /** Threads for CPU runtimes; default: all cores. */
  threads?: number;
  /** GPU runtimes: which adapter (`--device`; see DEVICE_HELP in ./webgpu.ts). */
  device?: string;
  /**
   * Also return these intermediate tensors (names in the model; 'all': every float tensor the model
   * names), where the runtime can. Runtimes that cannot refuse with a usage error.
   */
  expose?: 'all' | string[];
}

export interface RuntimeInfo {
  id: string;
  description: string;
  /** Which model files it loads. */
  accepts: (modelPath: string) => boolean;
  /** Never chosen by default: only when named with --runtime. */
  explicitOnly?: boolean;
  load(modelPath: string, opts: RunnerOptions): Promise<Runner>;
}

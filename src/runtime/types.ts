import type { NdArray } from '../util/ndarray.js';
import type { TfliteInfo } from '../model-check/tflite.js';
import type { OnnxModel } from '../model-file/onnx.js';
import type { TfjsJson } from '../model-file/tfjs.js';

/** What one `run` returns: the outputs named (default: every output, then every exposed intermediate). */
export interface RunOptions {
  /**
   * Names of outputs and exposed intermediates wanted (e.g. only `labels`): runtimes that can skip
   * computing or reading back the others do; every runtime returns at least the ones named.
   */
  outputs?: string[];
}

/**
 * One interface for every runtime (onnxruntime-node, tfjs, browser, GPU, reference): inputs and
 * outputs are NCHW NdArrays keyed by name, whatever layout the runtime uses inside.
 */
export interface Runner {
  /** e.g. "ort-cpu" */
  readonly runtime: string;
  /** Human-readable device/adapter, e.g. "CPU (2 threads)". */
  readonly device: string;
  readonly inputNames: string[];
  readonly outputNames: string[];
  /**
   * Intermediate tensors `run` returns beside the outputs (where `RunnerOptions.expose` was asked
   * for at load: ONNX sessions and tfjs layers models must be rebuilt to return them), under their
   * names in the model, which are the IR's; always NCHW, whatever layout the runtime uses.
   */
  readonly exposed?: string[];
  /**
   * The one input shape (NCHW) a model takes where its size was fixed when converting (TFLite): callers
   * that choose a size (segment, eval) run at this one; other runtimes take any multiple of 32.
   */
  readonly fixedInput?: number[];
  run(inputs: Record<string, NdArray>, opts?: RunOptions): Promise<Record<string, NdArray>>;
  /**
   * GPU runtimes that can tell: the last `run` split into upload (inputs into GPU buffers), compute (the
   * session, until the GPU is done) and read-back (the outputs fetched, downloaded). `bench` reports them.
   */
  phases?(): GpuPhases | undefined;
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
  /**
   * An ONNX model file as the caller read and decoded it (src/model-file: `readModelFile`): the ONNX runtimes
   * load these bytes and check this decode rather than reading and decoding the file again. Others ignore it.
   */
  onnx?: { bytes: Uint8Array; model: OnnxModel };
  /**
   * A tfjs model.json as the caller read and parsed it (src/model-file): the tfjs runtimes and Chromium's routes
   * check and load this document (and serve these bytes) rather than reading model.json again. Others ignore it.
   */
  tfjs?: TfjsJson;
  /**
   * A `.tflite` file as the caller read and checked it (src/model-file: checkTflite): LiteRT, in Node and in
   * Chromium, loads these bytes rather than reading and checking the file again. Others ignore it.
   */
  tflite?: { bytes: Uint8Array; info: TfliteInfo };
  /** Browser tfjs runtimes: TensorFlow.js environment flags set before the backend starts (`--tfjs-flags`). */
  flags?: Record<string, boolean | number | string>;
  /**
   * Also return these intermediate tensors (names in the model; 'all': every float tensor the model
   * names), where the runtime can. Runtimes that cannot refuse with a usage error.
   */
  expose?: 'all' | string[];
}

export interface RuntimeInfo {
  id: string;
  load(modelPath: string, opts: RunnerOptions): Promise<Runner>;
  /** Loads a model held in memory (`RunnerOptions.files`, in the registry's `model` format); absent: model files only. */
  inMemory?: boolean;
}

/** One run of a GPU runtime, split where the runtime can tell (Runner.phases). */
export interface GpuPhases { uploadMs: number; computeMs: number; readbackMs: number }

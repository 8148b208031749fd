import * as fs from 'node:fs';
import { fail } from '../util/errors.js';
import { ortCpu } from './ort.js';
import { ortWebgpu, ortWebgpuDefault } from './ort-web.js';
import { reference } from './reference.js';
import { tensorrt } from './tensorrt.js';
import { tfjsCpu, tfjsWasm } from './tfjs.js';
import { tfjsWebgpu } from './tfjs-webgpu.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';

export type { Runner, RunnerOptions, RuntimeInfo } from './types.js';

/**
 * Every runtime the tool knows, by id. Later runtimes (browser, GPU) register here. The first
 * that accepts a model is its default: ort-cpu for .onnx, tfjs-wasm for a tfjs model directory
 * or its model.json.
 */
export const RUNTIMES: RuntimeInfo[] = [ortCpu, tfjsWasm, tfjsCpu,
  // GPU runtimes (WebGPU through dawn.node; TensorRT through trtexec): never a default, named with --runtime.
  ortWebgpu, ortWebgpuDefault, tfjsWebgpu, tensorrt,
  // The float64 interpreter of the IR on a checkpoint: named with --runtime reference (diff picks it for checkpoints).
  reference];

export function runtimeById(id: string): RuntimeInfo {
  const r = RUNTIMES.find((x) => x.id === id);
  if (!r) fail('usage', `unknown runtime ${id}; available: ${RUNTIMES.map((x) => x.id).join(', ')}`);
  return r!;
}

/** The runtime to use for a model file when none is named. */
export function defaultRuntimeFor(modelPath: string): RuntimeInfo {
  const r = RUNTIMES.find((x) => !x.explicitOnly && x.accepts(modelPath));
  if (!r && !fs.existsSync(modelPath)) fail('io', `model not found: ${modelPath}`);
  if (!r) fail('usage', `${modelPath}: no runtime loads this kind of model (expected an .onnx file, or a TensorFlow.js model directory or its model.json)`);
  return r!;
}

export async function loadRunner(modelPath: string, runtimeId: string | undefined, opts: RunnerOptions = {}): Promise<Runner> {
  const rt = runtimeId ? runtimeById(runtimeId) : defaultRuntimeFor(modelPath);
  if (!rt.accepts(modelPath) && !fs.existsSync(modelPath)) fail('io', `model not found: ${modelPath}`);
  if (!rt.accepts(modelPath)) fail('usage', `runtime ${rt.id} cannot load ${modelPath}`);
  return rt.load(modelPath, opts);
}

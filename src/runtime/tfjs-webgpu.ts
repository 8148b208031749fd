/**
 * `tfjs-webgpu`: TensorFlow.js's WebGPU backend, run from Node on dawn.node (src/runtime/webgpu.ts).
 * Model files and the NCHW ↔ NHWC conversion are shared with the CPU tfjs runners (./tfjs.ts).
 */
import type * as TfcNs from '@tensorflow/tfjs-core';
import { causeText, fail } from '../util/errors.js';
import { loadModel, runLoaded } from './tfjs.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';
import { generousLimits, installNavigatorGpu, openAdapter, type OpenedAdapter } from './webgpu.js';

type Tfc = typeof TfcNs;
interface State { tf: Tfc; opened: OpenedAdapter; deviceText: string }
let statePromise: Promise<State> | null = null;

/**
 * tfjs with its WebGPU backend on the chosen adapter, once per process (tfjs has one engine).
 * `navigator.gpu` must exist before @tensorflow/tfjs-backend-webgpu is imported: it registers
 * its kernels and backend only if it sees WebGPU then. Its own backend factory asks
 * `navigator.gpu` for the default adapter; it is replaced by one that uses the adapter --device chose.
 */
async function loadTfjsWebgpu(deviceText: string): Promise<State> {
  statePromise ??= (async () => {
    const opened = await openAdapter(deviceText);
    installNavigatorGpu(opened.gpu);
    let tf: Tfc;
    let WebGPUBackend: new (device: unknown, info?: unknown) => TfcNs.KernelBackend;
    try {
      tf = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-backend-cpu'); // kernels the WebGPU backend forwards small ops to
      ({ WebGPUBackend } = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as { WebGPUBackend: typeof WebGPUBackend });
      await import('@tensorflow/tfjs-layers');
      await import('@tensorflow/tfjs-converter');
    } catch (e) {
      statePromise = null;
      return fail('runtime', `TensorFlow.js WebGPU is not available: ${causeText(e)}`);
    }
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', async () => {
      const a = opened.adapter;
      const device = await a.requestDevice({
        requiredLimits: generousLimits(a),
        requiredFeatures: a.features.has('timestamp-query') ? ['timestamp-query'] : [],
      });
      return new WebGPUBackend(device, a.info);
    }, 0);
    return { tf, opened, deviceText };
  })();
  const state = await statePromise;
  if (state.deviceText !== deviceText) {
    fail('usage', `TensorFlow.js has one WebGPU backend per process; it is on --device ${state.deviceText}, so --device ${deviceText} cannot be used too`);
  }
  return state;
}

async function useWebgpu(tf: Tfc): Promise<void> {
  if (tf.getBackend() !== 'webgpu') {
    let ok = false;
    try { ok = await tf.setBackend('webgpu'); } catch (e) { fail('runtime', `tfjs WebGPU backend failed to start: ${causeText(e)}`); }
    if (!ok) fail('runtime', 'tfjs WebGPU backend failed to start');
  }
  await tf.ready();
}

export const tfjsWebgpu: RuntimeInfo = {
  id: 'tfjs-webgpu',
  inMemory: true,
  async load(modelPath: string, opts: RunnerOptions & { device?: string }): Promise<Runner> {
    const { tf, opened } = await loadTfjsWebgpu(opts.device ?? 'auto');
    await useWebgpu(tf);
    // The same loader as tfjs-wasm/cpu, on this tfjs-core with the WebGPU backend active.
    const model = await loadModel({ tf, layers: await import('@tensorflow/tfjs-layers'), converter: await import('@tensorflow/tfjs-converter') }, modelPath, opts.files, opts.expose, opts.tfjs);
    return {
      runtime: 'tfjs-webgpu',
      device: `${opened.label} (${model.kind})`,
      inputNames: [model.inputName],
      outputNames: [...model.outputNames],
      exposed: model.exposed,
      async run(inputs, runOpts) {
        await useWebgpu(tf);
        return runLoaded(tf, model, inputs, 'tfjs-webgpu', modelPath, runOpts?.outputs);
      },
      async dispose() { model.dispose(); },
    };
  },
};

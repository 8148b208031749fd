/**
 * Runs tfjs-backend-wasm 4.22's multi-threaded SIMD build in Node, which the package never picks there by itself.
 *
 * Why it needs help (read from the package, tfjs-backend-wasm 4.22.0):
 * - `flags_wasm.js`: `WASM_HAS_MULTITHREAD_SUPPORT` returns false whenever `IS_NODE` ("Enable node support
 *   once this is resolved: tensorflow/tfjs#3830"), so Node always gets the single-threaded SIMD build.
 * - `backend_wasm.js` hands Emscripten its pthread worker as a `blob:` URL (URL.createObjectURL of the
 *   worker source) and the main script as a `Blob`; Node's `worker_threads.Worker` takes neither (it wants a
 *   file path or code with `eval: true`), and the worker's `importScripts` reads a file path.
 * - The wasm computes its thread cap once, at start-up, as `emscripten_num_logical_cores() / 2` (read from
 *   `init_with_threads_count` in the threaded .wasm: count = min(max(min(n, 4), 1), cores / 2)), and in Node
 *   that is `os.cpus().length / 2`: 1 on a 2-vCPU machine, so `setThreadsCount(2)` still gives one thread.
 *
 * The Emscripten glue itself supports Node workers (it requires `worker_threads` and sets `global.Worker`),
 * so the fixes are small: force the flag, give `worker_threads.Worker` a subclass that turns the blob URL into
 * the worker source (`eval: true`) and the Blob into the path of the package's own threaded script, and let
 * the wasm see as many logical cores as threads are asked for (2 × threads) while it starts.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as TfcNs from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

/** The pthread workers made for the threaded build (they live as long as the process's wasm backend). */
const workers: import('node:worker_threads').Worker[] = [];

/**
 * Lets the process exit while the pool's workers idle: Emscripten keeps them for the next run, and a referenced
 * worker keeps Node's event loop alive, so a command that had finished never exited. Called when a runner is
 * disposed; the workers go on serving later runs (unref only stops them from holding the process).
 */
export function releaseWasmThreadWorkers(): void {
  for (const w of workers) w.unref();
}

export interface WasmThreads { build: 'threaded-simd' | 'simd' | 'plain'; threads: number; why?: string }

/** Whether this Node can run shared-memory wasm threads at all. */
export function platformHasWasmThreads(): string | null {
  if (typeof SharedArrayBuffer === 'undefined') return 'no SharedArrayBuffer';
  try { new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }); } catch { return 'no shared WebAssembly memory'; }
  try { require('node:worker_threads'); } catch { return 'no worker_threads'; }
  return null;
}

/**
 * Prepares the threaded build; call before the wasm backend first starts. Returns an `undo` to call once it has
 * started (workers already made keep working: Emscripten holds the class it was given).
 */
export function prepareWasmThreads(tf: typeof TfcNs, wasm: { setThreadsCount(n: number): void }, threads: number): () => void {
  const pkg = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const mainScript = path.join(pkg, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  // The worker source is kept as a JS template literal whose `\n` escapes became newlines inside string
  // literals; tfjs re-escapes them before making its Blob, and so do we.
  const workerSource = (require(path.join(pkg, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string })
    .wasmWorkerContents.replace(/\n/g, '\\n');
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const os = require('node:os') as typeof import('node:os');
  const OriginalWorker = wt.Worker;
  class EmscriptenNodeWorker extends OriginalWorker {
    constructor(url: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      if (typeof url === 'string' && url.startsWith('blob:')) super(workerSource, { ...options, eval: true });
      else super(url, options);
      workers.push(this);
    }
    override postMessage(message: unknown, transferList?: readonly import('node:worker_threads').TransferListItem[]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
      if (m?.cmd === 'load' && typeof m.urlOrBlob !== 'string') message = { ...m, urlOrBlob: mainScript };
      super.postMessage(message, transferList);
    }
  }
  const realCpus = os.cpus;
  (wt as { Worker: unknown }).Worker = EmscriptenNodeWorker;
  (os as { cpus: unknown }).cpus = () => {
    const c = realCpus();
    return Array.from({ length: Math.max(c.length, 2 * threads) }, (_, i) => c[i % c.length]!);
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  return () => {
    (wt as { Worker: unknown }).Worker = OriginalWorker;
    (os as { cpus: unknown }).cpus = realCpus;
  };
}

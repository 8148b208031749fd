/**
 * `litert-wasm`: LiteRT.js (`@litertjs/core`, Google's TFLite runtime compiled to wasm; XNNPACK on the
 * CPU) in Node. Its Emscripten loader expects a page: `self`, an `importScripts` that evaluates the
 * loader script, `require` and `__dirname` (its wasm folder) are given while it loads, then removed.
 * Node 20 lacks relaxed SIMD (an experimental flag), which LiteRT's default build uses, and its threaded
 * build needs a browser's workers: the `compat` build (SIMD, one thread) is the one that runs here.
 * Every `.tflite` passes the project's checker (../model-check/tflite.ts) before LiteRT sees its bytes: read
 * and checked in the model-file room (../model-file/tflite.ts), or handed over read and checked (RunnerOptions.tflite).
 * Models take one input size, fixed when converted (`--shapes`); a run at another size is refused.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { checkTflite, type TfliteInfo } from '../model-check/tflite.js';
import { readTfliteFile } from '../model-file/tflite.js';
import { fail, isBisenetError } from '../util/errors.js';
import { fb, appendObjects, setOffset } from '../util/flatbuffer.js';
import type { NdArray } from '../util/ndarray.js';
import { isVerbose } from '../util/verbosity.js';
import { toNchw, toNhwc } from './layout.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';

type LiteRtModule = typeof import('@litertjs/core');

/** The LiteRT wasm build Node runs (see above). */
export const LITERT_BUILD = 'litert_wasm_compat_internal.js';

let loading: Promise<LiteRtModule> | null = null;

/**
 * LiteRT's error lines since the last model load. LiteRT.js resolves a load whose tensors could not be
 * allocated (a delegate that failed to prepare) and then returns whatever its buffers hold; the runner
 * refuses such a model from these lines instead.
 */
const liteRtErrors: string[] = [];

/** Loads LiteRT.js once per process, with the page globals its loader expects given only while it loads. */
export function loadLiteRt(): Promise<LiteRtModule> {
  loading ??= (async () => {
    let lrt: LiteRtModule;
    try {
      lrt = await import('@litertjs/core');
    } catch (e) {
      return fail('runtime', `@litertjs/core is not available: ${(e as Error).message.split('\n')[0]}`);
    }
    const req = createRequire(import.meta.url);
    const wasmDir = path.join(path.dirname(req.resolve('@litertjs/core/package.json')), 'wasm');
    const g = globalThis as Record<string, unknown>;
    const shims = ['self', 'importScripts', 'require', '__dirname', 'Module'] as const;
    const saved = new Map(shims.filter((k) => k in g).map((k) => [k, g[k]]));
    const log = (text: string) => {
      if (/\bERROR\b/.test(text) && liteRtErrors.length < 32) liteRtErrors.push(text);
      if (isVerbose()) process.stderr.write(`litert: ${text}\n`);
    };
    g.self = g;
    g.importScripts = (url: string) => vm.runInThisContext(fs.readFileSync(url, 'utf8'), { filename: url });
    g.require = req;
    g.__dirname = wasmDir;
    // Emscripten's Module: where LiteRT's log goes (only with --verbose).
    g.Module = { print: log, printErr: log };
    // LiteRT warns on the console that Node has no WebGPU device (navigator.gpu); only --verbose shows it.
    const warn = console.warn;
    console.warn = (...args: unknown[]) => log(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
    try {
      await lrt.loadLiteRt(path.join(wasmDir, LITERT_BUILD));
    } catch (e) {
      loading = null;
      return fail('runtime', `LiteRT.js failed to start: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      console.warn = warn;
      for (const k of shims) { if (saved.has(k)) g[k] = saved.get(k); else delete g[k]; }
    }
    return lrt;
  })();
  return loading;
}

/**
 * An in-memory copy of a checked model whose subgraph and signature also output the tensors asked for
 * (names of float32 tensors operators produce; 'all': every one), appended after the file's end.
 */
export function exposeTflite(bytes: Uint8Array, info: TfliteInfo, expose: 'all' | string[], label: string): { bytes: Uint8Array; exposed: string[] } {
  const outputs = new Set(info.outputs.map((o) => o.name));
  const available = info.produced.map((t) => t.name).filter((n) => !outputs.has(n));
  // Names the model does not hold (a BatchNorm folded into its conv, a conv whose ReLU is fused) are not returned, as in the other runtimes.
  const wanted = expose === 'all' ? available : expose.filter((n) => available.includes(n));
  const { subgraphOutputsSlot, signatureOutputsSlot } = info.layout;
  if (subgraphOutputsSlot === null) fail('format', `${label}: the model lists no outputs`);
  const indices = [...info.outputIndices, ...wanted.map((n) => info.tensorIndex.get(n)!)];
  const names = [...info.outputs.map((o) => o.name), ...wanted];
  const tensorMaps = fb.tables(indices.map((i, k) => fb.table([fb.str(names[k]!), fb.u32(i)])));
  const { bytes: out, positions } = appendObjects(bytes, [fb.i32s(indices), tensorMaps]);
  setOffset(out, subgraphOutputsSlot!, positions[0]!);
  if (signatureOutputsSlot !== null) setOffset(out, signatureOutputsSlot, positions[1]!);
  return { bytes: out, exposed: wanted };
}

const dims = (s: readonly number[]): string => s.join('×');

/** Exit 2 where LiteRT logged that it could not prepare the model (it would return uncomputed buffers). */
function refuseUnprepared(modelPath: string): void {
  if (!liteRtErrors.some((l) => /failed to prepare|Failed to allocate/i.test(l))) return;
  const first = liteRtErrors[0]!.replace(/^ERROR:\s*/, '').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  liteRtErrors.length = 0;
  fail('format', `${modelPath}: LiteRT cannot prepare this model (${first}): its CPU kernels refuse it`);
}

/** LiteRT.js in Node on the CPU (XNNPACK, one thread). */
export const litertWasm: RuntimeInfo = {
  id: 'litert-wasm',
  inMemory: false,
  async load(modelPath: string, opts: RunnerOptions): Promise<Runner> {
    // Read and checked once, in the model-file room (or by the caller, who hands it over); bytes in memory pass the same check.
    const inMemory = opts.files?.get('model.tflite');
    const read = inMemory ? { bytes: inMemory, info: checkTflite(inMemory, modelPath) } : opts.tflite ?? readTfliteFile(modelPath);
    let bytes: Uint8Array = read.bytes;
    let info = read.info;
    let exposed: string[] | undefined;
    if (opts.expose) {
      const e = exposeTflite(bytes, info, opts.expose, modelPath);
      bytes = e.bytes;
      exposed = e.exposed;
      info = checkTflite(bytes, `${modelPath} (with intermediates)`);
    }
    const lrt = await loadLiteRt();
    let model: Awaited<ReturnType<LiteRtModule['loadAndCompile']>>;
    liteRtErrors.length = 0;
    try {
      model = await lrt.loadAndCompile(bytes, { accelerator: 'wasm' });
    } catch (e) {
      return fail('format', `${modelPath}: LiteRT cannot load this model: ${String((e as Error).message ?? e).split('\n')[0]}`);
    }
    try { refuseUnprepared(modelPath); } catch (e) { model.delete(); throw e; }
    const input = info.inputs[0]!;
    const [n, h, w, c] = input.shape as [number, number, number, number];
    const outNames = info.outputs.map((o) => o.name);
    // LiteRT returns outputs in its signature's order: map them by name.
    const order = model.getOutputDetails().map((d) => d.name);
    if (order.length !== outNames.length || !order.every((nm) => outNames.includes(nm))) {
      model.delete();
      fail('format', `${modelPath}: LiteRT reads outputs ${order.join(', ')}, the model lists ${outNames.join(', ')}`);
    }
    return {
      runtime: 'litert-wasm',
      device: 'CPU (LiteRT.js wasm, XNNPACK, 1 thread)',
      inputNames: [input.name],
      outputNames: outNames,
      exposed,
      fixedInput: [n, c, h, w],
      async run(inputs, runOpts) {
        const x = inputs[input.name] ?? Object.values(inputs)[0];
        if (!x) fail('usage', `no input given (the model takes ${input.name})`);
        if (x!.dtype !== 'float32') fail('usage', `inputs of dtype ${x!.dtype} are not supported; use float32`);
        const want = [n, c, h, w];
        if (x!.shape.join() !== want.join()) {
          fail('shape', `${modelPath} takes input ${dims(want)} only (a TFLite model's size is fixed when converting: bisenet convert … --to tflite --shapes ${x!.shape.join('x')}); given ${dims(x!.shape)}`);
        }
        const nhwc = toNhwc(x!);
        let results: InstanceType<LiteRtModule['Tensor']>[] = [];
        const t = new lrt.Tensor(nhwc.data as Float32Array, nhwc.shape);
        try {
          liteRtErrors.length = 0;
          results = await model.run([t]);
          // Tensors are allocated on the first run: a delegate that fails to prepare then is seen here.
          refuseUnprepared(modelPath);
          const out: Record<string, NdArray> = {};
          results.forEach((r, i) => {
            const name = order[i]!;
            // Outputs not asked for are not read back (LiteRT computes them all: TFLite has no fetch list).
            if (runOpts?.outputs && !runOpts.outputs.includes(name)) return;
            const data = r.toTypedArray();
            const shape = info.outputs.find((o) => o.name === name)!.shape;
            if (data instanceof Float32Array) out[name] = toNchw(shape, data);
            else if (data instanceof Int32Array) out[name] = { dtype: 'int32', shape: shape.slice(), data: data.slice() };
            else fail('runtime', `${modelPath}: output ${name} has an unsupported type`);
          });
          return out;
        } catch (e) {
          if (isBisenetError(e)) throw e;
          return fail('runtime', `LiteRT failed to run ${modelPath}: ${String((e as Error).message ?? e).split('\n')[0]}`);
        } finally {
          t.delete();
          for (const r of results) r.delete();
        }
      },
      async dispose() { model.delete(); },
    };
  },
};

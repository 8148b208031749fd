/**
 * Runs in the browser page that a `chromium-*` runner opens (src/runtime/chromium.ts drives it):
 * `window.bisenetRunner.open(spec)` loads the model, `run(token, shape)` fetches the input from
 * /io/<token>/input, runs it, and posts each output back to /io/<token>/<name> as raw bytes (a large
 * output would be slow through the DevTools protocol as JSON).
 */
import type { NdArray } from '../util/ndarray.js';
import { openEngine, type Engine, type EngineSpec } from './engine.js';

let engine: Engine | null = null;

export interface OpenedInfo { device: string; inputName: string; outputNames: string[]; userAgent: string }

const api = {
  async open(spec: EngineSpec): Promise<OpenedInfo> {
    engine = await openEngine(spec);
    return { device: engine.device, inputName: engine.inputName, outputNames: engine.outputNames, userAgent: navigator.userAgent };
  },
  async run(token: string, shape: number[]): Promise<string[]> {
    if (!engine) throw new Error('no model is open');
    const r = await fetch(`/io/${token}/input`);
    if (!r.ok) throw new Error(`input: HTTP ${r.status}`);
    const input: NdArray = { dtype: 'float32', shape, data: new Float32Array(await r.arrayBuffer()) };
    const out = await engine.run(input);
    const names: string[] = [];
    for (const [name, a] of Object.entries(out)) {
      const d = a.data;
      const q = new URLSearchParams({ dtype: a.dtype, shape: a.shape.join(',') });
      const p = await fetch(`/io/${token}/${encodeURIComponent(name)}?${q}`, { method: 'POST', body: new Uint8Array(d.buffer as ArrayBuffer, d.byteOffset, d.byteLength) });
      if (!p.ok) throw new Error(`posting output ${name}: HTTP ${p.status}`);
      names.push(name);
    }
    return names;
  },
  async close(): Promise<void> {
    await engine?.dispose();
    engine = null;
  },
};

(globalThis as unknown as { bisenetRunner: typeof api }).bisenetRunner = api;

/**
 * `bisenet serve`: a page (no framework, no CDN) where a person drops an image and sees the mask and
 * the overlay on the backend they pick, with the time per frame, and checks the model's golden set
 * on their own device ("check this device"). The server is ./runtime/web-server.ts; the page is
 * src/web/app.ts.
 */
import * as path from 'node:path';
import { TOLERANCES } from './check/runtimes.js';
import { CITYSCAPES_PALETTE } from './presets.js';
import { CHROMIUM_RUNTIMES_BY_BACKEND, modelRoutes, PAGE_SCRIPTS } from './runtime/chromium.js';
import { ORT_WEBGPU_SCRIPT, pageHtml, startWebServer, TFJS_SCRIPTS, type Blob } from './runtime/web-server.js';
import { modelPreprocessing, paletteFor } from './segment.js';
import type { NdArray } from './util/ndarray.js';
import { asFloat32Input } from './verify/index.js';
import { loadGolden, readReference } from './verify/golden.js';

export interface ServeOptions { host?: string; port?: number; golden?: string }

/** Hosts that only this machine can reach. */
export const isLoopback = (host: string): boolean => ['127.0.0.1', '::1', 'localhost'].includes(host) || /^127\./.test(host);

const raw = (a: NdArray): Blob => {
  // Labels are int64 in golden files: sent as int32 (class indices fit), so every browser reads them.
  const data = a.dtype === 'int64' ? Int32Array.from(a.data as BigInt64Array, Number) : a.data;
  return { bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), type: 'application/octet-stream' };
};

/**
 * The golden set as the page reads it: /golden/index.json lists the cases with each array's dtype
 * and shape; /golden/<case>/<name>.bin holds the raw little-endian values (inputs as float32).
 */
function goldenRoutes(dir: string): Map<string, () => Blob> {
  const routes = new Map<string, () => Blob>();
  const cases = loadGolden(dir).map((c, i) => {
    const input = asFloat32Input(c.input);
    routes.set(`/golden/${i}/input.bin`, () => raw(input));
    const refs = [...c.references].map(([name, file]) => {
      const ref = readReference(file);
      const r = ref.dtype === 'int64' ? { ...ref, dtype: 'int32' as const } : { ...ref, dtype: 'float32' as const, data: asFloat32Input(ref).data };
      routes.set(`/golden/${i}/${name}.bin`, () => raw(ref.dtype === 'int64' ? ref : r));
      return { name, dtype: r.dtype, shape: ref.shape };
    });
    return { name: c.name, input: { dtype: 'float32', shape: input.shape }, references: refs };
  });
  const index = Buffer.from(JSON.stringify({ name: path.basename(path.resolve(dir)), cases }));
  routes.set('/golden/index.json', () => ({ bytes: index, type: 'application/json' }));
  return routes;
}

/** Starts the server for one model; everything a user can get wrong fails here, before it listens. */
export async function startServe(modelPath: string, opts: ServeOptions = {}): Promise<{ url: string; close(): Promise<void> }> {
  const model = modelRoutes(modelPath);
  const { pre, palette } = modelPreprocessing(modelPath);
  const golden = opts.golden ? goldenRoutes(opts.golden) : null;
  const backends = Object.keys(PAGE_SCRIPTS).filter((b) => b.startsWith(model.kind === 'onnx' ? 'ort-' : model.kind === 'tflite' ? 'litert-' : 'tfjs-'));
  const config = Buffer.from(JSON.stringify({
    model: { name: path.basename(path.resolve(modelPath)), url: model.url, kind: model.kind },
    backends,
    preprocessing: pre,
    // 256 colours: the dataset's palette first where the model records one (else Cityscapes' for 19 classes), else PASCAL VOC's.
    palette: paletteFor(256, palette ?? CITYSCAPES_PALETTE),
    golden: golden ? { url: '/golden/index.json' } : null,
    tolerances: Object.fromEntries(backends.map((b) => [b, TOLERANCES[CHROMIUM_RUNTIMES_BY_BACKEND[b]!]])),
  }));
  const server = await startWebServer({ host: opts.host, port: opts.port });
  for (const [k, v] of [...model.routes, ...(golden ?? [])]) server.routes.set(k, v);
  server.routes.set('/config.json', () => ({ bytes: config, type: 'application/json' }));
  server.routes.set('/index.html', () => pageHtml({
    title: `BiSeNet V2 — ${path.basename(path.resolve(modelPath))}`,
    // The ONNX page loads onnxruntime-web's WebGPU build, which has the wasm EP too.
    // The TFLite page imports LiteRT.js as an ES module (import map): no script tags.
    scripts: model.kind === 'onnx' ? [ORT_WEBGPU_SCRIPT] : model.kind === 'tflite' ? [] : TFJS_SCRIPTS,
    module: '/lib/web/app.js',
    head: `<style>${APP_CSS}</style>`,
    body: APP_BODY,
  }));
  return { url: server.url, close: () => server.close() };
}

const APP_CSS = `
body { font: 15px/1.4 system-ui, sans-serif; margin: 1rem; color: #222; }
h1 { font-size: 1.2rem; margin: 0 0 .5rem; }
.bar { display: flex; flex-wrap: wrap; gap: .8rem; align-items: center; margin-bottom: .8rem; }
#drop { border: 2px dashed #999; border-radius: 6px; padding: 1rem; text-align: center; color: #555; margin-bottom: .8rem; }
#drop.over { border-color: #06c; background: #eef5ff; }
.views { display: flex; flex-wrap: wrap; gap: .8rem; }
.views figure { margin: 0; }
.views canvas { max-width: 100%; width: 420px; image-rendering: pixelated; border: 1px solid #ccc; }
figcaption { font-size: .85rem; color: #555; }
table { border-collapse: collapse; margin-top: .6rem; font-size: .85rem; }
td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; }
.ok { color: #070; } .fail { color: #b00; font-weight: bold; }
#status { color: #555; }
`;

const APP_BODY = `
<h1>BiSeNet V2 in this browser — <span id="model"></span></h1>
<div class="bar">
  <label>backend <select id="backend"></select></label>
  <label><input type="file" id="file" accept="image/png,image/jpeg,image/webp"></label>
  <button id="check" type="button">check this device</button>
  <span id="status">loading…</span>
</div>
<div id="device"></div>
<div id="drop">drop an image here (or choose a file above)</div>
<div class="bar"><span>time per frame: <b id="ms">–</b></span></div>
<div class="views">
  <figure><canvas id="mask"></canvas><figcaption>mask</figcaption></figure>
  <figure><canvas id="overlay"></canvas><figcaption>overlay</figcaption></figure>
</div>
<div id="parity"></div>
`;

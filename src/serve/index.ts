/**
 * `bisenet serve`: a page (no framework, no CDN) where a person drops an image and sees the mask and
 * the overlay on the backend they pick, with the time per frame, and checks the model's golden set
 * on their own device ("check this device"). The server is ./runtime/web-server.ts; the page is
 * src/web/app.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOLERANCES } from '../verify/tolerance.js';
import { modelKind, readModelFile, readRecordedMetadata, recordedFrom, runnerInput, type RecordedMetadata } from '../model-file/index.js';
import type { Family } from '../models/bisenetv2.js';
import { CITYSCAPES_PALETTE, preprocessingFor, type Dataset } from '../model-file/presets.js';
import { CHROMIUM_RUNTIMES_BY_BACKEND, modelRoutes } from '../runtime/chromium.js';
import { installLine, isInstalled, missingPackages } from '../runtime/packages.js';
import { ORT_WEBGPU_SCRIPT, pageHtml, startWebServer, TFJS_SCRIPTS, type Blob } from '../runtime/web-server.js';
import { paletteFor } from '../segment/model.js';
import { fail } from '../util/errors.js';
import type { Backend } from '../web/engine.js';
import type { NdArray } from '../util/ndarray.js';
import { asFloat32Input } from '../verify/index.js';
import { loadGolden, readReference } from '../verify/golden.js';

export interface ServeOptions {
  host?: string; port?: number; golden?: string;
  /** Checkpoints: the family (default: detected); models that record no preprocessing: the preset's family. */
  family?: Family;
  /** Checkpoints and models that record no preprocessing: the preset dataset. */
  dataset?: Dataset;
  /** Whether an optional package is installed (replaceable for tests). */
  installed?: (pkg: string) => boolean;
}

/** The page's backends (src/web/engine.ts), their names on the page, and the packages each needs in the package's node_modules. */
export type PageKind = 'tfjs' | 'onnx' | 'tflite';
export const PAGE_BACKENDS: { id: Backend; label: string; kind: PageKind; packages: string[] }[] = [
  { id: 'tfjs-webgl', label: 'WebGL (tfjs)', kind: 'tfjs', packages: ['@tensorflow/tfjs-backend-webgl'] },
  { id: 'tfjs-webgpu', label: 'WebGPU (tfjs)', kind: 'tfjs', packages: ['@tensorflow/tfjs-backend-webgpu'] },
  { id: 'tfjs-wasm', label: 'wasm (tfjs)', kind: 'tfjs', packages: ['@tensorflow/tfjs-backend-wasm'] },
  { id: 'ort-wasm', label: 'wasm (onnxruntime-web)', kind: 'onnx', packages: ['onnxruntime-web'] },
  { id: 'ort-webgpu', label: 'WebGPU (onnxruntime-web)', kind: 'onnx', packages: ['onnxruntime-web'] },
  { id: 'litert-wasm', label: 'wasm (LiteRT.js)', kind: 'tflite', packages: ['@litertjs/core'] },
  { id: 'litert-webgpu', label: 'WebGPU (LiteRT.js)', kind: 'tflite', packages: ['@litertjs/core'] },
];

/** What `serve` found at start: the backends the page offers, and the others with the line that installs them. */
export interface PageBackends { offered: Backend[]; missing: { id: Backend; label: string; install: string }[] }

export function pageBackends(kind: PageKind, installed: (pkg: string) => boolean = isInstalled): PageBackends {
  const offered: Backend[] = [];
  const missing: PageBackends['missing'] = [];
  for (const b of PAGE_BACKENDS.filter((x) => x.kind === kind)) {
    const lack = missingPackages(b.packages, installed);
    if (lack.length) missing.push({ id: b.id, label: b.label, install: installLine(lack) });
    else offered.push(b.id);
  }
  return { offered, missing };
}

/** The page's scripts (UMD builds under /vendor/) for the packages that are installed: none of them 404s. */
function pageScripts(kind: PageKind, installed: (pkg: string) => boolean): string[] {
  if (kind === 'onnx') return [ORT_WEBGPU_SCRIPT];
  // The TFLite page imports LiteRT.js as an ES module (import map): no script tags.
  if (kind === 'tflite') return [];
  return TFJS_SCRIPTS.filter((s) => {
    const pkg = /^\/vendor\/(@[^/]+\/[^/]+)\//.exec(s)?.[1];
    return !pkg || installed(pkg);
  });
}

/** The model the page loads: its routes under /model/ and what it records (a checkpoint is converted in memory, nothing written). */
async function pageModel(modelPath: string, o: ServeOptions): Promise<{ url: string; kind: PageKind; routes: Map<string, () => Blob>; info: RecordedMetadata; label: string }> {
  const st = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (!st) fail('io', `model not found: ${modelPath}`);
  if (st!.isFile() && modelKind(modelPath) === 'checkpoint') {
    // Imported here: only checkpoints need the converter. tfjs-layers: the format every page backend loads,
    // with the tfjs packages a default install has (tfjs wasm).
    const { convertCheckpoint, recordedOf } = await import('../convert/index.js');
    const c = convertCheckpoint(modelPath, { to: 'tfjs-layers', family: o.family, dataset: o.dataset, inMemory: modelPath });
    const label = `${path.basename(modelPath)} (converted in memory to tfjs-layers)`;
    const routes = new Map<string, () => Blob>();
    for (const [name, bytes] of c.files!) routes.set(`/model/${name}`, () => ({ bytes, type: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' }));
    return { url: '/model/model.json', kind: 'tfjs', routes, info: recordedFrom(recordedOf(c), `${label}: metadata`), label };
  }
  // Read once (src/model-file): its metadata, and the bytes (with the ONNX decode, the parsed model.json, the checked
  // .tflite) the page's routes are served from.
  // A path of no kind the page loads is refused by modelRoutes, in its words.
  const kind = modelKind(modelPath);
  const file = kind === 'onnx' || kind === 'tfjs' || kind === 'tflite' ? readModelFile(modelPath, kind) : null;
  const model = modelRoutes(modelPath, file ? runnerInput(file) : {});
  return { ...model, info: file ? file.metadata : readRecordedMetadata(modelPath), label: path.basename(path.resolve(modelPath)) };
}

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

/**
 * Starts the server for one model; everything a user can get wrong fails here, before it listens.
 * `backends` is what the page offers (the installed ones) and what it could offer with more packages.
 */
export async function startServe(modelPath: string, opts: ServeOptions = {}): Promise<{ url: string; backends: PageBackends; model: string; close(): Promise<void> }> {
  const installed = opts.installed ?? isInstalled;
  const model = await pageModel(modelPath, opts);
  const backends = pageBackends(model.kind, installed);
  if (!backends.offered.length) {
    // Only ONNX and TFLite pages can have none: tfjs wasm is a dependency of this package.
    const needs = model.kind === 'onnx' ? 'an ONNX model needs onnxruntime-web' : 'a .tflite model needs @litertjs/core';
    fail('usage', `serving ${needs}, not installed (optional): ${backends.missing[0]!.install}; `
      + 'or serve the checkpoint (converted in memory) or a tfjs model (bisenet convert --to tfjs-layers), which a default install runs on tfjs wasm');
  }
  const info = model.info;
  const pre = info.pre ?? (opts.dataset ? preprocessingFor(opts.family ?? 'coincheung', opts.dataset) : null);
  if (!pre) fail('usage', `${modelPath} records no preprocessing; pass --dataset (and --family) to choose one`);
  const golden = opts.golden ? goldenRoutes(opts.golden) : null;
  const config = Buffer.from(JSON.stringify({
    model: { name: model.label, url: model.url, kind: model.kind },
    backends: backends.offered,
    missing: backends.missing,
    preprocessing: pre,
    // The model's palette (recorded, else Cityscapes' for 19 classes, else the indexed one), one colour per class;
    // with no recorded class count the page extends it to the classes the model outputs.
    numClasses: info.numClasses,
    palette: info.numClasses ? paletteFor(info.numClasses, info.palette) : info.palette ?? [],
    // As segment's paletteFor: a model that records neither palette nor class count and outputs 19 classes gets Cityscapes'.
    palette19: info.numClasses || info.palette ? null : CITYSCAPES_PALETTE,
    classNames: info.classNames,
    golden: golden ? { url: '/golden/index.json' } : null,
    tolerances: Object.fromEntries(backends.offered.map((b) => [b, TOLERANCES[CHROMIUM_RUNTIMES_BY_BACKEND[b]!]])),
  }));
  const server = await startWebServer({ host: opts.host, port: opts.port });
  for (const [k, v] of [...model.routes, ...(golden ?? [])]) server.routes.set(k, v);
  server.routes.set('/config.json', () => ({ bytes: config, type: 'application/json' }));
  server.routes.set('/index.html', () => pageHtml({
    title: `BiSeNet V2 — ${model.label}`,
    // The ONNX page loads onnxruntime-web's WebGPU build, which has the wasm EP too.
    scripts: pageScripts(model.kind, installed),
    module: '/lib/web/app.js',
    head: `<style>${APP_CSS}</style>`,
    body: APP_BODY,
  }));
  return { url: server.url, backends, model: model.label, close: () => server.close() };
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
#more { font-size: .85rem; color: #555; margin-bottom: .6rem; }
#more code { background: #f3f3f3; padding: 0 .2rem; }
#legend { display: flex; flex-wrap: wrap; gap: .2rem .9rem; margin-top: .6rem; font-size: .85rem; }
#legend span.sw { display: inline-block; width: .9rem; height: .9rem; border: 1px solid #888; vertical-align: -.15rem; margin-right: .3rem; }
#legend .absent { color: #999; }
`;

const APP_BODY = `
<h1>BiSeNet V2 in this browser — <span id="model"></span></h1>
<div class="bar">
  <label>backend <select id="backend"></select></label>
  <label><input type="file" id="file" accept="image/png,image/jpeg,image/webp"></label>
  <button id="check" type="button">check this device</button>
  <span id="status">loading…</span>
</div>
<div id="more"></div>
<div id="device"></div>
<div id="drop">drop an image here (or choose a file above)</div>
<div class="bar"><span>time per frame: <b id="ms">–</b></span></div>
<div class="views">
  <figure><canvas id="mask"></canvas><figcaption>mask</figcaption></figure>
  <figure><canvas id="overlay"></canvas><figcaption>overlay</figcaption></figure>
</div>
<div id="legend"></div>
<div id="parity"></div>
`;

/**
 * Browser runtimes: the model runs in headless Chromium (Debian's `chromium`, never downloaded),
 * driven by playwright-core, on a page served from 127.0.0.1 by ./web-server.ts, with the same
 * loaders and layout conversion as in Node (src/web/engine.ts). One browser per process, shared by
 * every runner; one page per runner.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { userTmpDir, withTmpdir } from '../util/temp.js';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { fail, isBisenetError } from '../util/errors.js';
import { onInterrupt } from '../util/interrupt.js';
import { numel, type NdArray } from '../util/ndarray.js';
import { checkOnnxAmplification } from '../model-check/onnx.js';
import { checkAmplification } from '../model-check/tfjs.js';
import { modelKind } from '../model-file/kind.js';
import { readOnnxFile } from '../model-file/onnx.js';
import { checkModelJson, readDirWeights, readModelJson } from '../model-file/tfjs.js';
import { readTfliteFile } from '../model-file/tflite.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';
import { distDir, ORT_WASM_SCRIPT, ORT_WEBGPU_SCRIPT, pageHtml, startWebServer, TFJS_SCRIPTS, type Blob, type WebServer } from './web-server.js';

/** Names tried on PATH, in order, after $CHROME_PATH. */
const CHROMIUM_NAMES = ['chromium', 'chromium-browser'];
export const CHROMIUM_MISSING = 'Chromium not found (no $CHROME_PATH, no chromium on PATH); install it with `apt-get install -y chromium` (Debian), or set CHROME_PATH to a Chromium or Chrome executable';

/**
 * Flags for a quiet, reproducible headless browser. The machine may have no network: without the
 * disable-* flags Chromium keeps trying (and logging) connections to Google's services. WebGPU on
 * Linux is behind --enable-unsafe-webgpu. playwright's launch() already gives each browser a fresh
 * temporary --user-data-dir, removed on close.
 */
export const CHROMIUM_ARGS = ['--no-sandbox', '--headless=new', '--enable-unsafe-webgpu',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
  '--disable-default-apps', '--disable-domain-reliability', '--metrics-recording-only', '--no-default-browser-check'];

const isExecutable = (f: string): boolean => { try { fs.accessSync(f, fs.constants.X_OK); return fs.statSync(f).isFile(); } catch { return false; } };

/** The Chromium executable: $CHROME_PATH if set (it must be one), else the first on PATH; null if none. */
export function findChromium(): string | null {
  const env = process.env.CHROME_PATH;
  if (env) {
    if (!isExecutable(env)) fail('usage', `CHROME_PATH=${env} is not an executable file`);
    return env;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of CHROMIUM_NAMES) {
      const f = path.join(dir, name);
      if (isExecutable(f)) return f;
    }
  }
  return null;
}

export interface SharedBrowser { browser: Browser; executable: string; version: string; removeTemp(): void }
let shared: Promise<SharedBrowser> | null = null;
let current: Browser | null = null;
let refs = 0;

/** The process's browser, launched on first use; pair every call with releaseBrowser(). */
export async function acquireBrowser(): Promise<SharedBrowser> {
  refs++;
  shared ??= (async () => {
    const executable = findChromium();
    if (!executable) fail('runtime', CHROMIUM_MISSING);
    const { chromium } = await import('playwright-core');
    // The browser's profile and its sockets go to a folder of our own under a short path: a socket path is
    // limited to 107 bytes (a long TMPDIR made every launch fail), and the folder is removed when the
    // browser is closed or the process is interrupted (after playwright has killed the browser).
    const tmp = browserTempDir();
    try {
      // playwright makes the profile folder under the temporary folder as it launches: TMPDIR points at ours meanwhile.
      const browser = await withTmpdir(tmp.dir, () => chromium.launch({
        executablePath: executable!, args: CHROMIUM_ARGS, headless: true, timeout: 60_000,
        env: { ...process.env, TMPDIR: tmp.dir }, handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
      }));
      // A browser that crashed or was closed is not reused: the next runner launches another.
      browser.on('disconnected', () => { if (current === browser) { shared = null; refs = 0; } tmp.remove(); });
      current = browser;
      return { browser, executable: executable!, version: browser.version(), removeTemp: tmp.remove };
    } catch (e) {
      tmp.remove();
      return fail('runtime', `Chromium (${executable}) failed to start: ${firstLine(e)}`);
    }
  })();
  try {
    return await shared;
  } catch (e) {
    refs--;
    shared = null;
    throw e;
  }
}

/** The parent of browsers' temporary folders: TMPDIR when its path is short, else /tmp. */
function shortTempParent(): string {
  const t = userTmpDir();
  if (t.length <= 40) return t;
  try { fs.accessSync('/tmp', fs.constants.W_OK); return '/tmp'; } catch { return t; }
}

function browserTempDir(): { dir: string; remove(): void } {
  let dir: string;
  try { dir = fs.mkdtempSync(path.join(shortTempParent(), `bisenet-browser-${process.pid}-`)); } catch (e) {
    return fail('runtime', `cannot make a temporary folder for Chromium in ${shortTempParent()} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const rm = (): void => { fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); };
  const off = onInterrupt(rm, { late: true });
  // A process that ends without closing the browser (a test runner's worker) still removes it.
  const atExit = (): void => { try { rm(); } catch { /* exiting */ } };
  process.once('exit', atExit);
  return { dir, remove: () => { off(); process.off('exit', atExit); try { rm(); } catch { /* best effort */ } } };
}

export async function releaseBrowser(): Promise<void> {
  refs = Math.max(0, refs - 1);
  if (refs > 0 || !shared) return;
  const s = shared;
  shared = null;
  current = null;
  await (await s).browser.close().catch(() => {});
  (await s).removeTemp(); // also on 'disconnected'; removing twice is harmless
}

/** The message of an error thrown in a page, without playwright's prefix and the stack. */
export function firstLine(e: unknown): string {
  const m = (e as Error)?.message ?? String(e);
  return (m.split('\n')[0] ?? m).replace(/^[\w.]+: /, '').replace(/^(Error|TypeError|RangeError|BisenetError): /, '').trim();
}

/**
 * A model's files as server routes under /model/, checked before any browser sees them: the same size
 * and amplification checks as the Node runners (an UpSampling2D of 500×500 or an ONNX Tile is refused
 * here, not left to allocate gigabytes in the browser). The files are read in the model-file room, or are the
 * ones the caller read there and hands over (`read`: RunnerOptions' onnx, tfjs, tflite), each read once.
 */
export function modelRoutes(modelPath: string, read: Pick<RunnerOptions, 'onnx' | 'tfjs' | 'tflite'> = {}): { url: string; kind: 'tfjs' | 'onnx' | 'tflite'; routes: Map<string, () => Blob>; fixedInput?: number[] } {
  const routes = new Map<string, () => Blob>();
  const kind = modelKind(modelPath);
  if (kind === 'tflite') {
    // Checked (checkTflite) as in Node, before the browser's LiteRT sees a byte.
    const { bytes, info } = read.tflite ?? readTfliteFile(modelPath);
    const [n, h, w, c] = info.inputs[0]!.shape as [number, number, number, number];
    routes.set('/model/model.tflite', () => ({ bytes }));
    return { url: '/model/model.tflite', kind: 'tflite', routes, fixedInput: [n, c, h, w] };
  }
  if (kind === 'tfjs') {
    const { file, bytes: jsonBytes, json } = read.tfjs ? { ...read.tfjs, json: checkModelJson(read.tfjs.json, read.tfjs.file) } : readModelJson(modelPath);
    checkAmplification(json, file);
    // The shards are read, and their constants checked, as in Node; the page gets them as read.
    readDirWeights(file, json, json.weightsManifest, (p, bytes) => routes.set(`/model/${p.split(/[\\/]/).join('/')}`, () => ({ bytes })));
    routes.set('/model/model.json', () => ({ bytes: jsonBytes, type: 'application/json' }));
    return { url: '/model/model.json', kind: 'tfjs', routes };
  }
  if (kind !== 'onnx') fail('usage', `${modelPath}: expected an .onnx or .tflite file, or a TensorFlow.js model directory or its model.json`);
  // Bytes the caller read and decoded (src/model-file) are served as read, checked on that decode.
  const bytes = read.onnx?.bytes ?? readOnnxFile(modelPath);
  checkOnnxAmplification(bytes, modelPath, read.onnx?.model);
  routes.set('/model/model.onnx', () => ({ bytes }));
  return { url: '/model/model.onnx', kind: 'onnx', routes };
}

/** Page backends (src/web/engine.ts) and the scripts each needs. */
export const PAGE_SCRIPTS: Record<string, string[]> = {
  'tfjs-webgl': TFJS_SCRIPTS, 'tfjs-webgpu': TFJS_SCRIPTS, 'tfjs-wasm': TFJS_SCRIPTS, 'ort-wasm': [ORT_WASM_SCRIPT], 'ort-webgpu': [ORT_WEBGPU_SCRIPT],
  'litert-wasm': [], 'litert-webgpu': [],
};

const OUTPUT_TYPES = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array } as const;

/** An output the page posted back, as an NdArray (its size checked against its shape). */
function postedArray(name: string, p: { bytes: Uint8Array; query: URLSearchParams }): NdArray {
  const dtype = p.query.get('dtype') as keyof typeof OUTPUT_TYPES;
  const T = OUTPUT_TYPES[dtype];
  const shape = (p.query.get('shape') ?? '').split(',').filter(Boolean).map(Number);
  if (!T || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) || numel(shape) * T.BYTES_PER_ELEMENT !== p.bytes.byteLength) {
    fail('runtime', `the page returned a malformed output ${name}`);
  }
  const copy = p.bytes.slice().buffer;
  return { dtype, shape, data: new T(copy) };
}

interface PageRunner { page: Page; context: BrowserContext; server: WebServer }

async function openPage(backend: string, modelPath: string, routes: Map<string, () => Blob>): Promise<PageRunner & { version: string }> {
  const { browser, version } = await acquireBrowser();
  let server: WebServer | undefined;
  let context: BrowserContext | undefined;
  try {
    server = await startWebServer();
    for (const [k, v] of routes) server.routes.set(k, v);
    server.routes.set('/index.html', () => pageHtml({ title: `bisenet ${backend}`, scripts: PAGE_SCRIPTS[backend]!, module: '/lib/web/runner-page.js' }));
    context = await browser.newContext();
    const page = await context.newPage();
    // A script error while the page starts ends the wait at once, with its message.
    const pageError = new Promise<never>((_, bad) => page.on('pageerror', (e) => bad(e)));
    pageError.catch(() => {});
    await page.goto(`${server.url}/`, { timeout: 120_000 });
    await Promise.race([page.waitForFunction(() => 'bisenetRunner' in globalThis, null, { timeout: 60_000 }), pageError]).catch((e: unknown) => {
      fail('runtime', `the runner page did not start in Chromium: ${firstLine(e)} (${modelPath})`);
    });
    return { page, context, server, version };
  } catch (e) {
    await context?.close().catch(() => {});
    await server?.close();
    await releaseBrowser();
    throw e;
  }
}

export interface ChromiumRuntimeDef { id: string; backend: string }

function makeRuntime(def: ChromiumRuntimeDef): RuntimeInfo {
  const onnx = def.backend.startsWith('ort-');
  const tflite = def.backend.startsWith('litert-');
  return {
    id: def.id,
    async load(modelPath: string, opts: RunnerOptions): Promise<Runner> {
      const model = modelRoutes(modelPath, opts);
      if (opts.flags && Object.keys(opts.flags).length && (onnx || tflite)) fail('usage', `--tfjs-flags apply to the TensorFlow.js runtimes, not ${def.id}`);
      if (opts.expose) fail('usage', `the ${def.id} runtime cannot return intermediate tensors (use ort-cpu, tfjs-wasm or a WebGPU runtime in Node)`);
      const { page, context, server, version } = await openPage(def.backend, modelPath, model.routes);
      const closeAll = async (): Promise<void> => {
        await context.close().catch(() => {});
        await server.close();
        await releaseBrowser();
      };
      let info: { device: string; inputName: string; outputNames: string[] };
      try {
        info = await page.evaluate((spec) => (globalThis as unknown as { bisenetRunner: { open(s: unknown): Promise<typeof info> } }).bisenetRunner.open(spec),
          { backend: def.backend, modelUrl: model.url, flags: opts.flags, threads: opts.threads });
      } catch (e) {
        await closeAll();
        return fail('runtime', `${def.id} cannot open ${modelPath} in Chromium: ${firstLine(e)}`);
      }
      return {
        runtime: def.id,
        device: `Chromium ${version} headless, ${info.device}`,
        inputNames: [info.inputName],
        outputNames: info.outputNames,
        fixedInput: model.fixedInput,
        async run(inputs) {
          const input = inputs[info.inputName] ?? Object.values(inputs)[0];
          if (!input) return fail('usage', `no input given (the model takes ${info.inputName})`);
          if (input.dtype !== 'float32') fail('usage', `inputs of dtype ${input.dtype} are not supported; use float32`);
          if (input.shape.length !== 4) fail('shape', `expected a 4-D N×C×H×W input, got [${input.shape.join(', ')}]`);
          if (model.fixedInput && input.shape.join() !== model.fixedInput.join()) {
            fail('shape', `${modelPath} takes input ${model.fixedInput.join('×')} only (a TFLite model's size is fixed when converting: --shapes ${input.shape.join('x')}); given ${input.shape.join('×')}`);
          }
          const token = randomUUID();
          const d = input.data as Float32Array;
          server.routes.set(`/io/${token}/input`, () => ({ bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) }));
          const box = new Map<string, { bytes: Uint8Array; query: URLSearchParams }>();
          server.posts.set(token, box);
          try {
            let names: string[];
            try {
              names = await page.evaluate(([t, s]) => (globalThis as unknown as { bisenetRunner: { run(t: string, s: number[]): Promise<string[]> } }).bisenetRunner.run(t, s), [token, input.shape] as [string, number[]]);
            } catch (e) {
              return fail('runtime', `${def.id} failed to run ${modelPath}: ${firstLine(e)}`);
            }
            const out: Record<string, NdArray> = {};
            for (const name of names) {
              const p = box.get(name);
              if (!p) fail('runtime', `the page did not return output ${name}`);
              out[name] = postedArray(name, p!);
            }
            return out;
          } finally {
            server.routes.delete(`/io/${token}/input`);
            server.posts.delete(token);
          }
        },
        async dispose() {
          await page.evaluate(() => (globalThis as unknown as { bisenetRunner: { close(): Promise<void> } }).bisenetRunner.close()).catch(() => {});
          await closeAll();
        },
      };
    },
  };
}

const DEFS: ChromiumRuntimeDef[] = [
  { id: 'chromium-webgl', backend: 'tfjs-webgl' },
  { id: 'chromium-wasm', backend: 'tfjs-wasm' },
  { id: 'chromium-webgpu', backend: 'tfjs-webgpu' },
  { id: 'chromium-ort-wasm', backend: 'ort-wasm' },
  { id: 'chromium-ort-webgpu', backend: 'ort-webgpu' },
  { id: 'chromium-litert-wasm', backend: 'litert-wasm' },
  { id: 'chromium-litert-webgpu', backend: 'litert-webgpu' },
];

/** The browser runtime of an id (its registry entry, with model format and tolerance, is in ./index.ts). */
export function chromiumRuntime(id: string): RuntimeInfo {
  const def = DEFS.find((d) => d.id === id);
  if (!def) throw new Error(`no browser runtime ${id}`);
  return makeRuntime(def);
}

/** Page backend → the runtime id that runs it (for its tolerance). */
export const CHROMIUM_RUNTIMES_BY_BACKEND: Record<string, string> = Object.fromEntries(DEFS.map((d) => [d.backend, d.id]));

let probed: Promise<{ available: boolean; detail: string }> | null = null;

/**
 * Whether Chromium is here, and its version (the adapter is only known once a page asks for it);
 * one probe per process, shared by the browser runtimes. Their packages are checked before this.
 */
export function chromiumProbe(): Promise<{ available: boolean; detail: string }> {
  probed ??= (async () => {
    let exe: string | null;
    try { exe = findChromium(); distDir(); } catch (e) { return { available: false, detail: isBisenetError(e) ? e.message : String(e) }; }
    if (!exe) return { available: false, detail: CHROMIUM_MISSING };
    try { await import('playwright-core'); } catch (e) { return { available: false, detail: `playwright-core failed to load: ${firstLine(e)}` }; }
    const v = spawnSync(exe, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    const version = /\d+\.\d+\.\d+\.\d+/.exec(v.stdout ?? '')?.[0];
    return { available: true, detail: `headless Chromium${version ? ` ${version}` : ''} (${exe}); adapter named once a page runs` };
  })();
  return probed;
}

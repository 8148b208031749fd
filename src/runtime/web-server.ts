/**
 * The tiny static HTTP server behind the browser runtimes and `bisenet serve`: it serves the pages,
 * the browser builds of tfjs and onnxruntime-web from node_modules (no CDN), our own compiled page
 * code from dist/ (only the page modules, dist/web/*.js, and the modules they import), one model, optionally
 * a golden set, and (for the runners) per-run input and output blobs. Nothing else on disk is reachable:
 * every route is a table lookup, not a path join. A request whose Host header is not the address the
 * server listens on (or localhost), with its port, is refused with 421: a page on another site cannot
 * reach the server through DNS rebinding.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../util/errors.js';

/** Packages whose browser builds pages may load, and how to find each one's dist/ folder. */
const VENDOR: Record<string, string> = {
  '@tensorflow/tfjs-core': '@tensorflow/tfjs-core/package.json',
  '@tensorflow/tfjs-backend-cpu': '@tensorflow/tfjs-backend-cpu/package.json',
  '@tensorflow/tfjs-backend-webgl': '@tensorflow/tfjs-backend-webgl/package.json',
  '@tensorflow/tfjs-backend-wasm': '@tensorflow/tfjs-backend-wasm/package.json',
  '@tensorflow/tfjs-backend-webgpu': '@tensorflow/tfjs-backend-webgpu/package.json',
  '@tensorflow/tfjs-layers': '@tensorflow/tfjs-layers/package.json',
  '@tensorflow/tfjs-converter': '@tensorflow/tfjs-converter/package.json',
  // onnxruntime-web does not export its package.json; one of its dist files locates the folder.
  'onnxruntime-web': 'onnxruntime-web/ort-wasm-simd-threaded.wasm',
  // LiteRT.js: its ES modules (dist/), and its wasm builds (a folder beside dist/, served under its own name).
  '@litertjs/core': '@litertjs/core/package.json',
  '@litertjs/core-wasm': '@litertjs/core/wasm/litert_wasm_internal.js',
  '@litertjs/wasm-utils': '@litertjs/wasm-utils/package.json',
};

/** The tfjs browser builds (UMD, each extends the global `tf`), in load order. */
export const TFJS_SCRIPTS = ['@tensorflow/tfjs-core/tf-core.min.js', '@tensorflow/tfjs-backend-cpu/tf-backend-cpu.min.js',
  '@tensorflow/tfjs-backend-webgl/tf-backend-webgl.min.js', '@tensorflow/tfjs-backend-wasm/tf-backend-wasm.min.js',
  '@tensorflow/tfjs-backend-webgpu/tf-backend-webgpu.min.js', '@tensorflow/tfjs-layers/tf-layers.min.js',
  '@tensorflow/tfjs-converter/tf-converter.min.js'].map((s) => `/vendor/${s}`);
/** onnxruntime-web's builds (global `ort`): the plain wasm one, and the one with the WebGPU EP (wasm too). */
export const ORT_WASM_SCRIPT = '/vendor/onnxruntime-web/ort.wasm.min.js';
export const ORT_WEBGPU_SCRIPT = '/vendor/onnxruntime-web/ort.webgpu.min.js';

/**
 * Our compiled page code imports `@tensorflow/tfjs-core`/`-layers` by name (src/tfjs-custom-layers.ts is shared
 * with Node); in a page an import map points both at this module, which hands out the UMD `tf`.
 */
const TFJS_SHIM = `const tf = globalThis.tf;
export default tf;
export const { serialization, image, tidy, avgPool, pad, onesLike, div, layers } = tf;
`;
export const IMPORT_MAP = JSON.stringify({ imports: { '@tensorflow/tfjs-core': '/shim/tfjs.js', '@tensorflow/tfjs-layers': '/shim/tfjs.js',
  '@litertjs/core': '/vendor/@litertjs/core/index.js', '@litertjs/wasm-utils': '/vendor/@litertjs/wasm-utils/index.js' } });
/** Where the page finds LiteRT.js's wasm builds (loadLiteRt picks one by the browser's features). */
export const LITERT_WASM_DIR = '/vendor/@litertjs/core-wasm/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.bin': 'application/octet-stream', '.onnx': 'application/octet-stream', '.png': 'image/png', '.css': 'text/css',
};

/** Largest request body accepted (an output a runner page posts back). */
const MAX_BODY = 2 ** 31 - 1;

/** The package's root folder (holding package.json), from this file in src/ or dist/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'bin', 'bisenet'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return fail('runtime', 'cannot find the bisenet-port package folder');
    dir = up;
  }
}

/** dist/ with the compiled page code (src/web/), or an error saying to build. */
export function distDir(): string {
  const dist = path.join(packageRoot(), 'dist');
  if (!fs.existsSync(path.join(dist, 'web', 'engine.js'))) fail('runtime', `the browser page code is not built (${dist}/web); run \`npm run build\``);
  return dist;
}

let vendorDirs: Map<string, string> | null = null;
function vendorDir(pkg: string): string | undefined {
  if (!vendorDirs) {
    const require = createRequire(import.meta.url);
    vendorDirs = new Map();
    for (const [name, probe] of Object.entries(VENDOR)) {
      try {
        const f = require.resolve(probe);
        vendorDirs.set(name, probe.endsWith('package.json') ? path.join(path.dirname(f), 'dist') : path.dirname(f));
      } catch { /* not installed: its files 404 */ }
    }
  }
  return vendorDirs.get(pkg);
}

/**
 * The compiled modules a page may load: every module in dist/web/ and, transitively, the relative modules
 * they import (static `from '…'`, side-effect `import '…'`, dynamic `import('…')`). Nothing else of dist/ (the
 * CLI, the readers, the runtimes) is served.
 */
export function pageModules(dist: string): Set<string> {
  const allowed = new Set<string>();
  const web = path.join(dist, 'web');
  const queue = fs.readdirSync(web).filter((n) => n.endsWith('.js')).map((n) => path.join(web, n));
  const spec = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.\.?\/[^'"\n]+\.js)['"]/g;
  while (queue.length) {
    const f = queue.pop()!;
    if (allowed.has(f) || !f.startsWith(dist + path.sep)) continue;
    let text: string;
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    allowed.add(f);
    for (const m of text.matchAll(spec)) queue.push(path.resolve(path.dirname(f), m[1]!));
  }
  return allowed;
}

/**
 * Whether a Host header names this server: the address it listens on or `localhost` (or, listening on a
 * wildcard address, any IP literal: a rebinding attack needs a domain name), with the server's port (or
 * none when that is 80). Anything else, a missing header included, is refused.
 */
export function hostAllowed(header: string | undefined, listen: string, port: number): boolean {
  if (typeof header !== 'string' || header.length === 0 || header.length > 300) return false;
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  if (!m) return false;
  if ((m[2] === undefined ? 80 : Number(m[2])) !== port) return false;
  const name = m[1]!.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const bare = listen.toLowerCase().replace(/^\[|\]$/g, '');
  if (name === 'localhost' || name === bare) return true;
  const ipLiteral = /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
  return (bare === '0.0.0.0' || bare === '::') && ipLiteral;
}

/** A file under `root`, or null where `rel` leaves it or names no file. */
function inside(root: string, rel: string): string | null {
  if (rel.includes('\0') || rel.split('/').some((p) => p === '..' || p === '')) return null;
  const f = path.resolve(root, rel);
  if (!f.startsWith(root + path.sep)) return null;
  try { return fs.statSync(f).isFile() ? f : null; } catch { return null; }
}

export interface Blob { bytes: Uint8Array; type?: string }

export interface WebServer {
  url: string;
  host: string;
  port: number;
  /** fixed content by URL path (pages, model files, golden blobs) */
  routes: Map<string, () => Blob>;
  /** where POST /io/<token>/<name>?… bodies go; a token must be registered to receive */
  posts: Map<string, Map<string, { bytes: Uint8Array; query: URLSearchParams }>>;
  close(): Promise<void>;
}

export interface WebServerOptions { host?: string; port?: number }

/**
 * Starts the server on host:port (default 127.0.0.1, a free port). Headers make every page
 * cross-origin isolated (COOP/COEP), which gives wasm its threads; WebGPU needs the secure context
 * that http://127.0.0.1 is and about:blank is not.
 */
export async function startWebServer(opts: WebServerOptions = {}): Promise<WebServer> {
  const dist = distDir();
  const modules = pageModules(dist);
  let listenPort = 0;
  const routes = new Map<string, () => Blob>();
  const posts = new Map<string, Map<string, { bytes: Uint8Array; query: URLSearchParams }>>();
  routes.set('/shim/tfjs.js', () => ({ bytes: Buffer.from(TFJS_SHIM), type: TYPES['.js'] }));

  const resolve = (pathname: string): { file?: string; blob?: Blob } | null => {
    const route = routes.get(pathname);
    if (route) return { blob: route() };
    if (pathname.startsWith('/vendor/')) {
      const rest = pathname.slice('/vendor/'.length);
      const pkg = Object.keys(VENDOR).find((p) => rest.startsWith(`${p}/`));
      const dir = pkg && vendorDir(pkg);
      const f = dir ? inside(dir, rest.slice(pkg!.length + 1)) : null;
      return f ? { file: f } : null;
    }
    if (pathname.startsWith('/lib/') && pathname.endsWith('.js')) {
      const f = inside(dist, pathname.slice('/lib/'.length));
      return f && modules.has(f) ? { file: f } : null;
    }
    return null;
  };

  const server = http.createServer((req, res) => {
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (!hostAllowed(req.headers.host, host, listenPort)) {
      res.writeHead(421, { ...headers, 'Content-Type': 'text/plain', Connection: 'close' }).end('misdirected request: this server answers only to its own address\n');
      return;
    }
    let url: URL;
    try { url = new URL(req.url ?? '/', 'http://localhost'); } catch { res.writeHead(400, headers).end(); return; }
    let pathname: string;
    try { pathname = decodeURIComponent(url.pathname); } catch { res.writeHead(400, headers).end(); return; }
    if (req.method === 'POST' && pathname.startsWith('/io/')) {
      const [token, name] = pathname.slice(4).split('/');
      const box = token ? posts.get(token) : undefined;
      if (!box || !name) { res.writeHead(404, headers).end(); return; }
      const declared = Number(req.headers['content-length']);
      if (!(Number.isSafeInteger(declared) && declared >= 0 && declared <= MAX_BODY)) { res.writeHead(413, headers).end(); return; }
      const body = Buffer.allocUnsafe(declared);
      let got = 0;
      req.on('data', (chunk: Buffer) => {
        if (got + chunk.length > declared) { req.destroy(); return; }
        chunk.copy(body, got); got += chunk.length;
      });
      req.on('end', () => {
        if (got !== declared) { res.writeHead(400, headers).end(); return; }
        box.set(name, { bytes: body, query: url.searchParams });
        res.writeHead(204, headers).end();
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, headers).end(); return; }
    const found = resolve(pathname === '/' ? '/index.html' : pathname);
    if (!found) { res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found'); return; }
    const type = found.blob?.type ?? TYPES[path.extname(found.file ?? pathname).toLowerCase()] ?? 'application/octet-stream';
    if (found.blob) {
      res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': found.blob.bytes.byteLength });
      res.end(req.method === 'HEAD' ? undefined : found.blob.bytes);
      return;
    }
    const size = fs.statSync(found.file!).size;
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': size });
    if (req.method === 'HEAD') { res.end(); return; }
    fs.createReadStream(found.file!).on('error', () => res.destroy()).pipe(res);
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((ok, bad) => {
    server.once('error', (e: NodeJS.ErrnoException) => bad(e));
    server.listen(opts.port ?? 0, host, () => ok());
  }).catch((e: NodeJS.ErrnoException) => fail('usage', `cannot listen on ${host}:${opts.port ?? 0} (${e.code ?? e.message})`));
  const port = (server.address() as AddressInfo).port;
  listenPort = port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`, host, port, routes, posts,
    close: () => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** An HTML page: the UMD scripts, the import map for our modules, then one module script. */
export function pageHtml(o: { title: string; scripts: string[]; module: string; head?: string; body?: string }): Blob {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(o.title)}</title>
<script type="importmap">${IMPORT_MAP}</script>
${o.scripts.map((s) => `<script src="${escapeHtml(s)}"></script>`).join('\n')}
${o.head ?? ''}
</head><body>
${o.body ?? ''}
<script type="module" src="${escapeHtml(o.module)}"></script>
</body></html>
`;
  return { bytes: Buffer.from(html), type: TYPES['.html'] };
}

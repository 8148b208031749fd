/**
 * WebGPU in Node, for the GPU runners (tfjs-webgpu, ort-webgpu): the npm package `webgpu` (Dawn's
 * node bindings, dawn.node) provides `navigator.gpu`. On a GPU machine it runs on the GPU (Vulkan);
 * on a CPU-only machine on a software Vulkan driver (Mesa lavapipe), which is how CI tests it.
 *
 * Every workaround the WebGPU path needs in Node lives in this file, each with its reason:
 *  - a project-local lavapipe (scripts/ci-vulkan.sh) is added to the Vulkan loader's drivers;
 *  - `navigator` is defined (Node 20 has none) before any WebGPU library is imported;
 *  - `GPUQueue.writeBuffer` copies data that lives in a SharedArrayBuffer (dawn.node crashes on it);
 *  - Dawn's OpenGL ES backend is pointed at EGL's surfaceless platform when there is no display;
 *  - adapters are listed through dawn.node's error message for an unknown adapter name (it has no
 *    enumeration API).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { causeText, fail } from '../util/errors.js';

/** The pinned `webgpu` package's exports. */
interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/** What this file needs of the WebGPU API (the full types live in @webgpu/types). */
export interface GPUAdapterInfoLike { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean }
export interface GPUAdapterLike {
  readonly info: GPUAdapterInfoLike;
  readonly features: ReadonlySet<string>;
  readonly limits: Record<string, number>;
  requestDevice(desc?: unknown): Promise<GPUDeviceLike>;
}
export interface GPUDeviceLike { destroy(): void; readonly lost: Promise<unknown> }
export interface GPU { requestAdapter(opts?: Record<string, unknown>): Promise<GPUAdapterLike | null> }

/** Where scripts/ci-vulkan.sh puts Mesa's lavapipe (libvulkan_lvp.so and lvp_icd.json). */
export function lavapipeDir(): string {
  return process.env.BISENET_LAVAPIPE_DIR || path.join(os.homedir(), '.cache', 'bisenet-port', 'lavapipe');
}

/** The project-local lavapipe's ICD file, when scripts/ci-vulkan.sh has installed one. */
export function localLavapipeIcd(): string | null {
  const f = path.join(lavapipeDir(), 'lvp_icd.json');
  return fs.existsSync(f) ? f : null;
}

/**
 * Workaround: Debian bookworm's Mesa 22 lavapipe is rejected by Dawn (it lacks
 * shaderUniform*ArrayDynamicIndexing); Mesa 25's, from bookworm-backports, works. It is unpacked
 * into a local folder rather than installed, so the system's Mesa stays as it is. It is *added* to
 * the drivers the Vulkan loader finds (VK_ADD_DRIVER_FILES, read when Dawn creates its Vulkan
 * instance), so a real GPU stays visible and ranks first. Nothing changes when the user has chosen
 * drivers (VK_ICD_FILENAMES / VK_DRIVER_FILES).
 */
function addLocalLavapipe(): void {
  const icd = localLavapipeIcd();
  if (!icd || process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return;
  const add = (process.env.VK_ADD_DRIVER_FILES ?? '').split(':').filter(Boolean);
  if (!add.includes(icd)) process.env.VK_ADD_DRIVER_FILES = [...add, icd].join(':');
}

let dawnPromise: Promise<DawnModule> | null = null;

/** dawn.node, loaded once, with the process-wide workarounds applied. */
export async function loadDawn(): Promise<DawnModule> {
  dawnPromise ??= (async () => {
    addLocalLavapipe();
    let dawn: DawnModule;
    try {
      dawn = (await import('webgpu')) as unknown as DawnModule;
    } catch (e) {
      dawnPromise = null;
      return fail('runtime', `WebGPU is not available: the "webgpu" package (dawn.node) failed to load: ${causeText(e)}`);
    }
    // The WebGPU classes (GPUBufferUsage, GPUMapMode…) are globals in a browser; libraries use them so.
    Object.assign(globalThis, dawn.globals);
    patchWriteBuffer(dawn.globals);
    return dawn;
  })();
  return dawnPromise;
}

/**
 * Workaround: dawn.node crashes the process on `queue.writeBuffer` from a view on a
 * SharedArrayBuffer. onnxruntime-web does this (its wasm memory is shared when threads are
 * possible), so such data is copied into an ordinary ArrayBuffer first.
 */
function patchWriteBuffer(globals: Record<string, unknown>): void {
  const Queue = globals.GPUQueue as { prototype: Record<string | symbol, unknown> } | undefined;
  const mark = Symbol.for('bisenet.writeBufferCopiesShared');
  if (!Queue || Queue.prototype[mark]) return;
  const original = Queue.prototype.writeBuffer as (this: unknown, ...args: unknown[]) => void;
  Queue.prototype.writeBuffer = function (this: unknown, buffer: unknown, offset: unknown, data: unknown, ...rest: unknown[]) {
    if (typeof SharedArrayBuffer !== 'undefined') {
      if (data instanceof SharedArrayBuffer) data = data.slice(0);
      else if (data instanceof DataView && data.buffer instanceof SharedArrayBuffer) {
        data = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(); // offsets are in bytes either way
      } else if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
        // slice() gives a typed array of the same kind on a fresh, unshared ArrayBuffer, so dataOffset/size keep their meaning
        data = (data as unknown as { slice(): unknown }).slice();
      }
    }
    return original.call(this, buffer, offset, data, ...rest);
  };
  Queue.prototype[mark] = true;
}

// ---------------------------------------------------------------------------------------------
// Choosing an adapter: --device

export type Backend = 'vulkan' | 'opengles' | 'opengl' | 'd3d12' | 'd3d11' | 'metal';
const BACKENDS: Backend[] = ['vulkan', 'opengles', 'opengl', 'd3d12', 'd3d11', 'metal'];

export interface DeviceSpec {
  /** the text given, for messages */
  text: string;
  backend?: Backend;
  /** case-insensitive part of the adapter's name */
  name?: string;
  /** 'gpu': a hardware adapter only; 'software': a software one (lavapipe, SwiftShader) */
  kind?: 'gpu' | 'software';
}

export const DEVICE_HELP = 'WebGPU adapter: auto (default: the first GPU, else a software one), gpu, software, '
  + 'a part of an adapter\'s name (e.g. H100, llvmpipe), or BACKEND[:NAME] with BACKEND vulkan or opengles';

/**
 * `--device` for the WebGPU runtimes: `auto` | `gpu` | `software` | `<name part>` | `<backend>[:<name part>]`.
 */
export function parseDeviceSpec(text: string | undefined): DeviceSpec {
  const t = (text ?? 'auto').trim();
  if (t === '' || t === 'auto') return { text: 'auto' };
  if (t === 'gpu') return { text: t, kind: 'gpu' };
  if (t === 'software' || t === 'cpu') return { text: t, kind: 'software' };
  const [head, ...rest] = t.split(':');
  if (BACKENDS.includes(head as Backend)) {
    const name = rest.join(':');
    return { text: t, backend: head as Backend, ...(name ? { name } : {}) };
  }
  return { text: t, name: t };
}

export interface AdapterEntry { backend: string; name: string }

const SOFTWARE_NAME = /llvmpipe|lavapipe|swiftshader|softpipe|warp/i;
export const isSoftwareName = (name: string): boolean => SOFTWARE_NAME.test(name);

/**
 * Adapters Dawn sees, per backend. dawn.node has no enumeration API; its error for an adapter
 * name that does not exist lists every adapter ("Available adapters: * backend: 'vulkan', name: '…'").
 * The OpenGL ES backend is only listed when asked for by name.
 */
export async function listAdapters(backends: (Backend | undefined)[] = [undefined, 'opengles']): Promise<AdapterEntry[]> {
  const dawn = await loadDawn();
  const seen = new Map<string, AdapterEntry>();
  for (const b of backends) {
    glWorkaround(b);
    let message = '';
    try {
      const gpu = dawn.create([...(b ? [`backend=${b}`] : []), 'adapter=\u0001none']);
      const a = await gpu.requestAdapter(b === 'opengles' || b === 'opengl' ? { featureLevel: 'compatibility' } : {});
      if (a) continue;
    } catch (e) {
      message = (e as Error).message ?? '';
    }
    for (const m of message.matchAll(/backend: '([^']*)', name: '([^']*)'/g)) {
      seen.set(`${m[1]}/${m[2]}`, { backend: m[1]!, name: m[2]! });
    }
  }
  return [...seen.values()];
}

/**
 * Workaround: without a display, Mesa's EGL looks for X11 and fails (EGL_NOT_INITIALIZED);
 * its surfaceless platform needs none, and is all compute needs.
 */
function glWorkaround(backend: Backend | undefined): void {
  if ((backend === 'opengles' || backend === 'opengl') && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY && !process.env.EGL_PLATFORM) {
    process.env.EGL_PLATFORM = 'surfaceless';
  }
}

export interface OpenedAdapter {
  gpu: GPU;
  adapter: GPUAdapterLike;
  /** e.g. "NVIDIA H100 80GB HBM3 (vulkan)", "llvmpipe (LLVM 15.0.6, 256 bits) (vulkan, software)" */
  label: string;
  backend: string;
  software: boolean;
  featureLevel: 'core' | 'compatibility';
}

/** Opens the adapter a `--device` value names; a clear error where there is none. */
export async function openAdapter(deviceText: string | undefined): Promise<OpenedAdapter> {
  const spec = parseDeviceSpec(deviceText);
  const dawn = await loadDawn();
  glWorkaround(spec.backend);
  const featureLevel = spec.backend === 'opengles' || spec.backend === 'opengl' ? 'compatibility' : 'core';
  const all = await listAdapters(spec.backend ? [spec.backend] : [undefined]);
  const avail = all.map((a) => `${a.name} (${a.backend})`).join('; ') || 'none';
  let chosen: AdapterEntry | undefined;
  if (spec.name) {
    const part = spec.name.toLowerCase();
    chosen = all.find((a) => a.name.toLowerCase().includes(part));
    if (!chosen) fail('runtime', `no WebGPU adapter matches --device ${spec.text}; adapters here: ${avail}`);
  } else if (spec.kind === 'software') {
    chosen = all.find((a) => isSoftwareName(a.name));
    if (!chosen) fail('runtime', `no software WebGPU adapter (lavapipe) here; adapters: ${avail}. Install one with scripts/ci-vulkan.sh`);
  } else if (spec.kind === 'gpu') {
    chosen = all.find((a) => !isSoftwareName(a.name));
    if (!chosen) fail('runtime', `no GPU adapter here (adapters: ${avail})`);
  }
  const flags = [...(spec.backend ? [`backend=${spec.backend}`] : []), ...(chosen ? [`adapter=${chosen.name}`] : [])];
  let gpu: GPU;
  let adapter: GPUAdapterLike | null = null;
  try {
    gpu = dawn.create(flags);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance', ...(featureLevel === 'compatibility' ? { featureLevel } : {}) });
  } catch (e) {
    return fail('runtime', `no WebGPU adapter for --device ${spec.text}: ${causeText(e)} (adapters here: ${avail})`);
  }
  if (!adapter) {
    const hint = localLavapipeIcd() ? '' : '; on a machine without a GPU, install the software Vulkan driver with scripts/ci-vulkan.sh';
    return fail('runtime', `no WebGPU adapter (--device ${spec.text}; adapters here: ${avail})${hint}`);
  }
  const name = chosen?.name ?? adapterName(adapter.info, all);
  const backend = chosen?.backend ?? spec.backend ?? all.find((a) => a.name === name)?.backend ?? 'vulkan';
  const software = isSoftwareName(name) || adapter.info.architecture === 'software' || adapter.info.isFallbackAdapter === true;
  return { gpu, adapter, label: `${name} (${backend}${software ? ', software' : ''}${featureLevel === 'compatibility' ? ', compatibility' : ''})`, backend, software, featureLevel };
}

/** The adapter's human name: Dawn's list name where the info matches one, else its description. */
function adapterName(info: GPUAdapterInfoLike, all: AdapterEntry[]): string {
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/-+$/, '');
  const byDevice = all.find((a) => slug(a.name) === slug(info.device) || (info.description && info.description.startsWith(a.name)));
  return byDevice?.name ?? (info.description || info.device || `${info.vendor} adapter`);
}

/**
 * Makes `navigator.gpu` the given instance, for libraries that look there (tfjs-backend-webgpu at
 * import time, onnxruntime-web when it creates its device). Node 20 has no `navigator`.
 */
export function installNavigatorGpu(gpu: GPU): void {
  const nav = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  if (nav && typeof nav === 'object') {
    try {
      Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
      return;
    } catch { /* a read-only navigator: replace it below */ }
  }
  Object.defineProperty(globalThis, 'navigator', { value: { ...(nav ?? {}), gpu }, configurable: true, writable: true });
}

/** The device limits the WebGPU libraries want: as large as the adapter allows. */
export function generousLimits(adapter: GPUAdapterLike): Record<string, number> {
  const l = adapter.limits;
  const keys = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize',
    'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];
  const out: Record<string, number> = {};
  for (const k of keys) if (typeof l[k] === 'number') out[k] = l[k]!;
  return out;
}

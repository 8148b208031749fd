/**
 * WebGPU runtimes (tfjs-webgpu, ort-webgpu) on whatever adapter this machine has: lavapipe in CI
 * (scripts/ci-vulkan.sh), a GPU elsewhere. Where there is no adapter the tests skip, saying why;
 * with BISENET_REQUIRE_WEBGPU=1 (as CI sets) a missing adapter fails them instead.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { KNOWN_FAILURES } from '../../src/doctor/index.js';
import { GPU_TOLERANCE } from '../../src/verify/tolerance.js';
import { groupedConvRepro } from '../../src/emit/repro.js';
import { loadRunner } from '../../src/runtime/index.js';
import { openAdapter, parseDeviceSpec } from '../../src/runtime/webgpu.js';
import { isBisenetError } from '../../src/util/errors.js';
import type { NdArray } from '../../src/util/ndarray.js';
import { verifyGolden } from '../../src/verify/index.js';
import { runCli } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
/**
 * Room for a loaded machine: alone on a quiet 2-core VM this file takes ≈ 25 s, but compiling onnxruntime-web's
 * wasm and lavapipe's shaders while other test files run can take minutes. A test that still times out cannot
 * poison the next: ort-webgpu's session creations queue (src/runtime/ort-web.ts), so a late one ends first.
 */
const SLOW = 300_000;
let adapter: string | null = null;
let noAdapter = '';

beforeAll(async () => {
  work = tmpDir('bisenet-webgpu-');
  try {
    adapter = (await openAdapter('auto')).label;
    console.info(`WebGPU tests run on: ${adapter}`);
  } catch (e) {
    noAdapter = isBisenetError(e) ? e.message : String(e);
    console.warn(`WebGPU tests skipped: ${noAdapter}`);
  }
  const onnx = converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' });
  fs.writeFileSync(path.join(work, 'model.onnx'), onnx.bytes);
  const dw = converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx', groupedConv: 'depthwise' });
  fs.writeFileSync(path.join(work, 'depthwise.onnx'), dw.bytes);
  const g = converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-graph' });
  fs.mkdirSync(path.join(work, 'graph'));
  for (const [f, data] of g.files!) fs.writeFileSync(path.join(work, 'graph', f), data);
}, SLOW);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

/** Skips (with the reason) where this machine has no WebGPU adapter; fails instead in CI. */
function needAdapter(ctx: TestContext): void {
  if (adapter) return;
  if (process.env.BISENET_REQUIRE_WEBGPU === '1') throw new Error(`BISENET_REQUIRE_WEBGPU=1 but no WebGPU adapter: ${noAdapter} (run scripts/ci-vulkan.sh)`);
  ctx.skip(`no WebGPU adapter here: ${noAdapter}`);
}

async function verifyOn(model: string, runtime: string) {
  const runner = await loadRunner(model, runtime);
  try {
    return await verifyGolden(runner, model, golden(UPSTREAM), GPU_TOLERANCE);
  } finally {
    await runner.dispose();
  }
}

const logitsOf = (r: Awaited<ReturnType<typeof verifyOn>>) => r.cases[0]!.outputs.find((o) => o.name === 'logits')!;

function maxRel(a: NdArray, b: NdArray): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let d = 0;
  let m = 0;
  for (let i = 0; i < y.length; i++) { d = Math.max(d, Math.abs(x[i]! - y[i]!)); m = Math.max(m, Math.abs(y[i]!)); }
  return d / m;
}

describe('--device', () => {
  it('parses adapter choices', () => {
    expect(parseDeviceSpec(undefined)).toEqual({ text: 'auto' });
    expect(parseDeviceSpec('gpu')).toMatchObject({ kind: 'gpu' });
    expect(parseDeviceSpec('software')).toMatchObject({ kind: 'software' });
    expect(parseDeviceSpec('H100')).toMatchObject({ name: 'H100' });
    expect(parseDeviceSpec('opengles')).toMatchObject({ backend: 'opengles' });
    expect(parseDeviceSpec('vulkan:llvmpipe')).toMatchObject({ backend: 'vulkan', name: 'llvmpipe' });
  });

  it('names the adapters there are when none matches', async (ctx) => {
    needAdapter(ctx);
    await expect(openAdapter('no-such-adapter-xyz')).rejects.toThrow(/no WebGPU adapter matches --device no-such-adapter-xyz; adapters here: .+/);
  });
});

describe('WebGPU parity on the upstream golden set (≤ 1e-3 × max|ref|, ≥ 99.9 % labels)', { timeout: SLOW }, () => {
  it('tfjs-webgpu passes', async (ctx) => {
    needAdapter(ctx);
    const r = await verifyOn(path.join(work, 'graph'), 'tfjs-webgpu');
    expect(r.device).toContain(adapter!.split(' (')[0]!);
    expect(logitsOf(r).relMax).toBeLessThanOrEqual(1e-3);
    expect(logitsOf(r).labelAgreement).toBeGreaterThanOrEqual(0.999);
    expect(r.pass).toBe(true);
  });

  it('ort-webgpu (preferredLayout NCHW, the workaround) passes', async (ctx) => {
    needAdapter(ctx);
    const r = await verifyOn(path.join(work, 'model.onnx'), 'ort-webgpu');
    expect(logitsOf(r).relMax).toBeLessThanOrEqual(1e-3);
    expect(logitsOf(r).labelAgreement).toBeGreaterThanOrEqual(0.999);
    expect(r.pass).toBe(true);
  });

  it('ort-webgpu-default (onnxruntime-web 1.30 defaults) is caught as a parity failure', async (ctx) => {
    needAdapter(ctx);
    const r = await verifyOn(path.join(work, 'model.onnx'), 'ort-webgpu-default');
    // If this starts passing, onnxruntime-web fixed its grouped-conv bug: drop KNOWN_FAILURES' entry and this test.
    expect(KNOWN_FAILURES['ort-webgpu-default']).toBeDefined();
    expect(r.pass).toBe(false);
    expect(logitsOf(r).relMax).toBeGreaterThan(1e-2);
    expect(logitsOf(r).labelAgreement).toBeLessThan(0.99);
  });

  it('the depthwise-form ONNX (--grouped-conv depthwise) passes even with the defaults', async (ctx) => {
    needAdapter(ctx);
    const r = await verifyOn(path.join(work, 'depthwise.onnx'), 'ort-webgpu-default');
    expect(r.pass).toBe(true);
  });
});

describe('ort-webgpu keeps data on the GPU between calls', { timeout: SLOW }, () => {
  it('reads back only the outputs fetched, the same labels as a full read-back, and reports upload, compute and read-back', async (ctx) => {
    needAdapter(ctx);
    const file = path.join(work, 'labels.onnx');
    fs.writeFileSync(file, converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx', labels: true }).bytes);
    const runner = await loadRunner(file, 'ort-webgpu');
    try {
      const shape = [1, 3, 64, 96];
      const x: NdArray = { dtype: 'float32', shape, data: Float32Array.from({ length: 3 * 64 * 96 }, (_, i) => Math.sin(i * 0.37)) };
      const all = await runner.run({ [runner.inputNames[0]!]: x });
      expect(Object.keys(all).sort()).toEqual(['labels', 'logits']);
      const only = await runner.run({ [runner.inputNames[0]!]: x }, { outputs: ['labels'] });
      expect(Object.keys(only)).toEqual(['labels']);
      expect(only.labels!.shape).toEqual([1, 64, 96]);
      expect(Array.from(only.labels!.data as BigInt64Array)).toEqual(Array.from(all.labels!.data as BigInt64Array));
      const p = runner.phases!()!;
      for (const v of [p.uploadMs, p.computeMs, p.readbackMs]) expect(v).toBeGreaterThanOrEqual(0);
      expect(p.computeMs).toBeGreaterThan(0);
      // A second input of another size gets its own buffer; the answer is still that of a fresh run.
      const y: NdArray = { dtype: 'float32', shape: [1, 3, 32, 64], data: new Float32Array(3 * 32 * 64).fill(0.25) };
      const small = await runner.run({ [runner.inputNames[0]!]: y }, { outputs: ['labels'] });
      expect(small.labels!.shape).toEqual([1, 32, 64]);
    } finally {
      await runner.dispose();
    }
  });

  it('takes three runners created and run at the same time (calls into the EP queue: it takes one at a time)', async (ctx) => {
    needAdapter(ctx);
    const { onnx, input } = groupedConvRepro({ form: 'depthwise' });
    const file = path.join(work, 'concurrent.onnx');
    fs.writeFileSync(file, onnx);
    const runners = await Promise.all([loadRunner(file, 'ort-webgpu'), loadRunner(file, 'ort-webgpu'), loadRunner(file, 'ort-webgpu-default')]);
    try {
      const outs = await Promise.all(runners.map(async (r) => (await r.run({ input })).output!));
      expect(maxRel(outs[1]!, outs[0]!)).toBeLessThan(1e-6);
      expect(maxRel(outs[2]!, outs[0]!)).toBeLessThan(1e-5);
    } finally {
      for (const r of runners) await r.dispose();
    }
  });
});

describe('the minimal reproduction: one grouped conv, 6 outputs per group', { timeout: SLOW }, () => {
  it('is wrong on the defaults, right with NCHW or in depthwise form', async (ctx) => {
    needAdapter(ctx);
    const run = async (form: 'native' | 'depthwise', runtime: string) => {
      const { onnx, input } = groupedConvRepro({ form });
      const file = path.join(work, `repro-${form}.onnx`);
      fs.writeFileSync(file, onnx);
      const r = await loadRunner(file, runtime);
      try { return (await r.run({ input })).output!; } finally { await r.dispose(); }
    };
    const ref = await run('native', 'ort-cpu');
    expect(maxRel(await run('native', 'ort-webgpu-default'), ref)).toBeGreaterThan(1e-2);
    expect(maxRel(await run('native', 'ort-webgpu'), ref)).toBeLessThan(1e-5);
    expect(maxRel(await run('depthwise', 'ort-webgpu-default'), ref)).toBeLessThan(1e-5);
  });
});

describe('bisenet verify on the WebGPU runtimes', { timeout: SLOW }, () => {
  it('exits 1 and prints FAIL for the failing default configuration', (ctx) => {
    needAdapter(ctx);
    const r = runCli(['verify', path.join(work, 'model.onnx'), '--golden', golden(UPSTREAM), '--runtime', 'ort-webgpu-default'], { timeoutMs: SLOW - 10_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/on ort-webgpu-default \[.+default layout\]/);
    expect(r.stdout).toMatch(/^FAIL: /m);
  });
});

/**
 * Browser runtimes in headless Chromium: the upstream golden set through every chromium runtime,
 * held to the runtime's tolerance, with WebGL's float16-texture and unpacked variants measured.
 * One browser for the whole file. Where Chromium is missing the tests skip, saying why; with
 * BISENET_REQUIRE_CHROMIUM=1 (as CI sets) they fail instead. The two WebGL variants are in the slow
 * tier (BISENET_TEST_FULL=1, as CI sets).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { TOLERANCES } from '../../src/verify/tolerance.js';
import { acquireBrowser, CHROMIUM_MISSING, findChromium, releaseBrowser } from '../../src/runtime/chromium.js';
import { loadRunner, RUNTIMES } from '../../src/runtime/index.js';
import { isBisenetError } from '../../src/util/errors.js';
import { verifyGolden, type VerifyReport } from '../../src/verify/index.js';
import { runCli } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';
import { FULL_TIER } from '../helpers/tier.js';

let work: string;
let chromium: string | null = null;
let missing = '';
// Software WebGL/WebGPU (SwiftShader) compiles shaders slowly: minutes on a busy 2-core machine.
const BROWSER_TIMEOUT = 600_000;

beforeAll(async () => {
  work = tmpDir('bisenet-chromium-');
  for (const to of ['onnx', 'tfjs-layers', 'tfjs-graph'] as const) {
    const c = converted(fixture(UPSTREAM, 'model.pth'), { to });
    if (c.files) {
      fs.mkdirSync(path.join(work, to));
      for (const [f, data] of c.files) fs.writeFileSync(path.join(work, to, f), data);
    } else fs.writeFileSync(path.join(work, 'model.onnx'), c.bytes);
  }
  // TFLite: the golden input's size, fixed when converting.
  fs.writeFileSync(path.join(work, 'model.tflite'), converted(fixture(UPSTREAM, 'model.pth'), { to: 'tflite', labels: true, shapes: '1x3x96x160' }).bytes);
  try { chromium = findChromium(); } catch (e) { missing = String(e); }
  if (!chromium) { missing ||= CHROMIUM_MISSING; console.warn(`Chromium tests skipped: ${missing}`); return; }
  // One browser for every runner in this file (runners share the process's browser while it is held).
  await acquireBrowser();
}, 300_000);
afterAll(async () => {
  if (chromium) await releaseBrowser();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Skips (with the reason) where Chromium is missing; fails instead in CI. */
function needChromium(ctx: TestContext): void {
  if (chromium) return;
  if (process.env.BISENET_REQUIRE_CHROMIUM === '1') throw new Error(`BISENET_REQUIRE_CHROMIUM=1 but ${missing} (CI: .ci/run installs it)`);
  ctx.skip(`no Chromium here: ${missing}`);
}

async function verifyOn(model: string, runtime: string, flags?: Record<string, boolean>): Promise<VerifyReport> {
  const runner = await loadRunner(model, runtime, { flags });
  try {
    return await verifyGolden(runner, model, golden(UPSTREAM), TOLERANCES[runtime]);
  } finally {
    await runner.dispose();
  }
}

const logitsOf = (r: VerifyReport) => r.cases[0]!.outputs.find((o) => o.name === 'logits')!;
const figures = (r: VerifyReport): string => `${r.runtime} [${r.device}]: max|Δ|/max|ref| ${logitsOf(r).relMax.toExponential(2)}, labels ${(100 * logitsOf(r).labelAgreement!).toFixed(3)}%`;

describe('finding Chromium', () => {
  it('names what is wrong with CHROME_PATH, and finds nothing on an empty PATH', () => {
    const saved = { CHROME_PATH: process.env.CHROME_PATH, PATH: process.env.PATH };
    try {
      process.env.CHROME_PATH = path.join(work, 'no-such-browser');
      expect(() => findChromium()).toThrow(/CHROME_PATH=.*no-such-browser is not an executable file/);
      delete process.env.CHROME_PATH;
      process.env.PATH = work;
      expect(findChromium()).toBeNull();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });

  it('the CLI says how to install Chromium when there is none, exit 2, before loading anything', () => {
    const env = { PATH: work, CHROME_PATH: undefined };
    const r = runCli(['verify', fixture(UPSTREAM, 'model.pth'), '--golden', golden(UPSTREAM), '--runtime', 'chromium-ort-wasm'], { env });
    // A checkpoint is not a model: the model is checked first, and that is the one line.
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: runtime chromium-ort-wasm cannot load .*model\.pth; convert the checkpoint first: bisenet convert .*model\.pth --to onnx --out model\.onnx\n$/);
    const onnx = path.join(work, 'model.onnx');
    const r2 = runCli(['verify', onnx, '--golden', golden(UPSTREAM), '--runtime', 'chromium-ort-wasm'], { env });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toBe(`error: ${CHROMIUM_MISSING}\n`);
  });

  it('registers seven chromium runtimes, each with a tolerance', () => {
    const ids = RUNTIMES.map((r) => r.id).filter((id) => id.startsWith('chromium-'));
    expect(ids).toEqual(['chromium-webgl', 'chromium-wasm', 'chromium-webgpu', 'chromium-ort-wasm', 'chromium-litert-wasm', 'chromium-litert-webgpu', 'chromium-ort-webgpu']);
    expect(TOLERANCES['chromium-litert-wasm']!.rel).toBe(1e-4);
    for (const id of ids) expect(TOLERANCES[id]).toBeDefined();
    expect(TOLERANCES['chromium-wasm']!.rel).toBe(1e-4);
    expect(TOLERANCES['chromium-webgl']!.rel).toBe(1e-3);
  });
});

describe('upstream golden set in headless Chromium', () => {
  // [runtime, model, device, slow tier]: the two WebGPU pages (≈ 30 s each on SwiftShader, nearly all of it compiling
  // shaders on the first run) run in the slow tier (CI): their pages and loaders are those of chromium-wasm and
  // chromium-ort-wasm, their backends the ones tfjs-webgpu and ort-webgpu run in Node (webgpu.test.ts).
  const cases: [string, string, RegExp, boolean][] = [
    ['chromium-wasm', 'tfjs-graph', /Chromium \d+.*WebAssembly/, false],
    ['chromium-ort-wasm', 'model.onnx', /Chromium \d+.*WebAssembly SIMD/, false],
    ['chromium-webgl', 'tfjs-layers', /Chromium \d+.*WebGL2 .+, float32 textures, packed \(layers-model\)/, false],
    ['chromium-webgpu', 'tfjs-graph', /Chromium \d+.*WebGPU \S+/, true],
    ['chromium-ort-webgpu', 'model.onnx', /Chromium \d+.*WebGPU \S+.*NCHW layout/, true],
    ['chromium-litert-wasm', 'model.tflite', /Chromium \d+.*LiteRT\.js wasm/, false],
    // LiteRT's WebGPU delegate has its own kernels (it miscounted PAD + AVERAGE_POOL_2D: src/emit/tflite.ts).
    ['chromium-litert-webgpu', 'model.tflite', /Chromium \d+.*WebGPU \S+/, true],
  ];
  for (const [runtime, model, device, slow] of cases) {
    it.skipIf(slow && !FULL_TIER)(`${runtime} (${model}) passes at ≤ ${TOLERANCES[runtime]!.rel} × max|ref|, ≥ ${100 * TOLERANCES[runtime]!.minAgreement} % labels`, async (ctx) => {
      needChromium(ctx);
      const r = await verifyOn(path.join(work, model), runtime);
      console.info(figures(r));
      expect(r.device).toMatch(device);
      expect(logitsOf(r).relMax).toBeLessThanOrEqual(TOLERANCES[runtime]!.rel);
      expect(logitsOf(r).labelAgreement).toBeGreaterThanOrEqual(TOLERANCES[runtime]!.minAgreement);
      expect(r.pass).toBe(true);
    }, BROWSER_TIMEOUT);
  }

  // The WebGL variants: the slow tier (test/helpers/tier.ts); the default configuration is tested above.
  it.skipIf(!FULL_TIER)('chromium-webgl with float16 textures is measured and reported (WEBGL_FORCE_F16_TEXTURES)', async (ctx) => {
    needChromium(ctx);
    const r = await verifyOn(path.join(work, 'tfjs-graph'), 'chromium-webgl', { WEBGL_FORCE_F16_TEXTURES: true });
    console.info(`float16 textures: ${figures(r)}`);
    expect(r.device).toMatch(/float16 textures/);
    // float16 textures round every intermediate to 11 bits: visibly worse than float32, yet the same segmentation mostly.
    expect(logitsOf(r).relMax).toBeGreaterThan(1e-4);
    expect(logitsOf(r).relMax).toBeLessThan(0.1);
    expect(logitsOf(r).labelAgreement).toBeGreaterThan(0.9);
  }, BROWSER_TIMEOUT);

  it.skipIf(!FULL_TIER)('chromium-webgl with packing off passes too (WEBGL_PACK=false)', async (ctx) => {
    needChromium(ctx);
    const r = await verifyOn(path.join(work, 'tfjs-layers'), 'chromium-webgl', { WEBGL_PACK: false });
    console.info(`unpacked: ${figures(r)}`);
    expect(r.device).toMatch(/unpacked/);
    expect(r.pass).toBe(true);
  }, BROWSER_TIMEOUT);

  it('an unknown tfjs flag is a clear error, not a hang', async (ctx) => {
    needChromium(ctx);
    const e = await loadRunner(path.join(work, 'tfjs-graph'), 'chromium-wasm', { flags: { NO_SUCH_FLAG_XYZ: true } }).then(() => null, (x: unknown) => x);
    expect(isBisenetError(e)).toBe(true);
    expect((e as Error).message).toMatch(/chromium-wasm cannot open .* NO_SUCH_FLAG_XYZ/);
  }, BROWSER_TIMEOUT);
});

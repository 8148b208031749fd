/**
 * `bisenet serve`: the CLI's checks and warnings, and the page itself driven in headless Chromium —
 * load an image, wait for the overlay, press "check this device", read the parity table — with a
 * screenshot kept under .tmp/ as the test's artefact. Without Chromium the page test skips, saying
 * why; with BISENET_REQUIRE_CHROMIUM=1 (as CI sets) it fails instead.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { acquireBrowser, CHROMIUM_MISSING, findChromium, releaseBrowser } from '../../src/runtime/chromium.js';
import { CITYSCAPES_CLASSES, CITYSCAPES_PALETTE } from '../../src/model-file/presets.js';
import { installLine } from '../../src/runtime/packages.js';
import { indexPalette } from '../../src/util/palette.js';
import { streetCard } from '../helpers/images.js';
import { readLegend, readMask } from '../helpers/serve-page.js';
import { startServe } from '../../src/serve/index.js';
import { bisenet } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { BIN, fixture, golden, ROOT, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let layers: string;

beforeAll(() => {
  work = tmpDir('bisenet-serve-');
  layers = path.join(work, 'layers');
  const c = converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-layers' });
  fs.mkdirSync(layers);
  for (const [f, data] of c.files!) fs.writeFileSync(path.join(layers, f), data);
  fs.writeFileSync(path.join(work, 'street.png'), streetCard());
}, 300_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });


describe('bisenet serve (CLI)', () => {
  it('refuses a missing model and a golden set that is not one, in one line, exit 2', () => {
    let r = bisenet('serve', path.join(work, 'nope.onnx'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not found: .*nope\.onnx/);
    r = bisenet('serve', layers, '--golden', path.join(work, 'street.png'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/street\.png: not a directory/);
  });

  it('serves on loopback by default, and warns when told to listen elsewhere', async () => {
    for (const [args, warns] of [[[], false], [['--host', '0.0.0.0'], true]] as const) {
      const child = spawn(process.execPath, [BIN, 'serve', layers, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => { err += d; });
      try {
        const url = await new Promise<string>((ok, bad) => {
          child.stdout.on('data', (d: Buffer) => { out += d; const m = /at (http:\/\/\S+?)\/ /.exec(out); if (m) ok(m[1]!); });
          child.on('exit', (code) => bad(new Error(`serve exited ${code}: ${err}`)));
        });
        expect(url).toMatch(warns ? /^http:\/\/0\.0\.0\.0:\d+$/ : /^http:\/\/127\.0\.0\.1:\d+$/);
        const port = new URL(url).port;
        const page = await fetch(`http://127.0.0.1:${port}/`);
        expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
        const html = await page.text();
        expect(html).toContain('check this device');
        expect(html).not.toMatch(/https?:\/\/(?!127\.)/); // no CDN: every script from this server
        expect((await fetch(`http://127.0.0.1:${port}/model/model.json`)).status).toBe(200);
        expect((await fetch(`http://127.0.0.1:${port}/vendor/@tensorflow/tfjs-core/tf-core.min.js`)).status).toBe(200);
        // Only what the routes name: no way out of the model directory, node_modules or dist/.
        for (const p of ['/model/../../etc/passwd', '/vendor/@tensorflow/tfjs-core/../package.json', '/lib/../package.json', '/vendor/commander/index.js', '/lib/cli/main.ts']) {
          expect((await fetch(`http://127.0.0.1:${port}${p}`)).status, p).toBe(404);
        }
        if (warns) expect(err).toMatch(/^warning: serving on 0\.0\.0\.0, reachable from other machines/);
        else expect(err).toBe('');
      } finally {
        child.kill('SIGTERM');
      }
    }
  });
});

describe('bisenet serve: backends, checkpoints, palette', () => {
  /** As a default install: the optional packages absent (the checkout has them all as devDependencies). */
  const defaultInstall = (pkg: string): boolean => !['onnxruntime-web', '@tensorflow/tfjs-backend-webgl', '@tensorflow/tfjs-backend-webgpu', 'webgpu', 'playwright-core'].includes(pkg);

  it('serves a checkpoint converted in memory, offering the installed backends only, and every script of the page answers', async () => {
    const before = fs.readdirSync(path.dirname(fixture(UPSTREAM, 'model.pth'))).sort();
    const server = await startServe(fixture(UPSTREAM, 'model.pth'), { installed: defaultInstall });
    try {
      expect(server.model).toBe('model.pth (converted in memory to tfjs-layers)');
      expect(server.backends.offered).toEqual(['tfjs-wasm']);
      expect(server.backends.missing.map((m) => [m.id, m.install])).toEqual([
        ['tfjs-webgl', installLine(['@tensorflow/tfjs-backend-webgl'])], ['tfjs-webgpu', installLine(['@tensorflow/tfjs-backend-webgpu'])]]);
      const config = await (await fetch(`${server.url}/config.json`)).json() as { backends: string[]; missing: unknown[]; numClasses: number; palette: number[][]; classNames: string[] };
      expect(config.backends).toEqual(['tfjs-wasm']);
      expect(config.numClasses).toBe(19);
      expect(config.palette).toEqual(CITYSCAPES_PALETTE); // not PASCAL VOC's: road is purple, not black
      expect(config.classNames).toEqual(CITYSCAPES_CLASSES);
      const html = await (await fetch(`${server.url}/`)).text();
      const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
      expect(scripts.some((x) => x.includes('webgl') || x.includes('webgpu'))).toBe(false);
      for (const src of [...scripts, '/lib/web/app.js', '/model/model.json']) expect((await fetch(`${server.url}${src}`)).status, src).toBe(200);
    } finally {
      await server.close();
    }
    expect(fs.readdirSync(path.dirname(fixture(UPSTREAM, 'model.pth'))).sort()).toEqual(before); // nothing written
  }, 120_000);

  it('refuses an ONNX model when onnxruntime-web is missing, naming the install line and what runs without it', async () => {
    const onnx = path.join(work, 'm.onnx');
    const c = converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' });
    fs.writeFileSync(onnx, c.bytes);
    await expect(startServe(onnx, { installed: defaultInstall })).rejects.toThrow(
      `serving an ONNX model needs onnxruntime-web, not installed (optional): ${installLine(['onnxruntime-web'])}; or serve the checkpoint`);
    const server = await startServe(onnx);
    try {
      expect(server.backends.offered).toEqual(['ort-wasm', 'ort-webgpu']);
      expect((await fetch(`${server.url}/vendor/onnxruntime-web/ort.webgpu.min.js`)).status).toBe(200);
    } finally {
      await server.close();
    }
  }, 120_000);

  it('gives a class count no dataset palette covers one indexed colour per class, and a model without preprocessing needs --dataset', async () => {
    // mmseg's 150-class (ADE20K) fixture: the preset records preprocessing but no palette or names.
    const server = await startServe(fixture('mmseg-bisenetv2-n150-b2', 'model.pth'), { installed: defaultInstall });
    try {
      const config = await (await fetch(`${server.url}/config.json`)).json() as { numClasses: number; palette: number[][]; classNames: string[] | null };
      expect(config.numClasses).toBe(150);
      expect(config.palette).toEqual(indexPalette(150));
      expect(new Set(config.palette.map((c) => c.join())).size).toBe(150);
      expect(config.classNames).toBeNull();
    } finally {
      await server.close();
    }
    // A model that records no preprocessing: refused without --dataset (as segment refuses it), served with one.
    const bare = path.join(work, 'bare');
    fs.mkdirSync(bare);
    for (const [f, data] of converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-layers', dataset: 'none' }).files!) fs.writeFileSync(path.join(bare, f), data);
    const r = bisenet('serve', bare);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: ${bare} records no preprocessing; pass --dataset (and --family) to choose one\n`);
    const s2 = await startServe(bare, { dataset: 'cityscapes' });
    try {
      const config = await (await fetch(`${s2.url}/config.json`)).json() as { preprocessing: { mean: number[] } };
      expect(config.preprocessing.mean).toEqual([0.3257, 0.369, 0.3223]);
    } finally {
      await s2.close();
    }
  }, 120_000);
});

describe('the page in headless Chromium', () => {
  let missing = '';
  let chromium: string | null = null;
  try { chromium = findChromium(); } catch (e) { missing = String(e); }
  if (!chromium) missing ||= CHROMIUM_MISSING;
  function needChromium(ctx: TestContext): void {
    if (chromium) return;
    if (process.env.BISENET_REQUIRE_CHROMIUM === '1') throw new Error(`BISENET_REQUIRE_CHROMIUM=1 but ${missing} (CI: .ci/run installs it)`);
    ctx.skip(`no Chromium here: ${missing}`);
  }

  it('segments a dropped image, shows the overlay, and checks this device against the golden set', async (ctx) => {
    needChromium(ctx);
    const server = await startServe(layers, { golden: golden(UPSTREAM) });
    const { browser } = await acquireBrowser();
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/`, { timeout: 120_000 });
      await page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('choose or drop'), null, { timeout: 180_000 });
      expect(await page.locator('#backend option').allTextContents()).toEqual(['WebGL (tfjs)', 'WebGPU (tfjs)', 'wasm (tfjs)']);
      // wasm: SwiftShader's WebGL and WebGPU take minutes to compile their shaders on a busy 2-core machine;
      // their parity is proven in test/runtime/chromium.test.ts, this test proves the page.
      await page.selectOption('#backend', 'tfjs-wasm');
      await page.locator('#file').setInputFiles(path.join(work, 'street.png'));
      await page.waitForSelector('#overlay[data-ready="true"]', { timeout: 280_000 });
      expect(await page.locator('#ms').textContent()).toMatch(/^\d+(\.\d+)? ms at 96×160 \(first run \d+ ms\)$/);
      expect(await page.locator('#device').textContent()).toMatch(/runs on: WebAssembly( SIMD)?, \d+ thread\(s\) \(layers-model\)/);
      // The mask is drawn in the model's (Cityscapes) palette, not one flat colour, and the legend names its classes, largest first.
      const mask = await readMask(page);
      const cityscapes = new Set(CITYSCAPES_PALETTE.map((c) => c.join(',')));
      expect(mask.colours.size).toBeGreaterThan(1);
      for (const c of mask.colours.keys()) expect(cityscapes.has(c), c).toBe(true);
      const legend = await readLegend(page);
      expect(legend).toHaveLength(19);
      const present = legend.filter((l) => !l.absent);
      expect(present.map((l) => l.rgb).sort()).toEqual([...mask.colours.keys()].sort());
      const top = [...mask.colours].sort((a, b) => b[1] - a[1])[0]!;
      expect(present[0]!.rgb).toBe(top[0]);
      expect(present[0]!.text).toBe(`${CITYSCAPES_CLASSES[present[0]!.cls]} ${((100 * top[1]) / (mask.width * mask.height)).toFixed(1)} %`);
      await page.click('#check');
      await page.waitForSelector('#parity-result', { timeout: 280_000 });
      const result = await page.locator('#parity-result').textContent();
      const rows = await page.locator('#parity-table tr').allTextContents();
      await fs.promises.mkdir(path.join(ROOT, '.tmp'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, '.tmp', 'serve-page.png'), fullPage: true });
      console.info(`serve page: ${result}\n${rows.join('\n')}`);
      expect(result).toMatch(/^PASS: golden set coincheung-bisenetv2-n19 on WebAssembly.* within max\|Δ\| ≤ 0\.0001 × max\|ref\|/);
      expect(rows.some((r) => /^coincheung-bisenetv2-n19logits/.test(r) && r.endsWith('ok'))).toBe(true);
    } finally {
      await context.close();
      await releaseBrowser();
      await server.close();
    }
  }, 600_000);

  it('offers LiteRT for a .tflite model: segments at the model\'s fixed size and checks this device', async (ctx) => {
    needChromium(ctx);
    const tflite = path.join(work, 'model.tflite');
    fs.writeFileSync(tflite, converted(fixture(UPSTREAM, 'model.pth'), { to: 'tflite', shapes: '1x3x96x160' }).bytes);
    const server = await startServe(tflite, { golden: golden(UPSTREAM) });
    const { browser } = await acquireBrowser();
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/`, { timeout: 120_000 });
      await page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('choose or drop'), null, { timeout: 60_000 });
      expect(await page.locator('#backend option').allTextContents()).toEqual(['wasm (LiteRT.js)', 'WebGPU (LiteRT.js)']);
      await page.selectOption('#backend', 'litert-wasm');
      await page.locator('#file').setInputFiles(path.join(work, 'street.png'));
      await page.waitForSelector('#overlay[data-ready="true"]', { timeout: 280_000 });
      expect(await page.locator('#ms').textContent()).toMatch(/ms at 96×160/);
      expect(await page.locator('#device').textContent()).toMatch(/runs on: LiteRT\.js wasm/);
      await page.click('#check');
      await page.waitForSelector('#parity-result', { timeout: 280_000 });
      expect(await page.locator('#parity-result').textContent()).toMatch(/^PASS: golden set coincheung-bisenetv2-n19 on LiteRT.* within max\|Δ\| ≤ 0\.0001 × max\|ref\|/);
    } finally {
      await context.close();
      await releaseBrowser();
      await server.close();
    }
  }, 600_000);
});

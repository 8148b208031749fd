/**
 * `bisenet serve`: the CLI's checks and warnings, and the page itself driven in headless Chromium —
 * load an image, wait for the overlay, press "check this device", read the parity table — with a
 * screenshot kept under .tmp/ as the test's artefact. Without Chromium the page test skips, saying
 * why; with BISENET_REQUIRE_CHROMIUM=1 (as CI sets) it fails instead.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { convertCheckpoint } from '../../src/convert.js';
import { acquireBrowser, CHROMIUM_MISSING, findChromium, releaseBrowser } from '../../src/runtime/chromium.js';
import { startServe } from '../../src/serve.js';
import { BIN, fixture, golden, ROOT, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let layers: string;

beforeAll(() => {
  work = tmpDir('bisenet-serve-');
  layers = path.join(work, 'layers');
  const c = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-layers' });
  fs.mkdirSync(layers);
  for (const [f, data] of c.files!) fs.writeFileSync(path.join(layers, f), data);
  // A street-like test card: sky, buildings, road (any picture will do; the mask shows what the random weights see).
  // 160×96, the golden input's size: the page's second model run then reuses the first's compiled kernels.
  const png = new PNG({ width: 160, height: 96 });
  for (let y = 0; y < 96; y++) {
    for (let x = 0; x < 160; x++) {
      const i = 4 * (y * 160 + x);
      const [r, g, b] = y < 32 ? [120, 170, 230] : y < 64 ? [(x * 3) & 255, 90, 80] : [70, 70, 75 + (x & 31)];
      png.data[i] = r; png.data[i + 1] = g; png.data[i + 2] = b; png.data[i + 3] = 255;
    }
  }
  fs.writeFileSync(path.join(work, 'street.png'), PNG.sync.write(png));
}, 300_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('bisenet serve (CLI)', () => {
  it('refuses a missing model and a golden set that is not one, in one line, exit 2', () => {
    let r = cli('serve', path.join(work, 'nope.onnx'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not found: .*nope\.onnx/);
    r = cli('serve', layers, '--golden', path.join(work, 'street.png'));
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
      await page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('choose or drop'), null, { timeout: 60_000 });
      expect(await page.locator('#backend option').allTextContents()).toEqual(['WebGL (tfjs)', 'WebGPU (tfjs)', 'wasm (tfjs)']);
      // wasm: SwiftShader's WebGL and WebGPU take minutes to compile their shaders on a busy 2-core machine;
      // their parity is proven in test/runtime/chromium.test.ts, this test proves the page.
      await page.selectOption('#backend', 'tfjs-wasm');
      await page.locator('#file').setInputFiles(path.join(work, 'street.png'));
      await page.waitForSelector('#overlay[data-ready="true"]', { timeout: 280_000 });
      expect(await page.locator('#ms').textContent()).toMatch(/^\d+(\.\d+)? ms at 96×160 \(first run \d+ ms\)$/);
      expect(await page.locator('#device').textContent()).toMatch(/runs on: WebAssembly( SIMD)?, \d+ thread\(s\) \(layers-model\)/);
      // The mask is drawn: not one flat colour.
      const colours = await page.evaluate(() => {
        const c = document.getElementById('mask') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < d.length; i += 4) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        return seen.size;
      });
      expect(colours).toBeGreaterThan(1);
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
    fs.writeFileSync(tflite, convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tflite', shapes: '1x3x96x160' }).bytes);
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

/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh global prefix,
 * then `bisenet convert` and `bisenet verify` run from there on the checkout's fixture. Slow (a build
 * and an install, about a minute here), so it is in the slow tier: it runs where BISENET_TEST_FULL=1
 * (.ci/run sets it) or BISENET_PACK_TEST=1 asks for it. The install uses npm's cache first (`--prefer-offline`).
 * `bisenet serve` is started from the installed bin too, and its page driven in Chromium (Debian's, through
 * playwright-core from this checkout): the default install's page must load, segment, and draw the model's palette.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITYSCAPES_CLASSES, CITYSCAPES_PALETTE } from '../../src/model-file/presets.js';
import { acquireBrowser, findChromium, releaseBrowser } from '../../src/runtime/chromium.js';
import { streetCard } from '../helpers/images.js';
import { readLegend, readMask } from '../helpers/serve-page.js';
import { fixture, golden, ROOT, tmpDir, UPSTREAM } from '../helpers/paths.js';
import { FULL_TIER } from '../helpers/tier.js';

const RUN = FULL_TIER || process.env.BISENET_PACK_TEST === '1';
const MiB = 2 ** 20;
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; peerDependencies: Record<string, string> };

/** The environment without the npm_* variables of an enclosing `npm test`, which would steer the child npm. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  // onnxruntime-node's install script would download CUDA binaries (docs/install.md).
  return { ...env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
}

function run(cmd: string, args: string[], cwd: string, timeoutSec = 300): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: timeoutSec * 1000 });
  if (r.error) throw r.error;
  return r;
}

/** Sum of the sizes of the files under a folder (links not followed). */
function treeBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += treeBytes(p);
    else if (e.isFile()) n += fs.statSync(p).size;
  }
  return n;
}

describe.skipIf(!RUN)('the npm package, installed from its tarball', () => {
  let work: string;
  let tgz: string;
  let prefix: string;
  let bisenet: (...args: string[]) => SpawnSyncReturns<string>;

  beforeAll(() => {
    work = tmpDir('bisenet-pack-');
    // Packed from a copy of the sources, so that prepack's clean build does not pull dist/ from under
    // the other tests running now.
    const src = path.join(work, 'src-copy');
    fs.mkdirSync(src);
    for (const f of ['package.json', 'tsconfig.json', 'README.md', 'LICENSE', 'bin', 'src', 'scripts']) fs.cpSync(path.join(ROOT, f), path.join(src, f), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'), 'dir');
    const pack = run('npm', ['pack', '--pack-destination', work, '--json'], src, 600);
    expect(pack.status, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout) as { filename: string }[];
    tgz = path.join(work, info!.filename);
    prefix = path.join(work, 'prefix');
    const inst = run('npm', ['i', '-g', '--prefix', prefix, tgz, '--prefer-offline', '--no-audit', '--no-fund'], work, 600);
    expect(inst.status, inst.stderr).toBe(0);
    bisenet = (...args: string[]) => run(path.join(prefix, 'bin', 'bisenet'), args, work);
  }, 1_300_000);

  afterAll(() => { if (work) fs.rmSync(work, { recursive: true, force: true }); });

  it('is at most 5 MB and holds dist, bin, README and LICENSE only', () => {
    expect(fs.statSync(tgz).size).toBeLessThanOrEqual(5e6);
    const list = run('tar', ['-tzf', tgz], work).stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/bisenet', 'dist/index.js', 'dist/cli/main.js', 'dist/tfjs-custom-layers.js']) expect(list).toContain(f);
    const top = new Set(list.map((f) => f.split('/')[0]));
    expect([...top].sort()).toEqual(['LICENSE', 'README.md', 'bin', 'dist', 'package.json']);
    expect(list.filter((f) => /fuzz|\.test\./.test(f))).toEqual([]);
  });

  it('converts and verifies from the installed bin (ort-cpu, tfjs-wasm)', () => {
    const onnx = path.join(work, 'model.onnx');
    let r = bisenet('convert', fixture(UPSTREAM, 'model.pth'), '--to', 'onnx', '--out', onnx);
    expect(r.status, r.stderr).toBe(0);
    r = bisenet('verify', onnx, '--golden', golden(UPSTREAM));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS: /m);
    expect(r.stderr).toBe('');
    const tfjs = path.join(work, 'tfjs');
    r = bisenet('convert', fixture(UPSTREAM, 'model.pth'), '--to', 'tfjs-graph', '--out', tfjs);
    expect(r.status, r.stderr).toBe(0);
    r = bisenet('verify', tfjs, '--golden', golden(UPSTREAM), '--runtime', 'tfjs-wasm');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS: /m);
  }, 300_000);

  it('its two entries load from an app that depends on it: the library and bisenet-port/tfjs', () => {
    const app = path.join(work, 'app');
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    fs.symlinkSync(path.join(prefix, 'lib', 'node_modules', 'bisenet-port'), path.join(app, 'node_modules', 'bisenet-port'), 'dir');
    fs.writeFileSync(path.join(app, 'probe.mjs'), `const lib = await import('bisenet-port');
const tfjs = await import('bisenet-port/tfjs');
console.log(typeof lib.convertCheckpoint, typeof lib.verifyGolden, typeof tfjs.registerBisenetLayers);
`);
    const r = run(process.execPath, ['probe.mjs'], app);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('function function function');
  }, 120_000);

  it('leaves the optional runtimes out, and says how to add one', () => {
    const nm = path.join(prefix, 'lib', 'node_modules', 'bisenet-port', 'node_modules');
    for (const p of Object.keys(pkg.peerDependencies)) expect(fs.existsSync(path.join(nm, p)), p).toBe(false);
    const line = `npm i -g --prefix ${prefix} onnxruntime-web@${pkg.peerDependencies['onnxruntime-web']} webgpu@${pkg.peerDependencies.webgpu}`;
    const r = bisenet('verify', path.join(work, 'model.onnx'), '--golden', golden(UPSTREAM), '--runtime', 'ort-webgpu');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: runtime ort-webgpu needs onnxruntime-web and webgpu, not installed (optional): ${line}\n`);
    const d = bisenet('doctor', '--list');
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(new RegExp(`^ort-webgpu +not installed +${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    expect(d.stdout).toMatch(/^ort-cpu +yes /m);
  }, 120_000);

  it('serve: refuses an ONNX model without onnxruntime-web, saying how to add it and what runs without it', () => {
    const r = bisenet('serve', path.join(work, 'model.onnx'));
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: serving an ONNX model needs onnxruntime-web, not installed (optional): npm i -g --prefix ${prefix} onnxruntime-web@${pkg.peerDependencies['onnxruntime-web']}; `
      + 'or serve the checkpoint (converted in memory) or a tfjs model (bisenet convert --to tfjs-layers), which a default install runs on tfjs wasm\n');
  }, 180_000);

  it('serve: a checkpoint\'s page loads every script, segments on tfjs wasm and draws the Cityscapes palette with a legend', async () => {
    const street = path.join(work, 'street.png');
    fs.writeFileSync(street, streetCard());
    // segment from the installed bin: the same labels the page must draw (ort-cpu here, tfjs wasm there).
    const segmented = path.join(work, 'street-mask.png');
    const seg = bisenet('segment', fixture(UPSTREAM, 'model.pth'), '--image', street, '--out', segmented);
    expect(seg.status, seg.stderr).toBe(0);

    const child = spawn(path.join(prefix, 'bin', 'bisenet'), ['serve', fixture(UPSTREAM, 'model.pth'), '--port', '0'], { cwd: work, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let whileServing = '';
    child.stderr.on('data', (d: Buffer) => { err += d; });
    const { browser } = findChromium() ? await acquireBrowser() : { browser: null };
    try {
      const url = await new Promise<string>((ok, bad) => {
        child.stdout.on('data', (d: Buffer) => { out += d; const m = /at (http:\/\/\S+?)\/ .*\npage backends: .*\n/.exec(out); if (m) ok(m[1]!); });
        child.on('exit', (code) => bad(new Error(`serve exited ${code}: ${err}`)));
      });
      const webgl = `npm i -g --prefix ${prefix} @tensorflow/tfjs-backend-webgl@${pkg.peerDependencies['@tensorflow/tfjs-backend-webgl']}`;
      const webgpu = `npm i -g --prefix ${prefix} @tensorflow/tfjs-backend-webgpu@${pkg.peerDependencies['@tensorflow/tfjs-backend-webgpu']}`;
      expect(out).toContain(`\npage backends: tfjs-wasm; tfjs-webgl with: ${webgl}; tfjs-webgpu with: ${webgpu}\n`);
      // Every script the page names answers (none 404s), and so does what the page module imports.
      const html = await (await fetch(`${url}/`)).text();
      const scripts = [...html.matchAll(/<script (?:type="module" )?src="([^"]+)"/g)].map((m) => m[1]!);
      expect(scripts.length).toBeGreaterThan(3);
      for (const src of scripts) expect((await fetch(`${url}${src}`)).status, src).toBe(200);
      if (!browser) {
        if (process.env.BISENET_REQUIRE_CHROMIUM === '1') throw new Error('BISENET_REQUIRE_CHROMIUM=1 but no Chromium here');
        console.warn('pack test: no Chromium here; the serve page was not driven');
        return;
      }
      const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
      try {
        const page = await context.newPage();
        const failed: string[] = [];
        page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) failed.push(`${r.status()} ${r.url()}`); });
        await page.goto(`${url}/`, { timeout: 120_000 });
        await page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('choose or drop'), null, { timeout: 180_000 });
        expect(await page.locator('#backend option').allTextContents()).toEqual(['wasm (tfjs)']);
        const more = await page.locator('#more').textContent();
        expect(more).toContain(`not installed: WebGL (tfjs); add with ${webgl}`);
        expect(more).toContain(`not installed: WebGPU (tfjs); add with ${webgpu}`);
        await page.locator('#file').setInputFiles(street);
        await page.waitForSelector('#overlay[data-ready="true"]', { timeout: 280_000 });
        expect(await page.locator('#status').textContent()).toBe('done on wasm (tfjs)');
        const mask = await readMask(page);
        expect([mask.width, mask.height]).toEqual([160, 96]);
        const cityscapes = CITYSCAPES_PALETTE.map((c) => c.join(','));
        expect(mask.colours.size).toBeGreaterThan(1);
        for (const c of mask.colours.keys()) expect(cityscapes, c).toContain(c);
        // The page's mask and segment's agree pixel for pixel but for near-ties between runtimes (random weights).
        const ref = PNG.sync.read(fs.readFileSync(segmented));
        let same = 0;
        for (let p = 0; p < 160 * 96; p++) {
          const v = mask.rgb[p]!;
          if (ref.data[4 * p] === v >> 16 && ref.data[4 * p + 1] === ((v >> 8) & 255) && ref.data[4 * p + 2] === (v & 255)) same++;
        }
        console.info(`pack test: the served page's mask agrees with segment's on ${(100 * same / (160 * 96)).toFixed(2)} % of pixels; ${mask.colours.size} colours`);
        expect(same / (160 * 96)).toBeGreaterThanOrEqual(0.99);
        const legend = await readLegend(page);
        expect(legend.map((l) => l.cls).sort((a, b) => a - b)).toEqual([...Array(19).keys()]);
        for (const l of legend) expect(l.rgb).toBe(cityscapes[l.cls]);
        const top = [...mask.colours].sort((a, b) => b[1] - a[1])[0]!;
        expect(legend[0]!.rgb).toBe(top[0]);
        expect(legend[0]!.text.startsWith(CITYSCAPES_CLASSES[legend[0]!.cls]!)).toBe(true);
        expect(failed).toEqual([]);
      } finally {
        await context.close();
      }
    } finally {
      // What serve said while it served (its stop, a SIGTERM, is answered with the interrupt's one line).
      whileServing = err;
      child.kill('SIGTERM');
      if (browser) await releaseBrowser();
    }
    expect(whileServing).toBe('');
  }, 600_000);

  it('installs at most 480 MiB of node_modules by default', () => {
    const bytes = treeBytes(path.join(prefix, 'lib', 'node_modules'));
    console.log(`default install: ${(bytes / MiB).toFixed(0)} MiB (tarball ${(fs.statSync(tgz).size / 1e6).toFixed(2)} MB)`);
    expect(bytes).toBeLessThanOrEqual(480 * MiB);
  });
});

/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh global prefix,
 * then `bisenet convert` and `bisenet verify` run from there on the checkout's fixture. Slow (a build
 * and an install, about a minute here), so it is in the slow tier: it runs where BISENET_TEST_FULL=1
 * (.ci/run sets it) or BISENET_PACK_TEST=1 asks for it. The install uses npm's cache first (`--prefer-offline`).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/bisenet', 'dist/index.js', 'dist/cli/main.js', 'dist/tfjs.js']) expect(list).toContain(f);
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

  it('installs at most 480 MiB of node_modules by default', () => {
    const bytes = treeBytes(path.join(prefix, 'lib', 'node_modules'));
    console.log(`default install: ${(bytes / MiB).toFixed(0)} MiB (tarball ${(fs.statSync(tgz).size / 1e6).toFixed(2)} MB)`);
    expect(bytes).toBeLessThanOrEqual(480 * MiB);
  });
});

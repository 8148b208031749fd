/**
 * Interrupts (issue 20, classes 10 and 12): SIGINT/SIGTERM end every command promptly with 130/143 and one
 * line, leaving no temporary file, working folder or browser profile; a signal during synchronous work is not
 * lost; onnxruntime's debris stays out of TMPDIR; Chromium starts under a TMPDIR too long for a socket path.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert.js';
import { findChromium } from '../../src/runtime/chromium.js';
import { runCli } from '../helpers/cli.js';
import { BIN, fixture, golden, ROOT, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let model: string;
beforeAll(() => {
  work = tmpDir('bisenet-signals-');
  model = path.join(work, 'm.onnx');
  fs.writeFileSync(model, convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes);
}, 120_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

/** A TMPDIR of its own (optionally with a long path), to see what a command leaves in it. */
function freshTmp(long = false): string {
  const d = path.join(work, long ? `t-${'x'.repeat(90)}` : `t-${Math.random().toString(36).slice(2)}`);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d);
  return d;
}

/** Starts the CLI, sends `sig` once `ready(stdout+stderr)` holds or after `afterMs`, resolves with exit status and output. */
function interrupt(args: string[], sig: NodeJS.Signals, afterMs: number, env: NodeJS.ProcessEnv, cwd = work): Promise<{ status: number | null; stderr: string; ms: number }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.stdout.resume();
    let sent = 0;
    const timer = setTimeout(() => { sent = performance.now(); child.kill(sig); }, afterMs);
    child.on('close', (status) => { clearTimeout(timer); ok({ status, stderr, ms: sent ? performance.now() - sent : -1 }); });
  });
}

describe('an interrupt ends a command with 130/143, one line, nothing left', () => {
  it('bench --checkpoint: its working folder is removed', async () => {
    const tmp = freshTmp();
    const r = await interrupt(['bench', '--checkpoint', fixture(UPSTREAM, 'model.pth'), '--runtime', 'ort-cpu', '--size', '64x64', '--runs', '1000'], 'SIGTERM', 4000, { TMPDIR: tmp });
    expect(r.status, r.stderr).toBe(143);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual(['error: interrupted by SIGTERM; temporary files removed, no partial output left']);
    expect(r.ms).toBeLessThan(5000);
    expect(fs.readdirSync(tmp)).toEqual([]);
  }, 60_000);

  it('convert: an interrupted write leaves neither the output nor a temporary beside it', async () => {
    const out = path.join(work, 'int-tfjs');
    const r = await interrupt(['convert', fixture(UPSTREAM, 'model.pth'), '--to', 'tfjs-graph', '--out', out], 'SIGINT', 700, {});
    // Interrupted while converting (nothing written) or after its write (the model complete): 130 either way.
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(fs.existsSync(out)).toBe(fs.existsSync(path.join(out, 'model.json')));
    expect(fs.readdirSync(work).filter((n) => n.startsWith('.int-tfjs'))).toEqual([]);
  }, 60_000);

  it('a signal during synchronous work is answered (not exit 0)', async () => {
    const script = path.join(work, 'sync.mjs');
    fs.writeFileSync(script, `import { main } from ${JSON.stringify(path.join(ROOT, 'dist', 'cli', 'main.js'))};
const run = main(['inspect', ${JSON.stringify(fixture(UPSTREAM, 'model.pth'))}]);
process.kill(process.pid, 'SIGTERM');
const t = Date.now(); while (Date.now() - t < 200) { /* synchronous work */ }
process.exitCode = await run;
`);
    const r = await new Promise<number | null>((ok) => { const c = spawn(process.execPath, [script], { stdio: 'ignore' }); c.on('close', ok); });
    expect(r).toBe(143);
  }, 60_000);

  it('doctor: SIGINT to its pid alone (not the group) reaches the child that does the work', async () => {
    const tmp = freshTmp();
    const r = await interrupt(['doctor', '--golden', golden(UPSTREAM), '--runtimes', 'ort-cpu,tfjs-wasm'], 'SIGINT', 2500, { TMPDIR: tmp });
    expect(r.status, r.stderr).toBe(130);
    expect(r.ms).toBeLessThan(5000);
    expect(r.stderr).toMatch(/interrupted by SIGINT/);
    expect(fs.readdirSync(tmp)).toEqual([]);
  }, 60_000);

  it.skipIf(!findChromium())('a Chromium runtime: no profile left in a long TMPDIR', async () => {
    const tmp = freshTmp(true);
    const r = await interrupt(['verify', model, '--golden', golden(UPSTREAM), '--runtime', 'chromium-ort-wasm'], 'SIGTERM', 1500, { TMPDIR: tmp });
    expect(r.status, r.stderr).toBe(143);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    await new Promise((ok) => setTimeout(ok, 300));
    expect(fs.readdirSync(tmp)).toEqual([]);
    // (its folder goes under /tmp when TMPDIR is long: none of this run's is left there)
    const before = Date.now() - 60_000;
    expect(fs.readdirSync('/tmp').filter((n) => n.startsWith('bisenet-browser-') && fs.statSync(path.join('/tmp', n)).mtimeMs > before)).toEqual([]);
  }, 60_000);
});

describe('temporary debris', () => {
  it('onnxruntime leaves nothing in TMPDIR (no mat-debug-*.log, no .ses)', () => {
    const tmp = freshTmp();
    const r = runCli(['verify', model, '--golden', golden(UPSTREAM)], { env: { TMPDIR: tmp } });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});

/**
 * Interrupts (issue 20, classes 10 and 12): SIGINT/SIGTERM end every command promptly with 130/143 and one
 * line, leaving no temporary file, working folder or browser profile; a signal during synchronous work is not
 * lost; onnxruntime's debris stays out of TMPDIR; Chromium starts under a TMPDIR too long for a socket path.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findChromium } from '../../src/runtime/chromium.js';
import { runCli } from '../helpers/cli.js';
import { upstreamOnnxFolder } from '../helpers/models.js';
import { BIN, fixture, golden, ROOT, UPSTREAM } from '../helpers/paths.js';

let work: string;
let model: string;
upstreamOnnxFolder('bisenet-signals-', (dir, m) => { work = dir; model = m; });

/** A TMPDIR of its own (optionally with a long path), to see what a command leaves in it. */
function freshTmp(long = false): string {
  const d = path.join(work, long ? `t-${'x'.repeat(90)}` : `t-${Math.random().toString(36).slice(2)}`);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d);
  return d;
}

/**
 * Starts the CLI and sends `sig` once its output (stdout and stderr) matches `when`, or `when` ms after the start;
 * resolves with its exit status, stderr, how long it took to end after the signal (-1 if none was sent) and its pid.
 */
function interrupt(args: string[], sig: NodeJS.Signals, when: number | RegExp, env: NodeJS.ProcessEnv, cwd = work): Promise<{ status: number | null; stderr: string; ms: number; pid: number }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let output = '';
    let sent = 0;
    const send = () => { if (!sent) { sent = performance.now(); child.kill(sig); } };
    const seen = (d: Buffer) => { output += d; if (when instanceof RegExp && when.test(output)) send(); };
    child.stderr.on('data', (d: Buffer) => { stderr += d; seen(d); });
    child.stdout.on('data', seen);
    const timer = typeof when === 'number' ? setTimeout(send, when) : undefined;
    child.on('close', (status) => { clearTimeout(timer); ok({ status, stderr, ms: sent ? performance.now() - sent : -1, pid: child.pid ?? -1 }); });
  });
}

describe('an interrupt ends a command with 130/143, one line, nothing left', () => {
  it('bench --checkpoint: its working folder is removed', async () => {
    const tmp = freshTmp();
    // Once it says it converted the checkpoint (into its working folder) and started timing: 1000 runs are still to go.
    const r = await interrupt(['bench', '--checkpoint', fixture(UPSTREAM, 'model.pth'), '--runtimes', 'ort-cpu', '--size', '64x64', '--runs', '1000'], 'SIGTERM', /^ort-cpu: /m, { TMPDIR: tmp });
    expect(r.status, r.stderr).toBe(143);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual(['error: interrupted by SIGTERM; temporary files removed, no partial output left']);
    expect(r.ms).toBeLessThan(5000);
    expect(fs.readdirSync(tmp)).toEqual([]);
  }, 60_000);

  it('convert: an interrupted write leaves neither the output nor a temporary beside it', async () => {
    // A conversion takes a few hundred ms on a quiet machine and seconds on a loaded one: the signal is sent at
    // fractions of an uninterrupted run's own time, late in the conversion and during its write.
    const full = path.join(work, 'full-tfjs');
    const t0 = performance.now();
    expect(runCli(['convert', fixture(UPSTREAM, 'model.pth'), '--to', 'tfjs-graph', '--out', full], { cwd: work }).status).toBe(0);
    const took = performance.now() - t0;
    const statuses: (number | null)[] = [];
    for (const fraction of [0.7, 0.85, 0.95]) {
      const out = path.join(work, `int-tfjs-${fraction}`);
      const r = await interrupt(['convert', fixture(UPSTREAM, 'model.pth'), '--to', 'tfjs-graph', '--out', out], 'SIGINT', Math.max(250, fraction * took), {});
      statuses.push(r.status);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
      // Interrupted (130, one line; nothing written, or the model whole if the write had finished), or done before the signal came (0).
      if (r.status === 130) expect(errors, r.stderr).toHaveLength(1);
      else expect({ status: r.status, errors }, r.stderr).toEqual({ status: 0, errors: [] });
      expect(fs.existsSync(out)).toBe(fs.existsSync(path.join(out, 'model.json')));
      if (fs.existsSync(out)) expect(fs.readdirSync(out).sort()).toEqual(fs.readdirSync(full).sort());
      expect(fs.readdirSync(work).filter((n) => n.startsWith(`.int-tfjs-${fraction}`))).toEqual([]);
    }
    expect(statuses, `a signal at 70 % of a ${took.toFixed(0)} ms run is answered`).toContain(130);
  }, 120_000);

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
    // Once the child has loaded the first runtime (its output is the child's): the golden set and tfjs-wasm are still to
    // run. (A fixed delay failed once doctor got faster: two runtimes finished in 1.5 s, before a signal at 2.5 s came.)
    const r = await interrupt(['doctor', '--golden', golden(UPSTREAM), '--runtimes', 'ort-cpu,tfjs-wasm'], 'SIGINT', /ort-cpu: loaded/, { TMPDIR: tmp });
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
    // (its folder goes under /tmp when TMPDIR is long, named with its pid: none of this run's is left there; other
    // test files running at the same time have folders of their own there)
    expect(fs.readdirSync('/tmp').filter((n) => n.startsWith(`bisenet-browser-${r.pid}-`))).toEqual([]);
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

describe('segment --out-dir: an interrupt keeps the masks already finished', () => {
  it('Ctrl-C after some images: exit 130, one line counting them, their masks complete, nothing partial', async () => {
    const { PNG } = await import('pngjs');
    const inDir = path.join(work, 'frames');
    fs.mkdirSync(inDir);
    const n = 12;
    for (let i = 0; i < n; i++) {
      const png = new PNG({ width: 512, height: 256 });
      for (let j = 0; j < png.data.length; j++) png.data[j] = (j * 7 + i * 13) % 251;
      fs.writeFileSync(path.join(inDir, `f${String(i).padStart(2, '0')}.png`), PNG.sync.write(png));
    }
    const outDir = path.join(work, 'masks');
    const r = await new Promise<{ status: number | null; stderr: string }>((ok) => {
      const child = spawn(process.execPath, [BIN, 'segment', model, inDir, '--out-dir', outDir, '--overlay', '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d; });
      // Progress lines go to stdout when stderr is not a terminal: interrupt once two images are done.
      child.stdout.on('data', (d: Buffer) => { stdout += d; if (/^segment 2\/12 /m.test(stdout)) child.kill('SIGINT'); });
      child.on('close', (status) => ok({ status, stderr }));
    });
    expect(r.status, r.stderr).toBe(130);
    const lines = r.stderr.split('\n').filter(Boolean).filter((l) => !l.startsWith('note: '));
    expect(lines).toHaveLength(1);
    const m = /^error: interrupted by SIGINT: (\d+) of 12 images finished, their (\d+) files kept in .*masks; the unfinished ones removed$/.exec(lines[0]!);
    expect(m, lines[0]).not.toBeNull();
    const finished = Number(m![1]);
    expect(finished).toBeGreaterThanOrEqual(2);
    expect(finished).toBeLessThan(12);
    expect(Number(m![2])).toBe(2 * finished);
    // Exactly the finished images' masks and overlays, each a whole PNG of the image's size; no temporaries.
    const left = fs.readdirSync(outDir).sort();
    expect(left).toHaveLength(2 * finished);
    expect(left.every((f) => /^f\d\d(\.overlay)?\.png$/.test(f))).toBe(true);
    for (const f of left) expect(PNG.sync.read(fs.readFileSync(path.join(outDir, f))).width).toBe(512);
  }, 180_000);
});

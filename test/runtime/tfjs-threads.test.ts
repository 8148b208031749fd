/**
 * tfjs-wasm's threaded build in Node (BISENET_WASM_THREADS, experimental; src/runtime/tfjs-wasm-threads.ts):
 * it starts with the threads asked for, computes what the single-threaded build computes, and the process
 * exits when the command is done (the pthread pool's idle workers used to keep Node alive for ever).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, readNpy } from '../../src/checkpoint/npy.js';
import { platformHasWasmThreads } from '../../src/runtime/tfjs-wasm-threads.js';
import { writeDirAtomic } from '../../src/util/fs.js';
import { runCli } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
beforeAll(() => {
  work = tmpDir('bisenet-threads-');
  writeDirAtomic(path.join(work, 'graph'), converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-graph' }).files!);
  const data = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i * 0.37));
  fs.writeFileSync(path.join(work, 'x.npy'), encodeNpy({ dtype: 'float32', shape: [1, 3, 64, 64], data }));
});
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

const infer = (out: string, env: NodeJS.ProcessEnv) => runCli(
  ['infer', path.join(work, 'graph'), '--input', path.join(work, 'x.npy'), '--out', out, '--runtime', 'tfjs-wasm', '--verbose'],
  { env, timeoutMs: 120_000 });

describe('tfjs-wasm threaded build (BISENET_WASM_THREADS=2)', () => {
  it.skipIf(platformHasWasmThreads() !== null)('gives the single-threaded logits and lets the process exit', () => {
    const one = path.join(work, 'one.npy');
    const two = path.join(work, 'two.npy');
    expect(infer(one, { BISENET_WASM_THREADS: '' }).status).toBe(0);
    const r = infer(two, { BISENET_WASM_THREADS: '2' });
    // A hang at exit ends in the timeout: status null, signal SIGTERM.
    expect(r.signal, 'the process did not exit after the command finished').toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const a = readNpy(one).data as Float32Array;
    const b = readNpy(two).data as Float32Array;
    let maxRef = 0;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) { maxRef = Math.max(maxRef, Math.abs(a[i]!)); maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!)); }
    expect(maxDiff).toBeLessThanOrEqual(1e-4 * maxRef);
  }, 240_000);
});

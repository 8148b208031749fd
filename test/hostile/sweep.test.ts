import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/checkpoint/npy.js';
import { main } from '../../src/cli/main.js';
import { makeCase } from '../fuzz-lib/run.js';
import { Rng } from '../fuzz-lib/prng.js';
import { TARGETS, torchZip, type FuzzTarget } from '../fuzz-lib/targets.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

/**
 * Exit 3 is never reachable from input: the fuzzer's corpus (every structure-aware family once, and a
 * few mutated seeds per target) goes through the real CLI entry point, in-process, with each reader's
 * command. Every case must end in exit 0 or 2, and an error must be one clean line (no control
 * characters, bounded), with no output written.
 */

let work: string;
let model: string;
let validInput: string;
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/;

async function cli(...args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const so = process.stdout.write.bind(process.stdout);
  const se = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => { err.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stderr: err.join(''), stdout: out.join('') };
  } finally {
    process.stdout.write = so;
    process.stderr.write = se;
  }
}

beforeAll(async () => {
  work = tmpDir('bisenet-sweep-');
  model = path.join(work, 'model.onnx');
  expect((await cli('convert', fixture(UPSTREAM, 'model.pth'), '--to', 'onnx', '--out', model)).code).toBe(0);
  validInput = path.join(work, 'x.npy');
  fs.writeFileSync(validInput, encodeNpy({ dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32) }));
}, 120_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

/** Every generator once, plus `mutated` mutated seeds. */
function corpus(t: FuzzTarget, mutated: number): { bytes: Uint8Array; note: string }[] {
  const cases = t.generators.map((g, i) => g(new Rng(1000 + i)));
  for (let seed = 1, n = 0; n < mutated; seed++) {
    const c = makeCase(t, seed);
    if (c.note.startsWith('gadget') || c.expectKind) continue;
    cases.push(c); n++;
  }
  return cases;
}

/** What runs each target's files: a command line with the file's path in it. */
const COMMANDS: Record<string, { ext: string; place?: (dir: string, bytes: Uint8Array) => string; argv: (file: string, out: string) => string[][] }> = {
  pth: { ext: '.pth', argv: (f, o) => [['inspect', f], ['convert', f, '--to', 'onnx', '--out', `${o}.onnx`]] },
  pickle: { ext: '.pth', argv: (f) => [['inspect', f]], place: (dir, bytes) => {
    // The bare pickle inside a valid archive, as the fuzz target does.
    const file = path.join(dir, 'p.pth');
    fs.writeFileSync(file, torchZip(bytes));
    return file;
  } },
  safetensors: { ext: '.safetensors', argv: (f, o) => [['inspect', '--json', f], ['convert', f, '--to', 'onnx', '--out', `${o}.onnx`]] },
  pdparams: { ext: '.pdparams', argv: (f) => [['inspect', f]] },
  npy: { ext: '.npy', argv: (f, o) => [['infer', model, '--input', f, '--out', `${o}.npy`, '--labels']] },
  image: { ext: '.png', argv: (f, o) => [['segment', model, '--image', f, '--out', `${o}.png`]] },
  manifest: { ext: '', place: (dir, bytes) => {
    const g = path.join(dir, 'golden');
    fs.mkdirSync(g);
    fs.copyFileSync(validInput, path.join(g, 'input.npy'));
    fs.writeFileSync(path.join(g, 'manifest.json'), bytes);
    return g;
  }, argv: (g, o) => [['verify', model, '--golden', g, '--json', `${o}.json`]] },
  tfjs: { ext: '', place: (dir, bytes) => {
    const m = path.join(dir, 'tfjs');
    fs.mkdirSync(m);
    const n = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) : 0;
    fs.writeFileSync(path.join(m, 'model.json'), bytes.subarray(4, 4 + Math.min(n, bytes.length)));
    fs.writeFileSync(path.join(m, 'group1-shard1of1.bin'), bytes.subarray(Math.min(4 + n, bytes.length)));
    return m;
  }, argv: (m, o) => [['infer', m, '--runtime', 'tfjs-cpu', '--input', validInput, '--out', `${o}.npy`]] },
};

describe('every reader and command, fed the fuzzer\'s corpus through the CLI', () => {
  for (const t of TARGETS) {
    const spec = COMMANDS[t.name];
    if (!spec) continue;
    it(`${t.name}: never exit 3; errors are one clean line; nothing written on failure`, async () => {
      const cases = corpus(t, 3);
      for (const [i, c] of cases.entries()) {
        const dir = path.join(work, `${t.name}-${i}`);
        fs.mkdirSync(dir);
        const file = spec.place ? spec.place(dir, c.bytes) : path.join(dir, `in${spec.ext}`);
        if (!spec.place) fs.writeFileSync(file, c.bytes);
        for (const argv of spec.argv(file, path.join(dir, 'out'))) {
          const r = await cli(...argv);
          const what = `${t.name} case ${i} (${c.note.slice(0, 80)}): ${argv[0]} → ${r.code}: ${r.stderr.slice(0, 300)}`;
          expect(r.code, what).not.toBe(3);
          expect([0, 1, 2], what).toContain(r.code);
          if (r.code === 2) {
            expect(r.stderr.endsWith('\n') && r.stderr.indexOf('\n') === r.stderr.length - 1, `one line: ${what}`).toBe(true);
            expect(r.stderr.startsWith('error: '), what).toBe(true);
            expect(CONTROL.test(r.stderr.slice(0, -1)), `control characters: ${what}`).toBe(false);
            expect(r.stderr.length, what).toBeLessThan(1200);
            expect(fs.readdirSync(dir).filter((f) => f.startsWith('out') || f.startsWith('.out')), `written on failure: ${what}`).toEqual([]);
          }
          expect(CONTROL.test(r.stdout.replace(/\n/g, '')), `control characters on stdout: ${what}`).toBe(false);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 240_000);
  }

  it('the golden set and a checkpoint still work (the sweep is not vacuous)', async () => {
    expect((await cli('verify', model, '--golden', golden(UPSTREAM))).code).toBe(0);
  }, 180_000);
});

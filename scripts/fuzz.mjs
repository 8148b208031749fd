#!/usr/bin/env node
// npm run fuzz -- --seconds N [--start SEED] [--targets pth,npy,...]
// Open-ended fuzzing of every reader. Cases run in a worker thread; a case that does not finish
// within --hang-seconds is reported as a hang (the worker is replaced and fuzzing goes on).
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? process.argv[i + 1] : dflt; };
const seconds = Number(arg('seconds', '60'));
const hangSeconds = Number(arg('hang-seconds', '10'));
const targets = arg('targets', null);
let seed = Number(arg('start', String(1_000_000 + Math.floor(Math.random() * 1e9))));
const deadline = Date.now() + seconds * 1000;
const findings = [];
let cases = 0;

// The fuzzer lives with the tests (test/fuzz-lib/, TypeScript, not shipped in the package): bundled
// here with esbuild (a dev dependency) into .tmp/fuzz-build, one module graph for run.js and targets.js.
const build = path.join(root, '.tmp', 'fuzz-build');
const esbuild = await import('esbuild');
fs.rmSync(build, { recursive: true, force: true });
await esbuild.build({
  entryPoints: ['run.ts', 'targets.ts'].map((f) => path.join(root, 'test', 'fuzz-lib', f)),
  outdir: build, bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20',
  packages: 'external', outExtension: { '.js': '.mjs' }, logLevel: 'warning',
});

const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const run = await import(workerData.runUrl);
  const { TARGETS } = await import(workerData.targetsUrl);
  const chosen = TARGETS.filter((t) => !workerData.targets || workerData.targets.includes(t.name));
  for (let seed = workerData.seed; ; seed++) {
    for (const t of chosen) {
      parentPort.postMessage({ kind: 'start', seed, target: t.name });
      const r = run.runCase(t, seed);
      parentPort.postMessage({ kind: 'done', seed, target: t.name, finding: r && r !== 'rejected' ? r : null });
    }
  }
})();
`;

function startWorker(fromSeed) {
  const w = new Worker(workerCode, { eval: true, workerData: {
    seed: fromSeed, targets: targets ? targets.split(',') : null,
    runUrl: new URL(`file://${path.join(build, 'run.mjs')}`).href,
    targetsUrl: new URL(`file://${path.join(build, 'targets.mjs')}`).href,
  }, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
  let current = null;
  let startedAt = Date.now();
  w.on('message', (m) => {
    if (m.kind === 'start') { current = m; startedAt = Date.now(); return; }
    cases++; seed = m.seed + 1;
    if (m.finding) { findings.push(m.finding); console.log(`FINDING ${JSON.stringify(m.finding)}`); }
  });
  w.on('error', (e) => { findings.push({ target: current?.target, seed: current?.seed, problem: `worker crashed: ${e.message}` }); console.log(`FINDING crash at ${JSON.stringify(current)}: ${e.message}`); });
  return { w, state: () => ({ current, startedAt }) };
}

let worker = startWorker(seed);
const first = seed;
await new Promise((resolve) => {
  const timer = setInterval(async () => {
    const { current, startedAt } = worker.state();
    if (Date.now() - startedAt > hangSeconds * 1000 && current) {
      findings.push({ ...current, problem: `no result after ${hangSeconds} s (hang)` });
      console.log(`FINDING hang at ${JSON.stringify(current)}`);
      await worker.w.terminate();
      worker = startWorker(current.seed + 1);
    }
    if (Date.now() > deadline) { clearInterval(timer); await worker.w.terminate(); resolve(); }
  }, 250);
});
console.log(`${cases} cases from seed ${first} in ${seconds} s: ${findings.length} findings`);
process.exitCode = findings.length ? 1 : 0;

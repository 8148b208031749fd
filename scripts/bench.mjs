#!/usr/bin/env node
// npm run bench: conversion time (whole `bisenet convert` process) and inference time at 512×1024.
// Speed targets live here, not in unit tests. Figures depend on the machine: report them with it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = await import(path.join(root, 'dist', 'index.js'));
const ckpt = path.join(root, 'fixtures', 'coincheung-bisenetv2-n19', 'model.pth');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bisenet-bench-'));
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 5;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
const want = (name) => !only || only.includes(name);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const rows = [];

// 1. Whole-process conversion, as a user runs it.
if (want('convert')) {
  const onnx = path.join(work, 'model.onnx');
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'bisenet'), 'convert', ckpt, '--to', 'onnx', '--out', onnx, '--force'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    times.push(performance.now() - t0);
  }
  rows.push(['bisenet convert --to onnx (whole process, 19 classes)', `${median(times).toFixed(0)} ms`, `median of ${runs}`]);
}

// 2. Inference at 512×1024 in each runtime that can run here.
const x = { dtype: 'float32', shape: [1, 3, 512, 1024], data: Float32Array.from({ length: 3 * 512 * 1024 }, (_, i) => Math.sin(i)) };
const models = { onnx: path.join(work, 'bench.onnx') };
const converted = lib.convertCheckpoint(ckpt, { to: 'onnx' });
fs.writeFileSync(models.onnx, converted.bytes);
const extra = typeof lib.benchTargets === 'function' ? await lib.benchTargets(ckpt, work) : [];
const cases = [{ runtime: 'ort-cpu', model: models.onnx }, ...extra];
for (const c of cases) {
  if (!want(c.runtime)) continue;
  const runner = await lib.loadRunner(c.model, c.runtime, {});
  const input = { [runner.inputNames[0]]: x };
  await runner.run(input); // warm-up
  const times = [];
  const n = c.runs ?? runs;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await runner.run(input);
    times.push(performance.now() - t0);
  }
  await runner.dispose();
  rows.push([`${c.runtime} inference 1×3×512×1024 [${runner.device}]`, `${median(times).toFixed(0)} ms`, `median of ${n}`]);
}

const w = Math.max(...rows.map((r) => r[0].length));
console.log(`bisenet-port bench on ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.availableParallelism()} cores), Node ${process.version}`);
for (const r of rows) console.log(`${r[0].padEnd(w)}  ${r[1].padStart(8)}  (${r[2]})`);
fs.rmSync(work, { recursive: true, force: true });

#!/usr/bin/env node
// Task-level parity of the trained synthetic checkpoint in every CPU runtime, and its quantized tfjs
// weights: mIoU on the held-out set (vs PyTorch's, from the manifest) and label agreement with PyTorch's
// own predictions (eval --labels-dir <pytorch-labels>: pixel accuracy over every pixel = agreement). All through
// the shipped CLI. Prints a Markdown table (docs/trained-model.md's) and writes .tmp/trained-report/report.json.
//
//   node scripts/trained-report.mjs [--limit N] [--cpu-limit N]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const FIX = path.join(ROOT, 'fixtures', 'trained-synthetic-n19');
const DATA = path.join(ROOT, 'data', 'synthetic-val');
const OUT = path.join(ROOT, '.tmp', 'trained-report');
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const limit = arg('--limit');
const cpuLimit = arg('--cpu-limit', '2');
const bisenet = (...a) => execFileSync(process.execPath, [path.join(ROOT, 'bin', 'bisenet'), ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(OUT, { recursive: true });
const ckpt = path.join(FIX, 'model.pth');
const manifest = JSON.parse(fs.readFileSync(path.join(FIX, 'manifest.json'), 'utf8'));
const models = [
  ['ONNX', 'float32', 'onnx', [], 'model.onnx'],
  ['tfjs layers', 'float32', 'tfjs-layers', [], 'layers'],
  ['tfjs graph', 'float32', 'tfjs-graph', [], 'graph'],
  ['tfjs graph', 'float16', 'tfjs-graph', ['--quantize', 'float16'], 'graph-f16'],
  ['tfjs layers', 'float16', 'tfjs-layers', ['--quantize', 'float16'], 'layers-f16'],
  ['tfjs graph', 'uint16', 'tfjs-graph', ['--quantize', 'uint16'], 'graph-u16'],
  ['tfjs graph', 'uint8', 'tfjs-graph', ['--quantize', 'uint8'], 'graph-u8'],
];
const runs = [];
for (const [format, weights, to, extra, out] of models) {
  const dest = path.join(OUT, out);
  bisenet('convert', ckpt, '--to', to, '--out', dest, ...extra);
  const runtimes = to === 'onnx' ? ['ort-cpu'] : weights === 'float32' ? ['tfjs-wasm', 'tfjs-cpu'] : ['tfjs-wasm'];
  for (const rt of runtimes) {
    const lim = rt === 'tfjs-cpu' ? ['--limit', cpuLimit] : limit ? ['--limit', limit] : [];
    const j1 = path.join(OUT, `${out}.${rt}.miou.json`);
    const j2 = path.join(OUT, `${out}.${rt}.agree.json`);
    bisenet('eval', dest, '--data', DATA, '--runtime', rt, '--quiet', '--json', j1, ...lim);
    bisenet('eval', dest, '--data', DATA, '--labels-dir', path.join(FIX, 'pytorch-labels'), '--runtime', rt, '--quiet', '--json', j2, ...lim);
    const m = JSON.parse(fs.readFileSync(j1, 'utf8'));
    const a = JSON.parse(fs.readFileSync(j2, 'utf8'));
    runs.push({ format, weights, runtime: rt, images: m.images, miou: m.miou, agreement: a.pixel_accuracy, subset: m.images < manifest.validation_set.images });
    console.error(`${format} ${weights} ${rt}: mIoU ${m.miou.toFixed(2)} on ${m.images} images, agreement ${a.pixel_accuracy.toFixed(4)} %`);
  }
}
const ref = manifest.pytorch.miou;
const lines = [
  `| format | weights | runtime | images | mIoU | Δ vs PyTorch (${ref.toFixed(2)}) | label agreement with PyTorch |`,
  '|---|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.format} | ${r.weights} | ${r.runtime} | ${r.images} | ${r.miou.toFixed(2)} | ${r.subset ? '(subset)' : (r.miou - ref >= 0 ? '+' : '−') + Math.abs(r.miou - ref).toFixed(2)} | ${r.agreement.toFixed(3)} % |`),
];
fs.writeFileSync(path.join(OUT, 'report.json'), `${JSON.stringify({ pytorch_miou: ref, runs }, null, 2)}\n`);
console.log(lines.join('\n'));

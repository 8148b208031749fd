#!/usr/bin/env node
// The minimal reproduction of onnxruntime-web 1.30's WebGPU grouped-conv bug (docs/gpu.md):
// writes one grouped 3×3 conv (16 groups, 6 output channels each) as ONNX, in both forms, and runs it
// on onnxruntime-node's CPU EP (the reference) and on onnxruntime-web's WebGPU EP with its default and
// with preferredLayout NCHW.   node scripts/ort-webgpu-repro.mjs [--out DIR] [--device SPEC]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { groupedConvRepro } = await import(path.join(root, 'dist', 'emit', 'repro.js'));
const { loadRunner } = await import(path.join(root, 'dist', 'runtime', 'index.js'));
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : d; };
const out = path.resolve(opt('out', path.join(root, 'out', 'ort-webgpu-repro')));
fs.mkdirSync(out, { recursive: true });

const files = {};
let input;
for (const form of ['native', 'depthwise']) {
  const r = groupedConvRepro({ form });
  files[form] = path.join(out, `grouped-conv-${form}.onnx`);
  fs.writeFileSync(files[form], r.onnx);
  input = r.input;
}
const run = async (form, runtime) => {
  const r = await loadRunner(files[form], runtime, { device: opt('device') });
  try { return { y: (await r.run({ input })).output.data, device: r.device }; } finally { await r.dispose(); }
};
const ref = (await run('native', 'ort-cpu')).y;
const rel = (y) => { let d = 0; let m = 0; for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(y[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); } return [d, d / m]; };
console.log(`model: ${files.native} (Conv 16→96, 3×3, group 16; input 1×16×32×32), reference onnxruntime-node CPU`);
for (const [form, runtime] of [['native', 'ort-webgpu-default'], ['native', 'ort-webgpu'], ['depthwise', 'ort-webgpu-default']]) {
  const { y, device } = await run(form, runtime);
  const [d, r] = rel(y);
  console.log(`${form.padEnd(9)} on ${runtime.padEnd(18)} [${device}]: max|Δ| ${d.toExponential(2)}, relative ${r.toExponential(2)} ${r > 1e-3 ? 'WRONG' : 'ok'}`);
}

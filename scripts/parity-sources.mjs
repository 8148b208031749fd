#!/usr/bin/env node
// Where the ONNX parity error comes from (docs/parity.md): after scripts/golden/parity-sources.py has written
// DIR (default .tmp/parity-sources), runs bisenet-port's ONNX of the upstream checkpoint and torch.onnx.export's
// ONNX of the same module in onnxruntime-node (CPU EP), and prints each against PyTorch float32 and float64.
// Needs a build (npm ci or npm run build).
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(process.argv[2] ?? path.join(root, '.tmp', 'parity-sources'));
const { convertCheckpoint, loadRunner, readNpy } = await import(path.join(root, 'dist', 'index.js'));
const fs = await import('node:fs');

const x = readNpy(path.join(dir, 'input.npy'));
const t32 = readNpy(path.join(dir, 'torch32.npy'));
const t64 = readNpy(path.join(dir, 'torch64.npy'));
const ours = path.join(dir, 'bisenet-port.onnx');
fs.writeFileSync(ours, convertCheckpoint(path.join(root, 'fixtures', 'coincheung-bisenetv2-n19', 'model.pth'), { to: 'onnx' }).bytes);

function compare(a, ref) {
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.data.length; i++) { d = Math.max(d, Math.abs(a.data[i] - ref.data[i])); m = Math.max(m, Math.abs(ref.data[i])); }
  const [, c, h, w] = ref.shape;
  let same = 0;
  for (let p = 0; p < h * w; p++) {
    let ba = 0;
    let br = 0;
    for (let k = 1; k < c; k++) {
      if (a.data[k * h * w + p] > a.data[ba * h * w + p]) ba = k;
      if (ref.data[k * h * w + p] > ref.data[br * h * w + p]) br = k;
    }
    if (ba === br) same++;
  }
  return `${(d / m).toExponential(2)} (labels ${(100 * same / (h * w)).toFixed(3)} %)`;
}

const threads = os.availableParallelism();
const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').includes('avx512f') ? 'AVX-512' : 'AVX2 (no AVX-512)';
console.log(`onnxruntime-node CPU EP, ${threads} threads, ${cpu}; input ${x.shape.join('×')}; max|Δ|/max|ref| against:`);
console.log(`${'model'.padEnd(34)}${'PyTorch float32'.padEnd(30)}PyTorch float64`);
const rows = [['bisenet-port ONNX', ours], ['torch.onnx.export ONNX', path.join(dir, 'torch-export.onnx')]];
for (const [name, file] of rows) {
  const r = await loadRunner(file, 'ort-cpu', { threads });
  const y = (await r.run({ [r.inputNames[0]]: x }))[r.outputNames[0]];
  await r.dispose();
  console.log(`${name.padEnd(34)}${compare(y, t32).padEnd(30)}${compare(y, t64)}`);
}
console.log(`${'PyTorch float32 (1 thread)'.padEnd(34)}${'-'.padEnd(30)}${compare(t32, t64)}`);

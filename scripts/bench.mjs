#!/usr/bin/env node
// npm run bench: `bisenet convert` as a whole process (what a user waits for), then `bisenet bench` on the
// shipped checkpoint. Arguments after `--` go to `bisenet bench` (e.g. `npm run bench -- --runtimes ort-cpu --json out.json`).
// Speed targets live here, not in unit tests. Figures depend on the machine and its load: report them with both.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'bisenet');
const ckpt = path.join(root, 'fixtures', 'coincheung-bisenetv2-n19', 'model.pth');
const args = process.argv.slice(2);
const convertRuns = 5;

// 1. Whole-process conversion, timed from outside, as a user runs it.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bisenet-bench-'));
const times = [];
try {
  for (let i = 0; i < convertRuns + 1; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [bin, 'convert', ckpt, '--to', 'onnx', '--out', path.join(work, 'model.onnx'), '--force'], { encoding: 'utf8' });
    if (r.status !== 0) { process.stderr.write(r.stderr); process.exit(r.status ?? 3); }
    if (i > 0) times.push(performance.now() - t0); // the first run warms the page cache
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
const s = [...times].sort((a, b) => a - b);
process.stdout.write(`bisenet convert ${path.relative(root, ckpt)} --to onnx, whole process: median ${s[s.length >> 1].toFixed(0)} ms (min ${s[0].toFixed(0)}, max ${s[s.length - 1].toFixed(0)}; ${convertRuns} runs after one warm-up; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})\n\n`);

// 2. Inference: every default runtime at 512×1024 and 1024×2048, unless told otherwise.
const hasSource = args.includes('--model') || args.includes('--checkpoint');
const bench = [bin, 'bench', ...(hasSource ? [] : ['--checkpoint', ckpt]), ...(args.includes('--size') ? [] : ['--size', '512x1024,1024x2048']), ...args];
const r = spawnSync(process.execPath, bench, { stdio: 'inherit' });
process.exit(r.status ?? 3);

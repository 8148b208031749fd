#!/usr/bin/env node
// npm run gpu-check: the golden set through every runtime available on this machine, then the median
// inference time at 512×1024 and 1024×2048, as one table. The same script runs inside the GPU bundle
// (npm run gpu-bundle), where the library is bundled beside it.
//
//   node scripts/gpu-check.mjs [--golden DIR] [--checkpoint FILE] [--runtimes a,b] [--device SPEC]
//                              [--sizes 512x1024,1024x2048 | --sizes none] [--runs 5] [--time-all] [--json FILE] [--keep DIR]
// Exit 0 when every available runtime matches (known failures aside), 1 otherwise.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPassed, checkRuntimes, formatCheck, goldenCheckpoint, listAdapters } from '../dist/doctor/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const flag = (name) => args.includes(`--${name}`);
if (flag('help')) {
  process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 8).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(0);
}

const golden = opt('golden', process.env.BISENET_GOLDEN ?? path.resolve(here, '..', 'golden', 'coincheung-bisenetv2-n19'));
const checkpoint = opt('checkpoint', process.env.BISENET_CHECKPOINT) ?? goldenCheckpoint(golden);
if (!checkpoint) { console.error(`error: no checkpoint for ${golden}; give --checkpoint`); process.exit(2); }
const sizesArg = opt('sizes', '512x1024,1024x2048');
const sizes = sizesArg === 'none' ? [] : sizesArg.split(',').map((s) => s.split('x').map(Number));
const runs = Number(opt('runs', '5'));
const runtimes = opt('runtimes')?.split(',');

const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
const adapters = await listAdapters().catch(() => []);
const header = [
  `bisenet-port gpu-check on ${os.hostname()}: ${cpu} (${os.availableParallelism()} cores), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`,
  `WebGPU adapters: ${adapters.length ? adapters.map((a) => `${a.name} [${a.backend}]`).join('; ') : 'none'}`,
  `golden ${golden}, checkpoint ${checkpoint}; times: median of ${runs} after one warm-up run, whole runner call (upload, run, download, layout)`,
];
process.stdout.write(`${header.join('\n')}\n`);

const rows = await checkRuntimes({
  checkpoint, golden, runtimes, device: opt('device'), sizes, runs, timeAll: flag('time-all'), keepDir: opt('keep'),
  log: (line) => process.stderr.write(`  ${line}\n`),
});
process.stdout.write(`${formatCheck(rows, sizes)}\n`);
for (const r of rows) if (r.knownFailure && r.available && r.pass === false) process.stdout.write(`known failure, ${r.runtime}: ${r.knownFailure}\n`);
const ok = checkPassed(rows);
process.stdout.write(ok ? 'PASS\n' : 'FAIL\n');
const json = opt('json');
if (json) fs.writeFileSync(json, `${JSON.stringify({ header, adapters, sizes, runs, rows: rows.map(({ report, ...r }) => r) }, null, 2)}\n`);
process.exitCode = ok ? 0 : 1;

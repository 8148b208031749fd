#!/usr/bin/env node
// Builds dist/ with tsc. `--clean` empties dist/ first, so that nothing stale ships (npm pack runs
// `prepack`, which does this); `--unless-packing` does nothing when npm is packing or publishing,
// whose `prepack` has just built (npm runs `prepare` after `prepack`).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
if (args.includes('--unless-packing') && ['pack', 'publish'].includes(process.env.npm_command ?? '')) process.exit(0);
if (args.includes('--clean')) fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // A fresh clone without its dependencies: one line that says what to run, not a stack trace.
  process.stderr.write('error: TypeScript is not installed here: run `npm ci` first (it installs the dev dependencies and builds dist/)\n');
  process.exit(2);
}
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
process.exit(r.status ?? 1);

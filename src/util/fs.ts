import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from './errors.js';

/** Reads a whole file, turning the usual mistakes into one-line errors that name the file. */
export function readFileChecked(file: string, what = 'file'): Buffer {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    fail('io', `${what} not found: ${file}`);
  }
  if (st.isDirectory()) fail('io', `${file}: is a directory, expected a ${what}`);
  try {
    return fs.readFileSync(file);
  } catch (e) {
    fail('io', `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

export function ensureNotExists(file: string, force: boolean): void {
  if (!force && fs.existsSync(file)) fail('usage', `${file} already exists (use --force to replace it)`);
}

function tempNameFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
}

/**
 * Temporary files and directories being written right now. If the process is interrupted
 * (Ctrl-C, SIGTERM from CI), they are removed before it exits, so no debris is left beside the
 * user's outputs either.
 */
const inFlight = new Set<string>();
let handlersInstalled = false;
function track(tmp: string): void {
  inFlight.add(tmp);
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const t of inFlight) { try { fs.rmSync(t, { recursive: true, force: true }); } catch { /* exiting anyway */ } }
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** For writers that stage files themselves (`segment --out-dir`): removed on SIGINT/SIGTERM until untracked. */
export function trackTemp(tmp: string): void { track(tmp); }
export function untrackTemp(tmp: string): void { inFlight.delete(tmp); }

/**
 * Writes a file atomically: into a temporary file in the same directory, then renamed over the
 * target, so a failure or an interrupt never leaves a half-written model where the user expects one.
 */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) fail('io', `${file}: output directory ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) fail('io', `${file}: ${dir} is not a directory`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) fail('io', `${file}: is a directory`);
  const tmp = tempNameFor(file);
  track(tmp);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.rmSync(tmp, { force: true }); } catch { /* nothing left to clean */ }
    fail('io', `${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    inFlight.delete(tmp);
  }
}

/**
 * Writes a directory of files atomically: all files go into a temporary sibling directory which
 * is renamed into place only when complete. An existing directory is replaced only on success.
 */
export function writeDirAtomic(dir: string, files: Map<string, Uint8Array | string>): void {
  const parent = path.dirname(path.resolve(dir));
  if (!fs.existsSync(parent)) fail('io', `${dir}: parent directory ${parent} does not exist`);
  const tmp = tempNameFor(dir);
  const old = `${tmp}.old`;
  track(tmp);
  try {
    fs.mkdirSync(tmp);
    for (const [name, data] of files) fs.writeFileSync(path.join(tmp, name), data);
    const existed = fs.existsSync(dir);
    if (existed) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    if (existed) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    try { fs.rmSync(tmp, { recursive: true, force: true }); } catch { /* best effort */ }
    fail('io', `${dir}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    inFlight.delete(tmp);
  }
}

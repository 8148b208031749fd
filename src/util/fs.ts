import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from './errors.js';
import { LIMITS } from './limits.js';
import { onInterrupt } from './interrupt.js';
import { escapeText } from './render.js';

/**
 * Reads a whole file, turning the usual mistakes into one-line errors that name the file. Only a
 * regular file is read: the file is opened without blocking (a FIFO would otherwise wait for a
 * writer), checked with fstat on the open descriptor (a symlink to /dev/zero or a FIFO is refused),
 * its size checked against LIMITS.fileBytes, and exactly that many bytes read.
 */
export function readFileChecked(file: string, what = 'file'): Buffer {
  return readChecked(file, what, Infinity);
}

/** The first `max` bytes of a file (fewer if it is shorter), with the same checks as readFileChecked. */
export function readFilePrefix(file: string, max: number, what = 'file'): Buffer {
  return readChecked(file, what, max);
}

function readChecked(file: string, what: string, max: number): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') fail('io', `${what} not found: ${escapeText(file, 300)}${isDanglingLink(file) ? ' (a dangling symbolic link)' : ''}`);
    if (code === 'EISDIR') fail('io', `${escapeText(file, 300)}: is a directory, expected a ${what}`);
    return fail('io', `${escapeText(file, 300)}: cannot open (${code ?? 'error'})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) fail('io', `${escapeText(file, 300)}: is a directory, expected a ${what}`);
    if (!st.isFile()) fail('io', `${escapeText(file, 300)}: not a regular file (${kindOf(st)}), expected a ${what}`);
    // A prefix (a header) is read whatever the file's size: only `max` bytes are read.
    if (max === Infinity && st.size > LIMITS.fileBytes) fail('security', `${escapeText(file, 300)}: ${st.size} bytes, more than the limit of ${LIMITS.fileBytes} (--budget file-bytes)`);
    const size = Math.min(st.size, max);
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      // In pieces of at most 1 GiB: one read of 2 GiB or more is refused by Node (ERR_OUT_OF_RANGE).
      const n = fs.readSync(fd, buf, off, Math.min(size - off, 2 ** 30), off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? buf : buf.subarray(0, off);
  } catch (e) {
    if ((e as Error).name === 'BisenetError') throw e;
    return fail('io', `${escapeText(file, 300)}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Size of a regular file (following links), checked like readFileChecked, without reading it. */
export function regularFileSize(file: string, what = 'file'): number {
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch { return fail('io', `${what} not found: ${escapeText(file, 300)}${isDanglingLink(file) ? ' (a dangling symbolic link)' : ''}`); }
  if (!st.isFile()) fail('io', `${escapeText(file, 300)}: not a regular file (${kindOf(st)}), expected a ${what}`);
  return st.size;
}

function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a plain file';
}

function isDanglingLink(file: string): boolean {
  try { return fs.lstatSync(file).isSymbolicLink(); } catch { return false; }
}

/**
 * `rel`, a path read from a file (a tfjs shard, a golden manifest's checkpoint), resolved inside
 * `base`: refused if absolute, if it climbs out with `..`, or if its real path (links resolved) lies
 * outside base's real path.
 */
export function resolveInside(base: string, rel: string, what: string, label: string): string {
  if (typeof rel !== 'string' || rel.length === 0 || rel.includes('\0') || path.isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) {
    fail('format', `${label}: ${what} path ${typeof rel === 'string' ? escapeText(rel, 200) : 'that is not a string'} leaves ${escapeText(base, 200)}`);
  }
  const full = path.resolve(base, rel);
  let real: string;
  let realBase: string;
  try { realBase = fs.realpathSync(base); } catch { return fail('io', `${escapeText(base, 300)}: not found`); }
  try { real = fs.realpathSync(full); } catch {
    return fail('io', `${label}: ${what} not found: ${escapeText(full, 300)}${isDanglingLink(full) ? ' (a dangling symbolic link)' : ''}`);
  }
  if (real !== realBase && !real.startsWith(realBase.endsWith(path.sep) ? realBase : realBase + path.sep)) {
    fail('security', `${label}: ${what} ${escapeText(rel, 200)} resolves to ${escapeText(real, 300)}, outside ${escapeText(realBase, 300)}`);
  }
  return real;
}

/** Whether a path exists as anything, dangling links included (an output there is not replaced without --force). */
export function pathExists(p: string): boolean {
  try { fs.lstatSync(p); return true; } catch { return false; }
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
let registered = false;
function track(tmp: string): void {
  inFlight.add(tmp);
  if (registered) return;
  registered = true;
  onInterrupt(() => {
    for (const t of inFlight) { try { fs.rmSync(t, { recursive: true, force: true }); } catch { /* exiting anyway */ } }
  });
}

/** For writers that stage files themselves (`segment --out-dir`): removed on SIGINT/SIGTERM until untracked. */
export function trackTemp(tmp: string): void { track(tmp); }
export function untrackTemp(tmp: string): void { inFlight.delete(tmp); }

/** Writes pieces one after another into a new file (no joined copy of them is made). */
function writeChunks(file: string, chunks: Uint8Array[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const c of chunks) {
      for (let off = 0; off < c.byteLength;) off += fs.writeSync(fd, c, off, c.byteLength - off);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes a file atomically: into a temporary file in the same directory, then renamed over the
 * target, so a failure or an interrupt never leaves a half-written model where the user expects one.
 */
export function writeFileAtomic(file: string, data: Uint8Array | Uint8Array[] | string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) fail('io', `${file}: output directory ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) fail('io', `${file}: ${dir} is not a directory`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) fail('io', `${file}: is a directory`);
  const tmp = tempNameFor(file);
  track(tmp);
  try {
    if (Array.isArray(data)) writeChunks(tmp, data);
    else fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.rmSync(tmp, { force: true }); } catch { /* nothing left to clean */ }
    fail('io', `${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    inFlight.delete(tmp);
  }
}

/**
 * Writes several files as one group (the outputs of one command): every file is first written to a
 * temporary file beside its target; only when all are complete are they renamed into place. If any
 * write fails, nothing is renamed and every temporary file is removed; if a rename fails, the targets
 * already renamed are put back as they were (moved-aside originals restored).
 */
export function writeFilesAtomic(files: Map<string, Uint8Array | string>): void {
  const staged: { file: string; tmp: string; backup: string | null }[] = [];
  const cleanup = (): void => {
    for (const s of staged) {
      try { fs.rmSync(s.tmp, { force: true }); } catch { /* best effort */ }
      inFlight.delete(s.tmp);
    }
  };
  try {
    for (const [file, data] of files) {
      const dir = path.dirname(path.resolve(file));
      if (!isDirectory(dir)) fail('io', `${escapeText(file, 300)}: output directory ${escapeText(dir, 300)} does not exist`);
      if (isDirectory(file)) fail('io', `${escapeText(file, 300)}: is a directory`);
      const tmp = tempNameFor(file);
      track(tmp);
      staged.push({ file, tmp, backup: null });
      try { fs.writeFileSync(tmp, data, { flag: 'wx' }); } catch (e) { fail('io', `${escapeText(file, 300)}: cannot write (${(e as NodeJS.ErrnoException).code ?? 'error'})`); }
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  const done: typeof staged = [];
  try {
    for (const s of staged) {
      if (pathExists(s.file)) { s.backup = `${s.tmp}.old`; fs.renameSync(s.file, s.backup); }
      fs.renameSync(s.tmp, s.file);
      done.push(s);
    }
  } catch (e) {
    for (const s of [...done].reverse()) { try { fs.rmSync(s.file, { force: true }); } catch { /* best effort */ } }
    for (const s of staged) if (s.backup) { try { fs.renameSync(s.backup, s.file); } catch { /* best effort */ } }
    cleanup();
    fail('io', `cannot write the outputs (${(e as NodeJS.ErrnoException).code ?? 'error'}); none was written`);
  }
  for (const s of staged) {
    inFlight.delete(s.tmp);
    if (s.backup) { try { fs.rmSync(s.backup, { force: true }); } catch { /* best effort */ } }
  }
}

const isDirectory = (p: string): boolean => { try { return fs.statSync(p).isDirectory(); } catch { return false; } };

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

/**
 * Temporary folders of this process, removed when done and on an interrupt; and the one place that points TMPDIR
 * elsewhere for a while (for libraries that take their temporary folder from it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onInterrupt } from './interrupt.js';

/**
 * A temporary folder of this process (under TMPDIR), removed by `remove()` and, until then, on SIGINT/SIGTERM:
 * an interrupted `bench` or `doctor` leaves no working folder behind.
 */
export function makeTempDir(prefix: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(userTmpDir(), prefix));
  const rm = (): void => { fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); };
  const off = onInterrupt(rm, { late: true });
  return { dir, remove: () => { off(); rm(); } };
}

/** While withTmpdir has pointed TMPDIR elsewhere: the temporary folder the user's environment names. */
let swapped: { tmp: string } | null = null;
let queue: Promise<void> = Promise.resolve();

/** The user's temporary folder (os.tmpdir() as the environment set it), even while withTmpdir runs: every folder of ours goes here. */
export function userTmpDir(): string {
  return swapped ? swapped.tmp : os.tmpdir();
}

/**
 * Runs `fn` with TMPDIR pointing at `dir`, for a library that makes its temporary files under TMPDIR as it starts
 * (onnxruntime's session files, playwright's browser profile), then puts the user's value back. One at a time:
 * calls are queued, so that two of them never interleave their saving and restoring (which could leave TMPDIR
 * pointing at a removed folder), and folders of ours made meanwhile go to userTmpDir(), not into `dir`.
 */
export function withTmpdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const run = async (): Promise<T> => {
    const user = process.env.TMPDIR;
    swapped = { tmp: os.tmpdir() };
    process.env.TMPDIR = dir;
    try {
      return await fn();
    } finally {
      if (user === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = user;
      swapped = null;
    }
  };
  const done = queue.then(run);
  queue = done.then(() => undefined, () => undefined);
  return done;
}

/** Temporary folders of this process, removed when done and on an interrupt. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onInterrupt } from './interrupt.js';

/**
 * A temporary folder of this process (under TMPDIR), removed by `remove()` and, until then, on SIGINT/SIGTERM:
 * an interrupted `bench` or `doctor` leaves no working folder behind.
 */
export function makeTempDir(prefix: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const rm = (): void => { fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); };
  const off = onInterrupt(rm, { late: true });
  return { dir, remove: () => { off(); rm(); } };
}

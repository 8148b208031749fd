/**
 * TMPDIR is pointed elsewhere only through withTmpdir (src/util/temp.ts), one call at a time: onnxruntime's session
 * files and Chromium's profile go to folders of our own, and a folder of ours made meanwhile (another runner, bench's
 * working folder) goes to the user's TMPDIR, never into theirs (which is removed with the browser).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, userTmpDir, withTmpdir } from '../../src/util/temp.js';
import { tmpDir } from '../helpers/paths.js';

const work = tmpDir('bisenet-tmpdir-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('TMPDIR swaps', () => {
  it('a folder made while TMPDIR points elsewhere goes to the user\'s TMPDIR', async () => {
    const user = os.tmpdir();
    const theirs = fs.mkdtempSync(path.join(work, 'theirs-'));
    let release!: () => void;
    const holding = withTmpdir(theirs, () => new Promise<void>((ok) => { release = ok; }));
    await new Promise((ok) => setImmediate(ok));
    expect(os.tmpdir()).toBe(theirs);
    expect(userTmpDir()).toBe(user);
    const ours = makeTempDir('bisenet-test-');
    try {
      expect(path.dirname(ours.dir)).toBe(user);
      expect(fs.readdirSync(theirs)).toEqual([]);
    } finally {
      ours.remove();
      release();
      await holding;
    }
    expect(os.tmpdir()).toBe(user);
  });

  it('overlapping swaps run one after another and leave the user\'s TMPDIR as it was, even when one fails', async () => {
    const before = process.env.TMPDIR;
    const a = fs.mkdtempSync(path.join(work, 'a-'));
    const b = fs.mkdtempSync(path.join(work, 'b-'));
    const seen: string[] = [];
    const slow = (dir: string, fail: boolean) => withTmpdir(dir, async () => {
      seen.push(`start ${path.basename(os.tmpdir())}`);
      await new Promise((ok) => setTimeout(ok, 20));
      seen.push(`end ${path.basename(os.tmpdir())}`);
      if (fail) throw new Error('launch failed');
    });
    const results = await Promise.allSettled([slow(a, true), slow(b, false)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(seen).toEqual([`start ${path.basename(a)}`, `end ${path.basename(a)}`, `start ${path.basename(b)}`, `end ${path.basename(b)}`]);
    expect(process.env.TMPDIR).toBe(before);
  });

  it('no module of src/ but src/util/temp.ts asks os.tmpdir() or sets TMPDIR itself', () => {
    const offenders: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && p !== path.join('src', 'util', 'temp.ts')) {
          const text = fs.readFileSync(p, 'utf8');
          if (/\bos\.tmpdir\(\)|\btmpdir\(\)|process\.env\.TMPDIR\s*=(?!=)|delete process\.env\.TMPDIR/.test(text)) offenders.push(p);
        }
      }
    };
    walk('src');
    expect(offenders).toEqual([]);
  });
});

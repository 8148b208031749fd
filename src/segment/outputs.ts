/**
 * The files of a many-image run, all or nothing: each output is written to a temporary file in the
 * output directory as it is ready, and all are renamed into place only when every image succeeded.
 * A failure or an interrupt removes the temporaries (and the directory, if this run created it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../util/errors.js';
import { trackTemp, untrackTemp } from '../util/fs.js';
import { checkOutputs, realPathOf } from '../util/outputs.js';
import { escapeText } from '../util/render.js';

export class StagedOutputs {
  private readonly staged = new Map<string, string>();
  private readonly done = new Set<string>();
  private created = false;

  constructor(readonly dir: string, private readonly force: boolean) {}

  /** Checks, before any work, that the names are distinct and (without --force) not there yet, and that the directory can be made. */
  plan(names: { name: string; from: string }[], inputs: readonly string[] = [], inputDirs: readonly string[] = []): void {
    const by = new Map<string, string>();
    for (const { name, from } of names) {
      const prev = by.get(name);
      if (prev !== undefined) fail('usage', `${prev} and ${from} would both write ${path.join(this.dir, name)}; rename one or run them separately`);
      by.set(name, from);
    }
    const st = fs.statSync(this.dir, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) fail('usage', `--out-dir ${escapeText(this.dir, 300)}: exists and is not a directory`);
    if (!st) {
      const parent = path.dirname(path.resolve(this.dir));
      if (!fs.statSync(parent, { throwIfNoEntry: false })?.isDirectory()) fail('io', `--out-dir ${escapeText(this.dir, 300)}: parent directory ${escapeText(parent, 300)} does not exist`);
    }
    // A directory whose images are the input set is not where their masks go (a mask may take a photo's name).
    const outReal = realPathOf(this.dir);
    const same = inputDirs.find((d) => realPathOf(d) === outReal);
    if (same !== undefined) fail('usage', `--out-dir ${escapeText(this.dir, 300)} is the input directory ${escapeText(same, 300)}; write the masks to another directory`);
    if (st && !this.force) {
      const existing = [...by.keys()].filter((n) => fs.lstatSync(path.join(this.dir, n), { throwIfNoEntry: false }) !== undefined);
      if (existing.length) {
        fail('usage', `${escapeText(path.join(this.dir, existing[0]!), 300)}${existing.length > 1 ? ` and ${existing.length - 1} more outputs` : ''} already exist (use --force to replace them)`);
      }
    }
    // The shared check: no output is (or holds, or lies in) an input, each output's place is usable.
    checkOutputs([...by.keys()].map((n) => ({ path: path.join(this.dir, n), what: 'output', parentMayBeCreated: true })), inputs, this.force);
  }

  /** Creates the directory if needed (after planning, once the work starts). */
  open(): void {
    if (fs.existsSync(this.dir)) return;
    try { fs.mkdirSync(this.dir); } catch (e) { fail('io', `--out-dir ${this.dir}: cannot create (${(e as NodeJS.ErrnoException).code ?? String(e)})`); }
    this.created = true;
    trackTemp(this.dir);
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    const tmp = path.join(this.dir, `.${name}.${process.pid}.tmp`);
    trackTemp(tmp);
    this.staged.set(name, tmp);
    // Written synchronously: an asynchronous write runs on libuv's threads, and one in flight when an interrupt
    // removes the temporaries could create its file after the removal (seen: a .tmp left behind by Ctrl-C).
    // A mask is written in well under a millisecond; the encoding before it still runs beside inference.
    try {
      fs.writeFileSync(tmp, data);
    } catch (e) {
      fail('io', `${path.join(this.dir, name)}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }

  /** Marks outputs whose files are written whole: an interrupt keeps these (keepFinished). */
  finished(names: readonly string[]): void {
    for (const n of names) this.done.add(n);
  }

  /**
   * On an interrupt: renames the outputs marked finished into place (complete files), leaving the others
   * staged for the interrupt's cleanup to remove; returns how many it kept.
   */
  keepFinished(): number {
    let kept = 0;
    for (const name of this.done) {
      const tmp = this.staged.get(name);
      if (!tmp) continue;
      try { fs.renameSync(tmp, path.join(this.dir, name)); } catch { continue; }
      untrackTemp(tmp);
      this.staged.delete(name);
      kept++;
    }
    // The directory holds kept masks now: it is the user's, not a temporary.
    if (kept) untrackTemp(this.dir);
    return kept;
  }

  /** Renames every staged file into place. */
  commit(): void {
    try {
      for (const [name, tmp] of this.staged) { fs.renameSync(tmp, path.join(this.dir, name)); untrackTemp(tmp); }
    } catch (e) {
      this.abort();
      fail('io', `${this.dir}: cannot move outputs into place (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    this.staged.clear();
    untrackTemp(this.dir);
  }

  /** Removes what was staged (and the directory, if this run made it and nothing else is in it). */
  abort(): void {
    for (const tmp of this.staged.values()) { fs.rmSync(tmp, { force: true }); untrackTemp(tmp); }
    this.staged.clear();
    if (this.created) {
      try { fs.rmdirSync(this.dir); } catch { /* not empty: something else is in it; leave it */ }
      untrackTemp(this.dir);
    }
  }
}

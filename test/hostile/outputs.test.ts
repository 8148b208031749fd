/**
 * Output safety (issue 20, classes 2–4): an output is never, never holds and never lies in an input (with or
 * without --force); every output goes through one check (exists → --force; two outputs one path → exit 2);
 * a group of outputs is written all or nothing, every directory checked before anything is written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/checkpoint/npy.js';
import { convertCheckpoint } from '../../src/convert/index.js';
import { encodePng } from '../../src/segment/image.js';
import { checkOutputs } from '../../src/util/outputs.js';
import { oneErrorLine, runCli } from '../helpers/cli.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let model: string;
let ck: string;
const sha = (p: string): string => fs.readFileSync(p).toString('base64');

beforeAll(async () => {
  work = tmpDir('bisenet-outputs-');
  ck = path.join(work, 'ck.pth');
  fs.copyFileSync(fixture(UPSTREAM, 'model.pth'), ck);
  model = path.join(work, 'm.onnx');
  fs.writeFileSync(model, convertCheckpoint(ck, { to: 'onnx' }).bytes);
  const rgb = new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7) & 255);
  fs.mkdirSync(path.join(work, 'imgs'));
  for (const n of ['a', 'b']) fs.writeFileSync(path.join(work, 'imgs', `${n}.png`), await encodePng(rgb, 64, 64, 3));
  fs.writeFileSync(path.join(work, 'x.npy'), encodeNpy({ dtype: 'float32', shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) }));
}, 120_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

describe('an output never is, holds or lies in an input (--force or not)', () => {
  it('convert: --out the checkpoint itself, or a directory holding it', () => {
    const before = sha(ck);
    for (const force of [[], ['--force']]) {
      oneErrorLine(runCli(['convert', ck, '--to', 'tfjs-graph', '--out', ck, ...force]), /is the input/);
      oneErrorLine(runCli(['convert', ck, '--to', 'tfjs-graph', '--out', work, ...force]), /holds the input/);
    }
    expect(sha(ck)).toBe(before);
    fs.rmSync(ck.replace(/\.pth$/, '.onnx'), { force: true });
  });

  it('convert through a symbolic link or a hard link to the input is the input', () => {
    const link = path.join(work, 'link.onnx');
    fs.symlinkSync(ck, link);
    oneErrorLine(runCli(['convert', ck, '--to', 'onnx', '--out', link, '--force']), /is the input/);
    fs.rmSync(link);
    const hard = path.join(work, 'hard.onnx');
    fs.linkSync(ck, hard);
    oneErrorLine(runCli(['convert', ck, '--to', 'onnx', '--out', hard, '--force']), /is the input/);
    fs.rmSync(hard);
  });

  it('segment: --out the image, --out-dir the images\' directory, an output inside a model directory', () => {
    const img = path.join(work, 'imgs', 'a.png');
    const before = sha(img);
    oneErrorLine(runCli(['segment', model, '--image', img, '--out', img, '--force']), /is the input/);
    oneErrorLine(runCli(['segment', model, '--image', img, '--out', path.join(work, 'm2.png'), '--overlay', img, '--force']), /is the input/);
    oneErrorLine(runCli(['segment', model, path.join(work, 'imgs'), '--out-dir', path.join(work, 'imgs'), '--force']), /input directory/);
    oneErrorLine(runCli(['segment', model, path.join(work, 'imgs', '*.png'), '--out-dir', path.join(work, 'imgs'), '--force']), /is the input/);
    oneErrorLine(runCli(['segment', model, '--image', img, '--out', model, '--force']), /is the input|\.png/);
    expect(sha(img)).toBe(before);
  });

  it('infer: --out the input array', () => {
    const x = path.join(work, 'x.npy');
    const before = sha(x);
    oneErrorLine(runCli(['infer', model, '--input', x, '--out', x, '--force']), /is the input/);
    oneErrorLine(runCli(['infer', model, '--input', x, '--out', model, '--force']), /is the input/);
    expect(sha(x)).toBe(before);
  });

  it('verify: a report onto the golden set or the model', () => {
    const g = golden(UPSTREAM);
    oneErrorLine(runCli(['verify', model, '--golden', g, '--json', model, '--force']), /is the input/);
    oneErrorLine(runCli(['verify', model, '--golden', g, '--junit', path.join(g, 'manifest.json'), '--force']), /inside the input|is the input/);
  });
});

describe('every output goes through one check', () => {
  it('verify --junit onto an existing file needs --force; --json X --junit X is refused', () => {
    const j = path.join(work, 'exists.xml');
    fs.writeFileSync(j, 'mine');
    oneErrorLine(runCli(['verify', model, '--golden', golden(UPSTREAM), '--junit', j]), /already exists/);
    expect(fs.readFileSync(j, 'utf8')).toBe('mine');
    const r = path.join(work, 'r.out');
    oneErrorLine(runCli(['verify', model, '--golden', golden(UPSTREAM), '--json', r, '--junit', r]), /name the same file/);
    oneErrorLine(runCli(['verify', model, '--golden', golden(UPSTREAM), '--json', r, '--junit', path.join(work, '.', 'r.out'), '--force']), /name the same file/);
    expect(fs.existsSync(r)).toBe(false);
  });

  it('two outputs that are one file through a link are the same file', () => {
    const d = path.join(work, 'real');
    fs.mkdirSync(d);
    fs.symlinkSync(d, path.join(work, 'alias'));
    expect(() => checkOutputs([{ path: path.join(d, 'o.json'), what: '--json' }, { path: path.join(work, 'alias', 'o.json'), what: '--junit' }], [], true)).toThrow(/same file/);
  });

  it('a dangling link as an output needs --force', () => {
    const l = path.join(work, 'dangling.json');
    fs.symlinkSync(path.join(work, 'nowhere'), l);
    expect(() => checkOutputs([{ path: l, what: '--json' }], [], false)).toThrow(/already exists/);
    expect(() => checkOutputs([{ path: l, what: '--json' }], [], true)).not.toThrow();
  });

  it('verify --json does not overwrite without --force; a dangling link at --out counts as existing', () => {
    const json = path.join(work, 'keep-report.json');
    fs.writeFileSync(json, 'keep');
    oneErrorLine(runCli(['verify', model, '--golden', golden(UPSTREAM), '--json', json]), /already exists/);
    expect(fs.readFileSync(json, 'utf8')).toBe('keep');
    const link = path.join(work, 'dangling.onnx');
    fs.symlinkSync(path.join(work, 'nowhere.onnx'), link);
    oneErrorLine(runCli(['convert', fixture(UPSTREAM, 'model.pth'), '--to', 'onnx', '--out', link]), /already exists/);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  });
});

describe('output groups are all or nothing', () => {
  it('segment --out m.png --overlay nodir/o.png writes nothing', () => {
    const img = path.join(work, 'imgs', 'a.png');
    const m = path.join(work, 'group-m.png');
    oneErrorLine(runCli(['segment', model, '--image', img, '--out', m, '--overlay', path.join(work, 'nodir', 'o.png')]), /does not exist/);
    expect(fs.existsSync(m)).toBe(false);
  });

  it('verify --json r.json --junit missing/j.xml writes nothing', () => {
    const r = path.join(work, 'group-r.json');
    oneErrorLine(runCli(['verify', model, '--golden', golden(UPSTREAM), '--json', r, '--junit', path.join(work, 'missing', 'j.xml')]), /does not exist/);
    expect(fs.existsSync(r)).toBe(false);
  });

  it('infer --labels whose sibling place is a directory writes nothing, and leaves no temporary', () => {
    const out = path.join(work, 'y.npy');
    fs.mkdirSync(path.join(work, 'y.labels.npy'));
    oneErrorLine(runCli(['infer', model, '--input', path.join(work, 'x.npy'), '--out', out, '--labels', '--force']), /is a directory/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(work).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('segment with --out and --overlay writes both (the group succeeds)', () => {
    const img = path.join(work, 'imgs', 'b.png');
    const m = path.join(work, 'ok.png');
    const r = runCli(['segment', model, '--image', img, '--out', m, '--overlay']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.existsSync(m) && fs.existsSync(path.join(work, 'ok.overlay.png'))).toBe(true);
    expect(fs.readdirSync(work).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('seeded fuzz: every way of naming an input as an output is refused', () => {
  it('relative, doubled slashes, ./ and ../ detours, links to the file and to its folder, hard links, holding folders', () => {
    const dir = path.join(work, 'alias');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    const input = path.join(dir, 'sub', 'in.bin');
    fs.writeFileSync(input, 'precious');
    fs.symlinkSync(input, path.join(dir, 'file-link'));
    fs.symlinkSync(path.join(dir, 'sub'), path.join(dir, 'dir-link'));
    fs.linkSync(input, path.join(dir, 'hard'));
    const names = [
      input, path.relative(process.cwd(), input), input.replace(/\//g, '//'), path.join(dir, 'sub', '.', 'in.bin'),
      path.join(dir, 'sub', '..', 'sub', 'in.bin'), path.join(dir, 'file-link'), path.join(dir, 'dir-link', 'in.bin'), path.join(dir, 'hard'),
    ];
    const holders = [path.join(dir, 'sub'), dir, path.join(dir, 'dir-link'), `${path.join(dir, 'sub')}/`];
    let seed = 7;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    for (let i = 0; i < 200; i++) {
      const asDir = rnd(3) === 0;
      // (a hard link elsewhere keeps its data when a folder holding the other name is replaced: not an alias of the folder)
      const pool = asDir ? names.filter((n) => n !== path.join(dir, 'hard')) : names;
      const inputName = pool[rnd(pool.length)]!;
      const out = asDir ? holders[rnd(holders.length)]! : names[rnd(names.length)]!;
      const extra = [path.join(work, 'other.bin')];
      expect(() => checkOutputs([{ path: out, what: '--out', dir: asDir }], [...extra, inputName], rnd(2) === 0), `${out} vs ${inputName}`).toThrow(/input/);
    }
    expect(fs.readFileSync(input, 'utf8')).toBe('precious');
    // …and a path that is none of these is accepted.
    expect(() => checkOutputs([{ path: path.join(dir, 'out.bin'), what: '--out' }], [input], false)).not.toThrow();
  });
});

/**
 * Files that are not plain files (the first round's class 5): FIFOs, links to devices, dangling links, paths the
 * file system refuses, tfjs shards that leave their directory or are listed twice, and golden manifests whose
 * checkpoint leaves its project are refused with one line (exit 2), by every command that reads them.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/checkpoint/npy.js';
import { runBench } from '../../src/bench/index.js';
import { referenceMiou } from '../../src/eval/index.js';
import { BisenetError } from '../../src/util/errors.js';
import { writeDirAtomic } from '../../src/util/fs.js';
import { manifestCheckpoint } from '../../src/verify/golden.js';
import { bisenet, oneErrorLine } from '../helpers/cli.js';
import { converted, upstreamOnnxFolder } from '../helpers/models.js';
import { fixture, golden, UPSTREAM } from '../helpers/paths.js';

let work: string;
let model: string;
upstreamOnnxFolder('bisenet-hostile-files-', (dir, m) => { work = dir; model = m; });

describe('5. files that are not plain files', () => {
  it('refuses a FIFO and a link to /dev/zero as a checkpoint, and a dangling link, with exit 2', () => {
    const fifo = path.join(work, 'fifo.pth');
    execFileSync('mkfifo', [fifo]);
    oneErrorLine(bisenet('inspect', fifo), /not a regular file \(a FIFO\)/);
    const zero = path.join(work, 'zero.pth');
    fs.symlinkSync('/dev/zero', zero);
    oneErrorLine(bisenet('inspect', zero), /not a regular file \(a character device\)/);
    const dangling = path.join(work, 'dangling.pth');
    fs.symlinkSync(path.join(work, 'nowhere'), dangling);
    oneErrorLine(bisenet('inspect', dangling), /dangling symbolic link/);
  }, 600_000);
  it('paths the file system refuses (a link loop, a name too long, a file used as a directory) are exit 2, one line', () => {
    const loop = path.join(work, 'loop.png');
    fs.symlinkSync(loop, loop);
    oneErrorLine(bisenet('segment', model, loop, '--out-dir', path.join(work, 'loop-out')), /cannot stat .*loop\.png: too many levels of symbolic links \(ELOOP\)/);
    oneErrorLine(bisenet('eval', model, '--data', path.join(work, 'x'.repeat(5000))), /name too long \(ENAMETOOLONG\)/);
    const file = path.join(work, 'plain.txt');
    fs.writeFileSync(file, 'x');
    oneErrorLine(bisenet('segment', model, path.join(file, 'a.png'), '--out-dir', path.join(work, 'nd-out')), /not a directory \(ENOTDIR\)/);
    expect(fs.existsSync(path.join(work, 'loop-out')) || fs.existsSync(path.join(work, 'nd-out'))).toBe(false);
  }, 180_000);
  it('other files a command reads are held to the same rules: eval --compare-to, bench --model', async () => {
    const fifo = path.join(work, 'ref-fifo.json');
    execFileSync('mkfifo', [fifo]);
    expect(() => referenceMiou(fifo)).toThrowError(/not a regular file \(a FIFO\)/);
    const zero = path.join(work, 'ref-zero.json');
    fs.symlinkSync('/dev/zero', zero);
    expect(() => referenceMiou(zero)).toThrowError(/not a regular file \(a character device\)/);
    const deep = path.join(work, 'ref-deep.json');
    fs.writeFileSync(deep, '['.repeat(100_000));
    expect(() => referenceMiou(deep)).toThrowError(/nested deeper/);
    const fifoModel = path.join(work, 'fifo.onnx');
    execFileSync('mkfifo', [fifoModel]);
    await expect(runBench({ model: fifoModel, runtimes: ['ort-cpu'], sizes: [[32, 32]], runs: 1, convStack: false })).rejects.toThrowError(/not a regular file \(a FIFO\)/);
  }, 180_000);
  it('tfjs shards: a link out of the model directory, a FIFO, and a shard listed twice are refused', () => {
    const dir = path.join(work, 'tfjs');
    writeDirAtomic(dir, converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-graph' }).files!);
    const x = path.join(work, 'x.npy');
    fs.writeFileSync(x, encodeNpy({ dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3072) }));
    const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const shard = mj.weightsManifest[0].paths[0] as string;
    const outside = path.join(work, 'outside.bin');
    fs.renameSync(path.join(dir, shard), outside);
    fs.symlinkSync(outside, path.join(dir, shard));
    oneErrorLine(bisenet('infer', dir, '--input', x, '--out', path.join(work, 'y1.npy')), /outside/);
    fs.rmSync(path.join(dir, shard));
    execFileSync('mkfifo', [path.join(dir, shard)]);
    oneErrorLine(bisenet('infer', dir, '--input', x, '--out', path.join(work, 'y2.npy')), /not a regular file/);
    fs.rmSync(path.join(dir, shard));
    fs.renameSync(outside, path.join(dir, shard));
    mj.weightsManifest[0].paths.push(`./${shard}`);
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(mj));
    oneErrorLine(bisenet('infer', dir, '--input', x, '--out', path.join(work, 'y3.npy')), /listed more than once/);
  }, 600_000);
  it('a golden manifest\'s checkpoint cannot leave its project; a dangling link in a collection is exit 2', () => {
    const g = path.join(work, 'proj', 'golden', 'set');
    fs.mkdirSync(g, { recursive: true });
    fs.copyFileSync(path.join(golden(UPSTREAM), 'input.npy'), path.join(g, 'input.npy'));
    for (const ck of ['/etc/passwd', '../../../etc/passwd']) {
      fs.writeFileSync(path.join(g, 'manifest.json'), JSON.stringify({ checkpoint: ck }));
      expect(() => manifestCheckpoint(g)).toThrowError(BisenetError);
    }
    fs.symlinkSync('/etc/passwd', path.join(work, 'proj', 'evil.pth'));
    fs.writeFileSync(path.join(g, 'manifest.json'), JSON.stringify({ checkpoint: 'evil.pth' }));
    expect(() => manifestCheckpoint(g)).toThrowError(/outside/);
    const coll = path.join(work, 'coll');
    fs.mkdirSync(coll);
    fs.symlinkSync(path.join(work, 'missing-dir'), path.join(coll, 'case1'));
    oneErrorLine(bisenet('verify', model, '--golden', coll), /no golden cases/);
  }, 600_000);
});

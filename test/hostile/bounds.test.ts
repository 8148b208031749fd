/**
 * Bounds (issue 20, classes 7, 8 and 12's golden links): every runtime's run is estimated (memory, and the
 * reference interpreter's work) against the one budget before it starts; the file-size limit is below the
 * memory promise; a golden case folder linking outside its set is refused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, readNpy, readNpyShape } from '../../src/checkpoint/npy.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import { interpret } from '../../src/reference/interpreter.js';
import { encodePng } from '../../src/segment/image.js';
import { BisenetError } from '../../src/util/errors.js';
import { LIMITS, setLimit } from '../../src/util/limits.js';
import { bisenet, oneErrorLine, runCli } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let model: string;
const ck = fixture(UPSTREAM, 'model.pth');

beforeAll(async () => {
  work = tmpDir('bisenet-bounds-');
  model = path.join(work, 'm.onnx');
  fs.writeFileSync(model, converted(ck, { to: 'onnx' }).bytes);
  fs.writeFileSync(path.join(work, 'big.npy'), encodeNpy({ dtype: 'float32', shape: [1, 3, 512, 1024], data: new Float32Array(3 * 512 * 1024) }));
  fs.writeFileSync(path.join(work, 'a.png'), await encodePng(new Uint8Array(64 * 64 * 3).fill(80), 64, 64, 3));
}, 120_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

describe('the reference interpreter', () => {
  it('refuses a run beyond the memory budget before any arithmetic (many classes at a golden size)', () => {
    const graph = bisenetv2({ numClasses: 12_000, family: 'coincheung', aux: true });
    const t0 = performance.now();
    expect(() => interpret(graph, new Map(), { shape: [1, 3, 96, 160], data: new Float32Array(3 * 96 * 160) })).toThrow(/12000 classes.*--max-memory/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('diff at 1×3×512×1024: refused for memory, and (with memory raised) for work, in seconds', () => {
    const t0 = performance.now();
    oneErrorLine(runCli(['diff', ck, ck, '--input', path.join(work, 'big.npy')]), /reference interpreter.*--max-memory/);
    oneErrorLine(runCli(['--max-memory', '16GiB', 'diff', ck, ck, '--input', path.join(work, 'big.npy')]), /multiply-accumulates.*--budget reference-work/);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('the work budget is checked too, and --budget raises it', () => {
    const graph = bisenetv2({ numClasses: 19, family: 'coincheung' });
    const saved = LIMITS.referenceWork;
    try {
      LIMITS.referenceWork = 1e6;
      expect(() => interpret(graph, new Map(), { shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) })).toThrow(BisenetError);
    } finally { LIMITS.referenceWork = saved; }
  });
});

describe('loading a model counts against the same budget', () => {
  it('segment: a model (or a checkpoint converted in memory) whose copies exceed --max-memory is refused before the runtime loads it', () => {
    oneErrorLine(runCli(['--max-memory', '30MiB', 'segment', model, '--image', path.join(work, 'a.png'), '--out', path.join(work, 'o.png')]), /loading the model/);
    oneErrorLine(runCli(['--max-memory', '30MiB', 'segment', ck, '--image', path.join(work, 'a.png'), '--out', path.join(work, 'o.png')]), /holding the model's weights \(12\.9 MiB as float32, before the checkpoint is converted\)/);
    expect(fs.existsSync(path.join(work, 'o.png'))).toBe(false);
  });

  it('bench: the model and a run at each size, before anything runs', () => {
    oneErrorLine(runCli(['--max-memory', '60MiB', 'bench', '--model', model, '--runtimes', 'ort-cpu', '--size', '512x1024', '--runs', '1']), /--size 512x1024: loading the model/);
  });
});

describe('file sizes', () => {
  it('files above 1 GiB (sparse, so nothing is really stored) are refused before they are read', () => {
    // A .npy whose header is small and valid, a PNG signature, a checkpoint of nothing: each 2040 MiB of holes.
    const npyHead = encodeNpy({ dtype: 'float32', shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) }).subarray(0, 128);
    const heads: Record<string, Uint8Array> = { 'huge.npy': npyHead, 'huge.pth': new Uint8Array(0), 'huge.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) };
    for (const [name, head] of Object.entries(heads)) {
      const f = path.join(work, name);
      fs.writeFileSync(f, head);
      fs.truncateSync(f, 2040 * 2 ** 20);
    }
    const t0 = performance.now();
    oneErrorLine(runCli(['infer', model, '--input', path.join(work, 'huge.npy'), '--out', path.join(work, 'y.npy')]), /huge\.npy: \d+ bytes, more than the limit of \d+ \(--budget file-bytes\)/);
    oneErrorLine(runCli(['inspect', path.join(work, 'huge.pth')]), /file-bytes/);
    oneErrorLine(runCli(['segment', model, '--image', path.join(work, 'huge.png'), '--out', path.join(work, 'o.png')]), /file-bytes/);
    expect(performance.now() - t0).toBeLessThan(30_000);
    for (const name of ['huge.npy', 'huge.pth', 'huge.png']) fs.rmSync(path.join(work, name));
  });

  it('--budget file-bytes cannot exceed what Node can hold in one buffer', () => {
    oneErrorLine(runCli(['--budget', 'file-bytes=5GiB', 'inspect', ck]), /file-bytes: at most/);
  });
});

describe('golden sets', () => {
  it('a case folder that is a link to a place outside the set is refused', () => {
    const set = path.join(work, 'set');
    fs.mkdirSync(set);
    fs.symlinkSync(golden(UPSTREAM), path.join(set, 'case1'));
    oneErrorLine(runCli(['verify', model, '--golden', set]), /golden case .*outside/);
  });
});

describe('budget flags', () => {
  it('--budget takes only the named limits (no object-prototype names), and values that are quantities', () => {
    for (const bad of ['constructor=1', '__proto__=1', 'toString=5', 'hasOwnProperty=1', 'zip-entries', 'zip-entries=-1', 'zip-entries=abc']) {
      expect(() => setLimit(bad), bad).toThrowError(BisenetError);
    }
    const before = LIMITS.zipEntries;
    setLimit('zip-entries=123');
    expect(LIMITS.zipEntries).toBe(123);
    LIMITS.zipEntries = before;
  });
});

describe('arrays are sized from their header before their data is read', () => {
  it('infer refuses a (sparse) 2 GiB .npy input from its header, without reading its data', () => {
    const shape = [1, 3, 13376, 13376];
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
    header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1, ' ') + '\n';
    const file = path.join(work, 'big.npy');
    const head = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), Buffer.from([header.length & 0xff, header.length >> 8]), Buffer.from(header, 'latin1')]);
    fs.writeFileSync(file, head);
    fs.truncateSync(file, head.length + 4 * shape.reduce((a, b) => a * b, 1)); // a hole: no disk used
    expect(readNpyShape(file).shape).toEqual(shape);
    expect(() => readNpy(file, 2 ** 30)).toThrowError(/more than a model run may take \(1\.0 GiB, --max-memory\)/);
    const r = bisenet('infer', model, '--input', file, '--out', path.join(work, 'big-y.npy'));
    oneErrorLine(r, /would need about [\d.]+ GiB, more than the limit/);
    // The same input as a golden case: verify estimates the run from the header before reading the data.
    const g = path.join(work, 'big-golden');
    fs.mkdirSync(g);
    fs.renameSync(file, path.join(g, 'input.npy'));
    fs.writeFileSync(path.join(g, 'logits.npy'), encodeNpy({ dtype: 'float32', shape: [1], data: new Float32Array(1) }));
    oneErrorLine(bisenet('verify', model, '--golden', g), /input\.npy: running the model on 1×3×13376×13376 .* would need about/);
    fs.rmSync(g, { recursive: true });
  }, 180_000);
});

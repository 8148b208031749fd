/**
 * Checkpoint readers (the first round's classes 1, 2, 4 and 9): the pickle VM budgets every allocation, work
 * that would multiply (a storage read for each of many views, the inflated bytes of an archive) is done once and
 * budgeted, the array and safetensors parsers run in linear time, and zips that torch.load refuses are refused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../../src/checkpoint/npy.js';
import { lastPickleUsage, unpickle } from '../../src/checkpoint/pickle.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { loadCheckpoint, parseCheckpoint } from '../../src/checkpoint/index.js';
import { ZipArchive } from '../../src/checkpoint/zip.js';
import { BisenetError } from '../../src/util/errors.js';
import { LIMITS } from '../../src/util/limits.js';
import { PickleWriter, torchTensor } from '../fuzz-lib/pickle-writer.js';
import { makeZip } from '../fuzz-lib/zip-writer.js';
import { bisenet, oneErrorLine } from '../helpers/cli.js';
import { fixture, tmpDir } from '../helpers/paths.js';

let work: string;
beforeAll(() => { work = tmpDir('bisenet-hostile-ckpt-'); });
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

const flood = (prefix: number[], body: number[], n: number): Uint8Array => {
  const out = new Uint8Array(3 + prefix.length + body.length * n);
  out.set([0x80, 2, ...prefix]);
  for (let i = 0; i < n; i++) out.set(body, 2 + prefix.length + i * body.length);
  out[out.length - 1] = 0x2e;
  return out;
};

describe('1. the pickle VM budgets every allocation', () => {
  for (const [name, prefix, body] of [
    ['MARK', [], [0x28]], ['EMPTY_DICT', [], [0x7d]], ['APPEND', [0x5d], [0x4e, 0x61]], ['DUP', [0x5d], [0x32]], ['EMPTY_SET', [], [0x8f]],
  ] as [string, number[], number[]][]) {
    it(`refuses a ${name} flood by its size, before it builds more than the budget`, () => {
      const bytes = flood(prefix, body, 400_000);
      expect(() => unpickle(bytes, { label: 'p', globals: {}, maxMemory: 2_000_000 })).toThrowError(/refused: the pickle would build more than 2000000 bytes/);
    });
  }
  it('ties the default budget to the pickle size (honest pickles measure well under it)', () => {
    const n = 1_000_000;
    expect(() => unpickle(flood([], [0x7d], n), { label: 'p', globals: {} })).toThrowError(new RegExp(`more than ${LIMITS.pickleMemoryPerByte * (n + 3)} bytes`));
    for (const f of ['coincheung-bisenetv2-n19/model.pth', 'mmseg-bisenetv2-n150-b2/model.pth', 'paddleseg-bisenetv2-n19/model.pdparams']) {
      loadCheckpoint(fixture(f));
      expect(lastPickleUsage.charged / lastPickleUsage.bytes).toBeLessThan(LIMITS.pickleMemoryPerByte / 2);
    }
  }, 600_000);
  it('bounds the inflated data.pkl itself', () => {
    const pkl = flood([], [0x4e, 0x30], LIMITS.dataPklBytes / 2 + 10);
    const file = path.join(work, 'bigpkl.pth');
    fs.writeFileSync(file, makeZip([{ name: 'a/data.pkl', data: pkl, deflate: true }]));
    oneErrorLine(bisenet('inspect', file), /data\.pkl is \d+ bytes, more than the limit/);
  }, 600_000);
  it('the .pdparams reader shares the budget', () => {
    expect(() => parseCheckpoint(flood([], [0x28], 1_000_000), 'flood.pdparams')).toThrowError(/refused: the pickle would build more than/);
  }, 600_000);
});

describe('2. work that multiplies', () => {
  it('inflates a storage once for any number of views, and budgets the inflated bytes of the archive', () => {
    const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    for (let i = 0; i < 300; i++) { w.str(`v${i}`); torchTensor(w, 'FloatStorage', '0', 1 << 20, i, [16], [1]); }
    w.setitems();
    const zip = makeZip([{ name: 'a/data.pkl', data: w.stop() }, { name: 'a/data/0', data: new Uint8Array(4 << 20), deflate: true }]);
    const z = new ZipArchive(zip, 'views.pth');
    const first = z.read('a/data/0');
    for (let i = 0; i < 300; i++) expect(z.read('a/data/0')).toBe(first); // the same buffer: inflated once
    const saved = LIMITS.zipInflatedBytes;
    LIMITS.zipInflatedBytes = 1 << 20;
    try { expect(() => new ZipArchive(zip, 'views.pth').read('a/data/0')).toThrowError(/past 1048576 inflated bytes/); } finally { LIMITS.zipInflatedBytes = saved; }
  });
});

describe('4. linear-time parsers', () => {
  it('.npy headers with many dims or an unterminated shape end quickly', () => {
    for (const shape of [`(${'1,'.repeat(3000)})`, `(${'1,'.repeat(3000)}`]) {
      const h = Buffer.from(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }\n`);
      const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
      const t0 = performance.now();
      expect(() => parseNpy(Buffer.concat([pre, h]), 'x.npy')).toThrowError(BisenetError);
      expect(performance.now() - t0).toBeLessThan(500);
    }
    expect(parseNpy(encodeNpy({ dtype: 'float32', shape: [2, 3], data: new Float32Array(6) }), 'ok.npy').shape).toEqual([2, 3]);
  });
  it('a safetensors header nested millions deep is refused before JSON.parse', () => {
    const h = Buffer.from(`{"a":${'['.repeat(5_000_000)}}`);
    const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(h.length));
    expect(() => readSafetensors(Buffer.concat([len, h]), 'deep.safetensors')).toThrowError(/nested deeper than 64/);
  });
});

describe('9. zip archives torch.load refuses', () => {
  const base = () => Buffer.from(makeZip([{ name: 'a/data.pkl', data: new Uint8Array([0x80, 2, 0x7d, 0x2e]) }, { name: 'a/data/0', data: new Uint8Array(16) }]));
  it('refuses encrypted entries, local headers that disagree and overlapping entries', () => {
    const enc = base(); enc.writeUInt16LE(1, enc.indexOf(Buffer.from('PK\u0001\u0002', 'latin1')) + 8);
    expect(() => new ZipArchive(enc, 'e.pth')).toThrowError(/encrypted/);
    const name = base(); name[31] ^= 0x20;
    expect(() => new ZipArchive(name, 'n.pth')).toThrowError(/names another entry/);
    const ov = base();
    const cd2 = ov.indexOf(Buffer.from('PK\u0001\u0002', 'latin1'), ov.indexOf(Buffer.from('PK\u0001\u0002', 'latin1')) + 4);
    ov.writeUInt32LE(0, cd2 + 42);
    expect(() => new ZipArchive(ov, 'o.pth')).toThrowError(/names another entry|overlap/);
    const crc = base(); crc[crc.indexOf(Buffer.from('a/data/0')) + 8 + 3] = 1;
    expect(() => new ZipArchive(crc, 'c.pth').read('a/data/0')).toThrowError(/CRC-32/);
  });
});

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy, readNpy, readNpyShape } from '../../src/checkpoint/npy.js';
import { convertCheckpoint } from '../../src/convert/index.js';
import { writeDirAtomic } from '../../src/util/fs.js';
import { lastPickleUsage, unpickle } from '../../src/checkpoint/pickle.js';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { loadCheckpoint, parseCheckpoint } from '../../src/checkpoint/index.js';
import { ZipArchive } from '../../src/checkpoint/zip.js';
import { PickleWriter, torchTensor } from '../fuzz-lib/pickle-writer.js';
import { makeZip } from '../fuzz-lib/zip-writer.js';
import { validatePalette, validatePreprocessing } from '../../src/model-file/presets.js';
import { manifestCheckpoint } from '../../src/verify/golden.js';
import { BisenetError } from '../../src/util/errors.js';
import { LIMITS, setLimit } from '../../src/util/limits.js';
import { escapeText, render } from '../../src/util/render.js';
import { checkPng } from '../../src/util/png-check.js';
import { referenceMiou } from '../../src/eval/index.js';
import { recordedFrom } from '../../src/model-file/index.js';
import { compareOutput } from '../../src/verify/compare.js';
import { Progress } from '../../src/segment/progress.js';
import { runBench } from '../../src/bench/index.js';
import { BIN, fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

/** The classes of hostile input, each built by hand the way an adversary would. */

const bisenet = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const oneLine = (r: { code: number | null; stderr: string }, re: RegExp) => {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  expect(r.stderr).toMatch(re);
};

let work: string;
let model: string;
beforeAll(() => {
  work = tmpDir('bisenet-hostile-');
  model = path.join(work, 'm.onnx');
  fs.writeFileSync(model, convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes); // in process: the CLI's convert is tested elsewhere
}, 600_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

const flood = (prefix: number[], body: number[], n: number): Uint8Array => {
  const out = new Uint8Array(3 + prefix.length + body.length * n);
  out.set([0x80, 2, ...prefix]);
  for (let i = 0; i < n; i++) out.set(body, 2 + prefix.length + i * body.length);
  out[out.length - 1] = 0x2e;
  return out;
};

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
    oneLine(bisenet('inspect', file), /data\.pkl is \d+ bytes, more than the limit/);
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

describe('3. hostile values in messages', () => {
  it('renders a shared list DAG in bounded time and length', () => {
    let l: unknown[] = [];
    for (let i = 0; i < 60; i++) l = [l, l];
    const t0 = performance.now();
    const s = render(l);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(s.length).toBeLessThan(500);
  });
  it('escapes control characters and cuts long text', () => {
    expect(escapeText('a\u001b[2J\nb\u009b\u202e')).toBe('a\\x1b[2J\\nb\\x9b\\u202e');
    expect(escapeText('x'.repeat(5000), 100)).toMatch(/… \(4900 more characters\)$/);
  });
  it('a torch.device argument or dict key that is a list DAG ends in exit 2 with one line', () => {
    const w = new PickleWriter().raw(0x5d).put(0);
    for (let i = 1; i <= 50; i++) w.mark().get(i - 1).get(i - 1).raw(0x6c).put(i);
    w.raw(0x30).emptyDict().get(50).global('torch', 'device').mark().get(50).tuple().reduce().setitem();
    const file = path.join(work, 'dag.pth');
    fs.writeFileSync(file, makeZip([{ name: 'a/data.pkl', data: w.stop() }]));
    oneLine(bisenet('inspect', file), /no tensors found/);
  }, 600_000);
  it('keys with escapes never reach the terminal raw', () => {
    const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    w.str('\u001b[31mred\nline'); torchTensor(w, 'FloatStorage', '0', 4, 0, [4], [1]);
    w.setitems();
    const file = path.join(work, 'esc.pth');
    fs.writeFileSync(file, makeZip([{ name: 'a/data.pkl', data: w.stop() }, { name: 'a/data/0', data: new Uint8Array(16) }]));
    const r = bisenet('inspect', file);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toMatch(/\u001b/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  }, 600_000);
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

describe('5. files that are not plain files', () => {
  it('refuses a FIFO and a link to /dev/zero as a checkpoint, and a dangling link, with exit 2', () => {
    const fifo = path.join(work, 'fifo.pth');
    execFileSync('mkfifo', [fifo]);
    oneLine(bisenet('inspect', fifo), /not a regular file \(a FIFO\)/);
    const zero = path.join(work, 'zero.pth');
    fs.symlinkSync('/dev/zero', zero);
    oneLine(bisenet('inspect', zero), /not a regular file \(a character device\)/);
    const dangling = path.join(work, 'dangling.pth');
    fs.symlinkSync(path.join(work, 'nowhere'), dangling);
    oneLine(bisenet('inspect', dangling), /dangling symbolic link/);
  }, 600_000);
  it('paths the file system refuses (a link loop, a name too long, a file used as a directory) are exit 2, one line', () => {
    const loop = path.join(work, 'loop.png');
    fs.symlinkSync(loop, loop);
    oneLine(bisenet('segment', model, loop, '--out-dir', path.join(work, 'loop-out')), /cannot stat .*loop\.png: too many levels of symbolic links \(ELOOP\)/);
    oneLine(bisenet('eval', model, '--data', path.join(work, 'x'.repeat(5000))), /name too long \(ENAMETOOLONG\)/);
    const file = path.join(work, 'plain.txt');
    fs.writeFileSync(file, 'x');
    oneLine(bisenet('segment', model, path.join(file, 'a.png'), '--out-dir', path.join(work, 'nd-out')), /not a directory \(ENOTDIR\)/);
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
    writeDirAtomic(dir, convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-graph' }).files!);
    const x = path.join(work, 'x.npy');
    fs.writeFileSync(x, encodeNpy({ dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3072) }));
    const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const shard = mj.weightsManifest[0].paths[0] as string;
    const outside = path.join(work, 'outside.bin');
    fs.renameSync(path.join(dir, shard), outside);
    fs.symlinkSync(outside, path.join(dir, shard));
    oneLine(bisenet('infer', dir, '--input', x, '--out', path.join(work, 'y1.npy')), /outside/);
    fs.rmSync(path.join(dir, shard));
    execFileSync('mkfifo', [path.join(dir, shard)]);
    oneLine(bisenet('infer', dir, '--input', x, '--out', path.join(work, 'y2.npy')), /not a regular file/);
    fs.rmSync(path.join(dir, shard));
    fs.renameSync(outside, path.join(dir, shard));
    mj.weightsManifest[0].paths.push(`./${shard}`);
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(mj));
    oneLine(bisenet('infer', dir, '--input', x, '--out', path.join(work, 'y3.npy')), /listed more than once/);
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
    oneLine(bisenet('verify', model, '--golden', coll), /no golden cases/);
  }, 600_000);
});

describe('6. images and models as inputs', () => {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunk = (type: string, data: Buffer): Buffer => {
    const b = Buffer.alloc(12 + data.length);
    b.writeUInt32BE(data.length); b.write(type, 4, 'latin1'); data.copy(b, 8);
    b.writeUInt32BE(zlib.crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
    return b;
  };
  const ihdr = (w: number, h: number, interlace = 0): Buffer => {
    const d = Buffer.alloc(13); d.writeUInt32BE(w); d.writeUInt32BE(h, 4); d[8] = 8; d[9] = 6; d[12] = interlace;
    return chunk('IHDR', d);
  };
  const end = chunk('IEND', Buffer.alloc(0));
  it('a second IHDR, APNG chunks, and an interlaced inflate bomb are refused before decoding', () => {
    const idat = chunk('IDAT', zlib.deflateSync(Buffer.alloc(68)));
    expect(() => checkPng(Buffer.concat([sig, ihdr(4, 4), ihdr(60000, 60000), idat, end]), 'a.png')).toThrowError(/second IHDR/);
    expect(() => checkPng(Buffer.concat([sig, ihdr(4, 4), chunk('acTL', Buffer.alloc(8)), idat, end]), 'b.png')).toThrowError(/animated PNG/);
    expect(() => checkPng(Buffer.concat([sig, ihdr(16, 16, 1), chunk('IDAT', zlib.deflateSync(Buffer.alloc(64 << 20))), end]), 'c.png')).toThrowError(/does not inflate within/);
    expect(() => checkPng(Buffer.concat([sig, ihdr(9000, 9000), idat, end]), 'd.png')).toThrowError(/more than the limit/);
  });
  it('models whose constants multiply a tensor (UpSampling2D 500×500, an ONNX Tile) are refused before they run, in Node and before a browser starts', () => {
    const x = path.join(work, 'amp-x.npy');
    fs.writeFileSync(x, encodeNpy({ dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3072) }));
    // tfjs layers model: one UpSampling2D asks for 500×500.
    const dir = path.join(work, 'amp-tfjs');
    writeDirAtomic(dir, convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-layers' }).files!);
    const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const ups = (mj.modelTopology.config.layers as { class_name: string; config: { size: number[] } }[]).find((l) => l.class_name === 'UpSampling2D')!;
    ups.config.size = [500, 500];
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(mj));
    const zp = (mj.modelTopology.config.layers as { class_name: string; config: { padding: unknown } }[]).find((l) => l.class_name === 'ZeroPadding2D');
    if (zp) {
      const padded = path.join(work, 'amp-tfjs-pad');
      fs.cpSync(dir, padded, { recursive: true });
      ups.config.size = [2, 2];
      zp.config.padding = [[5000, 5000], [5000, 5000]];
      fs.writeFileSync(path.join(padded, 'model.json'), JSON.stringify(mj));
      oneLine(bisenet('infer', padded, '--input', x, '--out', path.join(work, 'amp-pad.npy')), /pads by \[\[5000, 5000\], \[5000, 5000\]\]/);
    }
    for (const rt of ['tfjs-wasm', 'chromium-webgl']) {
      oneLine(bisenet('infer', dir, '--input', x, '--out', path.join(work, `amp-${rt}.npy`), '--runtime', rt), /upsamples by \[500, ?500\], more than 1024× in area/);
    }
    // tfjs graph model: the constants that size tensors live in the weights (a resize factor, a Pad's paddings).
    const gdir = path.join(work, 'amp-graph');
    writeDirAtomic(gdir, convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-graph' }).files!);
    const gj = JSON.parse(fs.readFileSync(path.join(gdir, 'model.json'), 'utf8'));
    const setInt32 = (pattern: RegExp, values: (n: number) => number[]): string => {
      const group = gj.weightsManifest[0] as { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] };
      const blob = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(gdir, p))));
      let off = 0;
      for (const w of group.weights) {
        const n = w.shape.reduce((a, b) => a * b, 1);
        if (pattern.test(w.name) && w.dtype === 'int32') {
          Buffer.from(new Int32Array(values(n)).buffer).copy(blob, off);
          let o = 0;
          for (const p of group.paths) { const len = fs.statSync(path.join(gdir, p)).size; fs.writeFileSync(path.join(gdir, p), blob.subarray(o, o + len)); o += len; }
          return w.name;
        }
        off += n * 4;
      }
      throw new Error(`no int32 weight matching ${pattern}`);
    };
    const original = new Map(gj.weightsManifest[0].paths.map((p: string) => [p, fs.readFileSync(path.join(gdir, p))]));
    const restore = () => { for (const [p, b] of original) fs.writeFileSync(path.join(gdir, p as string), b as Buffer); };
    setInt32(/^const\/scale_\d+$/, () => [600, 600]);
    oneLine(bisenet('infer', gdir, '--input', x, '--out', path.join(work, 'amp-g1.npy')), /resizes by \[600, 600\], more than 1024× in area/);
    restore();
    setInt32(/\/paddings$/, (n) => Array.from({ length: n }, () => 3000));
    oneLine(bisenet('infer', gdir, '--input', x, '--out', path.join(work, 'amp-g2.npy'), '--runtime', 'chromium-wasm'), /pads by \[3000, 3000/);
    // ONNX: a Tile of the input with repeats 600×600 written as a constant.
    const m = onnxProto.onnx.ModelProto.decode(fs.readFileSync(model));
    const g = m.graph!;
    const reps = new BigInt64Array([1n, 1n, 600n, 600n]);
    g.initializer.push(onnxProto.onnx.TensorProto.create({ name: 'amp.reps', dims: [4], dataType: 7, rawData: new Uint8Array(reps.buffer) }));
    g.node.push(onnxProto.onnx.NodeProto.create({ name: 'amp.tile', opType: 'Tile', input: [g.input[0]!.name!, 'amp.reps'], output: ['amp.tiled'] }));
    g.output.push(onnxProto.onnx.ValueInfoProto.create({ name: 'amp.tiled', type: { tensorType: { elemType: 1 } } }));
    const tiled = path.join(work, 'amp-tile.onnx');
    fs.writeFileSync(tiled, onnxProto.onnx.ModelProto.encode(m).finish());
    for (const rt of ['ort-cpu', 'chromium-ort-wasm']) {
      oneLine(bisenet('infer', tiled, '--input', x, '--out', path.join(work, `amp-${rt}.npy`), '--runtime', rt), /node 'amp\.tile' \('Tile'\) repeats its input \[1, ?1, ?600, ?600\] times/);
    }
    expect(fs.readdirSync(work).filter((f) => f.startsWith('amp-') && f.endsWith('.npy') && f !== 'amp-x.npy')).toEqual([]);
  }, 600_000);
  it('tfjs models whose wiring is broken (a cycle, an unknown or out-of-range input, a loop op) are refused before tfjs walks them', async () => {
    const { loadRunner } = await import('../../src/runtime/index.js');
    // Model JSON edited as plain data, the way an adversary edits it.
    type Json = any;
    const write = (dir: string, files: Map<string, Uint8Array>, edit: (j: Json) => void) => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      for (const [f, b] of files) fs.writeFileSync(path.join(dir, f), b);
      const j = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      edit(j);
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(j));
    };
    const layers = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-layers' }).files!;
    const graph = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-graph' }).files!;
    const dir = path.join(work, 'wiring');
    const cases: [string, Map<string, Uint8Array>, (j: Json) => void, RegExp][] = [
      ['layers: a cycle', layers, (j) => { const L = j.modelTopology.config.layers; L[1].inbound_nodes = [[[L[2].name, 0, 0, {}]]]; }, /form a cycle/],
      ['layers: a layer reading itself', layers, (j) => { const L = j.modelTopology.config.layers; L[2].inbound_nodes = [[[L[2].name, 0, 0, {}]]]; }, /form a cycle/],
      ['layers: an unknown input', layers, (j) => { j.modelTopology.config.layers[2].inbound_nodes = [[['nowhere', 0, 0, {}]]]; }, /reads layer 'nowhere', which the model does not define/],
      ['layers: a node index out of range', layers, (j) => { const L = j.modelTopology.config.layers; L[2].inbound_nodes = [[[L[1].name, 99, 0, {}]]]; }, /reads node 99/],
      ['layers: no outputs', layers, (j) => { j.modelTopology.config.output_layers = []; }, /output_layers is missing or empty/],
      ['graph: a cycle', graph, (j) => { const N = j.modelTopology.node; const i = N.findIndex((n: { input?: string[] }) => n.input?.length); N[i].input[0] = N[N.length - 1].name; }, /form a cycle/],
      ['graph: an unknown input', graph, (j) => { const N = j.modelTopology.node; N.find((n: { input?: string[] }) => n.input?.length).input[0] = 'nowhere:0'; }, /reads 'nowhere', which the graph does not define/],
      ['graph: a loop op', graph, (j) => { j.modelTopology.node.push({ name: 'loop', op: 'NextIteration', input: [] }); }, /is a 'NextIteration'.*no loops/],
      ['layers: strides 0 (XNNPACK prints its own errors)', layers, (j) => {
        j.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Conv2D').config.strides = [0, 0];
      }, /strides \[0, 0\] is not a list of positive integers/],
      ['graph: strides 0', graph, (j) => {
        j.modelTopology.node.find((n: { attr?: { strides?: unknown } }) => n.attr?.strides).attr.strides.list.i = ['1', '0', '0', '1'];
      }, /strides .* are not positive integers/],
      ['graph: no weights (tfjs would initialise fresh ones)', graph, (j) => { delete j.weightsManifest; }, /no weightsManifest/],
      ['layers: no weights', layers, (j) => { j.weightsManifest = []; }, /no weightsManifest/],
      ['graph: a fused op tfjs does not compute', graph, (j) => {
        j.modelTopology.node.find((n: { attr?: { fused_ops?: unknown } }) => n.attr?.fused_ops).attr.fused_ops.list.s[0] = Buffer.from('Evil').toString('base64');
      }, /fuses 'Evil', which TensorFlow.js does not compute/],
    ];
    for (const [what, files, edit, re] of cases) {
      write(dir, files, edit);
      await expect(loadRunner(dir, 'tfjs-wasm'), what).rejects.toThrowError(re);
    }
    // Two small constants whose sum broadcasts to 12000×12000 (the constants live in an extra shard).
    const S = 12000;
    const withExtra = new Map(graph);
    withExtra.set('extra.bin', new Uint8Array(8 * S));
    write(dir, withExtra, (j) => {
      const c = (name: string, shape: number[]) => ({ name, op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } }, dtype: { type: 'DT_FLOAT' } } });
      j.modelTopology.node.push(c('bc/a', [1, S, 1, 1]), c('bc/b', [1, 1, S, 1]), { name: 'bc/t', op: 'AddV2', input: ['bc/a', 'bc/b'], attr: { T: { type: 'DT_FLOAT' } } });
      j.weightsManifest.push({ paths: ['extra.bin'], weights: [{ name: 'bc/a', shape: [1, S, 1, 1], dtype: 'float32' }, { name: 'bc/b', shape: [1, 1, S, 1], dtype: 'float32' }] });
    });
    await expect(loadRunner(dir, 'tfjs-wasm')).rejects.toThrowError(/'bc\/t' \('AddV2'\) broadcasts constants to \[1, 12000, 12000, 1\]/);
  }, 120_000);
  it('ONNX ops that take their size from constants in any form, in subgraphs too, loops and external weights are refused before a session', async () => {
    const O = onnxProto.onnx;
    const i64 = (name: string, v: number[]) => O.TensorProto.create({ name, dims: [v.length], dataType: 7, rawData: new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer) });
    const f32 = (name: string, v: number[]) => O.TensorProto.create({ name, dims: [v.length], dataType: 1, rawData: new Uint8Array(new Float32Array(v).buffer) });
    const constNode = (out: string, attr: onnxProto.onnx.IAttributeProto) => O.NodeProto.create({ name: `c.${out}`, opType: 'Constant', output: [out], attribute: [attr] });
    const attrInts = (name: string, ints: number[]) => ({ name, type: O.AttributeProto.AttributeType.INTS, ints });
    /** x (1×3×32×32) → nodes → y, with initializers. */
    const build = (nodes: onnxProto.onnx.INodeProto[], inits: onnxProto.onnx.ITensorProto[] = [], opset = 17): Uint8Array => O.ModelProto.encode({
      irVersion: 8, opsetImport: [{ domain: '', version: opset }],
      graph: { name: 'g', node: nodes, initializer: inits,
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [1, 3, 32, 32].map((d) => ({ dimValue: d })) } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }] },
    }).finish();
    const cases: [string, Uint8Array, RegExp][] = [
      ['Resize scales as value_floats', build([constNode('s', { name: 'value_floats', type: O.AttributeProto.AttributeType.FLOATS, floats: [1, 1, 575, 575] }),
        O.NodeProto.create({ name: 'rs', opType: 'Resize', input: ['x', '', 's'], output: ['y'] })]), /scales its input by \[1, 1, 575, 575\]/],
      ['Resize sizes', build([O.NodeProto.create({ name: 'rs', opType: 'Resize', input: ['x', '', '', 'sz'], output: ['y'] })], [i64('sz', [1, 3, 20000, 20000])]), /resizes to \[1, 3, 20000, 20000\]/],
      ['Pad 2300', build([O.NodeProto.create({ name: 'pd', opType: 'Pad', input: ['x', 'p'], output: ['y'] })], [i64('p', [0, 0, 2300, 2300, 0, 0, 2300, 2300])]), /pads by/],
      ['Expand as value_ints', build([constNode('e', attrInts('value_ints', [1, 3, 9000, 9000])),
        O.NodeProto.create({ name: 'ex', opType: 'Expand', input: ['x', 'e'], output: ['y'] })]), /makes a tensor of shape \[1, 3, 9000, 9000\]/],
      ['Range', build([O.NodeProto.create({ name: 'rg', opType: 'Range', input: ['a', 'b', 'd'], output: ['y'] })], [f32('a', [0]), f32('b', [7e8]), f32('d', [1])]), /makes 700000000 values/],
      ['ConvTranspose strides', build([O.NodeProto.create({ name: 'ct', opType: 'ConvTranspose', input: ['x', 'w'], output: ['y'], attribute: [attrInts('strides', [700, 700])] })],
        [O.TensorProto.create({ name: 'w', dims: [3, 3, 1, 1], dataType: 1, rawData: new Uint8Array(36) })]), /upsamples by strides \[700, 700\]/],
      ['Tile inside an If branch', build([O.NodeProto.create({ name: 'if', opType: 'If', input: ['cond'], output: ['y'], attribute: [
        { name: 'then_branch', type: O.AttributeProto.AttributeType.GRAPH, g: { name: 't', node: [O.NodeProto.create({ name: 'tile', opType: 'Tile', input: ['x', 'r'], output: ['yt'] })], output: [{ name: 'yt' }] } },
        { name: 'else_branch', type: O.AttributeProto.AttributeType.GRAPH, g: { name: 'e', node: [O.NodeProto.create({ name: 'id', opType: 'Identity', input: ['x'], output: ['ye'] })], output: [{ name: 'ye' }] } },
      ] })], [i64('r', [1, 1, 40, 40]), O.TensorProto.create({ name: 'cond', dims: [], dataType: 9, rawData: new Uint8Array([1]) })]), /'tile' \('Tile'\) repeats its input \[1, 1, 40, 40\]/],
      ['ConstantOfShape of a Concat of constants', build([O.NodeProto.create({ name: 'cat', opType: 'Concat', input: ['d0', 'd1', 'd2'], output: ['shp'], attribute: [{ name: 'axis', type: O.AttributeProto.AttributeType.INT, i: 0 }] }),
        O.NodeProto.create({ name: 'cos', opType: 'ConstantOfShape', input: ['shp'], output: ['y'] })], [i64('d0', [1, 19]), i64('d1', [9000]), i64('d2', [9000])]), /'cos' \('ConstantOfShape'\) makes a tensor of shape \[1, 19, 9000, 9000\]/],
      ['Resize to Shape(x) times a constant', build([O.NodeProto.create({ name: 'shp', opType: 'Shape', input: ['x'], output: ['s'] }),
        O.NodeProto.create({ name: 'mul', opType: 'Mul', input: ['s', 'k'], output: ['sz'] }),
        O.NodeProto.create({ name: 'rs', opType: 'Resize', input: ['x', '', '', 'sz'], output: ['y'] })], [i64('k', [1, 1, 575, 575])]), /resizes to its input's size times \[1, 1, 575, 575\]/],
      ['constants broadcast to a huge tensor', build([O.NodeProto.create({ name: 'outer', opType: 'Add', input: ['a', 'b'], output: ['y'] })],
        [O.TensorProto.create({ name: 'a', dims: [1, 1, 12000, 1], dataType: 1, rawData: new Uint8Array(48000) }), O.TensorProto.create({ name: 'b', dims: [1, 1, 1, 12000], dataType: 1, rawData: new Uint8Array(48000) })]),
      /broadcasts constants to \[1, 1, 12000, 12000\]/],
      ['a large constant broadcast against the input', build([O.NodeProto.create({ name: 'add', opType: 'Add', input: ['x', 'big'], output: ['y'] })],
        [O.TensorProto.create({ name: 'big', dims: [1, 1, 2048, 2048], dataType: 1, rawData: new Uint8Array(4 * 2048 * 2048) })]), /broadcasts a constant of shape \[1, 1, 2048, 2048\] against run-time data/],
      ['Loop', build([O.NodeProto.create({ name: 'lp', opType: 'Loop', input: ['m', ''], output: ['y'] })], [i64('m', [1e12])]), /is a 'Loop'.*BiSeNetV2 has no loops/],
      ['external weights', build([O.NodeProto.create({ name: 'cv', opType: 'Conv', input: ['x', 'w'], output: ['y'] })],
        [O.TensorProto.create({ name: 'w', dims: [3, 3, 1, 1], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'weights.bin' }] })]), /stored in an external file/],
    ];
    const { loadRunner } = await import('../../src/runtime/index.js');
    for (const [what, bytes, re] of cases) {
      const file = path.join(work, 'onnx-amp.onnx');
      fs.writeFileSync(file, bytes);
      await expect(loadRunner(file, 'ort-cpu'), what).rejects.toThrowError(re);
    }
    // onnxruntime's own error log stays out of stderr: a failing run is one escaped line, even with escapes in a node name.
    const evil = path.join(work, 'onnx-evil.onnx');
    fs.writeFileSync(evil, build([O.NodeProto.create({ name: 'rs\x1b]0;PWNED\x07\x1b[2J', opType: 'Reshape', input: ['x', 'shp'], output: ['y'] })], [i64('shp', [5, 7])]));
    const x = path.join(work, 'onnx-x.npy');
    fs.writeFileSync(x, encodeNpy({ dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3072) }));
    const r = bisenet('infer', evil, '--input', x, '--out', path.join(work, 'onnx-y.npy'));
    oneLine(r, /onnxruntime failed to run .*Reshape/);
    expect(r.stderr).not.toMatch(/\x1b/);
    // bench's own onnxruntime session turns the same failure into a runtime error (it was exit 3).
    await expect(runBench({ model: evil, runtimes: ['ort-cpu'], sizes: [[32, 32]], runs: 1, warmup: 0, convStack: false })).rejects.toThrowError(/onnxruntime failed to run/);
    expect(fs.existsSync(path.join(work, 'onnx-y.npy'))).toBe(false);
  }, 120_000);
  it('an image whose logits would exceed --max-memory is refused naming the memory it needs', () => {
    const png = Buffer.concat([sig, ihdr(4096, 4096), chunk('IDAT', zlib.deflateSync(Buffer.alloc(4096 * (1 + 4 * 4096)))), end]);
    const img = path.join(work, 'big.png');
    fs.writeFileSync(img, png);
    const r = bisenet('--max-memory', '1GiB', 'segment', model, '--image', img, '--out', path.join(work, 'big-out.png'));
    oneLine(r, /would need about [\d.]+ GiB, more than the limit of 1\.0 GiB \(--max-memory\)/);
    expect(fs.existsSync(path.join(work, 'big-out.png'))).toBe(false);
  }, 600_000);
});

describe('7. recorded metadata is validated', () => {
  it('refuses preprocessing that is empty, lacks mean, or asks for a huge size multiple; palettes of numbers', () => {
    const ok = { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], size_multiple: 32 };
    expect(validatePreprocessing(ok, 'm').size_multiple).toBe(32);
    for (const bad of [{}, { ...ok, mean: undefined }, { ...ok, size_multiple: 1e6 }, { ...ok, size_multiple: 16384 }, { ...ok, std: [0, 1, 1] }, 7, null]) {
      expect(() => validatePreprocessing(bad, 'm')).toThrowError(BisenetError);
    }
    expect(() => validatePalette([1, 2, 3], 'm')).toThrowError(/palette/);
  });
  it('segment refuses a model whose recorded metadata is malformed, in one line, writing nothing (one schema for every reader)', () => {
    const img = path.join(work, 'meta-in.png');
    // A 4×4 RGB PNG, built by hand.
    const chunk = (type: string, data: Buffer): Buffer => {
      const b = Buffer.alloc(12 + data.length);
      b.writeUInt32BE(data.length); b.write(type, 4, 'latin1'); data.copy(b, 8);
      b.writeUInt32BE(zlib.crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
      return b;
    };
    const hdr = Buffer.alloc(13); hdr.writeUInt32BE(4); hdr.writeUInt32BE(4, 4); hdr[8] = 8; hdr[9] = 2;
    fs.writeFileSync(img, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', hdr),
      chunk('IDAT', zlib.deflateSync(Buffer.from(Array.from({ length: 4 * 13 }, (_, i) => (i % 13 === 0 ? 0 : 90))))), chunk('IEND', Buffer.alloc(0))]));
    const pre = { color_order: 'RGB', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], size_multiple: 32 };
    const cases: [Record<string, string>, RegExp][] = [
      [{ preprocessing: JSON.stringify({ ...pre, size_multiple: 1e6 }) }, /size_multiple 1000000, not an integer in 1–256/],
      [{ preprocessing: JSON.stringify({ ...pre, size_multiple: 16384 }) }, /size_multiple 16384/],
      [{ preprocessing: '{}' }, /preprocessing has no positive finite scale/],
      [{ palette: '[1, 2, 3]' }, /palette is not a list/],
      [{ class_names: JSON.stringify(['road', 'x\u001b[31mred']) }, /class_names are not a list of printable names/],
      [{ num_classes: '1e9' }, /num_classes is not an integer/],
      [{ preprocessing: '['.repeat(100_000) }, /metadata/],
    ];
    for (const [i, [meta, re]] of cases.entries()) {
      const m = onnxProto.onnx.ModelProto.decode(fs.readFileSync(model));
      for (const [key, value] of Object.entries(meta)) {
        const prop = m.metadataProps.find((p) => p.key === key);
        if (prop) prop.value = value; else m.metadataProps.push(onnxProto.onnx.StringStringEntryProto.create({ key, value }));
      }
      const bad = path.join(work, `meta-${i}.onnx`);
      fs.writeFileSync(bad, onnxProto.onnx.ModelProto.encode(m).finish());
      const out = path.join(work, `meta-${i}.png`);
      oneLine(bisenet('segment', bad, '--image', img, '--out', out), re);
      expect(fs.existsSync(out)).toBe(false);
    }
  }, 600_000);
});

describe('8. outputs', () => {
  it('verify --json does not overwrite without --force; a dangling link at --out counts as existing', () => {
    const json = path.join(work, 'report.json');
    fs.writeFileSync(json, 'keep');
    oneLine(bisenet('verify', model, '--golden', golden(UPSTREAM), '--json', json), /already exists/);
    expect(fs.readFileSync(json, 'utf8')).toBe('keep');
    const link = path.join(work, 'link.onnx');
    fs.symlinkSync(path.join(work, 'nowhere.onnx'), link);
    oneLine(bisenet('convert', fixture(UPSTREAM, 'model.pth'), '--to', 'onnx', '--out', link), /already exists/);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  }, 600_000);
  it('infer --labels writes both outputs or neither', () => {
    const out = path.join(work, 'y.npy');
    fs.mkdirSync(path.join(work, 'y.labels.npy'));
    const r = bisenet('infer', model, '--input', path.join(golden(UPSTREAM), 'input.npy'), '--out', out, '--labels', '--force');
    expect(r.code).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 600_000);
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

describe('10. non-finite weights', () => {
  it('are refused naming the tensor, and converted with --allow-nonfinite and a warning', () => {
    const ck = loadCheckpoint(fixture(UPSTREAM, 'model.pth'));
    const arrays = new Map([...ck.tensors].map(([k, t]) => [k, t.load()]));
    const variance = [...arrays.keys()].find((k) => k.endsWith('running_var'))!;
    (arrays.get(variance)!.data as Float32Array)[0] = -1;
    const file = path.join(work, 'negvar.safetensors');
    fs.writeFileSync(file, writeSafetensors(arrays));
    oneLine(bisenet('convert', file, '--to', 'onnx', '--out', path.join(work, 'nv.onnx')), new RegExp(`NaN/Inf or a negative running variance \\(first: ${variance.replace(/\./g, '\\.')}`));
    expect(fs.existsSync(path.join(work, 'nv.onnx'))).toBe(false);
    const r = bisenet('convert', file, '--to', 'onnx', '--out', path.join(work, 'nv.onnx'), '--allow-nonfinite');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: 1 tensor\(s\) hold NaN/);
  }, 600_000);
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
    oneLine(r, /would need about [\d.]+ GiB, more than the limit/);
    // The same input as a golden case: verify estimates the run from the header before reading the data.
    const g = path.join(work, 'big-golden');
    fs.mkdirSync(g);
    fs.renameSync(file, path.join(g, 'input.npy'));
    fs.writeFileSync(path.join(g, 'logits.npy'), encodeNpy({ dtype: 'float32', shape: [1], data: new Float32Array(1) }));
    oneLine(bisenet('verify', model, '--golden', g), /input\.npy: running the model on 1×3×13376×13376 .* would need about/);
    fs.rmSync(g, { recursive: true });
  }, 180_000);
});

describe('values that would be computed wrongly rather than refused', () => {
  it('safetensors data must be tiled exactly: overlapping tensors, aliases and trailing bytes are refused', () => {
    const t = new Map([['a', { dtype: 'float32' as const, shape: [2], data: Float32Array.of(1, 2) }], ['b', { dtype: 'float32' as const, shape: [2], data: Float32Array.of(3, 4) }]]);
    const good = writeSafetensors(t);
    expect(readSafetensors(good, 'ok').size).toBe(2);
    const withHeader = (edit: (h: Record<string, { data_offsets: number[] }>) => void, extra = 0): Uint8Array => {
      const n = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
      const h = JSON.parse(Buffer.from(good.subarray(8, 8 + n)).toString('utf8'));
      edit(h);
      const hb = Buffer.from(JSON.stringify(h).padEnd(n, ' '));
      const out = new Uint8Array(good.length + extra);
      out.set(good);
      out.set(hb.subarray(0, n), 8);
      return out;
    };
    expect(() => readSafetensors(withHeader((h) => { h.b!.data_offsets = [0, 8]; }), 'alias')).toThrowError(/overlaps|covered exactly once/);
    expect(() => readSafetensors(withHeader(() => {}, 16), 'gap')).toThrowError(/cover 16 of the 32 data bytes/);
  });
  it('a palette shorter than the classes, or class names of another count, are refused', () => {
    expect(() => recordedFrom({ palette: '[[1,2,3]]', num_classes: '19' }, 'm')).toThrowError(/palette has 1 colour for 19 classes/);
    expect(() => recordedFrom({ class_names: '["a","b"]', num_classes: '3' }, 'm')).toThrowError(/name 2 classes, the model has 3/);
    expect(recordedFrom({ palette: '[[1,2,3],[4,5,6]]', num_classes: '2' }, 'm').palette).toHaveLength(2);
  });
  it('a golden reference saved as integers is not compared with float outputs by argmax alone', () => {
    const shape = [1, 2, 2, 2];
    const f = { dtype: 'float32' as const, shape, data: Float32Array.of(1.4, 0.2, 3.9, 0.1, 0.3, 2.2, 0.4, 5.1) };
    const i = { dtype: 'int64' as const, shape, data: BigInt64Array.from([1n, 0n, 3n, 0n, 0n, 2n, 0n, 5n]) };
    const r = compareOutput('logits', f, i, { rel: 1e-4, minAgreement: 0.9999 });
    expect(r.pass).toBe(false);
    expect(r.problem).toMatch(/int64 values and the output float32/);
  });
  it('progress lines escape the file names they show', () => {
    const lines: string[] = [];
    const p = new Progress(2, 'segment', { stream: { isTTY: false, write: (x: string) => { lines.push(x); return true; } } });
    p.tick('a\x1b]0;pwn\x07\nb.png');
    expect(lines.join('')).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(lines.join('').split('\n').filter(Boolean)).toHaveLength(1);
  });
});

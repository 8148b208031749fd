import * as zlib from 'node:zlib';
import { concat } from './mutate.js';
import { PickleWriter, torchTensor } from './pickle-writer.js';
import type { Rng } from './prng.js';
import { pdparams, SEED_STORAGES, TARGETS, tfjsBundle, TFJS_SEED_JSON, torchPickle, torchZip, type Generated } from './targets.js';
import { makeZip } from './zip-writer.js';

/**
 * Structure-aware families built the way an adversary builds files, not one mutation away from a valid
 * one: pickles that allocate without bound (MARK, memo, APPEND, dict floods), shared object graphs
 * rendered into messages, many views of one deflated storage, zip entries whose local headers lie or
 * overlap, encrypted entries, .npy headers with thousands of dims or no end, safetensors headers nested
 * millions deep, tfjs manifests listing one shard hundreds of times, PNGs with a second IHDR, APNG
 * chunks or an interlaced inflate bomb. Registered into the fuzz targets on import.
 */

/** A pickle of PROTO 2, `body` repeated `n` times around an optional prefix/suffix, then STOP. */
function floodPickle(prefix: number[], body: ArrayLike<number>, n: number, suffix: number[] = []): Uint8Array {
  const out = new Uint8Array(2 + prefix.length + body.length * n + suffix.length + 1);
  out.set([0x80, 2], 0);
  out.set(prefix, 2);
  let p = 2 + prefix.length;
  for (let i = 0; i < n; i++) { out.set(body, p); p += body.length; }
  out.set(suffix, p);
  out[p + suffix.length] = 0x2e;
  return out;
}

const FLOODS: { name: string; make: (n: number) => Uint8Array }[] = [
  { name: 'MARK flood', make: (n) => floodPickle([], [0x28], n) },
  { name: 'MEMOIZE flood', make: (n) => floodPickle([0x5d], [0x94], n) },
  { name: 'LONG_BINPUT flood', make: (n) => { const b = new Uint8Array(5 * n); for (let i = 0; i < n; i++) { b[5 * i] = 0x72; new DataView(b.buffer).setUint32(5 * i + 1, i, true); } return floodPickle([0x5d], b, 1); } },
  { name: 'APPEND flood', make: (n) => floodPickle([0x5d], [0x4e, 0x61], n) },
  { name: 'APPENDS of DUPs', make: (n) => floodPickle([0x5d, 0x5d, 0x28], [0x32], n, [0x65]) },
  { name: 'SETITEM flood', make: (n) => floodPickle([0x7d], [0x4b, 1, 0x4e, 0x73], n) },
  { name: 'EMPTY_DICT flood', make: (n) => floodPickle([], [0x7d], n) },
  { name: 'EMPTY_SET flood', make: (n) => floodPickle([], [0x8f], n) },
  { name: 'EMPTY_LIST flood', make: (n) => floodPickle([], [0x5d], n) },
  { name: 'memo GET flood', make: (n) => floodPickle([0x5d, 0x71, 0], [0x68, 0], n) },
];

/** A pickle flood, inside a PyTorch zip with data.pkl deflated (a small file carrying a big pickle). */
function pthFlood(rng: Rng): Generated {
  const f = rng.pick(FLOODS);
  const n = 20_000 + rng.int(150_000);
  return { bytes: makeZip([{ name: 'archive/data.pkl', data: f.make(n), deflate: true }]), note: `${f.name} ×${n}, deflated data.pkl` };
}

/** The same floods as a bare .pdparams pickle. */
function pdparamsFlood(rng: Rng): Generated {
  const f = rng.pick(FLOODS);
  const n = 10_000 + rng.int(100_000);
  return { bytes: f.make(n), note: `${f.name} ×${n}` };
}

/** A list DAG (each level holds the previous one twice): tiny in the pickle, exponential as text. */
function dagPickle(rng: Rng): Generated {
  const depth = 30 + rng.int(40);
  const w = new PickleWriter().raw(0x5d).put(0);
  for (let i = 1; i <= depth; i++) w.mark().get(i - 1).get(i - 1).raw(0x6c).put(i % 256);
  const use = rng.int(3);
  let bytes: Uint8Array;
  if (use === 0) { // as the key of the state dict
    w.raw(0x30).emptyDict().get(depth % 256).str('x').setitem();
    bytes = w.stop();
  } else if (use === 1) { // as torch.device's argument, the value of a key
    w.raw(0x30).emptyDict().str('device').global('torch', 'device').mark().get(depth % 256).tuple().reduce().setitem();
    bytes = w.stop();
  } else { // as a top-level wrapper key beside a tensor dict
    w.raw(0x30).emptyDict().get(depth % 256).emptyDict().setitem();
    bytes = w.stop();
  }
  return { bytes: torchZip(bytes), note: `shared list DAG of depth ${depth} (${use})` };
}

/** Many tensors, all views of one deflated storage: inflating per view would multiply the work. */
function viewsOfOneStorage(rng: Rng): Generated {
  const storageBytes = (1 + rng.int(3)) * 1024 * 1024;
  const views = 50 + rng.int(300);
  const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (let i = 0; i < views; i++) {
    w.str(`v${i}`);
    torchTensor(w, 'FloatStorage', '0', storageBytes / 4, (i * 997) % (storageBytes / 4 - 4096), [64, 64], [64, 1]);
  }
  w.setitems();
  const bytes = makeZip([
    { name: 'archive/data.pkl', data: w.stop() },
    { name: 'archive/data/0', data: new Uint8Array(storageBytes), deflate: true },
  ]);
  return { bytes, note: `${views} views of one deflated ${storageBytes}-byte storage` };
}

/** A size or stride with a huge number of dimensions, and keys that hold terminal escapes. */
function hostileShapesAndNames(rng: Rng): Generated {
  const dims = 1000 + rng.int(100_000);
  const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  w.str(rng.pick(['\u001b[2J\u001b[31mowned', 'a\nb\r\nc', 'x\u009b31m', '\u202eevil', 'conv.weight\u0007']));
  torchTensor(w, 'FloatStorage', '0', 108, 0, [4, 3, 3, 3], [27, 9, 3, 1]);
  w.str('many.dims');
  w.global('torch._utils', '_rebuild_tensor_v2').mark();
  w.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(108).tuple().binpersid();
  w.int(0).mark();
  for (let i = 0; i < dims; i++) w.raw(0x4b, 1);
  w.tuple().mark();
  for (let i = 0; i < dims; i++) w.raw(0x4b, 0);
  w.tuple().bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  w.setitems();
  return { bytes: torchZip(w.stop()), note: `shape of ${dims} dims, escapes in names` };
}

/** Zip archives torch.load refuses: local headers that disagree, overlapping entries, encryption. */
function zipLies(rng: Rng): Generated {
  const pkl = torchPickle([{ key: 'w', type: 'FloatStorage', storage: '0', numel: 108, offset: 0, size: [108], stride: [1] }]);
  const bytes = Buffer.from(makeZip([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/data/0', data: SEED_STORAGES[0]! }]));
  const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  const cd2 = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), cd + 4);
  const which = rng.int(6);
  if (which === 0) bytes[30 + 2] ^= 0x20; // local name differs from the central one
  else if (which === 1) bytes.writeUInt16LE(8, 8); // local method deflate, central stored
  else if (which === 2) { bytes.writeUInt16LE(1, cd + 8); bytes.writeUInt16LE(1, 6); } // encrypted
  else if (which === 3) bytes.writeUInt32LE(0, cd2 + 42); // second entry's data is the first's (overlap)
  else if (which === 4) bytes.writeUInt32LE(bytes.readUInt32LE(18) + 7, 18); // local compressed size disagrees
  else bytes.writeUInt32LE(bytes.readUInt32LE(cd2 + 42) - 8, cd2 + 42); // offset into the middle of the previous entry
  return { bytes: new Uint8Array(bytes), note: `zip that torch refuses (${which})` };
}

/**
 * A storage declared deflated to gigabytes at a ratio under the per-entry bound (2.3 GiB from 2.2 MB):
 * only the budget of inflated bytes per archive refuses it, before inflating anything.
 */
function inflateBudget(rng: Rng): Generated {
  const declared = 1.1 * 2 ** 30 + rng.int(2 ** 30);
  const junk = new Uint8Array(Math.ceil(declared / 1050));
  const pkl = torchPickle([{ key: 'w', type: 'FloatStorage', storage: '0', numel: 1024, offset: 0, size: [1024], stride: [1] }]);
  const bytes = Buffer.from(makeZip([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/data/0', data: junk }]));
  const local = bytes.indexOf(Buffer.from('PK\u0003\u0004', 'latin1'), 4);
  const cd2 = bytes.indexOf(Buffer.from('PK\u0001\u0002', 'latin1'), bytes.indexOf(Buffer.from('PK\u0001\u0002', 'latin1')) + 4);
  bytes.writeUInt16LE(8, local + 8); bytes.writeUInt32LE(declared >>> 0, local + 22);
  bytes.writeUInt16LE(8, cd2 + 10); bytes.writeUInt32LE(declared >>> 0, cd2 + 24);
  return { bytes: new Uint8Array(bytes), note: `storage declared ${declared} bytes deflated from ${junk.length}` };
}

TARGETS.find((t) => t.name === 'pth')!.generators.push(pthFlood, dagPickle, viewsOfOneStorage, hostileShapesAndNames, zipLies, inflateBudget);
TARGETS.find((t) => t.name === 'pdparams')!.generators.push(pdparamsFlood, (rng) => {
  // numpy arrays whose dtype code and key carry escapes, and a shape of many dims
  const dims = Array.from({ length: 100 + rng.int(10_000) }, () => 1);
  return { bytes: pdparams([['k\u001b[31m\n', rng.pick(['f4', '\u001b[2Jx']), dims, new Uint8Array(4)]]), note: `pdparams ${dims.length} dims, escapes` };
});

/** .npy headers: thousands of dims, an unterminated shape, headers at the format's maximum length. */
TARGETS.find((t) => t.name === 'npy')!.generators.push((rng) => {
  const n = 1000 + rng.int(30_000);
  const which = rng.int(3);
  const shape = which === 0 ? `(${'1, '.repeat(n)})` : which === 1 ? `(${'1,'.repeat(n)}` : `(${"'shape': (".repeat(n)}`;
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }\n`;
  const h = new TextEncoder().encode(header);
  const pre = new Uint8Array(12);
  pre.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
  new DataView(pre.buffer).setUint32(8, h.length, true);
  return { bytes: concat(pre, h, new Uint8Array(4)), note: `npy header ${which} with ${n} repeats` };
});

/** safetensors headers nested deep (JSON.parse would take gigabytes). */
TARGETS.find((t) => t.name === 'safetensors')!.generators.push((rng) => {
  const depth = 10_000 + rng.int(2_000_000);
  const h = new TextEncoder().encode(`{"a":${'['.repeat(depth)}${']'.repeat(rng.int(2) ? depth : 0)}}`);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  return { bytes: concat(len, h), note: `safetensors header nested ${depth}` };
});

/** One shard listed hundreds of times, and paths that normalise to the same file. */
TARGETS.find((t) => t.name === 'tfjs')!.generators.push((rng) => {
  const json = JSON.parse(JSON.stringify(TFJS_SEED_JSON)) as typeof TFJS_SEED_JSON;
  const n = 2 + rng.int(1000);
  json.weightsManifest[0]!.paths = Array.from({ length: n }, (_, i) => (i % 2 ? './group1-shard1of1.bin' : 'group1-shard1of1.bin'));
  return { bytes: tfjsBundle(json, new Uint8Array(452)), note: `one shard listed ${n} times` };
});

/** PNG chunks: a second IHDR, APNG animation chunks, an interlaced inflate bomb, IHDR not first. */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(zlib.crc32 ? zlib.crc32(out.subarray(4, 8 + data.length)) : 0, 8 + data.length);
  return new Uint8Array(out);
}
function ihdr(w: number, h: number, interlace = 0): Uint8Array {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(w, 0); d.writeUInt32BE(h, 4); d[8] = 8; d[9] = 6; d[12] = interlace;
  return pngChunk('IHDR', d);
}
TARGETS.find((t) => t.name === 'image')!.generators.push((rng) => {
  const sig = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const which = rng.int(4);
  const small = new Uint8Array(zlib.deflateSync(new Uint8Array(4 * (1 + 16)).fill(0)));
  const end = pngChunk('IEND', new Uint8Array(0));
  let bytes: Uint8Array;
  if (which === 0) bytes = concat(sig, ihdr(4, 4), ihdr(60000, 60000), pngChunk('IDAT', small), end);
  else if (which === 1) bytes = concat(sig, ihdr(4, 4), pngChunk('acTL', new Uint8Array(8)), pngChunk('fcTL', new Uint8Array(26).fill(0x7f)), pngChunk('IDAT', small), end);
  else if (which === 2) bytes = concat(sig, ihdr(16, 16, 1), pngChunk('IDAT', new Uint8Array(zlib.deflateSync(new Uint8Array((16 + rng.int(48)) * 1024 * 1024)))), end);
  else bytes = concat(sig, pngChunk('IDAT', small), ihdr(60000, 60000), end);
  return { bytes, note: `hostile PNG chunks (${which})` };
});

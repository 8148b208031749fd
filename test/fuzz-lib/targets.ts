import { parseCheckpoint } from '../../src/checkpoint/index.js';
import { encodeNpy, parseNpy } from '../../src/checkpoint/npy.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { summarize } from '../../src/port/index.js';
import { assembleWeights, parseModelJson } from '../../src/model-file/tfjs.js';
import { decodePngIndices } from '../../src/util/png-index.js';
import { parseManifest } from '../../src/verify/golden.js';
import { PNG } from 'pngjs';
import { fail } from '../../src/util/errors.js';
import { concat } from './mutate.js';
import { PickleWriter, torchTensor } from './pickle-writer.js';
import type { Rng } from './prng.js';
import { makeZip } from './zip-writer.js';

/**
 * What the fuzzer feeds: each target is one reader, with valid seed files to mutate and
 * structure-aware generators for the attacks byte flips rarely find (forbidden globals, deep
 * nesting, shapes whose product overflows, duplicated or missing zip entries).
 */
export interface Generated { bytes: Uint8Array; note: string; expectKind?: 'security' | 'format' }
export interface FuzzTarget {
  name: string;
  seeds: () => Uint8Array[];
  generators: ((rng: Rng) => Generated)[];
  run: (bytes: Uint8Array) => void;
}

const f32 = (n: number, scale = 1): Uint8Array => new Uint8Array(Float32Array.from({ length: n }, (_, i) => Math.sin(i) * scale).buffer);

export type TensorSpec = { key: string; type: string; storage: string; numel: number; offset: number; size: number[]; stride: number[] };

export function torchPickle(tensors: TensorSpec[], wrap?: string): Uint8Array {
  const w = new PickleWriter();
  if (wrap) w.emptyDict().str(wrap);
  w.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) { w.str(t.key); torchTensor(w, t.type, t.storage, t.numel, t.offset, t.size, t.stride); }
  w.setitems();
  if (wrap) w.setitem();
  return w.stop();
}

export const SEED_TENSORS: TensorSpec[] = [
  { key: 'conv.weight', type: 'FloatStorage', storage: '0', numel: 108, offset: 0, size: [4, 3, 3, 3], stride: [27, 9, 3, 1] },
  { key: 'bn.weight', type: 'HalfStorage', storage: '1', numel: 4, offset: 0, size: [4], stride: [1] },
  { key: 'bn.num_batches_tracked', type: 'LongStorage', storage: '2', numel: 1, offset: 0, size: [], stride: [] },
  { key: 'view.t', type: 'FloatStorage', storage: '0', numel: 108, offset: 3, size: [3, 4], stride: [1, 27] },
  { key: 'head.weight', type: 'BFloat16Storage', storage: '3', numel: 6, offset: 0, size: [2, 3, 1, 1], stride: [3, 1, 1, 1] },
];
export const SEED_STORAGES: Record<string, Uint8Array> = { 0: f32(108), 1: new Uint8Array(8).fill(0x3c), 2: new Uint8Array(8), 3: new Uint8Array(12).fill(0x3f) };

export function torchZip(pickle: Uint8Array, storages = SEED_STORAGES, top = 'archive'): Uint8Array {
  return makeZip([
    { name: `${top}/data.pkl`, data: pickle },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${top}/data/${k}`, data })),
    { name: `${top}/version`, data: new TextEncoder().encode('3\n') },
  ]);
}

const FORBIDDEN: [string, string][] = [
  ['os', 'system'], ['posix', 'system'], ['nt', 'system'], ['builtins', 'eval'], ['builtins', 'exec'], ['__builtin__', 'eval'],
  ['builtins', 'getattr'], ['builtins', '__import__'], ['subprocess', 'Popen'], ['subprocess', 'check_output'], ['torch', 'load'],
  ['pickle', 'loads'], ['webbrowser', 'open'], ['shutil', 'rmtree'], ['torch.serialization', 'load'], ['numpy', 'load'],
  ['collections', 'defaultdict'], ['torch._utils', '_rebuild_qtensor'], ['functools', 'partial'], ['operator', 'attrgetter'],
];

/** A forbidden global called through REDUCE, hidden at a random depth inside a valid state dict. */
function gadget(rng: Rng): Generated {
  const [module, name] = rng.pick(FORBIDDEN);
  const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  w.str('conv.weight');
  torchTensor(w, 'FloatStorage', '0', 108, 0, [4, 3, 3, 3], [27, 9, 3, 1]);
  w.str('payload');
  if (rng.int(2)) w.global(module, name).mark().str('touch /tmp/bisenet-fuzz-pwned').tuple().reduce();
  else w.str(module).str(name).raw(0x93).mark().str('id').tuple().reduce(); // STACK_GLOBAL form
  w.setitems();
  return { bytes: torchZip(w.stop()), note: `gadget ${module}.${name}`, expectKind: 'security' };
}

/** One memoized string re-encoded again and again: bytes out of proportion to the file. */
function amplify(rng: Rng): Generated {
  const w = new PickleWriter().raw(0x5d).str('x'.repeat(1024 + rng.int(8192))).put(1).raw(0x30);
  for (let i = 0, n = 500 + rng.int(3000); i < n; i++) w.global('_codecs', 'encode').mark().get(1).str('latin1').tuple().reduce().raw(0x61);
  return { bytes: torchZip(w.stop()), note: 'memoized _codecs.encode amplification', expectKind: 'security' };
}

function deepNesting(rng: Rng): Generated {
  const depth = 1000 + rng.int(200_000);
  const kind = rng.int(3);
  const ops: number[] = [0x80, 2];
  if (kind === 0) { for (let i = 0; i < depth; i++) ops.push(0x5d); for (let i = 1; i < depth; i++) ops.push(0x61); } // nested lists
  else if (kind === 1) { for (let i = 0; i < depth; i++) ops.push(0x28); for (let i = 0; i < depth; i++) ops.push(0x74); } // nested tuples via MARK
  else { for (let i = 0; i < depth; i++) ops.push(0x7d, 0x4e); for (let i = 1; i < depth; i++) ops.push(0x73); } // dicts as keys… invalid pairs
  ops.push(0x2e);
  return { bytes: torchZip(Uint8Array.from(ops)), note: `nesting ${depth} (${kind})` };
}

function overflowShape(rng: Rng): Generated {
  const big = rng.pick([2 ** 31, 2 ** 32 + 1, 2 ** 40, 2 ** 52, 2 ** 53 + 2]);
  const size = [big, big, rng.int(4) + 1];
  const stride = rng.int(2) ? [0, 0, 0] : [big, 1, 1];
  const t: TensorSpec = { key: 'huge', type: 'FloatStorage', storage: '0', numel: 108, offset: rng.int(2) ? 0 : big, size, stride };
  return { bytes: torchZip(torchPickle([t])), note: `shape [${size}] stride [${stride}]` };
}

function zipStructure(rng: Rng): Generated {
  const pkl = torchPickle(SEED_TENSORS, rng.int(2) ? 'state_dict' : undefined);
  const entries = [
    { name: 'archive/data.pkl', data: pkl },
    ...Object.entries(SEED_STORAGES).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
  ];
  const which = rng.int(4);
  if (which === 0) entries.push({ ...entries[rng.int(entries.length)]! }); // duplicated entry
  else if (which === 1) entries.splice(rng.int(entries.length), 1); // missing entry
  else if (which === 2) entries.push({ name: 'archive2/data.pkl', data: pkl }); // two pickles
  else entries[rng.int(entries.length)]!.data = entries[0]!.data.subarray(0, rng.int(entries[0]!.data.length)); // short storage
  return { bytes: makeZip(entries, { zip64: rng.int(2) === 1, dataDescriptor: rng.int(2) === 1 }), note: `zip structure ${which}` };
}

export const TARGETS: FuzzTarget[] = [
  {
    name: 'pth',
    seeds: () => [
      torchZip(torchPickle(SEED_TENSORS)),
      torchZip(torchPickle(SEED_TENSORS, 'state_dict'), SEED_STORAGES, 'some_model_name'),
      makeZip([{ name: 'archive/data.pkl', data: torchPickle(SEED_TENSORS), deflate: true }, ...Object.entries(SEED_STORAGES).map(([k, data]) => ({ name: `archive/data/${k}`, data, deflate: true }))]),
    ],
    generators: [gadget, deepNesting, overflowShape, zipStructure, amplify],
    run: (bytes) => {
      const ck = parseCheckpoint(bytes, 'fuzz.pth');
      for (const t of ck.tensors.values()) t.load();
      summarize(ck);
    },
  },
  {
    name: 'pickle',
    seeds: () => [torchPickle(SEED_TENSORS), torchPickle(SEED_TENSORS, 'model')],
    generators: [],
    // The bare pickle inside a valid archive, so mutations reach the opcode interpreter directly.
    run: (bytes) => {
      const ck = parseCheckpoint(torchZip(bytes), 'fuzz.pth');
      for (const t of ck.tensors.values()) t.load();
    },
  },
  {
    name: 'safetensors',
    seeds: () => [writeSafetensors(new Map([
      ['a.weight', { dtype: 'float32', shape: [4, 3, 3, 3], data: new Float32Array(108) }],
      ['a.half', { dtype: 'float16', shape: [4], data: new Uint16Array(4) }],
      ['n', { dtype: 'int64', shape: [], data: new BigInt64Array(1) }],
    ]), { format: 'pt' })],
    generators: [(rng) => {
      const n = rng.pick([2 ** 31, 2 ** 53, 1e300]);
      const header = JSON.stringify({ x: { dtype: rng.pick(['F32', 'F16', 'I64', 'Q4']), shape: [n, n], data_offsets: [0, rng.int(2) ? 8 : n] } });
      const h = new TextEncoder().encode(header);
      const len = new Uint8Array(8);
      new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
      return { bytes: concat(len, h, new Uint8Array(8)), note: `safetensors shape [${n}, ${n}]` };
    }],
    run: (bytes) => {
      const ck = parseCheckpoint(bytes, 'fuzz.safetensors');
      for (const t of ck.tensors.values()) t.load();
    },
  },
  {
    name: 'npy',
    seeds: () => [
      encodeNpy({ dtype: 'float32', shape: [1, 3, 4, 4], data: new Float32Array(48) }),
      encodeNpy({ dtype: 'int64', shape: [2, 5], data: new BigInt64Array(10) }),
      encodeNpy({ dtype: 'float16', shape: [7], data: new Uint16Array(7) }),
    ],
    generators: [(rng) => {
      const dims = Array.from({ length: 1 + rng.int(4) }, () => rng.pick(['0', '1', '99999999999', '18446744073709551617', '-1', '3']));
      const fortran = rng.int(2) ? 'True' : 'False';
      const header = `{'descr': '${rng.pick(['<f4', '<i8', '|b1', '>f4', '<c8', 'O'])}', 'fortran_order': ${fortran}, 'shape': (${dims.join(', ')},), }`.padEnd(118) + '\n';
      const h = new TextEncoder().encode(header);
      const pre = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
      return { bytes: concat(pre, h, new Uint8Array(rng.int(64))), note: `npy shape (${dims})` };
    }],
    run: (bytes) => { parseNpy(bytes, 'fuzz.npy'); },
  },
  {
    name: 'manifest',
    seeds: () => [new TextEncoder().encode(JSON.stringify({
      source: 'fuzz', checkpoint: 'fixtures/x/model.pth', family: 'coincheung', n_classes: 19,
      files: { 'input.npy': { shape: [1, 3, 96, 160], dtype: 'float32', sha256: '00' }, 'logits.npy': { shape: [1, 19, 96, 160], dtype: 'float32' } },
    }))],
    generators: [(rng) => {
      const depth = 1000 + rng.int(100_000);
      const open = rng.int(2) ? '[' : '{"a":';
      const close = open === '[' ? ']' : '}';
      return { bytes: new TextEncoder().encode(open.repeat(depth) + '1' + close.repeat(depth)), note: `json nesting ${depth}` };
    }],
    run: (bytes) => { parseManifest(bytes, 'fuzz/manifest.json'); },
  },
];

/**
 * A tfjs model as one fuzz input: u32 length of model.json, model.json, then the bytes of its one
 * shard (every path in the manifest reads them).
 */
export function tfjsBundle(json: unknown, shard: Uint8Array): Uint8Array {
  const j = new TextEncoder().encode(JSON.stringify(json));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, j.length, true);
  return concat(len, j, shard);
}

export const TFJS_SEED_JSON = {
  format: 'graph-model', generatedBy: 'bisenet-port', modelTopology: { node: [] },
  weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [
    { name: 'conv/weights', shape: [3, 3, 3, 4], dtype: 'float32' },
    { name: 'conv/bias', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.01, min: -1 } },
    { name: 'head/w', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'float16' } },
  ] }],
};

TARGETS.push({
  name: 'tfjs',
  seeds: () => [tfjsBundle(TFJS_SEED_JSON, f32(108 + 1 + 2).subarray(0, 108 * 4 + 4 + 8))],
  generators: [(rng) => {
    const json = JSON.parse(JSON.stringify(TFJS_SEED_JSON)) as typeof TFJS_SEED_JSON;
    const w = json.weightsManifest[0]!.weights[rng.int(3)]! as Record<string, unknown>;
    const which = rng.int(5);
    if (which === 0) w.shape = [rng.pick([2 ** 31, 2 ** 53, -1, 1.5]), 4];
    else if (which === 1) json.weightsManifest[0]!.paths = [rng.pick(['../../etc/passwd', '/etc/passwd', '', 'a/../../x'])];
    else if (which === 2) w.quantization = rng.pick([{ dtype: 'int4' }, { dtype: 'uint8' }, null, 7]);
    else if (which === 3) w.dtype = rng.pick(['string', 'complex64', 7]);
    else (json as Record<string, unknown>).weightsManifest = rng.pick([{}, null, [null], [{ paths: 'x' }]]);
    return { bytes: tfjsBundle(json, f32(111).subarray(0, 444)), note: `tfjs manifest ${which}` };
  }],
  run: (bytes) => {
    if (bytes.length < 4) fail('format', 'fuzz bundle too short');
    const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    if (4 + n > bytes.length) fail('format', 'fuzz bundle: model.json length beyond the data');
    const json = parseModelJson(bytes.subarray(4, 4 + n), 'fuzz/model.json');
    assembleWeights('fuzz/model.json', json.weightsManifest, () => bytes.subarray(4 + n));
  },
});

/** A PaddleSeg-style pickle: dict name → numpy array, as numpy's __reduce__ writes it (protocol 2). */
export function pdparams(arrays: [string, string, number[], Uint8Array][]): Uint8Array {
  const w = new PickleWriter().emptyDict().mark();
  for (const [name, code, shape, data] of arrays) {
    w.str(name);
    w.global('numpy.core.multiarray', '_reconstruct').mark().global('numpy', 'ndarray').mark().int(0).tuple().str('b').tuple().reduce();
    w.mark().int(1).mark(); for (const d of shape) w.int(d); w.tuple();
    w.global('numpy', 'dtype').mark().str(code).bool(false).bool(true).tuple().reduce();
    w.mark().int(3).str('<').none().none().none().int(-1).int(-1).int(0).tuple().build();
    w.bool(false);
    w.global('_codecs', 'encode').mark().str(String.fromCharCode(...data)).str('latin1').tuple().reduce();
    w.tuple().build();
  }
  w.str('StructuredToParameterName@@').emptyDict().setitems();
  return w.stop();
}

TARGETS.push({
  name: 'pdparams',
  seeds: () => [pdparams([
    ['db.convs.0._conv.weight', 'f4', [4, 3, 1, 1], f32(12)],
    ['db.convs.0._batch_norm._mean', 'f8', [2], new Uint8Array(16)],
    ['n', 'i8', [1], new Uint8Array(8)],
  ])],
  generators: [gadgetPdparams, (rng) => {
    const big = rng.pick([2 ** 31, 2 ** 53, 2 ** 40]);
    return { bytes: pdparams([['x', rng.pick(['f4', 'O', '>f4', 'c8', 'U4']), [big, big], f32(4)]]), note: 'pdparams huge/odd array' };
  }],
  run: (bytes) => {
    const ck = parseCheckpoint(bytes, 'fuzz.pdparams');
    for (const t of ck.tensors.values()) t.load();
    summarize(ck);
  },
});

function gadgetPdparams(rng: Rng): Generated {
  const [module, name] = rng.pick(FORBIDDEN);
  const w = new PickleWriter().emptyDict().str('w').global(module, name).mark().str('id').tuple().reduce().setitem();
  return { bytes: w.stop(), note: `pdparams gadget ${module}.${name}`, expectKind: 'security' };
}

TARGETS.push({
  name: 'image',
  seeds: () => {
    const png = new PNG({ width: 8, height: 5 });
    png.data.fill(77);
    return [new Uint8Array(PNG.sync.write(png)), new Uint8Array(PNG.sync.write(png, { colorType: 0 }))];
  },
  generators: [(rng) => {
    const png = new PNG({ width: 4, height: 4 });
    const bytes = new Uint8Array(PNG.sync.write(png));
    new DataView(bytes.buffer).setUint32(rng.int(2) ? 16 : 20, rng.pick([0, 65535, 0x7fffffff, 0xffffffff]));
    return { bytes, note: 'png with a huge or zero dimension' };
  }],
  // Our own synchronous code in front of every image decoder: the PNG structure check (checkPng), and the label-map
  // decoder behind it (grey and palette PNGs); images themselves are decoded by libvips (sharp), native code not fuzzed here.
  run: (bytes) => { decodePngIndices(bytes, 'fuzz.png'); },
});

/** Other readers register here. */
export function registerFuzzTarget(t: FuzzTarget): void {
  if (!TARGETS.some((x) => x.name === t.name)) TARGETS.push(t);
}


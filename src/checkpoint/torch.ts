import { fail } from '../util/errors.js';
import { LIMITS } from '../util/limits.js';
import { render } from '../util/render.js';
import { DTYPE_BYTES, numel, type DType } from '../util/ndarray.js';
import { latin1Encoder } from './paddle.js';
import { unpickle, type GlobalTable } from './pickle.js';
import { gatherView } from './strided.js';
import type { TensorEntry } from './types.js';
import { ZipArchive } from './zip.js';

/**
 * PyTorch checkpoints as torch.save (≥1.6) writes them: a zip with `<top>/data.pkl` (the pickled
 * object) and `<top>/data/<key>` (raw little-endian storages). The pickle may only name the globals
 * below; tensors are rebuilt here from their storage, offset, size and stride.
 */

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', DoubleStorage: 'float64',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
};

interface StorageRef { kind: 'storage'; dtype: DType; key: string }

/** A tensor read from the pickle, its bytes still in the archive. */
export class TorchTensor {
  readonly kind = 'tensor';
  constructor(
    readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[],
  ) {}
}

const asInts = (v: unknown, what: string, label: string): number[] => {
  if (Array.isArray(v) && v.length > LIMITS.rank) fail('format', `${label}: tensor ${what} has ${v.length} dimensions (at most ${LIMITS.rank})`);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) {
    fail('format', `${label}: tensor ${what} is not a tuple of integers`);
  }
  return v as number[];
};

function rebuildTensor(label: string, args: unknown[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (typeof storage !== 'object' || storage === null || (storage as StorageRef).kind !== 'storage') {
    fail('format', `${label}: tensor rebuilt from something that is not a storage`);
  }
  if (typeof offset !== 'number') fail('format', `${label}: tensor storage offset is not an integer`);
  return new TorchTensor(storage as StorageRef, offset, asInts(size, 'size', label), asInts(stride, 'stride', label));
}

function torchGlobals(label: string, pickleBytes: number): GlobalTable {
  const table: GlobalTable = {
    'collections.OrderedDict': () => new Map(),
    'torch._utils._rebuild_tensor_v2': (a) => rebuildTensor(label, a),
    'torch._utils._rebuild_tensor': (a) => rebuildTensor(label, a),
    // Parameters are tensors with requires_grad; the data is the first argument.
    'torch._utils._rebuild_parameter': (a) => a[0],
    'torch._utils._rebuild_parameter_with_state': (a) => a[0],
    // Tensor subclasses (torch ≥2): _rebuild_from_type_v2(func, type, args, state) → func(*args).
    'torch._tensor._rebuild_from_type_v2': (a) => {
      const [func, , args] = a as [{ kind: string; call: (x: unknown[]) => unknown }, unknown, unknown[]];
      if (!func || func.kind !== 'global' || !Array.isArray(args)) fail('format', `${label}: malformed _rebuild_from_type_v2`);
      return func.call(args);
    },
    'torch.Tensor': () => fail('format', `${label}: torch.Tensor cannot be called here`),
    'torch.nn.parameter.Parameter': () => fail('format', `${label}: Parameter cannot be called here`),
    // Scalars and small values that training scripts store next to the weights.
    // Rendered with bounds: its argument is whatever the pickle says (possibly a huge shared list graph).
    'torch.device': (a) => `device(${render(a[0], { depth: 1, items: 2, chars: 40 })})`,
    // Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'): one char per byte. Its output is
    // budgeted by the pickle's size, so re-encoding one memoized string cannot amplify memory.
    '_codecs.encode': latin1Encoder(label, pickleBytes),
  };
  for (const name of Object.keys(STORAGE_DTYPES)) {
    table[`torch.${name}`] = () => fail('format', `${label}: torch.${name} cannot be called here`);
  }
  return table;
}

export function isLegacyTorchPickle(bytes: Uint8Array): boolean {
  // torch < 1.6 wrote a pickled magic number (0x1950a86a20f9469cfc6c) first: PROTO 2, LONG1 10 bytes.
  return bytes.length > 4 && bytes[0] === 0x80 && bytes[2] === 0x8a && bytes[3] === 0x0a;
}

export interface TorchLoad {
  root: unknown;
  archive: ZipArchive;
  prefix: string;
}

export function readTorchZip(bytes: Uint8Array, label: string): TorchLoad {
  const archive = new ZipArchive(bytes, label);
  const pkl = [...archive.entries.keys()].filter((n) => n.endsWith('data.pkl') && n.split('/').length <= 2);
  if (pkl.length !== 1) {
    fail('format', `${label}: not a PyTorch checkpoint (${pkl.length === 0 ? 'no data.pkl in the zip' : 'several data.pkl entries'})`);
  }
  const prefix = pkl[0]!.slice(0, -'data.pkl'.length);
  const byteorder = archive.entries.has(`${prefix}byteorder`)
    ? Buffer.from(archive.read(`${prefix}byteorder`)).toString('utf8').trim() : 'little';
  if (byteorder !== 'little') fail('format', `${label}: checkpoint was saved ${byteorder}-endian; only little-endian is supported`);
  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 3) fail('format', `${label}: unexpected persistent id`);
    // The storage type arrives as the bare global (torch.FloatStorage), never called.
    const [, typeGlobal, key] = pid as [string, { kind?: string; qualname?: string }, unknown];
    const dtype = typeGlobal?.kind === 'global' ? STORAGE_DTYPES[String(typeGlobal.qualname).replace(/^torch\./, '')] : undefined;
    if (!dtype) fail('format', `${label}: persistent id names no storage type`);
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) fail('format', `${label}: bad storage key`);
    const name = `${prefix}data/${key}`;
    if (!archive.entries.has(name)) fail('format', `${label}: storage ${key} is missing from the archive`);
    let ref = storages.get(key);
    if (!ref) { ref = { kind: 'storage', dtype: dtype!, key: name }; storages.set(key, ref); }
    return ref;
  };
  // mmseg 1.x checkpoints pickle mmengine objects (message_hub, visualizer state) and numpy scalars
  // next to the weights: they stand in as inert placeholders, never resolved or called.
  const inert = (q: string): boolean => /^(mmengine|mmcv|mmseg)\./.test(q) || /^numpy\.(core\.multiarray\.scalar|dtype|ndarray|core\.multiarray\._reconstruct|_core\.multiarray\.(scalar|_reconstruct))$/.test(q);
  const declared = archive.entries.get(pkl[0]!)!.uncompressedSize;
  if (declared > LIMITS.dataPklBytes) {
    fail('security', `${label}: data.pkl is ${declared} bytes, more than the limit of ${LIMITS.dataPklBytes} (a state dict's pickle is small; --budget data-pkl-bytes)`);
  }
  const pickle = archive.read(pkl[0]!);
  const root = unpickle(pickle, { label, globals: torchGlobals(label, pickle.length), persistentLoad, inert });
  return { root, archive, prefix };
}

export function torchTensorEntry(load: TorchLoad, name: string, t: TorchTensor, label: string): TensorEntry {
  return {
    name,
    dtype: t.storage.dtype,
    shape: t.shape,
    load: () => {
      const bytes = load.archive.read(t.storage.key);
      if (bytes.length % DTYPE_BYTES[t.storage.dtype] !== 0) fail('format', `${label}: storage of ${name} has a partial element`);
      const nd = gatherView(`${label}: ${name}`, t.storage.dtype, bytes, t.offset, t.shape, t.stride);
      if (nd.data.length !== numel(t.shape)) fail('format', `${label}: ${name} has the wrong element count`);
      return nd;
    },
  };
}

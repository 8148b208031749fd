import { fail } from '../util/errors.js';
import { DTYPE_BYTES, numel, typedFromBytes, type DType } from '../util/ndarray.js';
import { escapeText, render, shapeText } from '../util/render.js';
import { unpickle, type Buildable, type GlobalTable } from './pickle.js';
import type { TensorEntry } from './types.js';

/**
 * PaddleSeg `.pdparams`: what `paddle.save(state_dict)` writes, a pickle (protocol 4, older files 2)
 * of a dict name → numpy.ndarray, plus a "StructuredToParameterName@@" name table. numpy pickles an
 * array as `_reconstruct(ndarray, (0,), b'b')` followed by BUILD with (version, shape, dtype,
 * is_fortran, raw bytes), and a dtype as `dtype('f4', False, True)` + BUILD (version, byte order, …).
 * Exactly those globals are allowed, implemented here as data builders; nothing else.
 *
 * `paddle.save` of anything that is not a flat state dict (e.g. `{model: state_dict, epoch: 3}`, Paddle
 * ≥ 2.1) pickles each tensor as `tuple((name, ndarray))`: `builtins.tuple` is allowed for that (it only
 * packs its argument), and the state dict is looked for under the usual wrapper keys.
 */

const NUMPY_DTYPES: Record<string, DType> = {
  f4: 'float32', f2: 'float16', f8: 'float64', i8: 'int64', i4: 'int32', i2: 'int16', i1: 'int8', u1: 'uint8', b1: 'bool',
};

class NumpyDtype implements Buildable {
  readonly kind = 'numpy-dtype';
  byteOrder = '=';
  constructor(readonly code: string) {}
  setState(state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
  }
}

export class NumpyArray implements Buildable {
  readonly kind = 'numpy-array';
  dtype: DType | null = null;
  shape: number[] = [];
  fortran = false;
  data: Uint8Array | null = null;
  constructor(private readonly label: string) {}
  setState(state: unknown): void {
    if (!Array.isArray(state) || state.length < 5) fail('format', `${this.label}: malformed numpy array state`);
    const [, shape, dtype, fortran, data] = state as [unknown, unknown, unknown, unknown, unknown];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) fail('format', `${this.label}: numpy array with an invalid shape`);
    if (!(dtype instanceof NumpyDtype)) fail('format', `${this.label}: numpy array without a dtype`);
    const d = dtype as NumpyDtype;
    const code = d.code.replace(/^[<>=|]/, '');
    const t = NUMPY_DTYPES[code];
    if (!t) fail('format', `${this.label}: numpy dtype ${escapeText(d.code, 20)} is not supported`);
    if (d.byteOrder === '>' || d.code.startsWith('>')) fail('format', `${this.label}: big-endian numpy arrays are not supported`);
    if (!(data instanceof Uint8Array)) fail('format', `${this.label}: numpy array data is not raw bytes (object arrays are refused)`);
    const need = numel(shape as number[]) * DTYPE_BYTES[t!];
    if (!Number.isSafeInteger(need) || (data as Uint8Array).length !== need) fail('format', `${this.label}: numpy array of shape ${shapeText(shape as unknown[])} ${escapeText(code, 20)} holds ${(data as Uint8Array).length} bytes, needs ${need}`);
    if (fortran === true && (shape as number[]).length > 1) fail('format', `${this.label}: Fortran-ordered numpy arrays in a checkpoint are not supported`);
    this.dtype = t!;
    this.shape = shape as number[];
    this.data = data as Uint8Array;
  }
}

/**
 * `_codecs.encode` turns a pickled string into bytes. A string read once can be passed to it many times
 * (memo GET), so a small file could ask for gigabytes: what it produces in all may not exceed the pickle's
 * own length, which every honest file (each array's bytes written once) stays within.
 */
export function latin1Encoder(label: string, budget: number): (a: unknown[]) => Uint8Array {
  let left = budget;
  return (a) => {
    const [text, encoding] = a;
    if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) fail('format', `${label}: _codecs.encode is only used here as numpy does: (str, 'latin1')`);
    left -= (text as string).length;
    if (left < 0) fail('security', `${label}: refused: the pickle expands to more bytes than the file holds (_codecs.encode called on the same data again and again)`);
    return new Uint8Array(Buffer.from(text as string, 'latin1'));
  };
}

function paddleGlobals(label: string, size: number): GlobalTable {
  const ndarrayType = (): never => fail('format', `${label}: numpy.ndarray cannot be called here`);
  const reconstruct = (args: unknown[]): NumpyArray => {
    const cls = args[0] as { qualname?: string } | undefined;
    if (!cls || !/^numpy\.ndarray$/.test(String(cls.qualname))) fail('format', `${label}: _reconstruct of something other than numpy.ndarray`);
    return new NumpyArray(label);
  };
  const dtype = (args: unknown[]): NumpyDtype => {
    if (typeof args[0] !== 'string') fail('format', `${label}: numpy.dtype without a type code`);
    return new NumpyDtype(args[0] as string);
  };
  return {
    'numpy.core.multiarray._reconstruct': reconstruct,
    'numpy._core.multiarray._reconstruct': reconstruct, // numpy ≥ 2 spells the module _core
    'numpy.ndarray': ndarrayType,
    'numpy.dtype': dtype,
    // Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'): one char per byte.
    '_codecs.encode': latin1Encoder(label, size),
    'collections.OrderedDict': () => new Map(),
    // Paddle ≥ 2.1 tensors: tuple((name, ndarray)). Packing an existing list into a tuple runs nothing.
    'builtins.tuple': packTuple,
    '__builtin__.tuple': packTuple, // protocol 2 spells builtins this way
  };
}

/** tuple(x) for Paddle's (name, array) pairs; only short sequences, so a memoized list cannot be copied again and again. */
const packTuple = (args: unknown[]): unknown[] => {
  const items = args[0];
  if (!Array.isArray(items) || items.length > 8) fail('format', 'builtins.tuple is only used here for Paddle\'s (name, array) pairs');
  return Object.freeze([...(items as unknown[])]) as unknown[];
};

/** A parameter value: a numpy array, or Paddle ≥ 2.1's (name, array) pair. */
function arrayOf(v: unknown): NumpyArray | null {
  if (v instanceof NumpyArray) return v;
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && v[1] instanceof NumpyArray) return v[1];
  return null;
}

const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict', 'net', 'params'];

/** The dict that holds the parameters: the root, or one nested under a wrapper key (a few levels at most). */
function findParams(root: Map<unknown, unknown>, label: string): { dict: Map<unknown, unknown>; wrapper: string } {
  let dict = root;
  const path: string[] = [];
  for (let depth = 0; depth <= 4; depth++) {
    if ([...dict.values()].some((v) => arrayOf(v))) return { dict, wrapper: path.join('.') };
    const key = WRAPPER_KEYS.find((k) => dict.get(k) instanceof Map);
    if (!key) break;
    path.push(key);
    dict = dict.get(key) as Map<unknown, unknown>;
  }
  return fail('format', `${label}: no numpy arrays found (top-level keys: ${[...root.keys()].slice(0, 8).map((k) => render(k, { depth: 1, items: 3, chars: 60 })).join(', ')})`);
}

/** Paddle parameter pickles start with PROTO 2–5 and are not torch's legacy magic number. */
export function looksLikePicklePdparams(bytes: Uint8Array): boolean {
  return bytes.length > 3 && bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5 && bytes[2] !== 0x8a;
}

export function readPdparams(bytes: Uint8Array, label: string): { tensors: Map<string, TensorEntry>; ignored: string[]; wrapper: string } {
  const root = unpickle(bytes, { label, globals: paddleGlobals(label, bytes.length) });
  if (!(root instanceof Map)) fail('format', `${label}: the pickle holds no dict of parameters`);
  const { dict, wrapper } = findParams(root as Map<unknown, unknown>, label);
  const tensors = new Map<string, TensorEntry>();
  const ignored: string[] = [];
  for (const [k, value] of dict) {
    if (typeof k !== 'string') fail('format', `${label}: parameter dict has a non-string key`);
    const v = arrayOf(value);
    if (!v) { ignored.push(k as string); continue; }
    if (!v.dtype || !v.data) fail('format', `${label}: numpy array ${k} was never filled in`);
    const arr = v;
    tensors.set(k as string, {
      name: k as string, dtype: arr.dtype!, shape: arr.shape,
      load: () => ({ dtype: arr.dtype!, shape: arr.shape, data: typedFromBytes(arr.dtype!, arr.data!) }),
    });
  }
  return { tensors, ignored, wrapper };
}

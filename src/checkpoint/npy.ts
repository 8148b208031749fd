import { fail } from '../util/errors.js';
import { readFileChecked, readFilePrefix, writeFileAtomic } from '../util/fs.js';
import { formatBytes, LIMITS } from '../util/limits.js';
import { escapeText } from '../util/render.js';
import { DTYPE_BYTES, bytesOf, numel, shapeStr, typedFromBytes, type DType, type NdArray } from '../util/ndarray.js';

/**
 * NumPy .npy, versions 1–3, both directions. Fortran-ordered arrays are transposed to C order on
 * reading; big-endian data is refused with a clear message (numpy writes little-endian by default).
 */
const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f4': 'float32', '<f2': 'float16', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '<i2': 'int16',
  '|i1': 'int8', '|u1': 'uint8', '|b1': 'bool', '<u2': 'bfloat16' /* never written by numpy; see below */,
};
const DTYPE_TO_DESCR: Partial<Record<DType, string>> = {
  float32: '<f4', float16: '<f2', float64: '<f8', int64: '<i8', int32: '<i4', int16: '<i2', int8: '|i1', uint8: '|u1', bool: '|b1',
};
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= 10 && MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * The header is a Python dict literal; numpy writes three keys: 'descr' (a string), 'fortran_order'
 * (True/False) and 'shape' (a tuple of ints). Read by one left-to-right scan (linear in the header,
 * whatever it holds), dimensions bounded by LIMITS.rank.
 */
function parseHeader(text: string, label: string): { descr: string; fortran: boolean; shape: number[] } {
  const bad = (why: string): never => fail('format', `${label}: .npy header is malformed (${why})`);
  let i = 0;
  const ws = (): void => { while (i < text.length && /\s/.test(text[i]!)) i++; };
  const expect = (c: string): void => { ws(); if (text[i] !== c) bad(`expected ${c} at ${i}`); i++; };
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') bad(`expected a string at ${i}`);
    const end = text.indexOf(q!, i + 1);
    if (end < 0) bad('unterminated string');
    const v = text.slice(i + 1, end);
    i = end + 1;
    return v;
  };
  const fields: { descr?: string; fortran?: boolean; shape?: number[] } = {};
  expect('{');
  for (;;) {
    ws();
    if (text[i] === '}') break;
    const key = str();
    expect(':');
    ws();
    if (key === 'descr') fields.descr = escapeText(str(), 40);
    else if (key === 'fortran_order') {
      if (text.startsWith('True', i)) { fields.fortran = true; i += 4; } else if (text.startsWith('False', i)) { fields.fortran = false; i += 5; } else bad('fortran_order is not True or False');
    } else if (key === 'shape') {
      expect('(');
      const dims: number[] = [];
      for (;;) {
        ws();
        if (text[i] === ')') { i++; break; }
        const m = /^\d{1,20}L?/.exec(text.slice(i, i + 22));
        if (!m) bad(`shape has a bad dimension at ${i}`);
        if (dims.length >= LIMITS.rank) bad(`shape has more than ${LIMITS.rank} dimensions`);
        dims.push(Number.parseInt(m![0], 10));
        i += m![0].length;
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== ')') bad(`shape is not a tuple (at ${i})`);
      }
      fields.shape = dims;
    } else return bad(`unexpected key ${escapeText(key, 40)}`);
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') bad(`expected , or } at ${i}`);
  }
  if (fields.descr === undefined || fields.fortran === undefined || fields.shape === undefined) bad('descr, fortran_order or shape missing');
  return { descr: fields.descr!, fortran: fields.fortran!, shape: fields.shape! };
}

interface NpyHeader { dtype: DType; descr: string; fortran: boolean; shape: number[]; dataStart: number; dataBytes: number }

/** The header of a .npy file from its first bytes: dtype, shape and where the data lies (not checked against the file's length). */
function parseNpyHeader(bytes: Uint8Array, label: string): NpyHeader {
  if (!isNpy(bytes)) fail('format', `${label}: not a .npy file (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  let headerLen: number;
  let start: number;
  if (major === 1) { headerLen = view.getUint16(8, true); start = 10; }
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('format', `${label}: .npy header is truncated`);
    headerLen = view.getUint32(8, true); start = 12;
  } else return fail('format', `${label}: .npy version ${major} is not supported`);
  if (headerLen > LIMITS.npyHeader) fail('format', `${label}: .npy header of ${headerLen} bytes is longer than ${LIMITS.npyHeader} (--budget npy-header)`);
  if (start + headerLen > bytes.length) fail('format', `${label}: .npy header runs past the end of the file`);
  const { descr, fortran, shape } = parseHeader(Buffer.from(bytes.subarray(start, start + headerLen)).toString('latin1'), label);
  const dtype = DESCR_TO_DTYPE[descr.replace(/^=/, '<')];
  if (!dtype || descr === '<u2') {
    fail('format', `${label}: .npy dtype ${descr} is not supported${descr.startsWith('>') ? ' (big-endian)' : ''}`);
  }
  return { dtype: dtype!, descr, fortran, shape, dataStart: start + headerLen, dataBytes: numel(shape) * DTYPE_BYTES[dtype!] };
}

export function parseNpy(bytes: Uint8Array, label: string): NdArray {
  const { dtype, descr, fortran, shape, dataStart, dataBytes: need } = parseNpyHeader(bytes, label);
  if (!Number.isSafeInteger(need) || dataStart + need > bytes.length) {
    fail('format', `${label}: .npy holds ${bytes.length - dataStart} data bytes, shape ${shapeStr(shape)} of ${descr} needs ${need}`);
  }
  const data = typedFromBytes(dtype!, bytes.subarray(dataStart, dataStart + need));
  if (!fortran || shape.length < 2) return { dtype: dtype!, shape, data };
  return { dtype: dtype!, shape, data: fortranToC(data, shape) };
}

/** Reorders a column-major buffer into row-major order. */
function fortranToC<T extends NdArray['data']>(src: T, shape: number[]): T {
  const out = new (src.constructor as { new (n: number): T })(src.length);
  const rank = shape.length;
  const fStride = new Array<number>(rank);
  let s = 1;
  for (let d = 0; d < rank; d++) { fStride[d] = s; s *= shape[d]!; }
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < src.length; i++) {
    let f = 0;
    for (let d = 0; d < rank; d++) f += idx[d]! * fStride[d]!;
    (out as unknown as number[])[i] = (src as unknown as number[])[f]!;
    for (let d = rank - 1; d >= 0; d--) { if (++idx[d]! < shape[d]!) break; idx[d] = 0; }
  }
  return out;
}

/** A .npy file's dtype and shape, from its header alone (the data is not read). */
export function readNpyShape(file: string): { dtype: DType; shape: number[] } {
  const h = readNpyHeader(file);
  return { dtype: h.dtype, shape: h.shape };
}

const readNpyHeader = (file: string): NpyHeader => parseNpyHeader(readFilePrefix(file, 12 + LIMITS.npyHeader, '.npy file'), file);

/**
 * Reads a .npy file. With `maxDataBytes` (an input or reference of a model run, bounded by --max-memory) the
 * header is read first and an array larger than that is refused before its data is read.
 */
export function readNpy(file: string, maxDataBytes?: number): NdArray {
  if (maxDataBytes !== undefined) {
    const h = readNpyHeader(file);
    if (!(h.dataBytes <= maxDataBytes)) {
      fail('security', `${escapeText(file, 300)}: an array of shape ${shapeStr(h.shape)} (${h.descr}, ${formatBytes(h.dataBytes)}) is more than a model run may take (${formatBytes(maxDataBytes)}, --max-memory)`);
    }
  }
  return parseNpy(readFileChecked(file, '.npy file'), file);
}

export function encodeNpy(a: NdArray): Uint8Array {
  const descr = DTYPE_TO_DESCR[a.dtype];
  if (!descr) fail('usage', `cannot write ${a.dtype} to .npy`);
  const shapeText = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces so the data starts on a 64-byte boundary, newline-terminated, as numpy does.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const hb = Buffer.from(header, 'latin1');
  const body = bytesOf(a.data);
  const out = new Uint8Array(10 + hb.length + body.length);
  out.set(MAGIC, 0);
  out[6] = 1; out[7] = 0;
  new DataView(out.buffer).setUint16(8, hb.length, true);
  out.set(hb, 10);
  out.set(body, 10 + hb.length);
  return out;
}

export function writeNpy(file: string, a: NdArray): void {
  writeFileAtomic(file, encodeNpy(a));
}

import { fail } from '../util/errors.js';
import { LIMITS } from '../util/limits.js';
import { DTYPE_BYTES, bytesOf, numel, typedFromBytes, type DType, type NdArray } from '../util/ndarray.js';
import { parseJsonBounded } from '../util/json.js';
import { escapeText, render, shapeText } from '../util/render.js';
import type { TensorEntry } from './types.js';

/** safetensors: u64 header length, a JSON header {name: {dtype, shape, data_offsets}}, raw data. */
const ST_DTYPES: Record<string, DType> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const ST_NAMES = Object.fromEntries(Object.entries(ST_DTYPES).map(([k, v]) => [v, k])) as Record<DType, string>;

export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);
  return n > 1n && n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b; // '{'
}

export function readSafetensors(bytes: Uint8Array, label: string): Map<string, TensorEntry> {
  if (bytes.length < 8) fail('format', `${label}: not a safetensors file (too short)`);
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(bytes.length - 8, LIMITS.safetensorsHeader))) fail('format', `${label}: safetensors header length ${headerLen} exceeds the file`);
  const dataStart = 8 + Number(headerLen);
  const header = parseJsonBounded(Buffer.from(bytes.subarray(8, dataStart)).toString('utf8'), label, 'safetensors header');
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('format', `${label}: safetensors header is not an object`);
  const dataLen = bytes.length - dataStart;
  const out = new Map<string, TensorEntry>();
  const ranges: [number, number, string][] = [];
  for (const [name, spec] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const shown = escapeText(name, 200);
    const s = spec as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof s?.dtype === 'string' ? ST_DTYPES[s.dtype] : undefined;
    if (!dtype) fail('format', `${label}: tensor ${shown} has unsupported dtype ${render(s?.dtype, { depth: 1 })}`);
    const shape = s.shape;
    const offsets = s.data_offsets;
    const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!Array.isArray(shape) || shape.length > LIMITS.rank || !shape.every(isCount)) fail('format', `${label}: tensor ${shown} has an invalid shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) fail('format', `${label}: tensor ${shown} has invalid data_offsets`);
    const [begin, end] = offsets as [number, number];
    const n = numel(shape as number[]);
    if (end < begin || end > dataLen || !Number.isSafeInteger(n * DTYPE_BYTES[dtype!]) || end - begin !== n * DTYPE_BYTES[dtype!]) {
      fail('format', `${label}: tensor ${shown} of shape ${shapeText(shape as unknown[])} does not match its data range [${begin}, ${end}) in ${dataLen} bytes`);
    }
    ranges.push([begin, end, shown]);
    out.set(name, {
      name, dtype: dtype!, shape: shape as number[],
      load: (): NdArray => ({ dtype: dtype!, shape: shape as number[], data: typedFromBytes(dtype!, bytes.subarray(dataStart + begin, dataStart + end)) }),
    });
  }
  // As the format requires (and its reference reader checks): the tensors tile the data exactly, in some order,
  // with no byte shared by two of them and none left over (no hidden payload, no aliased weights).
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, shown] of ranges) {
    if (begin !== at) fail('format', `${label}: tensor ${shown} starts at byte ${begin} of the data, expected ${at} (${begin < at ? 'it overlaps the one before' : 'a gap before it'}); safetensors data must be covered exactly once`);
    at = end;
  }
  if (at !== dataLen) fail('format', `${label}: the tensors cover ${at} of the ${dataLen} data bytes; safetensors data must be covered exactly once`);
  return out;
}

export function writeSafetensors(tensors: Map<string, NdArray>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    const b = bytesOf(t.data);
    header[name] = { dtype: ST_NAMES[t.dtype], shape: t.shape, data_offsets: [offset, offset + b.length] };
    parts.push(b);
    offset += b.length;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8) json += ' ';
  const hb = Buffer.from(json);
  const out = new Uint8Array(8 + hb.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const part of parts) { out.set(part, p); p += part.length; }
  return out;
}

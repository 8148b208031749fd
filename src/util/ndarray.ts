import { noteAllocation } from './limits.js';

/**
 * A minimal n-dimensional array: a typed array in C (row-major) order plus its shape.
 * Readers produce these, runtimes consume and return them, verify compares them.
 */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

export interface NdArray {
  dtype: DType;
  shape: number[];
  /** float16 and bfloat16 are held as their raw bits in a Uint16Array. */
  data: TypedData;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  // At most 8 dimensions: a shape read from a hostile file can have a million.
  return shape.length > 8 ? `[${shape.slice(0, 8).join(', ')}, …(${shape.length} dims)]` : `[${shape.join(', ')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

const f32scratch = new Float32Array(1);
const u32scratch = new Uint32Array(f32scratch.buffer);

/** IEEE half to float, exact. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Float to IEEE half, round to nearest even. */
export function floatToHalf(value: number): number {
  f32scratch[0] = value;
  const x = u32scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** Any numeric array as float32 (a copy unless it already is float32). */
export function toFloat32(a: NdArray): Float32Array {
  const { data } = a;
  if (a.dtype === 'float32') return data as Float32Array;
  const n = data.length;
  const out = new Float32Array(n);
  if (a.dtype === 'float16') {
    const bits = data as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = halfToFloat(bits[i]!);
  } else if (a.dtype === 'bfloat16') {
    const bits = data as Uint16Array;
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = bits[i]! << 16;
  } else if (a.dtype === 'int64') {
    const big = data as BigInt64Array;
    for (let i = 0; i < n; i++) out[i] = Number(big[i]!);
  } else {
    for (let i = 0; i < n; i++) out[i] = Number((data as Float64Array)[i]!);
  }
  return out;
}

export function float32(shape: number[], data?: Float32Array): NdArray {
  return { dtype: 'float32', shape, data: data ?? new Float32Array(numel(shape)) };
}

/** A typed array of `dtype` over a copy of `bytes` (little-endian, as every format here stores). */
export function typedFromBytes(dtype: DType, bytes: Uint8Array): TypedData {
  const copy = copyBytes(bytes); // aligned, owned
  const buf = copy.buffer;
  switch (dtype) {
    case 'float32': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'float16': case 'bfloat16': return new Uint16Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int16': return new Int16Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
  }
}

/** A typed array of `dtype` viewing `bytes` in place (no copy); `bytes.byteOffset` must be a multiple of the item size. */
export function typedView(dtype: DType, bytes: Uint8Array): TypedData {
  const { buffer: b, byteOffset: o } = bytes;
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'float32': return new Float32Array(b, o, n);
    case 'float64': return new Float64Array(b, o, n);
    case 'float16': case 'bfloat16': return new Uint16Array(b, o, n);
    case 'int64': return new BigInt64Array(b, o, n);
    case 'int32': return new Int32Array(b, o, n);
    case 'int16': return new Int16Array(b, o, n);
    case 'int8': return new Int8Array(b, o, n);
    case 'uint8': case 'bool': return new Uint8Array(b, o, n);
  }
}

export function bytesOf(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** An owned, aligned copy (Buffer#slice would return a view into Node's shared pool). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  noteAllocation(bytes.length);
  return new Uint8Array(bytes);
}

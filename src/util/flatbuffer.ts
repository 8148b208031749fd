/**
 * A small FlatBuffers writer (the format: tables with vtables, vectors, strings; little-endian), enough
 * to write a TFLite model without generated code. Objects are described as a tree of values and laid
 * out front to back: each table is preceded by its vtable, and the objects it refers to follow it, so
 * every offset points forward as FlatBuffers' unsigned offsets must. Vectors' element data are aligned
 * to their element size (or more, where asked: TFLite wants buffer data 16-aligned).
 */

export type Scalar =
  | { t: 'u8' | 'i8' | 'bool'; v: number | boolean }
  | { t: 'i32' | 'u32' | 'f32'; v: number }
  | { t: 'u64'; v: bigint };

export type FbValue =
  | Scalar
  | { t: 'string'; v: string }
  | { t: 'bytes'; v: Uint8Array; align?: number }
  | { t: 'i32s'; v: readonly number[] }
  | { t: 'f32s'; v: readonly number[] }
  | { t: 'i64s'; v: readonly number[] }
  | { t: 'tables'; v: FbTable[] }
  | FbTable;

/** A value stored by offset (not inline). */
export type FbObject = Exclude<FbValue, Scalar>;

/** A table: field values by field id (a union takes two ids: its type as u8, then its table). Absent fields: undefined. */
export interface FbTable { t: 'table'; fields: (FbValue | undefined)[] }

export const fb = {
  u8: (v: number): Scalar => ({ t: 'u8', v }),
  i8: (v: number): Scalar => ({ t: 'i8', v }),
  bool: (v: boolean): Scalar => ({ t: 'bool', v }),
  i32: (v: number): Scalar => ({ t: 'i32', v }),
  u32: (v: number): Scalar => ({ t: 'u32', v }),
  f32: (v: number): Scalar => ({ t: 'f32', v }),
  str: (v: string): FbObject => ({ t: 'string', v }),
  bytes: (v: Uint8Array, align = 1): FbObject => ({ t: 'bytes', v, align }),
  i32s: (v: readonly number[]): FbObject => ({ t: 'i32s', v }),
  /** a vector of float32 */
  f32s: (v: readonly number[]): FbObject => ({ t: 'f32s', v }),
  /** a vector of int64 (integers within ±2^53), its elements 8-aligned */
  i64s: (v: readonly number[]): FbObject => ({ t: 'i64s', v }),
  tables: (v: FbTable[]): FbObject => ({ t: 'tables', v }),
  table: (fields: (FbValue | undefined)[]): FbTable => ({ t: 'table', fields }),
};

const SCALAR_SIZE: Record<Scalar['t'], number> = { u8: 1, i8: 1, bool: 1, i32: 4, u32: 4, f32: 4, u64: 8 };
const isScalar = (v: FbValue): v is Scalar => v.t in SCALAR_SIZE;

class Out {
  buf: Uint8Array;
  view: DataView;
  at = 0;
  constructor(size: number) { this.buf = new Uint8Array(size); this.view = new DataView(this.buf.buffer); }
  reserve(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  /** Pads with zeros until (at + ahead) is a multiple of `align`. */
  align(align: number, ahead = 0): void {
    const pad = (align - ((this.at + ahead) % align)) % align;
    this.reserve(pad);
    this.at += pad;
  }
}

function writeScalar(out: Out, pos: number, s: Scalar): void {
  const v = out.view;
  switch (s.t) {
    case 'u8': case 'bool': v.setUint8(pos, Number(s.v)); break;
    case 'i8': v.setInt8(pos, Number(s.v)); break;
    case 'i32': v.setInt32(pos, s.v, true); break;
    case 'u32': v.setUint32(pos, s.v, true); break;
    case 'f32': v.setFloat32(pos, s.v, true); break;
    case 'u64': v.setBigUint64(pos, s.v, true); break;
  }
}

/** The element size and writer of each scalar-vector type. */
const SCALAR_VECTORS: Record<'i32s' | 'f32s' | 'i64s', { size: number; set: (v: DataView, at: number, x: number) => void }> = {
  i32s: { size: 4, set: (v, at, x) => v.setInt32(at, x, true) },
  f32s: { size: 4, set: (v, at, x) => v.setFloat32(at, x, true) },
  i64s: { size: 8, set: (v, at, x) => v.setBigInt64(at, BigInt(x), true) },
};

/** Writes an object referred to (not a scalar) and returns its position (what offsets point at). */
function writeObject(out: Out, value: Exclude<FbValue, Scalar>): number {
  switch (value.t) {
    case 'string': {
      const bytes = new TextEncoder().encode(value.v);
      out.align(4);
      out.reserve(4 + bytes.length + 1);
      const pos = out.at;
      out.view.setUint32(pos, bytes.length, true);
      out.buf.set(bytes, pos + 4);
      out.buf[pos + 4 + bytes.length] = 0;
      out.at += 4 + bytes.length + 1;
      return pos;
    }
    case 'bytes': {
      out.align(Math.max(4, value.align ?? 1), 4);
      out.reserve(4 + value.v.length);
      const pos = out.at;
      out.view.setUint32(pos, value.v.length, true);
      out.buf.set(value.v, pos + 4);
      out.at += 4 + value.v.length;
      return pos;
    }
    case 'i32s': case 'f32s': case 'i64s': {
      // A vector of scalars: its length, then the values, aligned to the element size.
      const e = SCALAR_VECTORS[value.t];
      out.align(e.size, 4);
      out.reserve(4 + e.size * value.v.length);
      const pos = out.at;
      out.view.setUint32(pos, value.v.length, true);
      value.v.forEach((x, i) => e.set(out.view, pos + 4 + e.size * i, x));
      out.at += 4 + e.size * value.v.length;
      return pos;
    }
    case 'tables': {
      out.align(4);
      out.reserve(4 + 4 * value.v.length);
      const pos = out.at;
      out.view.setUint32(pos, value.v.length, true);
      out.at += 4 + 4 * value.v.length;
      value.v.forEach((t, i) => {
        const slot = pos + 4 + 4 * i;
        const target = writeTable(out, t);
        out.view.setUint32(slot, target - slot, true);
      });
      return pos;
    }
    case 'table': return writeTable(out, value);
  }
}

function writeTable(out: Out, table: FbTable): number {
  const fields = table.fields;
  // Layout of the table: the soffset, then scalars largest first, then offsets (4 bytes each).
  const order = fields.map((f, id) => ({ f, id })).filter((x): x is { f: FbValue; id: number } => x.f !== undefined)
    .sort((a, b) => size(b.f) - size(a.f));
  const offsets = new Array<number>(fields.length).fill(0);
  let tableSize = 4;
  for (const { f, id } of order) {
    const s = size(f);
    tableSize += (s - (tableSize % s)) % s;
    offsets[id] = tableSize;
    tableSize += s;
  }
  const hasU64 = order.some(({ f }) => f.t === 'u64');
  // The vtable: u16 vtable size, u16 table size, one u16 per field.
  const vtSize = 4 + 2 * fields.length;
  out.align(2);
  out.reserve(vtSize);
  const vt = out.at;
  out.view.setUint16(vt, vtSize, true);
  out.view.setUint16(vt + 2, tableSize, true);
  offsets.forEach((o, i) => out.view.setUint16(vt + 4 + 2 * i, o, true));
  out.at += vtSize;
  out.align(hasU64 ? 8 : 4);
  out.reserve(tableSize);
  const pos = out.at;
  out.buf.fill(0, pos, pos + tableSize);
  out.view.setInt32(pos, pos - vt, true);
  out.at += tableSize;
  for (const { f, id } of order) if (isScalar(f)) writeScalar(out, pos + offsets[id]!, f);
  for (const { f, id } of order) {
    if (isScalar(f)) continue;
    const slot = pos + offsets[id]!;
    const target = writeObject(out, f);
    out.view.setUint32(slot, target - slot, true);
  }
  return pos;
}

function size(f: FbValue): number {
  return isScalar(f) ? SCALAR_SIZE[f.t] : 4;
}

/** The bytes of a FlatBuffer whose root is `root`, with a 4-character file identifier. */
export function writeFlatbuffer(root: FbTable, identifier: string, sizeHint = 1 << 16): Uint8Array {
  if (identifier.length !== 4) throw new Error('a file identifier has 4 characters');
  const out = new Out(sizeHint);
  out.reserve(8);
  out.at = 8;
  for (let i = 0; i < 4; i++) out.buf[4 + i] = identifier.charCodeAt(i);
  const pos = writeTable(out, root);
  out.view.setUint32(0, pos, true);
  out.align(16);
  return out.buf.slice(0, out.at);
}

/**
 * A copy of a FlatBuffer with objects appended after its end (vectors, strings, tables), and their
 * positions: a field of an earlier table can then be pointed at one of them (its offset points forward).
 */
export function appendObjects(base: Uint8Array, values: FbObject[]): { bytes: Uint8Array; positions: number[] } {
  const out = new Out(base.length + 4096);
  out.buf.set(base);
  out.at = base.length;
  const positions = values.map((v) => writeObject(out, v));
  out.align(16);
  return { bytes: out.buf.slice(0, out.at), positions };
}

/** Points the uoffset stored at `slot` at `target` (which must lie after it). */
export function setOffset(bytes: Uint8Array, slot: number, target: number): void {
  if (target <= slot) throw new Error('a FlatBuffer offset must point forward');
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(slot, target - slot, true);
}

import { fail } from '../util/errors.js';
import { LIMITS, noteAllocation } from '../util/limits.js';
import { DTYPE_BYTES, numel, typedFromBytes, typedView, type DType, type NdArray } from '../util/ndarray.js';

/**
 * Gathers a (possibly non-contiguous) view out of a flat storage: the tensor's elements are
 * storage[offset + Σ index_i · stride_i]. Everything is checked against the storage length first,
 * so a hostile size or stride cannot read outside it or allocate more than the file justifies.
 */
export function gatherView(
  label: string, dtype: DType, storage: Uint8Array, offset: number, shape: number[], stride: number[],
): NdArray {
  const item = DTYPE_BYTES[dtype];
  const storageNumel = Math.floor(storage.length / item);
  const isCount = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;
  if (!isCount(offset) || !shape.every(isCount) || !stride.every(isCount) || shape.length !== stride.length) {
    fail('format', `${label}: tensor view has invalid offset/size/stride (${offset}; [${shape}]; [${stride}])`);
  }
  const n = numel(shape);
  if (n === 0) return { dtype, shape, data: typedFromBytes(dtype, new Uint8Array(0)) };
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d]! - 1) * stride[d]!;
  if (!Number.isSafeInteger(last) || last >= storageNumel) {
    fail('format', `${label}: tensor of shape [${shape}] does not fit its storage of ${storageNumel} elements`);
  }
  // Overlapping views (stride 0) may legitimately hold more elements than their storage, but a tiny
  // file must not be able to ask for gigabytes that way.
  if (n > storageNumel && n * item > LIMITS.overlappingViewBytes) {
    fail('security', `${label}: a view of [${shape}] over ${storageNumel} stored elements would allocate ${n * item} bytes`);
  }
  // Contiguous: one slice.
  let contiguous = true;
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) { contiguous = false; break; }
    expect *= shape[d]!;
  }
  if (contiguous) {
    const bytes = storage.subarray(offset * item, (offset + n) * item);
    // An aligned contiguous tensor is a view into the file, not a copy: on these VMs touching fresh
    // memory costs ~3 ms/MiB, and a 13 MiB model paid for it twice (`bisenet convert` ≤ 0.5 s, issue 13).
    if (bytes.byteOffset % item === 0) return { dtype, shape, data: typedView(dtype, bytes) };
    return { dtype, shape, data: typedFromBytes(dtype, bytes) };
  }
  noteAllocation(n * item);
  const out = new Uint8Array(n * item);
  const idx = new Array<number>(shape.length).fill(0);
  let src = offset;
  for (let i = 0; i < n; i++) {
    out.set(storage.subarray(src * item, src * item + item), i * item);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]!++;
      src += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      src -= stride[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return { dtype, shape, data: typedFromBytes(dtype, out) };
}

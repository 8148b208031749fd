import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy, readNpy, writeNpy } from '../../src/checkpoint/npy.js';
import { golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

function npyWithHeader(header: string, body: Uint8Array): Uint8Array {
  const h = Buffer.from(header.padEnd(118) + '\n', 'latin1');
  const out = Buffer.alloc(10 + h.length + body.length);
  out.write('\x93NUMPY', 0, 'latin1'); out[6] = 1; out[7] = 0; out.writeUInt16LE(h.length, 8);
  h.copy(out, 10); Buffer.from(body).copy(out, 10 + h.length);
  return out;
}

describe('.npy', () => {
  it('round-trips float32, int64, float16 and float64', () => {
    for (const a of [
      { dtype: 'float32' as const, shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) },
      { dtype: 'int64' as const, shape: [3], data: BigInt64Array.from([1n, -2n, 3n]) },
      { dtype: 'float16' as const, shape: [1, 2], data: Uint16Array.from([0x3c00, 0xc000]) },
      { dtype: 'float64' as const, shape: [], data: Float64Array.from([Math.PI]) },
    ]) {
      const b = parseNpy(encodeNpy(a), 'x.npy');
      expect(b.dtype).toBe(a.dtype);
      expect(b.shape).toEqual(a.shape);
      expect([...b.data]).toEqual([...a.data]);
    }
  });

  it('writes data aligned to 64 bytes, as numpy does', () => {
    const bytes = encodeNpy({ dtype: 'float32', shape: [5], data: new Float32Array(5) });
    expect((bytes.length - 20) % 64).toBe(0);
  });

  it('reads Fortran-ordered arrays into C order', () => {
    // The 2×3 array [[1,2,3],[4,5,6]] stored column-major is 1,4,2,5,3,6.
    const body = new Uint8Array(Float32Array.from([1, 4, 2, 5, 3, 6]).buffer);
    const a = parseNpy(npyWithHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", body), 'f.npy');
    expect([...a.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses big-endian data and short files with clear messages', () => {
    const body = new Uint8Array(8);
    expect(() => parseNpy(npyWithHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", body), 'be.npy')).toThrowError(/be\.npy: .npy dtype >f4 is not supported \(big-endian\)/);
    expect(() => parseNpy(npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", body), 's.npy')).toThrowError(/needs 16/);
  });

  it('reads the upstream golden files', () => {
    const x = readNpy(golden(UPSTREAM, 'input.npy'));
    expect(x.dtype).toBe('float32');
    expect(x.shape).toEqual([1, 3, 96, 160]);
    expect(readNpy(golden(UPSTREAM, 'labels.npy')).dtype).toBe('int64');
  });

  it('writes files atomically and leaves nothing behind on failure', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.npy');
    writeNpy(f, { dtype: 'float32', shape: [1], data: Float32Array.from([3]) });
    expect([...readNpy(f).data]).toEqual([3]);
    expect(() => writeNpy(path.join(dir, 'missing-dir', 'b.npy'), { dtype: 'float32', shape: [1], data: new Float32Array(1) })).toThrowError(/does not exist/);
    expect(fs.readdirSync(dir)).toEqual(['a.npy']);
  });
});

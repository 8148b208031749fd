import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { readNpy } from '../../src/checkpoint/npy.js';
import { summarize } from '../../src/port/index.js';
import { BisenetError } from '../../src/util/errors.js';
import { toFloat32, type NdArray } from '../../src/util/ndarray.js';
import { fixture } from '../helpers/paths.js';

/** Files made by PyTorch/numpy themselves (scripts/golden/make_hostile.py), with what a reader must do. */
interface Expected { expect: string; forbidden_global?: string; tensors?: Record<string, { shape: number[]; dtype: string; values?: number[]; first?: number[] }> }
const spec = JSON.parse(fs.readFileSync(fixture('hostile', 'expected.json'), 'utf8')) as { marker_file: string; files: Record<string, Expected> };

// int64 and float64 compared exactly as stored (float32 would round 2^53 − 1).
const values = (a: NdArray): number[] => (a.dtype === 'int64' || a.dtype === 'float64' ? [...a.data].map(Number) : [...toFloat32(a)]);

describe('hostile and reference files made by PyTorch and numpy', () => {
  it.each(Object.entries(spec.files))('%s', (name, e) => {
    const file = fixture('hostile', name);
    const read = (): Map<string, NdArray> => (name.endsWith('.npy')
      ? new Map([['array', readNpy(file)]])
      : new Map([...loadCheckpoint(file).tensors].map(([k, t]) => [k, t.load()])));
    if (e.expect.startsWith('refuse')) {
      try { read(); expect.unreachable(`${name} must be refused`); } catch (err) {
        expect(err).toBeInstanceOf(BisenetError);
        if (e.forbidden_global) expect((err as Error).message).toContain(`refused: the pickle names the global ${e.forbidden_global}`);
      }
      expect(fs.existsSync(spec.marker_file)).toBe(false);
      return;
    }
    const tensors = read();
    for (const [key, t] of Object.entries(e.tensors ?? {})) {
      const got = tensors.get(key);
      expect(got, key).toBeDefined();
      expect(got!.shape, key).toEqual(t.shape);
      expect(got!.dtype, key).toBe(t.dtype);
      const ref = t.values ?? t.first ?? [];
      const v = values(got!).slice(0, ref.length);
      v.forEach((x, i) => expect(x, `${key}[${i}]`).toBeCloseTo(ref[i]!, 5));
    }
    if (e.expect.includes('not BiSeNetV2')) expect(summarize(loadCheckpoint(file)).family).toBeNull();
  });
});

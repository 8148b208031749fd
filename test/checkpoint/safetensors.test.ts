import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';

describe('safetensors', () => {
  const tensors = new Map([
    ['a.weight', { dtype: 'float32' as const, shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
    ['a.half', { dtype: 'float16' as const, shape: [3], data: Uint16Array.from([0x3c00, 0, 0xbc00]) }],
  ]);

  it('round-trips tensors', () => {
    const read = readSafetensors(writeSafetensors(tensors), 'x.safetensors');
    expect([...read.keys()]).toEqual(['a.weight', 'a.half']);
    expect([...read.get('a.weight')!.load().data]).toEqual([1, 2, 3, 4]);
    expect(read.get('a.half')!.shape).toEqual([3]);
  });

  it('refuses a header length beyond the file', () => {
    const bytes = writeSafetensors(tensors);
    new DataView(bytes.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => readSafetensors(bytes, 'x.safetensors')).toThrowError(/header length .* exceeds the file/);
  });

  it('refuses data offsets that do not match the shape', () => {
    const bytes = Buffer.from(writeSafetensors(tensors));
    const text = bytes.toString('latin1').replace('"shape":[2,2]', '"shape":[2,3]');
    expect(() => readSafetensors(Buffer.from(text, 'latin1'), 'x.safetensors')).toThrowError(/a\.weight of shape \[2, ?3\] does not match its data range/);
  });
});

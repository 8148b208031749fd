import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, parseCheckpoint } from '../../src/checkpoint/index.js';
import { PickleWriter } from '../../src/fuzz/pickle-writer.js';
import { toFloat32 } from '../../src/util/ndarray.js';
import { fixture } from '../helpers/paths.js';

describe('PaddleSeg .pdparams (pickled numpy arrays)', () => {
  it('reads a protocol-2 pickle (bytes through _codecs.encode) with float32, float64 and int64 arrays', () => {
    const ck = loadCheckpoint(fixture('tiny-protocol2.pdparams'));
    expect(ck.format).toBe('paddle-pickle');
    expect(ck.ignored).toEqual(['StructuredToParameterName@@']);
    const a = ck.tensors.get('a.weight')!.load();
    expect(a.shape).toEqual([2, 3]);
    expect([...a.data]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...toFloat32(ck.tensors.get('b._mean')!.load())]).toEqual([1.5, -2]);
    expect(ck.tensors.get('n')!.dtype).toBe('int64');
  });

  it('reads the protocol-4 fixture: 356 parameters, a name table beside them', () => {
    const ck = loadCheckpoint(fixture('paddleseg-bisenetv2-n19', 'model.pdparams'));
    expect(ck.tensors.size).toBe(356);
    expect(ck.tensors.get('db.convs.0._batch_norm._variance')!.shape).toEqual([64]);
  });

  it('refuses globals beyond the numpy ones it needs', () => {
    for (const [m, n] of [['os', 'system'], ['numpy', 'load'], ['numpy.core.multiarray', 'scalar'], ['builtins', 'eval']]) {
      const w = new PickleWriter().emptyDict().str('x').global(m!, n!).mark().str('id').tuple().reduce().setitem();
      expect(() => parseCheckpoint(w.stop(), 'evil.pdparams')).toThrowError(new RegExp(`refused: the pickle names the global ${m!.replace(/\./g, '\\.')}\\.${n}`));
    }
  });

  it('refuses object arrays and sizes that do not match', () => {
    const bytes = fs.readFileSync(fixture('tiny-protocol2.pdparams'));
    const cut = Buffer.concat([bytes.subarray(0, 60), bytes.subarray(64)]);
    expect(() => parseCheckpoint(cut, path.basename('cut.pdparams'))).toThrow();
  });
});

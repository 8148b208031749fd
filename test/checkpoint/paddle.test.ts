import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, parseCheckpoint } from '../../src/checkpoint/index.js';
import { PickleWriter } from '../fuzz-lib/pickle-writer.js';
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

/** One numpy array as numpy's __reduce__ pickles it (protocol 2: bytes through _codecs.encode). */
function npArray(w: PickleWriter, code: string, shape: number[], data: Uint8Array, o: { order?: string; fortran?: boolean; cls?: [string, string] } = {}): PickleWriter {
  const [m, n] = o.cls ?? ['numpy', 'ndarray'];
  w.global('numpy.core.multiarray', '_reconstruct').mark().global(m, n).mark().int(0).tuple().str('b').tuple().reduce();
  w.mark().int(1).mark(); for (const d of shape) w.int(d); w.tuple();
  w.global('numpy', 'dtype').mark().str(code).bool(false).bool(true).tuple().reduce();
  w.mark().int(3).str(o.order ?? '<').none().none().none().int(-1).int(-1).int(0).tuple().build();
  w.bool(o.fortran ?? false);
  w.global('_codecs', 'encode').mark().str(String.fromCharCode(...data)).str('latin1').tuple().reduce();
  return w.tuple().build();
}
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

describe('.pdparams edge cases', () => {
  it('reads Paddle ≥ 2.1 nested saves: {model: {key: tuple((name, ndarray))}, epoch}', () => {
    const w = new PickleWriter().emptyDict().str('model').emptyDict().mark();
    for (const [k, v] of [['a.weight', [1, 2]], ['b.bias', [3]]] as const) {
      w.str(k).global('__builtin__', 'tuple').mark().mark().str(`param_${k}`);
      npArray(w, 'f4', [v.length], f32(...v)).tuple().tuple().reduce();
    }
    w.setitems().setitem().str('epoch').int(3).setitem();
    const ck = parseCheckpoint(w.stop(), 'nested.pdparams');
    expect(ck.wrapper).toBe('model');
    expect([...ck.tensors.keys()]).toEqual(['a.weight', 'b.bias']);
    expect([...ck.tensors.get('a.weight')!.load().data]).toEqual([1, 2]);
  });

  it.each([
    ['big-endian', { code: 'f4', o: { order: '>' } }, /big-endian numpy arrays are not supported/],
    ['Fortran order', { code: 'f4', o: { fortran: true } }, /Fortran-ordered numpy arrays/],
    ['object arrays', { code: 'O', o: {} }, /numpy dtype O is not supported/],
    ['complex', { code: 'c8', o: {} }, /numpy dtype c8 is not supported/],
    ['a subclass of ndarray', { code: 'f4', o: { cls: ['numpy', 'matrix'] } }, /refused: the pickle names the global numpy\.matrix/],
  ] as const)('refuses %s', (_n, { code, o }, msg) => {
    const w = new PickleWriter().emptyDict().str('w');
    npArray(w, code, [2, 2], f32(1, 2, 3, 4), o).setitem();
    expect(() => parseCheckpoint(w.stop(), 'odd.pdparams')).toThrowError(msg);
  });

  it('an array whose bytes do not match its shape', () => {
    const w = new PickleWriter().emptyDict().str('w');
    npArray(w, 'f4', [3], f32(1, 2)).setitem();
    expect(() => parseCheckpoint(w.stop(), 'short.pdparams')).toThrowError(/shape \[3\] f4 holds 8 bytes, needs 12/);
  });

  it('mmengine objects, tolerated as inert metadata in torch files, are refused here', () => {
    const w = new PickleWriter().emptyDict().str('hub').global('mmengine.logging.message_hub', 'MessageHub').emptyTuple().raw(0x81).setitem();
    expect(() => parseCheckpoint(w.stop(), 'hub.pdparams')).toThrowError(/refused: the pickle names the global mmengine\.logging\.message_hub\.MessageHub/);
  });

  it('a pickle without any array', () => {
    const w = new PickleWriter().emptyDict().str('StructuredToParameterName@@').emptyDict().setitem();
    expect(() => parseCheckpoint(w.stop(), 'empty.pdparams')).toThrowError(/empty\.pdparams: no numpy arrays found/);
  });
});

describe('.pdparams resource limits', () => {
  it('refuses a pickle that re-encodes one memoized string into more bytes than the file holds', () => {
    const w = new PickleWriter().emptyDict().str('x');
    w.str('A'.repeat(50_000)).put(1).raw(0x30).global('_codecs', 'encode').put(2).raw(0x30).str('latin1').put(3).raw(0x30);
    w.mark();
    for (let i = 0; i < 40; i++) w.get(2).get(1).get(3).raw(0x86).reduce(); // TUPLE2, REDUCE: 2 MB from a 50 kB file
    w.raw(0x6c).setitem(); // LIST
    expect(() => parseCheckpoint(w.stop(), 'amp.pdparams')).toThrowError(/refused: the pickle expands to more bytes than the file holds/);
  });

  it('tuple() packs only short sequences (Paddle\'s (name, array) pairs)', () => {
    const w = new PickleWriter().emptyDict().str('x').global('builtins', 'tuple').mark().mark();
    for (let i = 0; i < 9; i++) w.int(i);
    w.raw(0x6c).tuple().reduce().setitem();
    expect(() => parseCheckpoint(w.stop(), 'tuple.pdparams')).toThrowError(/builtins\.tuple is only used here for Paddle's \(name, array\) pairs/);
  });
});

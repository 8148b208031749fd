import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { BisenetError } from '../../src/util/errors.js';
import { toFloat32 } from '../../src/util/ndarray.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';
import { PickleWriter, torchTensor } from '../fuzz-lib/pickle-writer.js';
import { makeZip } from '../fuzz-lib/zip-writer.js';

/** A torch.save-style zip holding a dict of tensors described by hand. */
function torchZip(top: string, entries: { key: string; type: string; storageKey: string; numel: number; offset: number; size: number[]; stride: number[] }[], storages: Record<string, Uint8Array>, wrap?: string): Uint8Array {
  const w = new PickleWriter();
  if (wrap) w.emptyDict().str(wrap);
  w.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const e of entries) { w.str(e.key); torchTensor(w, e.type, e.storageKey, e.numel, e.offset, e.size, e.stride); }
  w.setitems();
  if (wrap) w.setitem();
  return makeZip([
    { name: `${top}/data.pkl`, data: w.stop() },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${top}/data/${k}`, data })),
    { name: `${top}/version`, data: Buffer.from('3\n') },
  ]);
}

const write = (bytes: Uint8Array, name = 'ckpt.pth'): string => {
  const f = path.join(tmpDir(), name);
  fs.writeFileSync(f, bytes);
  return f;
};

describe('PyTorch zip checkpoints', () => {
  it('reads the upstream checkpoint: 383 tensors with their shapes', () => {
    const ck = loadCheckpoint(fixture(UPSTREAM, 'model.pth'));
    expect(ck.format).toBe('pytorch-zip');
    expect(ck.tensors.size).toBe(383);
    const keys = fs.readFileSync(fixture(UPSTREAM, 'state_dict_keys.txt'), 'utf8').trim().split('\n');
    for (const line of keys) {
      const [name, shape] = [line.split(' ')[0]!, JSON.parse(line.slice(line.indexOf('['), line.lastIndexOf(']') + 1)) as number[]];
      expect(ck.tensors.get(name)?.shape, name).toEqual(shape);
    }
    const w = ck.tensors.get('head.conv_out.1.weight')!.load();
    expect(w.shape).toEqual([19, 1024, 1, 1]);
    expect(w.data.length).toBe(19 * 1024);
  });

  it('gathers views with storage offsets and strides (a transposed slice)', () => {
    // storage 0..11 as a 3×4 matrix; the tensor is its transpose's rows 1..: offset 1, size [3,3], stride [1,4].
    const storage = new Uint8Array(Float32Array.from({ length: 12 }, (_, i) => i).buffer);
    const f = write(torchZip('weird_top', [{ key: 'v', type: 'FloatStorage', storageKey: '0', numel: 12, offset: 1, size: [3, 3], stride: [1, 4] }], { 0: storage }));
    const v = loadCheckpoint(f).tensors.get('v')!.load();
    expect([...v.data]).toEqual([1, 5, 9, 2, 6, 10, 3, 7, 11]);
  });

  it('converts float16 and bfloat16 storages exactly', () => {
    const half = new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x3555]).buffer); // 1, -2, 0.333251953125
    const bf16 = new Uint8Array(Uint16Array.from([0x3f80, 0xc040]).buffer); // 1, -3
    const f = write(torchZip('archive', [
      { key: 'h', type: 'HalfStorage', storageKey: '0', numel: 3, offset: 0, size: [3], stride: [1] },
      { key: 'b', type: 'BFloat16Storage', storageKey: '1', numel: 2, offset: 0, size: [2], stride: [1] },
    ], { 0: half, 1: bf16 }));
    const ck = loadCheckpoint(f);
    expect([...toFloat32(ck.tensors.get('h')!.load())]).toEqual([1, -2, 0.333251953125]);
    expect([...toFloat32(ck.tensors.get('b')!.load())]).toEqual([1, -3]);
  });

  it('unwraps {state_dict: …} and strips a module. prefix', () => {
    const storage = new Uint8Array(new Float32Array(2).buffer);
    const f = write(torchZip('x', [{ key: 'module.a.weight', type: 'FloatStorage', storageKey: '0', numel: 2, offset: 0, size: [2], stride: [1] }], { 0: storage }, 'state_dict'));
    const ck = loadCheckpoint(f);
    expect(ck.wrapper).toBe('state_dict');
    expect([...ck.tensors.keys()]).toEqual(['a.weight']);
  });

  it('refuses a view that reaches past its storage', () => {
    const storage = new Uint8Array(new Float32Array(4).buffer);
    const f = write(torchZip('x', [{ key: 'v', type: 'FloatStorage', storageKey: '0', numel: 4, offset: 2, size: [2, 2], stride: [2, 1] }], { 0: storage }));
    expect(() => loadCheckpoint(f).tensors.get('v')!.load()).toThrowError(/does not fit its storage of 4 elements/);
  });

  it('refuses a truncated checkpoint with a one-line format error', () => {
    const bytes = fs.readFileSync(fixture(UPSTREAM, 'model.pth'));
    const f = write(bytes.subarray(0, Math.floor(bytes.length * 0.6)), 'truncated.pth');
    try { loadCheckpoint(f); expect.unreachable(); } catch (e) {
      expect(e).toBeInstanceOf(BisenetError);
      expect((e as Error).message).toMatch(/truncated\.pth: not a valid zip archive/);
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('names files that are not checkpoints', () => {
    expect(() => loadCheckpoint(write(Buffer.from('hello world, not a model'), 'notes.pth'))).toThrowError(/notes\.pth: not a checkpoint/);
    expect(() => loadCheckpoint(path.join(tmpDir(), 'missing.pth'))).toThrowError(/checkpoint not found: .*missing\.pth/);
    expect(() => loadCheckpoint(tmpDir())).toThrowError(/is a directory/);
  });
});

describe('framework metadata beside the weights', () => {
  it('reads an mmseg 1.x-style checkpoint whose message_hub pickles mmengine and numpy objects, calling none of them', () => {
    const w = new PickleWriter().emptyDict().mark();
    w.str('meta').emptyDict().str('epoch').int(3).setitem();
    w.str('message_hub').global('mmengine.logging.message_hub', 'MessageHub').emptyTuple().raw(0x81)
      .emptyDict().str('best').global('numpy.core.multiarray', 'scalar').mark().none().str('xx').tuple().reduce().setitem().build();
    w.str('state_dict').global('collections', 'OrderedDict').emptyTuple().reduce().mark().str('a.weight');
    torchTensor(w, 'FloatStorage', '0', 2, 0, [2], [1]);
    w.setitems();
    w.setitems();
    const f = write(makeZip([{ name: 'archive/data.pkl', data: w.stop() }, { name: 'archive/data/0', data: new Uint8Array(8) }]));
    const ck = loadCheckpoint(f);
    expect(ck.wrapper).toBe('state_dict');
    expect([...ck.tensors.keys()]).toEqual(['a.weight']);
  });

  it('still refuses dangerous globals in the same place', () => {
    const w = new PickleWriter().emptyDict().str('message_hub').global('os', 'system').mark().str('id').tuple().reduce().setitem();
    expect(() => loadCheckpoint(write(makeZip([{ name: 'archive/data.pkl', data: w.stop() }])))).toThrowError(/refused: .*os\.system/);
  });
});

describe('amplification', () => {
  it('refuses a pickle that re-encodes one memoized string more often than the file has bytes', () => {
    // One 4 KiB string, memoized, passed to _codecs.encode 2,000 times: 8 MB from a file of a few KB.
    const w = new PickleWriter().raw(0x5d).str('x'.repeat(4096)).put(1).raw(0x30); // EMPTY_LIST, then the string memoized and popped
    for (let i = 0; i < 2000; i++) w.global('_codecs', 'encode').mark().get(1).str('latin1').tuple().reduce().raw(0x61);
    const f = write(makeZip([{ name: 'archive/data.pkl', data: w.stop() }]));
    expect(() => loadCheckpoint(f)).toThrowError(/expands to more bytes than the file holds/);
  });
});

import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import type { Checkpoint, TensorEntry } from '../../src/checkpoint/types.js';
import { graphParams } from '../../src/ir/graph.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import { coincheung } from '../../src/port/layouts/coincheung.js';
import { detectFamily, familyKey, portWeights, summarize } from '../../src/port/index.js';
import { BisenetError } from '../../src/util/errors.js';
import { fixture, UPSTREAM } from '../helpers/paths.js';

const upstreamKeys = fs.readFileSync(fixture(UPSTREAM, 'state_dict_keys.txt'), 'utf8').trim().split('\n')
  .map((l) => ({ name: l.split(' ')[0]!, shape: JSON.parse(l.slice(l.indexOf('['), l.lastIndexOf(']') + 1)) as number[] }));

/** A checkpoint with the given keys and shapes and zero weights, for porter tests. */
function fakeCheckpoint(keys: { name: string; shape: number[] }[]): Checkpoint {
  const tensors = new Map<string, TensorEntry>(keys.map((k) => [k.name, {
    name: k.name, dtype: 'float32' as const, shape: k.shape,
    load: () => ({ dtype: 'float32' as const, shape: k.shape, data: new Float32Array(k.shape.reduce((a, b) => a * b, 1)) }),
  }]));
  return { file: 'fake.pth', format: 'pytorch-zip', tensors, wrapper: '', ignored: [] };
}

describe('CoinCheung layout table', () => {
  it('maps every canonical parameter onto an upstream key, and covers every upstream key', () => {
    const params = graphParams(bisenetv2({ numClasses: 19, aux: true }));
    const mapped = new Map(params.map((p) => [familyKey(coincheung, p), p]));
    const upstream = new Map(upstreamKeys.map((k) => [k.name, k.shape]));
    for (const [key, p] of mapped) expect(upstream.get(key), `${p.name} → ${key}`).toEqual(p.shape);
    const unmapped = upstreamKeys.filter((k) => !mapped.has(k.name) && !k.name.endsWith('num_batches_tracked'));
    expect(unmapped).toEqual([]);
    expect(mapped.size).toBe(upstreamKeys.filter((k) => !k.name.endsWith('num_batches_tracked')).length);
  });

  it('ports the upstream checkpoint with and without booster heads', () => {
    const ck = loadCheckpoint(fixture(UPSTREAM, 'model.pth'));
    const eval_ = portWeights(ck);
    expect(eval_).toMatchObject({ family: 'coincheung', numClasses: 19, aux: false });
    expect(eval_.weights.size).toBe(graphParams(bisenetv2({ numClasses: 19 })).length);
    expect(portWeights(ck, { aux: true }).weights.size).toBe(graphParams(bisenetv2({ numClasses: 19, aux: true })).length);
    expect(summarize(ck)).toMatchObject({ family: 'coincheung', numClasses: 19, hasBooster: true, tensorCount: 383, problems: [] });
  });

  it('reads the class count from the checkpoint', () => {
    const keys = upstreamKeys.filter((k) => !k.name.startsWith('aux')).map((k) => (k.name.startsWith('head.conv_out.1.') ? { ...k, shape: [150, ...k.shape.slice(1)] } : k));
    expect(portWeights(fakeCheckpoint(keys)).numClasses).toBe(150);
  });

  it('names a shape mismatch with expected and found shapes', () => {
    const keys = upstreamKeys.map((k) => (k.name === 'bga.left2.0.weight' ? { ...k, shape: [128, 64, 3, 3] } : k));
    try { portWeights(fakeCheckpoint(keys)); expect.unreachable(); } catch (e) {
      expect(e).toBeInstanceOf(BisenetError);
      expect((e as Error).message).toContain('bga.left2.0.weight: expected [128, 128, 3, 3], found [128, 64, 3, 3]');
    }
  });

  it('refuses missing and unexpected keys, listing them', () => {
    const keys = upstreamKeys.filter((k) => k.name !== 'segment.S4.1.dwconv.1.running_var').concat([{ name: 'extra.layer.weight', shape: [3] }]);
    try { portWeights(fakeCheckpoint(keys)); expect.unreachable(); } catch (e) {
      const err = e as BisenetError;
      expect(err.message).toMatch(/1 missing key \(first: segment\.S4\.1\.dwconv\.1\.running_var \(expected \[384\]\)\)/);
      expect(err.message).toMatch(/1 unexpected key \(first: extra\.layer\.weight\)/);
      expect(err.details).toContain('unexpected extra.layer.weight [3]');
    }
  });

  it('asks for booster heads only when exporting them', () => {
    const noAux = fakeCheckpoint(upstreamKeys.filter((k) => !k.name.startsWith('aux')));
    expect(portWeights(noAux).aux).toBe(false);
    expect(() => portWeights(noAux, { aux: true })).toThrowError(/booster \(aux\) heads were asked for, but the checkpoint has none/);
  });

  it('refuses a forced class count that differs', () => {
    expect(() => portWeights(fakeCheckpoint(upstreamKeys), { numClasses: 21 })).toThrowError(/--classes 21 was given, but the checkpoint's classifier has 19 classes/);
  });

  it('refuses a checkpoint of another network', () => {
    const resnet = fakeCheckpoint([{ name: 'conv1.weight', shape: [64, 3, 7, 7] }, { name: 'layer1.0.conv1.weight', shape: [64, 64, 3, 3] }, { name: 'fc.weight', shape: [1000, 512] }]);
    expect(detectFamily(resnet).family).toBeNull();
    expect(() => portWeights(resnet)).toThrowError(/not a BiSeNetV2 checkpoint of a known family \(keys such as conv1\.weight/);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import type { Checkpoint, TensorEntry } from '../../src/checkpoint/types.js';
import { graphParams } from '../../src/ir/graph.js';
import { bisenetv2, type Family } from '../../src/models/bisenetv2.js';
import { detectFamily, familyKey, LAYOUTS, portWeights, summarize } from '../../src/port/index.js';
import { fixture, goldenSets, ROOT } from '../helpers/paths.js';

const keyTable = (family: string) => fs.readFileSync(fixture(`${family}-keys.txt`), 'utf8').trim().split('\n')
  .map((l) => ({ name: l.split(' ')[0]!, shape: JSON.parse(l.slice(l.indexOf('['))) as number[] }));

function fake(keys: { name: string; shape: number[] }[]): Checkpoint {
  const tensors = new Map<string, TensorEntry>(keys.map((k) => [k.name, {
    name: k.name, dtype: 'float32' as const, shape: k.shape,
    load: () => ({ dtype: 'float32' as const, shape: k.shape, data: new Float32Array(k.shape.reduce((a, b) => a * b, 1)) }),
  }]));
  return { file: 'fake.pth', format: 'pytorch-zip', tensors, wrapper: '', ignored: [] };
}

describe.each([['mmseg', 385, 56], ['paddleseg', 356, 32]] as const)('%s layout table', (family, entries, booster) => {
  const table = keyTable(family);
  it(`covers the ${entries} keys of a real-layout checkpoint (${booster} booster keys), with their shapes`, () => {
    expect(table).toHaveLength(entries);
    const params = graphParams(bisenetv2({ numClasses: 19, aux: true, family }));
    const mapped = new Map(params.map((p) => [familyKey(LAYOUTS[family]!, p), p]));
    const real = new Map(table.map((k) => [k.name, k.shape]));
    for (const [key, p] of mapped) expect(real.get(key), `${p.name} → ${key}`).toEqual(p.shape);
    const unmapped = table.filter((k) => !mapped.has(k.name) && !k.name.endsWith('num_batches_tracked'));
    expect(unmapped).toEqual([]);
    expect(table.filter((k) => new RegExp(LAYOUTS[family]!.boosterKeys).test(k.name))).toHaveLength(booster);
  });

  it('is detected as its family, and ports with and without booster heads', () => {
    const ck = fake(table);
    expect(detectFamily(ck).family).toBe(family);
    expect(portWeights(ck, { aux: true })).toMatchObject({ family, numClasses: 19, aux: true });
    expect(portWeights(ck)).toMatchObject({ family, aux: false });
  });

  it('forcing another family says which family the keys look like', () => {
    const other: Family = family === 'mmseg' ? 'coincheung' : 'mmseg';
    expect(() => portWeights(fake(table), { family: other })).toThrowError(new RegExp(`--family ${other} was given, but the keys look like ${family}`));
  });
});

describe('every fixture is identified', () => {
  it.each(goldenSets().map((s) => [s.name, s] as const))('%s', (_n, set) => {
    const s = summarize(loadCheckpoint(set.checkpoint));
    expect(s.family).toBe(set.manifest.family);
    expect(s.numClasses).toBe(set.manifest.n_classes ?? 19);
    expect(s.problems).toEqual([]);
  });

  it('the shared upstream key list is CoinCheung', () => {
    const keys = fs.readFileSync(path.join(ROOT, 'fixtures/coincheung-bisenetv2-n19/state_dict_keys.txt'), 'utf8').trim().split('\n')
      .map((l) => ({ name: l.split(' ')[0]!, shape: JSON.parse(l.slice(l.indexOf('['), l.lastIndexOf(']') + 1)) as number[] }));
    expect(detectFamily(fake(keys)).family).toBe('coincheung');
  });
});

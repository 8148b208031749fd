import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import type { Checkpoint, TensorEntry } from '../../src/checkpoint/types.js';
import { PickleWriter, torchTensor } from '../fuzz-lib/pickle-writer.js';
import { makeZip } from '../fuzz-lib/zip-writer.js';
import { portWeights, summarize } from '../../src/port/index.js';
import { bisenet } from '../helpers/cli.js';
import { fixture, tmpDir } from '../helpers/paths.js';

const MMSEG = fixture('mmseg-bisenetv2-n150-b2', 'model.pth');
const PADDLE = fixture('paddleseg-bisenetv2-n19', 'model.pdparams');


/** The same checkpoint with its tensor table edited (entries still load their real data). */
function edited(ck: Checkpoint, edit: (t: Map<string, TensorEntry>) => void): Checkpoint {
  const tensors = new Map(ck.tensors);
  edit(tensors);
  return { ...ck, tensors };
}

function thrown(f: () => unknown): { message: string; details: string[] } {
  try { f(); } catch (e) { return { message: (e as Error).message, details: (e as { details?: string[] }).details ?? [] }; }
  throw new Error('expected an error');
}

describe.each([
  ['mmseg', MMSEG, 'backbone.bga.detail_dwconv.0.pointwise_conv.conv.bias', 'decode_head.conv_seg.weight'],
  ['paddleseg', PADDLE, 'sb.ce.conv_3x3.bias', 'head.conv_1x1.weight'],
] as const)('porter errors name the %s keys', (family, file, biasKey, classifierKey) => {
  const ck = loadCheckpoint(file);

  it('a missing key, by its family name and expected shape', () => {
    const e = thrown(() => portWeights(edited(ck, (t) => t.delete(biasKey))));
    expect(e.message).toMatch(new RegExp(`does not fit BiSeNetV2 \\(${family}, \\d+ classes\\): 1 missing key \\(first: ${biasKey.replace(/\./g, '\\.')} \\(expected \\[128\\]\\)\\)`));
  });

  it('a wrong shape and an unexpected key, each listed', () => {
    const bad = edited(ck, (t) => {
      const e = t.get(biasKey)!;
      t.set(biasKey, { ...e, shape: [64] });
      t.set('backbone.extra.weight', { ...e, name: 'backbone.extra.weight' });
    });
    const e = thrown(() => portWeights(bad));
    expect(e.message).toMatch(/1 shape mismatch .*expected \[128\], found \[64\].*1 unexpected key \(first: backbone\.extra\.weight/);
    expect(e.details).toEqual(expect.arrayContaining([expect.stringMatching(/^unexpected backbone\.extra\.weight/)]));
  });

  it('a missing classifier: the class count cannot be told', () => {
    expect(() => portWeights(edited(ck, (t) => t.delete(classifierKey)), { family }))
      .toThrowError(new RegExp(`classifier ${classifierKey.replace(/\./g, '\\.')} is missing`));
  });

  it('a class count other than the one asked for', () => {
    expect(() => portWeights(ck, { numClasses: 7 })).toThrowError(/--classes 7 was given, but the checkpoint's classifier has \d+ classes/);
  });

  it('forcing each other family says which family the keys look like', () => {
    for (const other of ['coincheung', 'mmseg', 'paddleseg'] as const) {
      if (other === family) continue;
      expect(() => portWeights(ck, { family: other })).toThrowError(new RegExp(`--family ${other} was given, but the keys look like ${family} \\(100% of its keys present, 0% of ${other}'s\\)`));
    }
    expect(portWeights(ck, { family }).family).toBe(family);
  });
});

describe('booster heads', () => {
  it('asked for on a checkpoint without them', () => {
    expect(() => portWeights(loadCheckpoint(MMSEG), { aux: true })).toThrowError(/booster \(aux\) heads were asked for, but the checkpoint has none/);
  });

  it('left out by default: their keys are not "unexpected"', () => {
    const p = portWeights(loadCheckpoint(PADDLE));
    expect(p.aux).toBe(false);
    expect([...p.weights.keys()].some((k) => k.startsWith('booster.'))).toBe(false);
  });

  it('incomplete booster heads are reported when asked for', () => {
    const ck = edited(loadCheckpoint(PADDLE), (t) => t.delete('aux_head4.conv_1x1.bias'));
    expect(() => portWeights(ck, { aux: true })).toThrowError(/1 missing key \(first: aux_head4\.conv_1x1\.bias/);
    expect(portWeights(ck).aux).toBe(false); // without them the checkpoint still ports
  });
});

describe('bisenet inspect', () => {
  it('names the family of the mmseg and PaddleSeg fixtures (exit 0)', () => {
    const m = bisenet('inspect', MMSEG);
    expect(m.status).toBe(0);
    expect(m.stdout).toMatch(/family:\s+mmseg\n/);
    expect(m.stdout).toMatch(/state dict under "state_dict"/);
    const p = bisenet('inspect', PADDLE, '--json');
    expect(p.status).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ format: 'paddle-pickle', family: 'paddleseg', numClasses: 19, hasBooster: true, tensorCount: 356 });
  });

  it('refuses a checkpoint of another network: report on stdout, one line on stderr, exit 2', () => {
    const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    w.str('features.0.weight'); torchTensor(w, 'FloatStorage', '0', 27, 0, [1, 3, 3, 3], [27, 9, 3, 1]);
    w.str('classifier.weight'); torchTensor(w, 'FloatStorage', '1', 10, 0, [10, 1], [1, 1]);
    w.setitems();
    const f = path.join(tmpDir('bisenet-inspect-'), 'mobilenet.pth');
    fs.writeFileSync(f, makeZip([{ name: 'archive/data.pkl', data: w.stop() }, { name: 'archive/data/0', data: new Uint8Array(108) }, { name: 'archive/data/1', data: new Uint8Array(40) }]));
    const r = bisenet('inspect', f);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/family:\s+unknown/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*mobilenet\.pth: not a BiSeNetV2 checkpoint of a known family \(keys such as features\.0\.weight, classifier\.weight; keys matched: coincheung 0%, mmseg 0%, paddleseg 0%\)/);
    expect(bisenet('inspect', f, '--json').status).toBe(2);
  });

  it('refuses a checkpoint of its family that does not fit, naming the first problem', () => {
    // Every eval key of a real 19-class mmseg checkpoint but one, all viewing one zero storage.
    const keys = fs.readFileSync(fixture('mmseg-keys.txt'), 'utf8').trim().split('\n')
      .map((l) => ({ name: l.split(' ')[0]!, shape: JSON.parse(l.slice(l.indexOf('['))) as number[] }))
      .filter((k) => !k.name.startsWith('auxiliary_head.') && k.name !== 'backbone.bga.conv.bn.running_var');
    const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const strides = (s: number[]) => s.map((_, i) => numel(s.slice(i + 1)));
    const biggest = Math.max(...keys.map((k) => numel(k.shape)));
    const w = new PickleWriter().emptyDict().str('meta').emptyDict().setitem().str('state_dict');
    w.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    for (const k of keys) {
      w.str(k.name);
      if (k.name.endsWith('num_batches_tracked')) torchTensor(w, 'LongStorage', '1', 1, 0, [], []);
      else torchTensor(w, 'FloatStorage', '0', biggest, 0, k.shape, strides(k.shape));
    }
    w.setitems().setitem();
    const f = path.join(tmpDir('bisenet-inspect-'), 'partial.pth');
    fs.writeFileSync(f, makeZip([{ name: 'archive/data.pkl', data: w.stop() }, { name: 'archive/data/0', data: new Uint8Array(4 * biggest) },
      { name: 'archive/data/1', data: new Uint8Array(8) }]));
    expect(summarize(loadCheckpoint(f)).family).toBe('mmseg');
    const r = bisenet('inspect', f);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/family:\s+mmseg\n/);
    expect(r.stderr).toMatch(/^error: .*partial\.pth: does not fit BiSeNetV2 \(mmseg, 19 classes\): 1 missing key \(first: backbone\.bga\.conv\.bn\.running_var \(expected \[128\]\)\)/);
  });
});

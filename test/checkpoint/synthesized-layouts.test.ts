/**
 * Checkpoint layouts the upstream set does not cover (171 classes in bfloat16; DataParallel wrapping with strided
 * float16 views), built at test time from the upstream weights instead of committed golden sets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { readNpy } from '../../src/checkpoint/npy.js';
import { convertCheckpoint } from '../../src/convert/index.js';
import { graphParams } from '../../src/ir/graph.js';
import { familyKey, LAYOUTS, modelFor, portWeights, summarize } from '../../src/port/index.js';
import { modelMetadataFor } from '../../src/model-file/presets.js';
import { loadRunner } from '../../src/runtime/index.js';
import type { NdArray } from '../../src/util/ndarray.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';
import { coco171Checkpoint, COCO_STUFF_CLASSES, roundedTo, wrappedViewsCheckpoint, type SynthCheckpoint } from '../helpers/synth-checkpoint.js';

const dir = tmpDir('bisenet-synth-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Index of the first element whose float32 bits differ, or -1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const [ua, ub] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

/** Ports `synth` and checks every parameter bit for bit against the rounded upstream values; returns how many keys. */
function expectExactPort(synth: SynthCheckpoint, aux: boolean): number {
  const ported = portWeights(loadCheckpoint(synth.file), { aux });
  const table = LAYOUTS[ported.family]!;
  let compared = 0;
  for (const p of graphParams(modelFor(ported, { aux }))) {
    const key = familyKey(table, p);
    const want = synth.expected.get(key);
    expect(want, `${key} in the synthesized checkpoint`).toBeDefined();
    const got = ported.weights.get(p.name)!;
    expect(firstBitDifference(got, want!), `${key}: first element whose bits differ`).toBe(-1);
    compared++;
  }
  expect(compared).toBe(synth.expected.size); // every float tensor of the file reached the port
  return compared;
}

/** Converts to ONNX (with labels) and runs it in ort-cpu on the upstream golden input; returns the ONNX metadata too. */
async function runOnUpstreamInput(file: string): Promise<{ out: Record<string, NdArray>; meta: Record<string, string> }> {
  const bytes = convertCheckpoint(file, { to: 'onnx', labels: true }).bytes;
  const meta = Object.fromEntries(onnxProto.onnx.ModelProto.decode(bytes).metadataProps!.map((p) => [p.key!, p.value!]));
  const onnx = path.join(dir, `${path.basename(file)}.onnx`);
  fs.writeFileSync(onnx, bytes);
  const runner = await loadRunner(onnx, 'ort-cpu', { threads: 1 });
  try {
    return { out: await runner.run({ input: readNpy(golden(UPSTREAM, 'input.npy')) }), meta };
  } finally {
    await runner.dispose();
  }
}

describe('the rounding these tests compute', () => {
  it('rounds to nearest even in float16 and bfloat16, subnormals included', () => {
    expect(roundedTo(1 + 2 ** -11, 'float16')).toBe(1); // a tie, to the even neighbour
    expect(roundedTo(1 + 3 * 2 ** -11, 'float16')).toBe(1 + 2 ** -9);
    expect(roundedTo(2 ** -25, 'float16')).toBe(0); // half of the smallest subnormal: ties to 0
    expect(roundedTo(1.5 * 2 ** -24, 'float16')).toBe(2 ** -23);
    expect(Object.is(roundedTo(-(2 ** -30), 'float16'), -0)).toBe(true);
    expect(roundedTo(1 + 2 ** -8, 'bfloat16')).toBe(1);
    expect(roundedTo(-(1 + 3 * 2 ** -8), 'bfloat16')).toBe(-(1 + 2 ** -6));
    expect(roundedTo(0.1, 'bfloat16')).toBe(0.10009765625);
  });
});

describe('{state_dict: {module.*}, meta}, float16, non-contiguous views sharing storage, top folder with a dot', () => {
  let synth: SynthCheckpoint;
  beforeAll(() => { synth = wrappedViewsCheckpoint(dir); });

  it('is read as a wrapped CoinCheung checkpoint with booster heads', () => {
    const ck = loadCheckpoint(synth.file);
    expect(ck.format).toBe('pytorch-zip');
    expect(ck.wrapper).toBe('state_dict');
    expect(ck.tensors.size).toBe(383);
    expect([...ck.tensors.keys()].filter((k) => k.startsWith('module.'))).toEqual([]);
    expect(ck.tensors.get('detail.S1.0.conv.weight')!.dtype).toBe('float16');
    expect(summarize(ck)).toMatchObject({ family: 'coincheung', numClasses: 19, hasBooster: true, tensorCount: 383, problems: [] });
  });

  it('ports every parameter, views included, as exactly the upstream values rounded to float16', () => {
    expect(expectExactPort(synth, true)).toBe(synth.expected.size);
    // The rounding did happen: a float16 weight is not the upstream float32 one.
    const up = loadCheckpoint(fixture(UPSTREAM, 'model.pth')).tensors.get('head.conv_out.1.weight')!.load().data as Float32Array;
    expect(firstBitDifference(up, synth.expected.get('head.conv_out.1.weight')!)).toBeGreaterThanOrEqual(0);
  });

  it('converts to ONNX that runs in ort-cpu on the upstream input', async () => {
    const { out, meta } = await runOnUpstreamInput(synth.file);
    expect(meta).toMatchObject({ family: 'coincheung', num_classes: '19', dataset: 'cityscapes' });
    expect(out.logits!.shape).toEqual([1, 19, 96, 160]);
    expect((out.logits!.data as Float32Array).every(Number.isFinite)).toBe(true);
    expect(out.labels!.shape).toEqual([1, 96, 160]);
  });
});

describe(`${COCO_STUFF_CLASSES} classes, bfloat16 storages, no booster heads`, () => {
  let synth: SynthCheckpoint;
  beforeAll(() => { synth = coco171Checkpoint(dir); });

  it('is identified as CoinCheung with 171 classes, and the COCO-Stuff preset follows from the count', () => {
    const ck = loadCheckpoint(synth.file);
    expect(ck.wrapper).toBe('');
    expect(ck.tensors.get('head.conv_out.1.weight')).toMatchObject({ dtype: 'bfloat16', shape: [171, 1024, 1, 1] });
    expect(summarize(ck)).toMatchObject({ family: 'coincheung', numClasses: 171, hasBooster: false, tensorCount: 327, problems: [] });
    expect(modelMetadataFor('coincheung', 171).dataset).toBe('coco-stuff');
  });

  it('ports every parameter as exactly the upstream values rounded to bfloat16', () => {
    expectExactPort(synth, false);
    expect(() => portWeights(loadCheckpoint(synth.file), { aux: true })).toThrowError(/booster \(aux\) heads were asked for/);
  });

  it('converts to ONNX (COCO-Stuff metadata) that runs in ort-cpu on the upstream input', async () => {
    const { out, meta } = await runOnUpstreamInput(synth.file);
    expect(meta).toMatchObject({ family: 'coincheung', num_classes: '171', dataset: 'coco-stuff' });
    expect(out.logits!.shape).toEqual([1, 171, 96, 160]);
    expect((out.logits!.data as Float32Array).every(Number.isFinite)).toBe(true);
    expect(out.labels!.shape).toEqual([1, 96, 160]);
  });
});

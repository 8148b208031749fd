import { describe, expect, it } from 'vitest';
import { DEFAULT_SHARD_BYTES } from '../../src/emit/tfjs-common.js';
import { emitTfjsLayers } from '../../src/emit/tfjs-layers.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import { describeTraps, randomWeights, tinyGraph } from '../helpers/tfjs-traps.js';

interface Layer { class_name: string; name: string; config: Record<string, unknown>; inbound_nodes: [string, number, number, object][][] }
interface ModelJson {
  format: string;
  modelTopology: { class_name: string; config: { layers: Layer[]; input_layers: unknown[]; output_layers: [string, number, number][] } };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string; quantization?: { dtype: string; scale?: number; min?: number } }[] }[];
  userDefinedMetadata: { bisenet: Record<string, unknown> };
}

const parse = (files: Map<string, Uint8Array>): ModelJson => JSON.parse(new TextDecoder().decode(files.get('model.json')!)) as ModelJson;

describe('TensorFlow.js layers emitter', () => {
  const g = bisenetv2({ numClasses: 19, aux: true });
  const weights = randomWeights(g);
  const files = emitTfjsLayers(g, weights);
  const model = parse(files);
  const layers = model.modelTopology.config.layers;
  const byName = new Map(layers.map((l) => [l.name, l]));
  const inputOf = (l: Layer) => byName.get(l.inbound_nodes[0]![0]![0])!;

  it('writes a Keras functional layers-model with NHWC input of any size and named outputs', () => {
    expect(model.format).toBe('layers-model');
    expect(model.modelTopology.class_name).toBe('Functional');
    expect(layers[0]).toMatchObject({ class_name: 'InputLayer', name: 'input', config: { batch_input_shape: [null, null, null, 3] } });
    expect(model.modelTopology.config.output_layers.map((o) => o[0])).toEqual(['logits', 'aux2', 'aux3', 'aux4', 'aux5_4']);
    expect(model.userDefinedMetadata.bisenet).toMatchObject({ layout: 'NHWC', num_classes: 19, outputs: ['logits', 'aux2', 'aux3', 'aux4', 'aux5_4'], family: 'coincheung', quantization: 'none' });
  });

  it("pads every strided conv and every pool explicitly ('valid' after ZeroPadding2D [[1,1],[1,1]]), never strided 'same'", () => {
    const strided = layers.filter((l) => (l.class_name === 'Conv2D' || l.class_name === 'DepthwiseConv2D') && (l.config.strides as number[])[0] === 2);
    expect(strided.length).toBe(3 + 2 + 2 * 3 + 1); // detail ×3, stem ×2, GE-s2 dw1 + shortcut ×3, BGA detail_down
    for (const l of strided) {
      expect(l.config.padding).toBe('valid');
      expect(inputOf(l)).toMatchObject({ class_name: 'ZeroPadding2D', config: { padding: [[1, 1], [1, 1]] } });
    }
    for (const l of layers.filter((x) => x.class_name.endsWith('Pooling2D') && !x.class_name.startsWith('Global'))) {
      expect(l.config).toMatchObject({ padding: 'valid', pool_size: [3, 3], strides: [2, 2] });
      expect(inputOf(l).class_name).toBe('ZeroPadding2D');
    }
    expect(layers.filter((l) => l.config.padding === 'same').every((l) => (l.config.strides as number[])[0] === 1)).toBe(true);
  });

  it('zero-pads the stem max-pool only because its input is a ReLU output (fused into the conv)', () => {
    const pool = byName.get('semantic.stem.pool')!;
    expect(pool.class_name).toBe('MaxPooling2D');
    const conv = inputOf(inputOf(pool));
    expect(conv).toMatchObject({ class_name: 'Conv2D', name: 'semantic.stem.conv.conv', config: { activation: 'relu' } });
    const g2 = tinyGraph(2, (b) => b.pool('pool', 'maxpool', 'input', 3, 2, 1));
    expect(() => emitTfjsLayers(g2, new Map())).toThrowError(/exact only on a ReLU output/);
  });

  it('resizes bilinear with the half-pixel custom layer and nearest ×4 with UpSampling2D nearest', () => {
    const resize = layers.filter((l) => l.class_name === 'BisenetResize');
    expect(resize.map((l) => l.name).sort()).toEqual(['aux2', 'aux3', 'aux4', 'aux5_4', 'logits']);
    expect(byName.get('logits')!.config).toMatchObject({ interpolation: 'bilinear', scale: 8, align_corners: false, half_pixel_centers: true });
    const ups = layers.filter((l) => l.class_name === 'UpSampling2D');
    expect(ups.every((l) => l.config.interpolation === 'nearest')).toBe(true);
    expect(byName.get('bga.semantic_up')!.config).toMatchObject({ size: [4, 4], interpolation: 'nearest' });
  });

  it('folds BatchNorm into convs; the CE block keeps one with eps 1e-5 after GlobalAveragePooling2D + Reshape 1×1×C', () => {
    const bn = layers.filter((l) => l.class_name === 'BatchNormalization');
    expect(bn.map((l) => l.name)).toEqual(['semantic.context.bn']);
    expect(bn[0]!.config.epsilon).toBe(1e-5);
    const reshape = inputOf(bn[0]!);
    expect(reshape).toMatchObject({ class_name: 'Reshape', config: { target_shape: [1, 1, 128] } });
    expect(inputOf(reshape).class_name).toBe('GlobalAveragePooling2D');
  });

  it('lays weights out HWIO, depthwise k×k×C×m (GE layers: multiplier 6)', () => {
    const specs = new Map(model.weightsManifest[0]!.weights.map((w) => [w.name, w]));
    expect(specs.get('detail.stage1.0.conv/kernel')!.shape).toEqual([3, 3, 3, 64]);
    expect(byName.get('semantic.stage3.1.dw.conv')!.config.depth_multiplier).toBe(6);
    expect(specs.get('semantic.stage3.1.dw.conv/depthwise_kernel')!.shape).toEqual([3, 3, 32, 6]);
    expect(specs.get('semantic.stage3.0.dw2.conv/depthwise_kernel')!.shape).toEqual([3, 3, 96, 1]);
    expect(specs.get('head.classifier.conv/bias')!.shape).toEqual([19]);
  });

  it('shards weights at 4 MiB by default, or at the size asked for, with every byte accounted for', () => {
    const total = model.weightsManifest[0]!.weights.reduce((s, w) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    const shards = model.weightsManifest[0]!.paths;
    expect(shards.length).toBe(Math.ceil(total / DEFAULT_SHARD_BYTES));
    expect(shards.reduce((s, p) => s + files.get(p)!.length, 0)).toBe(total);
    expect(files.get(shards[0]!)!.length).toBe(DEFAULT_SHARD_BYTES);
    const small = emitTfjsLayers(g, weights, { shardBytes: 1 << 20 });
    expect(parse(small).weightsManifest[0]!.paths.length).toBe(Math.ceil(total / (1 << 20)));
    expect(() => emitTfjsLayers(g, weights, { shardBytes: 10 })).toThrowError(/at least 1024 bytes/);
  });

  it('quantizes per tensor as tfjs defines it: float16, or uint8/uint16 with scale and min', () => {
    const f16 = parse(emitTfjsLayers(g, weights, { quantize: 'float16' }));
    expect(f16.weightsManifest[0]!.weights.every((w) => w.dtype === 'float32' && w.quantization?.dtype === 'float16')).toBe(true);
    const u8 = parse(emitTfjsLayers(g, weights, { quantize: 'uint8' }));
    for (const w of u8.weightsManifest[0]!.weights) {
      expect(w.quantization).toMatchObject({ dtype: 'uint8', scale: expect.any(Number), min: expect.any(Number) });
      expect(w.quantization!.min!).toBeLessThanOrEqual(0); // the range holds 0 exactly
    }
    expect(u8.userDefinedMetadata.bisenet.quantization).toBe('uint8');
  });

  it('refuses an argmax output: the layers format has no such layer', () => {
    const withLabels = bisenetv2({ numClasses: 3, labels: true });
    expect(() => emitTfjsLayers(withLabels, randomWeights(withLabels))).toThrowError(/--to tfjs-graph for a labels output/);
  });
});

describeTraps('layers');

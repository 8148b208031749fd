import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { emitOnnx, emitOnnxChunks, joinChunks } from '../../src/emit/onnx.js';
import { graphParams } from '../../src/ir/graph.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import type { WeightMap } from '../../src/ir/fold.js';
import { numel } from '../../src/util/ndarray.js';

const { onnx } = onnxProto;

function randomWeights(g: ReturnType<typeof bisenetv2>): WeightMap {
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  return new Map(graphParams(g).map((p) => [p.name, Float32Array.from({ length: numel(p.shape) }, () => (p.role === 'running_var' ? 0.5 + rand() : rand() - 0.5))]));
}

const decode = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes);
const attr = (n: onnxProto.onnx.INodeProto, name: string) => n.attribute!.find((a) => a.name === name);
const str = (a: onnxProto.onnx.IAttributeProto | undefined) => Buffer.from(a!.s!).toString();

describe('ONNX emitter', () => {
  const g = bisenetv2({ numClasses: 5, labels: true });
  const model = decode(emitOnnx(g, randomWeights(g)));
  const nodes = model.graph!.node!;

  it('writes opset 17 by default with the matching IR version', () => {
    expect(Number(model.opsetImport![0]!.version)).toBe(17);
    expect(Number(model.irVersion)).toBe(8);
    const m21 = decode(emitOnnx(g, randomWeights(g), { opset: 21 }));
    expect(Number(m21.opsetImport![0]!.version)).toBe(21);
    expect(Number(m21.irVersion)).toBe(10);
    expect(() => emitOnnx(g, randomWeights(g), { opset: 12 })).toThrowError(/--opset 12 is not supported \(13–21\)/);
  });

  it('is written in pieces that leave the weights in place, byte for byte what protobufjs encodes of the whole model', () => {
    const weights = randomWeights(g);
    const chunks = emitOnnxChunks(g, weights, { metadata: { note: 'x' } });
    const joined = joinChunks(chunks);
    const whole = decode(joined);
    // Re-encoding the decoded model in one piece gives the same bytes: same fields, same order.
    expect(Buffer.from(onnx.ModelProto.encode(whole).finish()).equals(Buffer.from(joined))).toBe(true);
    expect(whole.graph!.initializer!.length).toBeGreaterThan(100);
    expect(whole.metadataProps!.find((p) => p.key === 'note')!.value).toBe('x');
    // An unfolded weight (the classifier's bias has no BatchNorm after it) is one of the pieces, not a copy.
    const bias = weights.get('head.classifier.conv.bias')!;
    expect(chunks.some((c) => c.buffer === bias.buffer && c.byteOffset === bias.byteOffset)).toBe(true);
    expect(Buffer.from(emitOnnx(g, weights, { metadata: { note: 'x' } })).equals(Buffer.from(joined))).toBe(true);
  });

  it('declares input N×3×H×W with dynamic batch, height and width', () => {
    const dims = model.graph!.input![0]!.type!.tensorType!.shape!.dim!;
    expect(model.graph!.input![0]!.name).toBe('input');
    expect(dims.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 3, 'H', 'W']);
    expect(model.graph!.output!.map((o) => o.name)).toEqual(['logits', 'labels']);
  });

  it('folds every BatchNorm that follows a conv (only the CE block keeps one)', () => {
    const bn = nodes.filter((n) => n.opType === 'BatchNormalization');
    expect(bn.map((n) => n.name)).toEqual(['semantic.context.bn']);
    expect(attr(bn[0]!, 'epsilon')!.f).toBeCloseTo(1e-5, 10);
  });

  it('pools as one AveragePool with count_include_pad=1, and MaxPool with pads', () => {
    const avg = nodes.filter((n) => n.opType === 'AveragePool');
    expect(avg).toHaveLength(1);
    expect(Number(attr(avg[0]!, 'count_include_pad')!.i)).toBe(1);
    expect(attr(avg[0]!, 'pads')!.ints!.map(Number)).toEqual([1, 1, 1, 1]);
    expect(nodes.some((n) => n.opType === 'Pad')).toBe(false);
    const max = nodes.find((n) => n.opType === 'MaxPool')!;
    expect(attr(max, 'pads')!.ints!.map(Number)).toEqual([1, 1, 1, 1]);
  });

  it('resizes nearest asymmetric/floor and bilinear half-pixel', () => {
    const resizes = nodes.filter((n) => n.opType === 'Resize');
    const nearest = resizes.filter((n) => str(attr(n, 'mode')) === 'nearest');
    const linear = resizes.filter((n) => str(attr(n, 'mode')) === 'linear');
    expect(nearest.map((n) => n.name)).toEqual(['bga.semantic_up', 'bga.right_up']);
    for (const n of nearest) {
      expect(str(attr(n, 'coordinate_transformation_mode'))).toBe('asymmetric');
      expect(str(attr(n, 'nearest_mode'))).toBe('floor');
    }
    expect(linear.map((n) => n.name)).toEqual(['logits']);
    expect(str(attr(linear[0]!, 'coordinate_transformation_mode'))).toBe('half_pixel');
  });

  it('uses standard ArgMax for labels and IR names for nodes', () => {
    const am = nodes.find((n) => n.opType === 'ArgMax')!;
    expect(am.output).toEqual(['labels']);
    expect(Number(attr(am, 'axis')!.i)).toBe(1);
    expect(nodes.find((n) => n.name === 'detail.stage1.0.conv')!.opType).toBe('Conv');
    expect(model.graph!.initializer!.map((t) => t.name)).toContain('head.classifier.conv.bias');
  });

  it('stores class count and family in metadata_props', () => {
    const meta = Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value]));
    expect(meta).toMatchObject({ family: 'coincheung', num_classes: '5' });
  });

  it('refuses weights that are missing', () => {
    const w = randomWeights(g);
    w.delete('bga.out.bn.running_var');
    expect(() => emitOnnx(g, w)).toThrowError(/no weights for bga\.out\.bn\.running_var/);
  });
});

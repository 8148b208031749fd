import { describe, expect, it } from 'vitest';
import { graphParams } from '../../src/ir/graph.js';
import { inferShapes } from '../../src/ir/shapes.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import { numel } from '../../src/util/ndarray.js';

/** Learnable parameters as PyTorch counts them (BatchNorm running statistics are buffers). */
const learnable = (g: ReturnType<typeof bisenetv2>): number =>
  graphParams(g).filter((p) => p.role === 'weight' || p.role === 'bias').reduce((s, p) => s + numel(p.shape), 0);

/** Multiply-accumulates of the convs at one input size. */
function macs(g: ReturnType<typeof bisenetv2>, h: number, w: number): number {
  const shapes = inferShapes(g, [1, 3, h, w]);
  let total = 0;
  for (const n of g.nodes) {
    if (n.attrs.op !== 'conv') continue;
    const [, c, oh, ow] = shapes.get(n.name)!;
    total += c! * oh! * ow! * (n.attrs.inChannels / n.attrs.groups) * n.attrs.kernel * n.attrs.kernel;
  }
  return total;
}

describe('BiSeNetV2 description', () => {
  it('has the parameter counts of the paper model (reference doc)', () => {
    expect(learnable(bisenetv2({ numClasses: 19 }))).toBe(3_358_627);
    expect(learnable(bisenetv2({ numClasses: 19, aux: true }))).toBe(5_231_487);
  });

  it('has the multiply-accumulates of the reference doc', () => {
    const g = bisenetv2({ numClasses: 19 });
    expect(macs(g, 512, 1024) / 1e9).toBeCloseTo(24.60, 1);
    expect(macs(g, 1024, 2048) / 1e9).toBeCloseTo(98.41, 1);
  });

  it('infers output shapes for any multiple of 32, batch and class count', () => {
    for (const [n, h, w, k] of [[1, 96, 160, 19], [2, 64, 96, 150], [1, 128, 64, 171], [3, 32, 32, 2]] as const) {
      const g = bisenetv2({ numClasses: k, aux: true, labels: true });
      const shapes = inferShapes(g, [n, 3, h, w]);
      for (const o of g.outputs) {
        expect(shapes.get(o.tensor), o.name).toEqual(o.name === 'labels' ? [n, h, w] : [n, k, h, w]);
      }
      expect(shapes.get('semantic.stage5.3.relu')).toEqual([n, 128, h / 32, w / 32]);
      expect(shapes.get('detail.stage3.2.relu')).toEqual([n, 128, h / 8, w / 8]);
    }
  });

  it('rejects sizes that are not multiples of 32 with a message that suggests one', () => {
    const g = bisenetv2({ numClasses: 19 });
    expect(() => inferShapes(g, [1, 3, 100, 160])).toThrowError('input height 100 is not a multiple of 32 (BiSeNetV2 downsamples by 32); use 96 or 128');
    expect(() => inferShapes(g, [1, 3, 96, 17])).toThrowError(/width 17 is not a multiple of 32/);
    expect(() => inferShapes(g, [1, 4, 96, 96])).toThrowError(/has 4 channels, the model takes 3/);
    expect(() => inferShapes(g, [3, 96, 96])).toThrowError(/must be 4-D/);
  });

  it('gives every parameter a unique canonical name', () => {
    const names = graphParams(bisenetv2({ numClasses: 19, aux: true })).map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('semantic.stage5.0.shortcut.pw.bn.running_var');
  });

  it('expresses family behaviours as options of one description', () => {
    const ops = (family: 'coincheung' | 'mmseg') => bisenetv2({ numClasses: 19, family }).nodes.filter((n) => n.name.startsWith('bga.') && n.attrs.op === 'resize').map((n) => n.attrs);
    expect(ops('coincheung')).toEqual([{ op: 'resize', mode: 'nearest', scale: 4 }, { op: 'resize', mode: 'nearest', scale: 4 }]);
    expect(ops('mmseg').every((a) => a.op === 'resize' && a.mode === 'bilinear')).toBe(true);
  });
});

/** The reference interpreter against every shipped golden set (PyTorch's outputs), at ≤ 1e-5 × max|ref|. */
import { describe, expect, it } from 'vitest';
import { loadRunner } from '../../src/runtime/index.js';
import { GraphBuilder, type Graph } from '../../src/ir/graph.js';
import { interpret } from '../../src/reference/interpreter.js';
import { verifyGolden } from '../../src/verify/index.js';
import { goldenSets, fixture, UPSTREAM } from '../helpers/paths.js';

describe('reference runtime on the golden sets', () => {
  for (const set of goldenSets()) {
    it(`${set.name}: every output within 1e-5 × max|ref|`, async () => {
      const runner = await loadRunner(set.checkpoint, 'reference');
      const r = await verifyGolden(runner, set.checkpoint, set.dir, { rel: 1e-5, minAgreement: 1 });
      const outputs = r.cases.flatMap((c) => c.outputs);
      for (const o of outputs) if (o.labelAgreement === null || !Number.isNaN(o.relMax)) expect(o.relMax, o.name).toBeLessThanOrEqual(1e-5);
      expect(r.pass).toBe(true);
      if (set.name === UPSTREAM) expect(outputs.map((o) => o.name)).toEqual(expect.arrayContaining(['logits', 'aux2', 'aux3', 'aux4', 'aux5_4']));
    }, 180_000);
  }

  it('exposes intermediates in float64 under their IR names', async () => {
    const runner = await loadRunner(fixture(UPSTREAM, 'model.pth'), 'reference', { expose: ['detail.stage1.0.conv', 'no.such.tensor'] });
    expect(runner.exposed).toEqual(['detail.stage1.0.conv']);
    const out = await runner.run({ input: { dtype: 'float32', shape: [1, 3, 32, 64], data: new Float32Array(3 * 32 * 64).fill(0.5) } });
    expect(out['detail.stage1.0.conv']).toMatchObject({ dtype: 'float64', shape: [1, 64, 16, 32] });
    expect(out.logits).toMatchObject({ dtype: 'float32', shape: [1, 19, 32, 64] });
  }, 180_000);
});

describe('op semantics', () => {
  const one = (build: (g: GraphBuilder) => string): Graph => {
    const g = new GraphBuilder('input', 1);
    const out = build(g);
    return { name: 't', input: { name: 'input', channels: 1 }, outputs: [{ name: 'y', tensor: out }], nodes: g.nodes, sizeMultiple: 1, metadata: {} };
  };
  const run = (graph: Graph, h: number, w: number, data: number[]) => [...interpret(graph, new Map(), { shape: [1, 1, h, w], data }).outputs.get('y')!.data];

  it('bilinear ×2 is half-pixel (align_corners=False), clamped at the border', () => {
    expect(run(one((g) => g.resize('r', 'input', 'bilinear', { scale: 2 })), 1, 2, [0, 4])).toEqual([0, 1, 3, 4, 0, 1, 3, 4]);
  });
  it('nearest ×2 is asymmetric/floor', () => {
    expect(run(one((g) => g.resize('r', 'input', 'nearest', { scale: 2 })), 1, 2, [1, 2])).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
  });
  it('average pooling counts the padding or not, as the node says; max pooling pads with −∞', () => {
    const x = [1, 2, 3, 4];
    expect(run(one((g) => g.pool('p', 'avgpool', 'input', 3, 2, 1, true)), 2, 2, x)).toEqual([10 / 9]);
    expect(run(one((g) => g.pool('p', 'avgpool', 'input', 3, 2, 1, false)), 2, 2, x)).toEqual([10 / 4]);
    expect(run(one((g) => g.pool('p', 'maxpool', 'input', 3, 2, 1)), 2, 2, [-1, -2, -3, -4])).toEqual([-1]);
  });
});

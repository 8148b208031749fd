import type { ConvAttrs, Graph, Node } from './graph.js';

/** Canonical weights: parameter name → float32 data. */
export type WeightMap = Map<string, Float32Array>;

/**
 * Folds every BatchNorm that directly follows a conv (and is that conv's only consumer) into the
 * conv's weight and bias, as inference engines expect: W' = W·s, b' = (b − μ)·s + β with
 * s = γ / √(σ² + ε), computed in float64 and rounded once. The folded node keeps the conv's name;
 * consumers of the BatchNorm now read the conv. BatchNorms elsewhere (the CE block's, after global
 * pooling) stay as they are.
 */
export function foldBatchNorm(graph: Graph, weights: WeightMap): { graph: Graph; weights: WeightMap } {
  const consumers = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  for (const o of graph.outputs) consumers.set(o.tensor, (consumers.get(o.tensor) ?? 0) + 1);
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const renamed = new Map<string, string>();
  const out: WeightMap = new Map(weights);
  const nodes: Node[] = [];
  const foldedConvs = new Set<string>();
  for (const node of graph.nodes) {
    const a = node.attrs;
    const src = byName.get(node.inputs[0] ?? '');
    if (a.op === 'batchnorm' && src?.attrs.op === 'conv' && consumers.get(src.name) === 1) {
      const conv = src.attrs;
      const W = weights.get(`${src.name}.weight`)!;
      const b = conv.bias ? weights.get(`${src.name}.bias`)! : undefined;
      const gamma = weights.get(`${node.name}.weight`)!;
      const beta = weights.get(`${node.name}.bias`)!;
      const mean = weights.get(`${node.name}.running_mean`)!;
      const variance = weights.get(`${node.name}.running_var`)!;
      const per = W.length / conv.outChannels;
      const W2 = new Float32Array(W.length);
      const b2 = new Float32Array(conv.outChannels);
      for (let o = 0; o < conv.outChannels; o++) {
        const s = gamma[o]! / Math.sqrt(variance[o]! + a.eps);
        for (let i = o * per; i < (o + 1) * per; i++) W2[i] = W[i]! * s;
        b2[o] = ((b ? b[o]! : 0) - mean[o]!) * s + beta[o]!;
      }
      for (const r of ['weight', 'running_mean', 'running_var', 'bias']) out.delete(`${node.name}.${r}`);
      out.set(`${src.name}.weight`, W2);
      out.set(`${src.name}.bias`, b2);
      foldedConvs.add(src.name);
      renamed.set(node.name, src.name);
      continue;
    }
    nodes.push(node);
  }
  const rename = (t: string): string => renamed.get(t) ?? t;
  const finalNodes = nodes.map((n) => {
    const attrs = foldedConvs.has(n.name) ? { ...(n.attrs as ConvAttrs), bias: true } : n.attrs;
    return { name: n.name, attrs, inputs: n.inputs.map(rename) };
  });
  return {
    graph: { ...graph, nodes: finalNodes, outputs: graph.outputs.map((o) => ({ ...o, tensor: rename(o.tensor) })) },
    weights: out,
  };
}

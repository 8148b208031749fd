import { fail } from '../util/errors.js';
import type { Graph, Node } from './graph.js';

export type Shape = number[];

function spatialOut(size: number, kernel: number, stride: number, padBefore: number, padAfter: number): number {
  return Math.floor((size + padBefore + padAfter - kernel) / stride) + 1;
}

/** Checks that an input shape suits the graph; the error says what would fit. */
export function checkInputShape(graph: Graph, shape: readonly number[], label = 'input'): void {
  if (shape.length !== 4) fail('shape', `${label} must be 4-D N×${graph.input.channels}×H×W, found [${shape.join(', ')}]`);
  const [n, c, h, w] = shape as [number, number, number, number];
  if (n < 1) fail('shape', `${label} has batch size ${n}`);
  if (c !== graph.input.channels) fail('shape', `${label} has ${c} channels, the model takes ${graph.input.channels} (shape [${shape.join(', ')}])`);
  const m = graph.sizeMultiple;
  for (const [what, v] of [['height', h], ['width', w]] as const) {
    if (v < m || v % m !== 0) {
      const lo = Math.max(m, Math.floor(v / m) * m);
      fail('shape', `${label} ${what} ${v} is not a multiple of ${m} (BiSeNetV2 downsamples by ${m}); use ${lo} or ${lo + m}`);
    }
  }
}

function nodeShape(node: Node, inputs: Shape[]): Shape {
  const a = node.attrs;
  const x = inputs[0]!;
  const [n, c, h, w] = x as [number, number, number, number];
  switch (a.op) {
    case 'conv':
      if (c !== a.inChannels) throw new Error(`${node.name}: expects ${a.inChannels} channels, gets ${c}`);
      return [n, a.outChannels, spatialOut(h, a.kernel, a.stride, a.pads[0], a.pads[2]), spatialOut(w, a.kernel, a.stride, a.pads[1], a.pads[3])];
    case 'maxpool': case 'avgpool':
      return [n, c, spatialOut(h, a.kernel, a.stride, a.pads[0], a.pads[2]), spatialOut(w, a.kernel, a.stride, a.pads[1], a.pads[3])];
    case 'resize':
      if (a.scale !== undefined) return [n, c, h * a.scale, w * a.scale];
      return [n, c, inputs[1]![2]!, inputs[1]![3]!];
    case 'globalavgpool': return [n, c, 1, 1];
    case 'concat': return [n, inputs.reduce((s, i) => s + i[1]!, 0), h, w];
    case 'argmax': return [n, h, w];
    case 'add': case 'mul': {
      const y = inputs[1]!;
      // Broadcasting over H and W only where one side is 1×1 (the CE block's global context).
      return x.map((d, i) => (d === 1 ? y[i]! : d));
    }
    default: return x.slice();
  }
}

/** Shapes of every tensor for one concrete input shape. */
export function inferShapes(graph: Graph, inputShape: readonly number[]): Map<string, Shape> {
  checkInputShape(graph, inputShape);
  const shapes = new Map<string, Shape>([[graph.input.name, inputShape.slice()]]);
  for (const node of graph.nodes) {
    shapes.set(node.name, nodeShape(node, node.inputs.map((i) => shapes.get(i)!)));
  }
  return shapes;
}

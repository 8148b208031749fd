/**
 * The graph IR: a model is data you can walk (as in Keras' functional API). Each node has one
 * output tensor, named after the node; parameters are named `<node>.<field>` and those names are
 * the canonical names every checkpoint layout maps onto (src/port/) and every emitter writes.
 */

export type Pads = [top: number, left: number, bottom: number, right: number];

export interface ConvAttrs { op: 'conv'; inChannels: number; outChannels: number; kernel: number; stride: number; pads: Pads; groups: number; bias: boolean }
export interface BatchNormAttrs { op: 'batchnorm'; channels: number; eps: number }
export interface PoolAttrs { op: 'maxpool' | 'avgpool'; kernel: number; stride: number; pads: Pads; countIncludePad: boolean }
/**
 * Upsampling. `scale` multiplies H and W; without it the output takes the spatial size of the
 * node's second input. Nearest uses floor(asymmetric) source indices; bilinear half-pixel centres
 * (PyTorch align_corners=False).
 */
export interface ResizeAttrs { op: 'resize'; mode: 'nearest' | 'bilinear'; scale?: number }
export type Attrs =
  | ConvAttrs | BatchNormAttrs | PoolAttrs | ResizeAttrs
  | { op: 'relu' } | { op: 'sigmoid' } | { op: 'add' } | { op: 'mul' }
  | { op: 'concat' } // along channels
  | { op: 'globalavgpool' } // mean over H and W, keeping them as 1×1
  | { op: 'argmax' }; // over channels, int64 N×H×W

export interface Node<A extends Attrs = Attrs> {
  name: string;
  attrs: A;
  inputs: string[];
}

export type ParamRole = 'weight' | 'bias' | 'running_mean' | 'running_var';

export interface ParamSpec {
  /** canonical name, `<node>.<role>` */
  name: string;
  node: string;
  role: ParamRole;
  shape: number[];
}

/**
 * A model output: its name, the tensor it is, and what it holds, so that emitters need not guess
 * from names or ops: `float32` N×channels×H×W (logits, booster heads), or `index` N×H×W class
 * indices (the argmax `labels`; each target picks its integer type).
 */
export interface GraphOutput {
  name: string;
  tensor: string;
  dtype: 'float32' | 'index';
  /** channels of a float32 output; null for index outputs (no channel axis) */
  channels: number | null;
}

export interface Graph {
  name: string;
  input: { name: string; channels: number };
  /** the model's outputs, in the order emitters list them */
  outputs: GraphOutput[];
  nodes: Node[];
  /** H and W must be multiples of this */
  sizeMultiple: number;
  metadata: Record<string, string>;
}

/** Parameters a node owns, in a fixed order, with their shapes. */
export function nodeParams(node: Node): ParamSpec[] {
  const p = (role: ParamRole, shape: number[]): ParamSpec => ({ name: `${node.name}.${role}`, node: node.name, role, shape });
  const a = node.attrs;
  if (a.op === 'conv') {
    const w = p('weight', [a.outChannels, a.inChannels / a.groups, a.kernel, a.kernel]);
    return a.bias ? [w, p('bias', [a.outChannels])] : [w];
  }
  if (a.op === 'batchnorm') {
    return (['weight', 'bias', 'running_mean', 'running_var'] as const).map((r) => p(r, [a.channels]));
  }
  return [];
}

export function graphParams(graph: Graph): ParamSpec[] {
  return graph.nodes.flatMap(nodeParams);
}

/** Builds a graph in the functional style: each call adds a node and returns its tensor name. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  private readonly names = new Set<string>();
  private readonly channelsOf = new Map<string, number>();

  constructor(readonly inputName: string, inputChannels: number) {
    this.names.add(inputName);
    this.channelsOf.set(inputName, inputChannels);
  }

  channels(tensor: string): number {
    const c = this.channelsOf.get(tensor);
    if (c === undefined) throw new Error(`model description error: unknown tensor ${tensor}`);
    return c;
  }

  /** A model output of `tensor`, with its dtype and channels from the node that makes it. */
  output(name: string, tensor: string): GraphOutput {
    const node = this.nodes.find((n) => n.name === tensor);
    if (node?.attrs.op === 'argmax') return { name, tensor, dtype: 'index', channels: null };
    return { name, tensor, dtype: 'float32', channels: this.channels(tensor) };
  }

  add(name: string, attrs: Attrs, inputs: string[], channels: number): string {
    if (this.names.has(name)) throw new Error(`model description error: duplicate node name ${name}`);
    for (const i of inputs) this.channels(i);
    this.names.add(name);
    this.nodes.push({ name, attrs, inputs });
    this.channelsOf.set(name, channels);
    return name;
  }

  conv(name: string, x: string, outChannels: number, o: { kernel: number; stride?: number; groups?: number; bias?: boolean; pads?: Pads }): string {
    const inChannels = this.channels(x);
    const stride = o.stride ?? 1;
    const half = (o.kernel - 1) / 2;
    const pads = o.pads ?? [half, half, half, half];
    const groups = o.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`model description error: ${name} channels not divisible by groups`);
    return this.add(name, { op: 'conv', inChannels, outChannels, kernel: o.kernel, stride, pads, groups, bias: o.bias ?? false }, [x], outChannels);
  }

  batchnorm(name: string, x: string, eps = 1e-5): string {
    return this.add(name, { op: 'batchnorm', channels: this.channels(x), eps }, [x], this.channels(x));
  }

  unary(name: string, op: 'relu' | 'sigmoid' | 'globalavgpool', x: string): string {
    return this.add(name, { op }, [x], this.channels(x));
  }

  binary(name: string, op: 'add' | 'mul', a: string, b: string): string {
    if (this.channels(a) !== this.channels(b)) throw new Error(`model description error: ${name} joins ${this.channels(a)} and ${this.channels(b)} channels`);
    return this.add(name, { op }, [a, b], this.channels(a));
  }

  concat(name: string, xs: string[]): string {
    return this.add(name, { op: 'concat' }, xs, xs.reduce((s, x) => s + this.channels(x), 0));
  }

  pool(name: string, op: 'maxpool' | 'avgpool', x: string, kernel: number, stride: number, pad: number, countIncludePad = true): string {
    return this.add(name, { op, kernel, stride, pads: [pad, pad, pad, pad], countIncludePad }, [x], this.channels(x));
  }

  resize(name: string, x: string, mode: 'nearest' | 'bilinear', to: { scale: number } | { like: string }): string {
    const inputs = 'like' in to ? [x, to.like] : [x];
    const attrs: ResizeAttrs = 'scale' in to ? { op: 'resize', mode, scale: to.scale } : { op: 'resize', mode };
    return this.add(name, attrs, inputs, this.channels(x));
  }

  argmax(name: string, x: string): string {
    return this.add(name, { op: 'argmax' }, [x], 1);
  }
}

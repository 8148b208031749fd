/**
 * The TensorFlow.js layers-model emitter: a Keras functional topology (model.json,
 * `format: "layers-model"`) plus weight shards, written from the IR and canonical weights.
 * Loadable with `tf.loadLayersModel` once `registerBisenetLayers()` (src/tfjs-custom-layers.ts) has run.
 *
 * Each trap of the reference doc has its form here:
 *   - bilinear ×k, align_corners=False: custom layer `BisenetResize` (half-pixel centres);
 *     UpSampling2D's bilinear is not half-pixel, Resizing aligns corners.
 *   - nearest ×k: UpSampling2D nearest (resizeNearestNeighbor, alignCorners=false,
 *     halfPixelCenters=false: floor(dst·in/out), as PyTorch).
 *   - 3×3 stride-2 convs and pools: ZeroPadding2D with the IR's pads + 'valid' (TF 'same' pads
 *     bottom/right only on even sizes). A max-pool's zero padding is exact only where its input is
 *     ≥ 0 and each window holds a real element, which the emitter checks (the stem pool reads a ReLU).
 *   - AvgPool count_include_pad=True: ZeroPadding2D + 'valid' AveragePooling2D.
 *   - BatchNorm: folded into the preceding conv; the CE block's BatchNormalization keeps eps 1e-5.
 *   - global average pool: GlobalAveragePooling2D + Reshape to 1×1×C (keepdims).
 *   - weights: OIHW → HWIO, depthwise (C·m,1,k,k) → (k,k,C,m).
 * Ops that are one layer of a fixed config (activations, add, multiply, concatenate) are rows of
 * ./ops.ts; the others are the code paths below.
 */
import type { WeightMap } from '../ir/fold.js';
import { PRODUCER } from '../util/version.js';
import type { Graph, Node } from '../ir/graph.js';
import { fail } from '../util/errors.js';
import { exposedTensors } from './expose.js';
import {
  emittedNodes, encodeWeights, EXCLUSIVE_POOL_LAYER_CLASS, modelFiles, modelMetadata, METADATA_KEY, padPlan, prepareGraph, RESIZE_LAYER_CLASS,
  tfKernel, type PadPlan, type PreparedGraph, type TfjsEmitOptions, type TfjsWeight,
} from './tfjs-common.js';
import { lower, type CodePaths, type TfjsLayersRow } from './ops.js';

export type { TfjsEmitOptions } from './tfjs-common.js';

/** Keras layer JSON in the functional-model format tfjs-layers deserializes. */
interface KerasLayer {
  class_name: string;
  config: Record<string, unknown>;
  name: string;
  inbound_nodes: [string, number, number, Record<string, never>][][];
}

interface Ctx {
  layers: KerasLayer[];
  weights: TfjsWeight[];
  prepared: PreparedGraph;
  names: Set<string>;
}

function addLayer(ctx: Ctx, className: string, name: string, inputs: string[], config: Record<string, unknown>): string {
  if (ctx.names.has(name)) throw new Error(`duplicate layer name ${name}`);
  if (!/^[A-Za-z0-9][-A-Za-z0-9._]*$/.test(name)) throw new Error(`layer name ${name} is not a valid tfjs tensor name`);
  ctx.names.add(name);
  ctx.layers.push({
    class_name: className,
    config: { name, trainable: false, dtype: 'float32', ...config },
    name,
    inbound_nodes: inputs.length ? [inputs.map((i) => [i, 0, 0, {}])] : [],
  });
  return name;
}

const weight = (name: string, shape: number[], data: Float32Array): TfjsWeight => ({ name, shape, dtype: 'float32', data, quantizable: true });

/** An explicit ZeroPadding2D in front of a 'valid' op, unless the plan is 'valid' or an exact 'same'. */
function padded(ctx: Ctx, n: Node, x: string, plan: PadPlan): { x: string; padding: 'valid' | 'same' } {
  if (plan.kind !== 'explicit') return { x, padding: plan.kind };
  const [t, l, b, r] = plan.pads;
  const p = addLayer(ctx, 'ZeroPadding2D', `${n.name}.pad`, [x], { padding: [[t, b], [l, r]], data_format: 'channels_last' });
  return { x: p, padding: 'valid' };
}

/** A node's inputs as emitted tensors (a fused ReLU's input is its conv). */
interface Io { ins: string[] }
type Handlers = CodePaths<'tfjs-layers', Ctx, Io>;

const conv: Handlers['conv'] = (ctx, n, { ins: [x] }) => {
  const a = n.attrs;
  const w = ctx.prepared.weights;
  const k = tfKernel(n.name, a, w.get(`${n.name}.weight`)!);
  const p = padded(ctx, n, x!, padPlan(a.kernel, a.stride, a.pads));
  const activation = ctx.prepared.convActivation.get(n.name) ?? 'linear';
  const common = {
    kernel_size: [a.kernel, a.kernel], strides: [a.stride, a.stride], padding: p.padding, data_format: 'channels_last',
    dilation_rate: [1, 1], activation, use_bias: a.bias,
  };
  if (k.kind === 'plain') {
    addLayer(ctx, 'Conv2D', n.name, [p.x], { filters: a.outChannels, ...common });
    ctx.weights.push(weight(`${n.name}/kernel`, k.shape, k.data));
  } else {
    addLayer(ctx, 'DepthwiseConv2D', n.name, [p.x], { depth_multiplier: a.outChannels / a.inChannels, ...common });
    ctx.weights.push(weight(`${n.name}/depthwise_kernel`, k.shape, k.data));
  }
  if (a.bias) ctx.weights.push(weight(`${n.name}/bias`, [a.outChannels], w.get(`${n.name}.bias`)!));
};

const pool: Handlers['maxpool' | 'avgpool'] = (ctx, n, { ins: [x] }) => {
  const a = n.attrs;
  const plan = padPlan(a.kernel, a.stride, a.pads);
  if (a.op === 'avgpool' && !a.countIncludePad && plan.kind !== 'valid') {
    // Keras' 'same' pooling excludes padding but pads bottom/right only; our custom layer pads as asked.
    addLayer(ctx, EXCLUSIVE_POOL_LAYER_CLASS, n.name, [x!], { poolSize: a.kernel, strides: a.stride, pads: a.pads });
    return;
  }
  if (a.op === 'maxpool' && plan.kind !== 'valid' && !ctx.prepared.nonNegative.has(n.inputs[0]!)) {
    fail('usage', `${n.name}: the layers format pads a max-pool with zeros, exact only on a ReLU output; this input is not one (use --to tfjs-graph)`);
  }
  // Pools never use 'same': it excludes padding from averages (and pads max-pools bottom/right
  // only when strided), so any padding is explicit.
  const p = padded(ctx, n, x!, plan.kind === 'valid' ? plan : { kind: 'explicit', pads: a.pads });
  addLayer(ctx, a.op === 'maxpool' ? 'MaxPooling2D' : 'AveragePooling2D', n.name, [p.x], {
    pool_size: [a.kernel, a.kernel], strides: [a.stride, a.stride], padding: 'valid', data_format: 'channels_last',
  });
};

/** The ops lowered in code; the others are rows of ./ops.ts. */
export const TFJS_LAYERS_CODE_PATHS: Handlers = {
  conv,
  batchnorm: (ctx, n, { ins: [x] }) => {
    const a = n.attrs;
    const w = ctx.prepared.weights;
    addLayer(ctx, 'BatchNormalization', n.name, [x!], { axis: -1, momentum: 0.99, epsilon: a.eps, center: true, scale: true });
    ctx.weights.push(
      weight(`${n.name}/gamma`, [a.channels], w.get(`${n.name}.weight`)!),
      weight(`${n.name}/beta`, [a.channels], w.get(`${n.name}.bias`)!),
      weight(`${n.name}/moving_mean`, [a.channels], w.get(`${n.name}.running_mean`)!),
      weight(`${n.name}/moving_variance`, [a.channels], w.get(`${n.name}.running_var`)!),
    );
  },
  maxpool: pool,
  avgpool: pool,
  resize: (ctx, n, { ins }) => {
    const a = n.attrs;
    if (a.mode === 'nearest' && a.scale !== undefined && Number.isInteger(a.scale)) {
      addLayer(ctx, 'UpSampling2D', n.name, [ins[0]!], { size: [a.scale, a.scale], data_format: 'channels_last', interpolation: 'nearest' });
      return;
    }
    addLayer(ctx, RESIZE_LAYER_CLASS, n.name, ins, {
      interpolation: a.mode, ...(a.scale !== undefined ? { scale: a.scale } : {}),
      align_corners: false, half_pixel_centers: a.mode === 'bilinear',
    });
  },
  globalavgpool: (ctx, n, { ins: [x] }) => {
    const gap = addLayer(ctx, 'GlobalAveragePooling2D', `${n.name}.mean`, [x!], { data_format: 'channels_last' });
    addLayer(ctx, 'Reshape', n.name, [gap], { target_shape: [1, 1, ctx.prepared.channels.get(n.name)!] });
  },
  argmax: () => fail('usage', 'the layers format has no argmax layer: take tf.argMax(logits, -1) in the app, or convert with --to tfjs-graph for a labels output'),
};

/** A row of ./ops.ts: one layer on the inputs. */
const row = (ctx: Ctx, n: Node, r: TfjsLayersRow, { ins }: Io): void => { addLayer(ctx, r.className, n.name, ins, r.config); };

const emitNode = (ctx: Ctx, n: Node, tensor: (t: string) => string): void =>
  lower('tfjs-layers', TFJS_LAYERS_CODE_PATHS, row, ctx, n, { ins: n.inputs.map(tensor) });

/** Emits a layers model: the files of its directory (model.json and weight shards). */
export function emitTfjsLayers(graph: Graph, weights: WeightMap, opts: TfjsEmitOptions = {}): Map<string, Uint8Array> {
  const prepared = prepareGraph(graph, weights);
  const ctx: Ctx = { layers: [], weights: [], prepared, names: new Set() };
  addLayer(ctx, 'InputLayer', graph.input.name, [], { batch_input_shape: [null, null, null, graph.input.channels], sparse: false });
  const { nodes, tensor } = emittedNodes(prepared);
  for (const n of nodes) emitNode(ctx, n, tensor);
  const outputs = prepared.graph.outputs.map((o) => {
    // A model's outputs are layers; where the output's tensor has another name, a linear
    // Activation gives it the output's name (BiSeNetV2's outputs are resizes of their own names).
    const t = tensor(o.tensor);
    const layer = t === o.name ? t : addLayer(ctx, 'Activation', o.name, [t], { activation: 'linear' });
    return [layer, 0, 0] as [string, number, number];
  });
  const exposed = exposedTensors(prepared.graph, nodes.map((n) => n.name), opts.expose, 'tfjs-layers');
  for (const t of exposed) outputs.push([t, 0, 0]);
  const metadata = modelMetadata(graph, opts, PRODUCER);
  if (exposed.length) metadata.outputs = [...metadata.outputs, ...exposed];
  const { manifest, files } = encodeWeights(ctx.weights, opts);
  const modelJson = {
    format: 'layers-model',
    generatedBy: PRODUCER,
    convertedBy: PRODUCER,
    modelTopology: {
      class_name: 'Functional',
      config: { name: graph.name, layers: ctx.layers, input_layers: [[graph.input.name, 0, 0]], output_layers: outputs },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: manifest,
    userDefinedMetadata: { [METADATA_KEY]: metadata },
  };
  return modelFiles(modelJson, files);
}

import { GraphBuilder, type Graph, type Pads } from '../ir/graph.js';

/**
 * BiSeNet V2 (Yu et al., IJCV 2021), described once as data. The families users hold checkpoints of
 * differ in a few behaviours, which are options of this one description rather than copies of it.
 *
 * Canonical names (what every layout table in src/port/ maps onto):
 *   detail.stage{1,2,3}.{i}                         ConvBNReLU units of the Detail Branch
 *   semantic.stem.{conv,left.0,left.1,fuse}         Stem block; semantic.stem.pool is its max-pool
 *   semantic.stage{3,4,5}.{i}.{conv1,dw,dw1,dw2,project,shortcut.dw,shortcut.pw}   GE layers
 *   semantic.context.{bn,gap_conv,last_conv}        Context Embedding block
 *   bga.{detail_dw,detail_pw,detail_down,semantic_conv,semantic_dw,semantic_pw,out}
 *   head.{conv,classifier}                          Segmentation head
 *   booster.aux{2,3,4,5_4}.{conv,up_conv,classifier}  Booster (aux) heads, training-time only
 * A unit `u` has parameters `u.conv.weight` (+ `u.conv.bias`) and `u.bn.{weight,bias,running_mean,running_var}`;
 * a plain classifier conv has `u.conv.weight` and `u.conv.bias`.
 */

export type Family = 'coincheung' | 'mmseg' | 'paddleseg';

export interface Variant {
  family: Family;
  /** Every conv carries a bias, also before BatchNorm (Paddle's Conv2D default). */
  convBias: boolean;
  /** Padding of 3×3 stride-2 convs: PyTorch's symmetric 1, or Paddle 'same' on even sizes (0 top/left, 1 bottom/right). */
  stride2Pads: Pads;
  /** ReLU after the GE layers' depthwise convs (CoinCheung, mmseg) or not (PaddleSeg). */
  geDepthwiseRelu: boolean;
  /** The CE block ends in ConvBNReLU, or in a plain 3×3 conv with bias (PaddleSeg). */
  contextLast: 'conv-bn-relu' | 'conv';
  /** How the BGA layer brings the 1/32 semantic features to the 1/8 detail size. */
  bgaUpsample: 'nearest' | 'bilinear';
  /** The BGA 1×1 convs after the depthwise convs carry a bias (mmcv ConvModule without norm; Paddle). */
  bgaPointwiseBias: boolean;
  /** The BGA average pool counts the zero padding (PyTorch default) or excludes it (Paddle's exclusive=True). */
  bgaPoolCountIncludePad: boolean;
  /** ReLU after the BGA output conv (absent in PaddleSeg). */
  bgaOutRelu: boolean;
  /** Mid width of the segmentation head. */
  headChannels: number;
  /** The head's final upsampling: ×8 by scale, or bilinear to the input's size. */
  headUpsample: 'scale' | 'like-input';
  /**
   * Booster heads: CoinCheung's (conv, nearest ×2, conv to up², classifier, bilinear ×up/2), or FCN-style
   * heads (`convs` ConvBNReLU of `channels[i]`, classifier, bilinear to the input size) as mmseg and Paddle have.
   */
  booster: { style: 'coincheung' } | { style: 'fcn'; channels: [number, number, number, number]; convs: 1 | 2 };
}

const SYMMETRIC: Pads = [1, 1, 1, 1];
export const VARIANTS: Record<Family, Variant> = {
  coincheung: {
    family: 'coincheung', convBias: false, stride2Pads: SYMMETRIC, geDepthwiseRelu: true, contextLast: 'conv-bn-relu',
    bgaUpsample: 'nearest', bgaPointwiseBias: false, bgaPoolCountIncludePad: true, bgaOutRelu: true,
    headChannels: 1024, headUpsample: 'scale', booster: { style: 'coincheung' },
  },
  mmseg: {
    family: 'mmseg', convBias: false, stride2Pads: SYMMETRIC, geDepthwiseRelu: true, contextLast: 'conv-bn-relu',
    bgaUpsample: 'bilinear', bgaPointwiseBias: true, bgaPoolCountIncludePad: true, bgaOutRelu: true,
    headChannels: 1024, headUpsample: 'like-input', booster: { style: 'fcn', channels: [16, 64, 256, 1024], convs: 2 },
  },
  paddleseg: {
    family: 'paddleseg', convBias: true, stride2Pads: [0, 0, 1, 1], geDepthwiseRelu: false, contextLast: 'conv',
    bgaUpsample: 'bilinear', bgaPointwiseBias: true, bgaPoolCountIncludePad: false, bgaOutRelu: false,
    headChannels: 128, headUpsample: 'like-input', booster: { style: 'fcn', channels: [16, 32, 64, 128], convs: 1 },
  },
};

export interface BisenetV2Options {
  numClasses: number;
  /** Include the four booster heads as extra outputs aux2, aux3, aux4, aux5_4. */
  aux?: boolean;
  /** Add a `labels` output: argmax over classes (int64 N×H×W). */
  labels?: boolean;
  family?: Family;
}

export const AUX_OUTPUTS = ['aux2', 'aux3', 'aux4', 'aux5_4'] as const;
export const BN_EPS = 1e-5;

type ConvOpts = { kernel: number; stride?: number; groups?: number; relu?: boolean };

/** Builds one variant: the helpers below close over it, so each family's behaviour is decided in one place. */
function builder(g: GraphBuilder, v: Variant) {
  /** Conv → BatchNorm (→ ReLU): the unit everything here is built from. */
  const convBn = (unit: string, x: string, out: number, o: ConvOpts): string => {
    const stride = o.stride ?? 1;
    const pads = stride === 2 && o.kernel === 3 ? v.stride2Pads : undefined;
    const conv = g.conv(`${unit}.conv`, x, out, { kernel: o.kernel, stride, groups: o.groups, pads, bias: v.convBias });
    const bn = g.batchnorm(`${unit}.bn`, conv, BN_EPS);
    return o.relu === false ? bn : g.unary(`${unit}.relu`, 'relu', bn);
  };
  const plainConv = (unit: string, x: string, out: number, kernel: number, bias: boolean): string =>
    g.conv(`${unit}.conv`, x, out, { kernel, bias });

  const detailBranch = (x: string): string => {
    const stages: [number, number][] = [[64, 2], [64, 3], [128, 3]];
    let y = x;
    stages.forEach(([ch, repeats], s) => {
      for (let i = 0; i < repeats; i++) y = convBn(`detail.stage${s + 1}.${i}`, y, ch, { kernel: 3, stride: i === 0 ? 2 : 1 });
    });
    return y;
  };

  const stem = (x: string): string => {
    const p = 'semantic.stem';
    const c = convBn(`${p}.conv`, x, 16, { kernel: 3, stride: 2 });
    const l0 = convBn(`${p}.left.0`, c, 8, { kernel: 1 });
    const l1 = convBn(`${p}.left.1`, l0, 16, { kernel: 3, stride: 2 });
    const r = g.pool(`${p}.pool`, 'maxpool', c, 3, 2, 1);
    return convBn(`${p}.fuse`, g.concat(`${p}.concat`, [l1, r]), 16, { kernel: 3 });
  };

  /** Gather-and-Expand layer, stride 1: residual over a depthwise expansion ×6. */
  const geStride1 = (p: string, x: string): string => {
    const c = g.channels(x);
    const a = convBn(`${p}.conv1`, x, c, { kernel: 3 });
    const b = convBn(`${p}.dw`, a, 6 * c, { kernel: 3, groups: c, relu: v.geDepthwiseRelu });
    const d = convBn(`${p}.project`, b, c, { kernel: 1, relu: false });
    return g.unary(`${p}.relu`, 'relu', g.binary(`${p}.add`, 'add', d, x));
  };

  /** Gather-and-Expand layer, stride 2, with a depthwise-separable shortcut. */
  const geStride2 = (p: string, x: string, out: number): string => {
    const c = g.channels(x);
    const a = convBn(`${p}.conv1`, x, c, { kernel: 3 });
    const b = convBn(`${p}.dw1`, a, 6 * c, { kernel: 3, stride: 2, groups: c, relu: false });
    const b2 = convBn(`${p}.dw2`, b, 6 * c, { kernel: 3, groups: 6 * c, relu: v.geDepthwiseRelu });
    const d = convBn(`${p}.project`, b2, out, { kernel: 1, relu: false });
    const s1 = convBn(`${p}.shortcut.dw`, x, c, { kernel: 3, stride: 2, groups: c, relu: false });
    const s2 = convBn(`${p}.shortcut.pw`, s1, out, { kernel: 1, relu: false });
    return g.unary(`${p}.relu`, 'relu', g.binary(`${p}.add`, 'add', d, s2));
  };

  const geStage = (p: string, x: string, out: number, stride1Repeats: number): string => {
    let y = geStride2(`${p}.0`, x, out);
    for (let i = 1; i <= stride1Repeats; i++) y = geStride1(`${p}.${i}`, y);
    return y;
  };

  const contextEmbedding = (x: string): string => {
    const p = 'semantic.context';
    const gap = g.unary(`${p}.gap`, 'globalavgpool', x);
    const bn = g.batchnorm(`${p}.bn`, gap, BN_EPS);
    const ctx = convBn(`${p}.gap_conv`, bn, g.channels(x), { kernel: 1 });
    const sum = g.binary(`${p}.add`, 'add', ctx, x);
    return v.contextLast === 'conv' ? plainConv(`${p}.last_conv`, sum, g.channels(x), 3, true) : convBn(`${p}.last_conv`, sum, g.channels(x), { kernel: 3 });
  };

  const bga = (detail: string, semantic: string): string => {
    const p = 'bga';
    const ch = g.channels(detail);
    const up = (name: string, x: string): string =>
      v.bgaUpsample === 'nearest' ? g.resize(name, x, 'nearest', { scale: 4 }) : g.resize(name, x, 'bilinear', { like: detail });
    const detailKeep = plainConv(`${p}.detail_pw`, convBn(`${p}.detail_dw`, detail, ch, { kernel: 3, groups: ch, relu: false }), ch, 1, v.bgaPointwiseBias);
    const detailDown = g.pool(`${p}.detail_pool`, 'avgpool', convBn(`${p}.detail_down`, detail, ch, { kernel: 3, stride: 2, relu: false }), 3, 2, 1, v.bgaPoolCountIncludePad);
    const semanticUp = convBn(`${p}.semantic_conv`, semantic, ch, { kernel: 3, relu: false });
    const semanticKeep = plainConv(`${p}.semantic_pw`, convBn(`${p}.semantic_dw`, semantic, ch, { kernel: 3, groups: ch, relu: false }), ch, 1, v.bgaPointwiseBias);
    const left = g.binary(`${p}.left`, 'mul', detailKeep, g.unary(`${p}.semantic_gate`, 'sigmoid', up(`${p}.semantic_up`, semanticUp)));
    const right = up(`${p}.right_up`, g.binary(`${p}.right`, 'mul', detailDown, g.unary(`${p}.detail_gate`, 'sigmoid', semanticKeep)));
    return convBn(`${p}.out`, g.binary(`${p}.sum`, 'add', left, right), ch, { kernel: 3, relu: v.bgaOutRelu });
  };

  const segmentHead = (x: string, numClasses: number, input: string): string => {
    const mid = convBn('head.conv', x, v.headChannels, { kernel: 3 });
    const cls = plainConv('head.classifier', mid, numClasses, 1, true);
    return v.headUpsample === 'scale' ? g.resize('logits', cls, 'bilinear', { scale: 8 }) : g.resize('logits', cls, 'bilinear', { like: input });
  };

  /** Booster head `index` (0..3) on a feature with total stride `up`, back to the input size. */
  const boosterHead = (name: string, index: number, x: string, up: number, numClasses: number, input: string): string => {
    const p = `booster.${name}`;
    const b = v.booster;
    if (b.style === 'coincheung') {
      const a = convBn(`${p}.conv`, x, 128, { kernel: 3 });
      const c = convBn(`${p}.up_conv`, g.resize(`${p}.up`, a, 'nearest', { scale: 2 }), up * up, { kernel: 3 });
      return g.resize(name, plainConv(`${p}.classifier`, c, numClasses, 1, true), 'bilinear', { scale: up / 2 });
    }
    let y = convBn(`${p}.conv`, x, b.channels[index]!, { kernel: 3 });
    if (b.convs === 2) y = convBn(`${p}.conv2`, y, b.channels[index]!, { kernel: 3 });
    return g.resize(name, plainConv(`${p}.classifier`, y, numClasses, 1, true), 'bilinear', { like: input });
  };

  return { detailBranch, stem, geStage, contextEmbedding, bga, segmentHead, boosterHead };
}

export function bisenetv2(opts: BisenetV2Options): Graph {
  const family = opts.family ?? 'coincheung';
  const v = VARIANTS[family];
  if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) throw new Error(`numClasses must be a positive integer, got ${opts.numClasses}`);
  const g = new GraphBuilder('input', 3);
  const m = builder(g, v);
  const detail = m.detailBranch('input');
  const stemOut = m.stem('input');
  const s3 = m.geStage('semantic.stage3', stemOut, 32, 1);
  const s4 = m.geStage('semantic.stage4', s3, 64, 1);
  const s5 = m.geStage('semantic.stage5', s4, 128, 3);
  const ctx = m.contextEmbedding(s5);
  const logits = m.segmentHead(m.bga(detail, ctx), opts.numClasses, 'input');
  const outputs = [g.output('logits', logits)];
  if (opts.labels) outputs.push(g.output('labels', g.argmax('labels', logits)));
  if (opts.aux) {
    const taps: [typeof AUX_OUTPUTS[number], string, number][] = [['aux2', stemOut, 4], ['aux3', s3, 8], ['aux4', s4, 16], ['aux5_4', s5, 32]];
    taps.forEach(([name, tap, up], i) => outputs.push(g.output(name, m.boosterHead(name, i, tap, up, opts.numClasses, 'input'))));
  }
  return {
    name: `bisenetv2-${family}`,
    input: { name: 'input', channels: 3 },
    outputs,
    nodes: g.nodes,
    sizeMultiple: 32,
    metadata: { family, num_classes: String(opts.numClasses) },
  };
}

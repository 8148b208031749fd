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
  /** How the BGA layer brings the 1/32 semantic features to the 1/8 detail size. */
  bgaUpsample: 'nearest' | 'bilinear';
  /** The BGA 1×1 convs after the depthwise convs carry a bias (mmcv ConvModule without norm). */
  bgaPointwiseBias: boolean;
  /** Mid width of the segmentation head. */
  headChannels: number;
  /** The head's final upsampling: ×8 by scale, or bilinear to the input's size. */
  headUpsample: 'scale' | 'like-input';
}

export const VARIANTS: Record<Family, Variant> = {
  coincheung: { family: 'coincheung', bgaUpsample: 'nearest', bgaPointwiseBias: false, headChannels: 1024, headUpsample: 'scale' },
  mmseg: { family: 'mmseg', bgaUpsample: 'bilinear', bgaPointwiseBias: true, headChannels: 1024, headUpsample: 'like-input' },
  paddleseg: { family: 'paddleseg', bgaUpsample: 'bilinear', bgaPointwiseBias: true, headChannels: 128, headUpsample: 'scale' },
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

type ConvOpts = { kernel: number; stride?: number; groups?: number; relu?: boolean; pads?: Pads; bias?: boolean };

/** Conv → BatchNorm (→ ReLU): the unit everything here is built from. */
function convBn(g: GraphBuilder, unit: string, x: string, out: number, o: ConvOpts): string {
  const conv = g.conv(`${unit}.conv`, x, out, { kernel: o.kernel, stride: o.stride, groups: o.groups, pads: o.pads, bias: o.bias });
  const bn = g.batchnorm(`${unit}.bn`, conv, BN_EPS);
  return o.relu === false ? bn : g.unary(`${unit}.relu`, 'relu', bn);
}

function plainConv(g: GraphBuilder, unit: string, x: string, out: number, kernel: number, bias: boolean): string {
  return g.conv(`${unit}.conv`, x, out, { kernel, bias });
}

function detailBranch(g: GraphBuilder, x: string): string {
  const stages: [number, number][] = [[64, 2], [64, 3], [128, 3]];
  let y = x;
  stages.forEach(([ch, repeats], s) => {
    for (let i = 0; i < repeats; i++) y = convBn(g, `detail.stage${s + 1}.${i}`, y, ch, { kernel: 3, stride: i === 0 ? 2 : 1 });
  });
  return y;
}

function stem(g: GraphBuilder, x: string): string {
  const p = 'semantic.stem';
  const c = convBn(g, `${p}.conv`, x, 16, { kernel: 3, stride: 2 });
  const l0 = convBn(g, `${p}.left.0`, c, 8, { kernel: 1 });
  const l1 = convBn(g, `${p}.left.1`, l0, 16, { kernel: 3, stride: 2 });
  const r = g.pool(`${p}.pool`, 'maxpool', c, 3, 2, 1);
  return convBn(g, `${p}.fuse`, g.concat(`${p}.concat`, [l1, r]), 16, { kernel: 3 });
}

/** Gather-and-Expand layer, stride 1: residual over a depthwise expansion ×6. */
function geStride1(g: GraphBuilder, p: string, x: string): string {
  const c = g.channels(x);
  const a = convBn(g, `${p}.conv1`, x, c, { kernel: 3 });
  const b = convBn(g, `${p}.dw`, a, 6 * c, { kernel: 3, groups: c });
  const d = convBn(g, `${p}.project`, b, c, { kernel: 1, relu: false });
  return g.unary(`${p}.relu`, 'relu', g.binary(`${p}.add`, 'add', d, x));
}

/** Gather-and-Expand layer, stride 2, with a depthwise-separable shortcut. */
function geStride2(g: GraphBuilder, p: string, x: string, out: number): string {
  const c = g.channels(x);
  const a = convBn(g, `${p}.conv1`, x, c, { kernel: 3 });
  const b = convBn(g, `${p}.dw1`, a, 6 * c, { kernel: 3, stride: 2, groups: c, relu: false });
  const b2 = convBn(g, `${p}.dw2`, b, 6 * c, { kernel: 3, groups: 6 * c });
  const d = convBn(g, `${p}.project`, b2, out, { kernel: 1, relu: false });
  const s1 = convBn(g, `${p}.shortcut.dw`, x, c, { kernel: 3, stride: 2, groups: c, relu: false });
  const s2 = convBn(g, `${p}.shortcut.pw`, s1, out, { kernel: 1, relu: false });
  return g.unary(`${p}.relu`, 'relu', g.binary(`${p}.add`, 'add', d, s2));
}

function geStage(g: GraphBuilder, p: string, x: string, out: number, stride1Repeats: number): string {
  let y = geStride2(g, `${p}.0`, x, out);
  for (let i = 1; i <= stride1Repeats; i++) y = geStride1(g, `${p}.${i}`, y);
  return y;
}

function contextEmbedding(g: GraphBuilder, x: string): string {
  const p = 'semantic.context';
  const gap = g.unary(`${p}.gap`, 'globalavgpool', x);
  const bn = g.batchnorm(`${p}.bn`, gap, BN_EPS);
  const ctx = convBn(g, `${p}.gap_conv`, bn, g.channels(x), { kernel: 1 });
  return convBn(g, `${p}.last_conv`, g.binary(`${p}.add`, 'add', ctx, x), g.channels(x), { kernel: 3 });
}

function bga(g: GraphBuilder, v: Variant, detail: string, semantic: string): string {
  const p = 'bga';
  const ch = g.channels(detail);
  const up = (name: string, x: string): string =>
    v.bgaUpsample === 'nearest' ? g.resize(name, x, 'nearest', { scale: 4 }) : g.resize(name, x, 'bilinear', { like: detail });
  const detailKeep = plainConv(g, `${p}.detail_pw`, convBn(g, `${p}.detail_dw`, detail, ch, { kernel: 3, groups: ch, relu: false }), ch, 1, v.bgaPointwiseBias);
  const detailDown = g.pool(`${p}.detail_pool`, 'avgpool', convBn(g, `${p}.detail_down`, detail, ch, { kernel: 3, stride: 2, relu: false }), 3, 2, 1, true);
  const semanticUp = convBn(g, `${p}.semantic_conv`, semantic, ch, { kernel: 3, relu: false });
  const semanticKeep = plainConv(g, `${p}.semantic_pw`, convBn(g, `${p}.semantic_dw`, semantic, ch, { kernel: 3, groups: ch, relu: false }), ch, 1, v.bgaPointwiseBias);
  const left = g.binary(`${p}.left`, 'mul', detailKeep, g.unary(`${p}.semantic_gate`, 'sigmoid', up(`${p}.semantic_up`, semanticUp)));
  const right = up(`${p}.right_up`, g.binary(`${p}.right`, 'mul', detailDown, g.unary(`${p}.detail_gate`, 'sigmoid', semanticKeep)));
  return convBn(g, `${p}.out`, g.binary(`${p}.sum`, 'add', left, right), ch, { kernel: 3 });
}

function segmentHead(g: GraphBuilder, v: Variant, x: string, numClasses: number, input: string): string {
  const mid = convBn(g, 'head.conv', x, v.headChannels, { kernel: 3 });
  const cls = plainConv(g, 'head.classifier', mid, numClasses, 1, true);
  return v.headUpsample === 'scale' ? g.resize('logits', cls, 'bilinear', { scale: 8 }) : g.resize('logits', cls, 'bilinear', { like: input });
}

/** Booster head on an intermediate feature with total upsampling `up` back to input size. */
function boosterHead(g: GraphBuilder, name: string, x: string, up: number, numClasses: number): string {
  const p = `booster.${name}`;
  const a = convBn(g, `${p}.conv`, x, 128, { kernel: 3 });
  const b = convBn(g, `${p}.up_conv`, g.resize(`${p}.up`, a, 'nearest', { scale: 2 }), up * up, { kernel: 3 });
  const cls = plainConv(g, `${p}.classifier`, b, numClasses, 1, true);
  return g.resize(name, cls, 'bilinear', { scale: up / 2 });
}

export function bisenetv2(opts: BisenetV2Options): Graph {
  const family = opts.family ?? 'coincheung';
  const v = VARIANTS[family];
  if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) throw new Error(`numClasses must be a positive integer, got ${opts.numClasses}`);
  const g = new GraphBuilder('input', 3);
  const detail = detailBranch(g, 'input');
  const stemOut = stem(g, 'input');
  const s3 = geStage(g, 'semantic.stage3', stemOut, 32, 1);
  const s4 = geStage(g, 'semantic.stage4', s3, 64, 1);
  const s5 = geStage(g, 'semantic.stage5', s4, 128, 3);
  const ctx = contextEmbedding(g, s5);
  const logits = segmentHead(g, v, bga(g, v, detail, ctx), opts.numClasses, 'input');
  const outputs = [{ name: 'logits', tensor: logits }];
  if (opts.labels) outputs.push({ name: 'labels', tensor: g.argmax('labels', logits) });
  if (opts.aux) {
    const taps: [typeof AUX_OUTPUTS[number], string, number][] = [['aux2', stemOut, 4], ['aux3', s3, 8], ['aux4', s4, 16], ['aux5_4', s5, 32]];
    for (const [name, tap, up] of taps) outputs.push({ name, tensor: boosterHead(g, name, tap, up, opts.numClasses) });
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

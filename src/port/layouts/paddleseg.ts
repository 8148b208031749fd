import type { LayoutTable } from '../layout.js';

/**
 * PaddleSeg: `model.pdparams`, a pickle of name → numpy array (paddleseg/models/bisenet.py). Layers
 * are ConvBN/ConvBNReLU (`_conv`, `_batch_norm` with `_mean`/`_variance`), DepthwiseConvBN
 * (`depthwise_conv._conv` …); the Detail Branch is one flat Sequential `db.convs.0..7`.
 */
const bn = (from: string, to: string): [string, string] => [from, to];
export const paddleseg: LayoutTable = {
  family: 'paddleseg',
  description: 'PaddleSeg (model.pdparams: pickled numpy arrays)',
  units: [
    bn('detail\\.stage1\\.0\\.(.*)', 'db.convs.0.$1'),
    bn('detail\\.stage1\\.1\\.(.*)', 'db.convs.1.$1'),
    bn('detail\\.stage2\\.0\\.(.*)', 'db.convs.2.$1'),
    bn('detail\\.stage2\\.1\\.(.*)', 'db.convs.3.$1'),
    bn('detail\\.stage2\\.2\\.(.*)', 'db.convs.4.$1'),
    bn('detail\\.stage3\\.0\\.(.*)', 'db.convs.5.$1'),
    bn('detail\\.stage3\\.1\\.(.*)', 'db.convs.6.$1'),
    bn('detail\\.stage3\\.2\\.(.*)', 'db.convs.7.$1'),
    ['semantic\\.stem\\.(conv|fuse)\\.(.*)', 'sb.stem.$1.$2'],
    ['semantic\\.stem\\.left\\.(\\d)\\.(.*)', 'sb.stem.left.$1.$2'],
    ['semantic\\.stage5\\.(.*)', 'sb.stage5_4.$1'],
    ['semantic\\.stage([34])\\.(.*)', 'sb.stage$1.$2'],
    // GE stride 2 (layer 0 of a stage): branch_1 = conv1, dw1, dw2, project; branch_2 = shortcut dw, pw.
    ['(sb\\.stage\\w+\\.0)\\.conv1\\.(.*)', '$1.branch_1.0.$2'],
    ['(sb\\.stage\\w+\\.0)\\.dw1\\.(.*)', '$1.branch_1.1.depthwise_conv.$2'],
    ['(sb\\.stage\\w+\\.0)\\.dw2\\.(.*)', '$1.branch_1.2.depthwise_conv.$2'],
    ['(sb\\.stage\\w+\\.0)\\.project\\.(.*)', '$1.branch_1.3.$2'],
    ['(sb\\.stage\\w+\\.0)\\.shortcut\\.dw\\.(.*)', '$1.branch_2.0.depthwise_conv.$2'],
    ['(sb\\.stage\\w+\\.0)\\.shortcut\\.pw\\.(.*)', '$1.branch_2.1.$2'],
    // GE stride 1: conv = conv1, dw, project.
    ['(sb\\.stage\\w+\\.[1-9])\\.conv1\\.(.*)', '$1.conv.0.$2'],
    ['(sb\\.stage\\w+\\.[1-9])\\.dw\\.(.*)', '$1.conv.1.depthwise_conv.$2'],
    ['(sb\\.stage\\w+\\.[1-9])\\.project\\.(.*)', '$1.conv.2.$2'],
    ['semantic\\.context\\.bn', 'sb.ce.bn'],
    ['semantic\\.context\\.gap_conv\\.(.*)', 'sb.ce.conv_1x1.$1'],
    ['semantic\\.context\\.last_conv\\.conv', 'sb.ce.conv_3x3'],
    ['bga\\.detail_dw\\.(.*)', 'bga.db_branch_keep.0.depthwise_conv.$1'],
    ['bga\\.detail_pw\\.conv', 'bga.db_branch_keep.1'],
    ['bga\\.detail_down\\.(.*)', 'bga.db_branch_down.0.$1'],
    ['bga\\.semantic_dw\\.(.*)', 'bga.sb_branch_keep.0.depthwise_conv.$1'],
    ['bga\\.semantic_pw\\.conv', 'bga.sb_branch_keep.1'],
    ['bga\\.semantic_conv\\.(.*)', 'bga.sb_branch_up.$1'],
    ['bga\\.out\\.(.*)', 'bga.conv.$1'],
    ['head\\.conv\\.(.*)', 'head.conv_3x3.0.$1'],
    ['head\\.classifier\\.conv', 'head.conv_1x1'],
    ['booster\\.aux2\\.(.*)', 'aux_head1.$1'],
    ['booster\\.aux3\\.(.*)', 'aux_head2.$1'],
    ['booster\\.aux4\\.(.*)', 'aux_head3.$1'],
    ['booster\\.aux5_4\\.(.*)', 'aux_head4.$1'],
    ['(aux_head\\d)\\.conv\\.(.*)', '$1.conv_3x3.0.$2'],
    ['(aux_head\\d)\\.classifier\\.conv', '$1.conv_1x1'],
    // Paddle's layer names inside ConvBN: the conv is `_conv`, the norm `_batch_norm`.
    ['(.*)\\.conv', '$1._conv'],
    ['(?!sb\\.ce\\.bn$)(.*)\\.bn', '$1._batch_norm'], // the CE block's own BatchNorm is plain `bn`
  ],
  fields: { weight: 'weight', bias: 'bias', running_mean: '_mean', running_var: '_variance' },
  ignoredKeys: ['^StructuredToParameterName@@'],
  boosterKeys: '^aux_head[1-4]\\.',
  classifierKey: 'head.conv_1x1.weight',
};

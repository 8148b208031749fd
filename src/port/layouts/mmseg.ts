import type { LayoutTable } from '../layout.js';

/**
 * mmsegmentation: `bisenetv2_fcn_*_cityscapes_*.pth`, `{meta, state_dict}`; backbone BiSeNetV2
 * (mmseg/models/backbones/bisenetv2.py) with mmcv ConvModule (`conv`, `bn`) and
 * DepthwiseSeparableConvModule (`depthwise_conv`, `pointwise_conv`), an FCN decode head and four
 * FCN auxiliary heads. Semantic stages are numbered from the stem: stage1 (stem) … stage4, stage4_CEBlock.
 */
export const mmseg: LayoutTable = {
  family: 'mmseg',
  description: 'mmsegmentation (BiSeNetV2 backbone + FCN heads, {meta, state_dict})',
  units: [
    ['detail\\.stage1\\.(.*)', 'backbone.detail.detail_branch.0.$1'],
    ['detail\\.stage2\\.(.*)', 'backbone.detail.detail_branch.1.$1'],
    ['detail\\.stage3\\.(.*)', 'backbone.detail.detail_branch.2.$1'],
    ['semantic\\.stem\\.conv\\.(conv|bn)', 'backbone.semantic.stage1.conv_first.$1'],
    ['semantic\\.stem\\.left\\.(\\d)\\.(conv|bn)', 'backbone.semantic.stage1.convs.$1.$2'],
    ['semantic\\.stem\\.fuse\\.(conv|bn)', 'backbone.semantic.stage1.fuse_last.$1'],
    ['semantic\\.stage3\\.(.*)', 'backbone.semantic.stage2.$1'],
    ['semantic\\.stage4\\.(.*)', 'backbone.semantic.stage3.$1'],
    ['semantic\\.stage5\\.(.*)', 'backbone.semantic.stage4.$1'],
    ['(backbone\\.semantic\\.stage\\d\\.\\d+)\\.(dw|dw1)\\.(conv|bn)', '$1.dwconv.0.$3'],
    ['(backbone\\.semantic\\.stage\\d\\.\\d+)\\.dw2\\.(conv|bn)', '$1.dwconv.1.$2'],
    ['(backbone\\.semantic\\.stage\\d\\.\\d+)\\.project\\.(conv|bn)', '$1.conv2.0.$2'],
    ['(backbone\\.semantic\\.stage\\d\\.\\d+)\\.shortcut\\.dw\\.(conv|bn)', '$1.shortcut.0.depthwise_conv.$2'],
    ['(backbone\\.semantic\\.stage\\d\\.\\d+)\\.shortcut\\.pw\\.(conv|bn)', '$1.shortcut.0.pointwise_conv.$2'],
    ['semantic\\.context\\.bn', 'backbone.semantic.stage4_CEBlock.gap.1'],
    ['semantic\\.context\\.gap_conv\\.(conv|bn)', 'backbone.semantic.stage4_CEBlock.conv_gap.$1'],
    ['semantic\\.context\\.last_conv\\.(conv|bn)', 'backbone.semantic.stage4_CEBlock.conv_last.$1'],
    ['bga\\.detail_dw\\.(conv|bn)', 'backbone.bga.detail_dwconv.0.depthwise_conv.$1'],
    ['bga\\.detail_pw\\.conv', 'backbone.bga.detail_dwconv.0.pointwise_conv.conv'],
    ['bga\\.detail_down\\.(conv|bn)', 'backbone.bga.detail_down.0.$1'],
    ['bga\\.semantic_conv\\.(conv|bn)', 'backbone.bga.semantic_conv.0.$1'],
    ['bga\\.semantic_dw\\.(conv|bn)', 'backbone.bga.semantic_dwconv.0.depthwise_conv.$1'],
    ['bga\\.semantic_pw\\.conv', 'backbone.bga.semantic_dwconv.0.pointwise_conv.conv'],
    ['bga\\.out\\.(conv|bn)', 'backbone.bga.conv.$1'],
    ['head\\.conv\\.(conv|bn)', 'decode_head.convs.0.$1'],
    ['head\\.classifier\\.conv', 'decode_head.conv_seg'],
    ['booster\\.aux2\\.(.*)', 'auxiliary_head.0.$1'],
    ['booster\\.aux3\\.(.*)', 'auxiliary_head.1.$1'],
    ['booster\\.aux4\\.(.*)', 'auxiliary_head.2.$1'],
    ['booster\\.aux5_4\\.(.*)', 'auxiliary_head.3.$1'],
    ['(auxiliary_head\\.\\d)\\.conv\\.(conv|bn)', '$1.convs.0.$2'],
    ['(auxiliary_head\\.\\d)\\.conv2\\.(conv|bn)', '$1.convs.1.$2'],
    ['(auxiliary_head\\.\\d)\\.classifier\\.conv', '$1.conv_seg'],
  ],
  fields: { weight: 'weight', bias: 'bias', running_mean: 'running_mean', running_var: 'running_var' },
  ignoredKeys: ['\\.num_batches_tracked$'],
  boosterKeys: '^auxiliary_head\\.',
  classifierKey: 'decode_head.conv_seg.weight',
};

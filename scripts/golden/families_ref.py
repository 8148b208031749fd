"""PyTorch references of the mmsegmentation and PaddleSeg variants of BiSeNetV2, written by this project
from the families' published code (mmseg/models/backbones/bisenetv2.py + FCNHead configs;
paddleseg/models/bisenet.py + layer_libs), with module names that give exactly the state-dict keys of the
families' real checkpoints: mmseg 385 entries (56 booster), PaddleSeg 356 (32 booster, `_mean`/`_variance`,
no num_batches_tracked). Used by make_family_goldens.py only.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- mmsegmentation (mmcv ConvModule names)
class ConvModule(nn.Module):
    """conv [+ bn] [+ relu]; bias only where there is no norm (mmcv bias='auto')."""

    def __init__(self, cin, cout, k, s=1, groups=1, norm=True, act=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=not norm)
        if norm:
            self.bn = nn.BatchNorm2d(cout)
        self.norm, self.act = norm, act

    def forward(self, x):
        x = self.conv(x)
        if self.norm:
            x = self.bn(x)
        return F.relu(x) if self.act else x


class DWSep(nn.Module):
    def __init__(self, cin, cout, s=1, dw_norm=True, pw_norm=True):
        super().__init__()
        self.depthwise_conv = ConvModule(cin, cin, 3, s, groups=cin, norm=dw_norm, act=False)
        self.pointwise_conv = ConvModule(cin, cout, 1, norm=pw_norm, act=False)

    def forward(self, x):
        return self.pointwise_conv(self.depthwise_conv(x))


class MMStem(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_first = ConvModule(3, 16, 3, 2)
        self.convs = nn.Sequential(ConvModule(16, 8, 1), ConvModule(8, 16, 3, 2))
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.fuse_last = ConvModule(32, 16, 3)

    def forward(self, x):
        x = self.conv_first(x)
        return self.fuse_last(torch.cat([self.convs(x), self.pool(x)], 1))


class MMGE(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        mid = cin * 6
        self.conv1 = ConvModule(cin, cin, 3)
        if stride == 1:
            self.dwconv = nn.Sequential(ConvModule(cin, mid, 3, 1, groups=cin))
            self.shortcut = None
        else:
            self.dwconv = nn.Sequential(ConvModule(cin, mid, 3, 2, groups=cin, act=False), ConvModule(mid, mid, 3, 1, groups=mid))
            self.shortcut = nn.Sequential(DWSep(cin, cout, 2))
        self.conv2 = nn.Sequential(ConvModule(mid, cout, 1, act=False))

    def forward(self, x):
        y = self.conv2(self.dwconv(self.conv1(x)))
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class MMCE(nn.Module):
    def __init__(self):
        super().__init__()
        self.gap = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(128))
        self.conv_gap = ConvModule(128, 128, 1)
        self.conv_last = ConvModule(128, 128, 3)

    def forward(self, x):
        return self.conv_last(x + self.conv_gap(self.gap(x)))


class MMSemantic(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage1 = MMStem()
        self.stage2 = nn.Sequential(MMGE(16, 32, 2), MMGE(32, 32, 1))
        self.stage3 = nn.Sequential(MMGE(32, 64, 2), MMGE(64, 64, 1))
        self.stage4 = nn.Sequential(MMGE(64, 128, 2), MMGE(128, 128, 1), MMGE(128, 128, 1), MMGE(128, 128, 1))
        self.stage4_CEBlock = MMCE()

    def forward(self, x):
        outs = []
        for m in [self.stage1, self.stage2, self.stage3, self.stage4, self.stage4_CEBlock]:
            x = m(x)
            outs.append(x)
        return outs


class MMDetail(nn.Module):
    def __init__(self):
        super().__init__()
        self.detail_branch = nn.ModuleList([
            nn.Sequential(ConvModule(3, 64, 3, 2), ConvModule(64, 64, 3)),
            nn.Sequential(ConvModule(64, 64, 3, 2), ConvModule(64, 64, 3), ConvModule(64, 64, 3)),
            nn.Sequential(ConvModule(64, 128, 3, 2), ConvModule(128, 128, 3), ConvModule(128, 128, 3))])

    def forward(self, x):
        for s in self.detail_branch:
            x = s(x)
        return x


class MMBGA(nn.Module):
    def __init__(self):
        super().__init__()
        self.detail_dwconv = nn.Sequential(DWSep(128, 128, pw_norm=False))
        self.detail_down = nn.Sequential(ConvModule(128, 128, 3, 2, act=False), nn.AvgPool2d(3, 2, 1))
        self.semantic_conv = nn.Sequential(ConvModule(128, 128, 3, act=False))
        self.semantic_dwconv = nn.Sequential(DWSep(128, 128, pw_norm=False))
        self.conv = ConvModule(128, 128, 3)

    def forward(self, x_d, x_s):
        keep = self.detail_dwconv(x_d)
        down = self.detail_down(x_d)
        up = F.interpolate(self.semantic_conv(x_s), size=keep.shape[2:], mode='bilinear', align_corners=False)
        f1 = keep * torch.sigmoid(up)
        f2 = F.interpolate(down * torch.sigmoid(self.semantic_dwconv(x_s)), size=f1.shape[2:], mode='bilinear', align_corners=False)
        return self.conv(f1 + f2)


class MMBackbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.detail = MMDetail()
        self.semantic = MMSemantic()
        self.bga = MMBGA()


class FCNHead(nn.Module):
    def __init__(self, cin, ch, n, num_convs):
        super().__init__()
        convs = [ConvModule(cin, ch, 3)] + [ConvModule(ch, ch, 3) for _ in range(num_convs - 1)]
        self.convs = nn.Sequential(*convs)
        self.conv_seg = nn.Conv2d(ch, n, 1)

    def forward(self, x):
        return self.conv_seg(self.convs(x))


class MMSegBiSeNetV2(nn.Module):
    def __init__(self, n, aux=True):
        super().__init__()
        self.backbone = MMBackbone()
        self.decode_head = FCNHead(128, 1024, n, 1)
        self.aux = aux
        if aux:
            self.auxiliary_head = nn.ModuleList([FCNHead(16, 16, n, 2), FCNHead(32, 64, n, 2), FCNHead(64, 256, n, 2), FCNHead(128, 1024, n, 2)])

    def forward(self, x, with_aux=False):
        size = x.shape[2:]
        up = lambda t: F.interpolate(t, size=size, mode='bilinear', align_corners=False)  # noqa: E731
        b = self.backbone
        sem = b.semantic(x)
        logits = up(self.decode_head(b.bga(b.detail(x), sem[-1])))
        if not with_aux:
            return logits
        return (logits,) + tuple(up(h(f)) for h, f in zip(self.auxiliary_head, sem[:4]))


# ---------------------------------------------------------------- PaddleSeg (ConvBN names, 'same' padding)
class ConvBN(nn.Module):
    """Paddle layers.ConvBN / ConvBNReLU / DepthwiseConvBN's inner ConvBN: biased conv, BN, optional ReLU;
    'same' padding: a 3x3 stride-2 conv on even sizes pads 0 before and 1 after."""

    def __init__(self, cin, cout, k, s=1, groups=1, relu=False):
        super().__init__()
        self._conv = nn.Conv2d(cin, cout, k, s, 0 if s == 2 else k // 2, groups=groups, bias=True)
        self._batch_norm = nn.BatchNorm2d(cout, eps=1e-5)
        self.s, self.k, self.relu = s, k, relu

    def forward(self, x):
        if self.s == 2 and self.k == 3:
            x = F.pad(x, (0, 1, 0, 1))
        x = self._batch_norm(self._conv(x))
        return F.relu(x) if self.relu else x


def CBR(cin, cout, k, s=1):
    return ConvBN(cin, cout, k, s, relu=True)


class DWConvBN(nn.Module):
    def __init__(self, cin, cout, s=1):
        super().__init__()
        self.depthwise_conv = ConvBN(cin, cout, 3, s, groups=cin)

    def forward(self, x):
        return self.depthwise_conv(x)


class PDStem(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = CBR(3, 16, 3, 2)
        self.left = nn.Sequential(CBR(16, 8, 1), CBR(8, 16, 3, 2))
        self.right = nn.MaxPool2d(3, 2, 1)
        self.fuse = CBR(32, 16, 3)

    def forward(self, x):
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], 1))


class PDGE1(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Sequential(CBR(c, c, 3), DWConvBN(c, 6 * c), ConvBN(6 * c, c, 1))

    def forward(self, x):
        return F.relu(self.conv(x) + x)


class PDGE2(nn.Module):
    def __init__(self, c, cout):
        super().__init__()
        self.branch_1 = nn.Sequential(CBR(c, c, 3), DWConvBN(c, 6 * c, 2), DWConvBN(6 * c, 6 * c), ConvBN(6 * c, cout, 1))
        self.branch_2 = nn.Sequential(DWConvBN(c, c, 2), ConvBN(c, cout, 1))

    def forward(self, x):
        return F.relu(self.branch_1(x) + self.branch_2(x))


class PDCE(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(128, eps=1e-5)
        self.conv_1x1 = CBR(128, 128, 1)
        self.conv_3x3 = nn.Conv2d(128, 128, 3, 1, 1)

    def forward(self, x):
        return self.conv_3x3(self.conv_1x1(self.bn(torch.mean(x, dim=(2, 3), keepdim=True))) + x)


class PDSemantic(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = PDStem()
        self.stage3 = nn.Sequential(PDGE2(16, 32), PDGE1(32))
        self.stage4 = nn.Sequential(PDGE2(32, 64), PDGE1(64))
        self.stage5_4 = nn.Sequential(PDGE2(64, 128), PDGE1(128), PDGE1(128), PDGE1(128))
        self.ce = PDCE()

    def forward(self, x):
        s2 = self.stem(x)
        s3 = self.stage3(s2)
        s4 = self.stage4(s3)
        s5 = self.stage5_4(s4)
        return s2, s3, s4, s5, self.ce(s5)


class PDBGA(nn.Module):
    def __init__(self):
        super().__init__()
        self.db_branch_keep = nn.Sequential(DWConvBN(128, 128), nn.Conv2d(128, 128, 1))
        self.db_branch_down = nn.Sequential(ConvBN(128, 128, 3, 2), nn.AvgPool2d(3, 2, 1, count_include_pad=False))
        self.sb_branch_keep = nn.Sequential(DWConvBN(128, 128), nn.Conv2d(128, 128, 1), nn.Sigmoid())
        self.sb_branch_up = ConvBN(128, 128, 3)
        self.conv = ConvBN(128, 128, 3)

    def forward(self, d, s):
        keep = self.db_branch_keep(d)
        up = torch.sigmoid(F.interpolate(self.sb_branch_up(s), size=keep.shape[2:], mode='bilinear', align_corners=False))
        f1 = keep * up
        f2 = F.interpolate(self.db_branch_down(d) * self.sb_branch_keep(s), size=f1.shape[2:], mode='bilinear', align_corners=False)
        return self.conv(f1 + f2)


class SegHead(nn.Module):
    def __init__(self, cin, mid, n):
        super().__init__()
        self.conv_3x3 = nn.Sequential(CBR(cin, mid, 3), nn.Dropout(0.1))
        self.conv_1x1 = nn.Conv2d(mid, n, 1)

    def forward(self, x):
        return self.conv_1x1(self.conv_3x3(x))


class PaddleBiSeNetV2(nn.Module):
    def __init__(self, n, aux=True):
        super().__init__()
        self.db = nn.Module()
        self.db.convs = nn.Sequential(CBR(3, 64, 3, 2), CBR(64, 64, 3), CBR(64, 64, 3, 2), CBR(64, 64, 3), CBR(64, 64, 3),
                                      CBR(64, 128, 3, 2), CBR(128, 128, 3), CBR(128, 128, 3))
        self.sb = PDSemantic()
        self.bga = PDBGA()
        self.aux = aux
        if aux:
            self.aux_head1 = SegHead(16, 16, n)
            self.aux_head2 = SegHead(32, 32, n)
            self.aux_head3 = SegHead(64, 64, n)
            self.aux_head4 = SegHead(128, 128, n)
        self.head = SegHead(128, 128, n)

    def forward(self, x, with_aux=False):
        size = x.shape[2:]
        up = lambda t: F.interpolate(t, size=size, mode='bilinear', align_corners=False)  # noqa: E731
        f1, f2, f3, f4, sfm = self.sb(x)
        logits = up(self.head(self.bga(self.db.convs(x), sfm)))
        if not with_aux:
            return logits
        return (logits, up(self.aux_head1(f1)), up(self.aux_head2(f2)), up(self.aux_head3(f3)), up(self.aux_head4(f4)))


def paddle_state_dict(model):
    """The model's weights as paddle.save writes them: numpy arrays, `_mean`/`_variance`, no num_batches_tracked."""
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith('num_batches_tracked'):
            continue
        k = k.replace('._batch_norm.running_mean', '._batch_norm._mean').replace('._batch_norm.running_var', '._batch_norm._variance')
        k = k.replace('ce.bn.running_mean', 'ce.bn._mean').replace('ce.bn.running_var', 'ce.bn._variance')
        out[k] = v.detach().cpu().numpy()
    return out

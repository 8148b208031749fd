"""A PyTorch reference of BiSeNetV2 (CoinCheung layout), written by this project from
../../shared/docs/bisenetv2-reference.md, used only to make golden outputs.

Its state-dict keys are those of CoinCheung/BiSeNet's module (383 with booster heads, 327 without);
make_goldens.py checks it against the upstream golden set before trusting it.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class CBR(nn.Module):
    """Conv (no bias) -> BatchNorm -> ReLU, keys conv.*, bn.*"""

    def __init__(self, cin, cout, k=3, s=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def conv_bn(cin, cout, k, s=1, groups=1):
    return [nn.Conv2d(cin, cout, k, s, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class Detail(nn.Module):
    def __init__(self):
        super().__init__()
        self.S1 = nn.Sequential(CBR(3, 64, s=2), CBR(64, 64))
        self.S2 = nn.Sequential(CBR(64, 64, s=2), CBR(64, 64), CBR(64, 64))
        self.S3 = nn.Sequential(CBR(64, 128, s=2), CBR(128, 128), CBR(128, 128))

    def forward(self, x):
        return self.S3(self.S2(self.S1(x)))


class Stem(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = CBR(3, 16, s=2)
        self.left = nn.Sequential(CBR(16, 8, k=1), CBR(8, 16, s=2))
        self.right = nn.MaxPool2d(3, 2, 1)
        self.fuse = CBR(32, 16)

    def forward(self, x):
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], dim=1))


class GE1(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = CBR(c, c)
        self.dwconv = nn.Sequential(*conv_bn(c, 6 * c, 3, groups=c), nn.ReLU())
        self.conv2 = nn.Sequential(*conv_bn(6 * c, c, 1))

    def forward(self, x):
        return F.relu(self.conv2(self.dwconv(self.conv1(x))) + x)


class GE2(nn.Module):
    def __init__(self, c, cout):
        super().__init__()
        self.conv1 = CBR(c, c)
        self.dwconv1 = nn.Sequential(*conv_bn(c, 6 * c, 3, 2, groups=c))
        self.dwconv2 = nn.Sequential(*conv_bn(6 * c, 6 * c, 3, groups=6 * c), nn.ReLU())
        self.conv2 = nn.Sequential(*conv_bn(6 * c, cout, 1))
        self.shortcut = nn.Sequential(*conv_bn(c, c, 3, 2, groups=c), *conv_bn(c, cout, 1))

    def forward(self, x):
        y = self.conv2(self.dwconv2(self.dwconv1(self.conv1(x))))
        return F.relu(y + self.shortcut(x))


class CE(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(128)
        self.conv_gap = CBR(128, 128, k=1)
        self.conv_last = CBR(128, 128)

    def forward(self, x):
        g = self.conv_gap(self.bn(torch.mean(x, dim=(2, 3), keepdim=True)))
        return self.conv_last(g + x)


class Segment(nn.Module):
    def __init__(self):
        super().__init__()
        self.S1S2 = Stem()
        self.S3 = nn.Sequential(GE2(16, 32), GE1(32))
        self.S4 = nn.Sequential(GE2(32, 64), GE1(64))
        self.S5_4 = nn.Sequential(GE2(64, 128), GE1(128), GE1(128), GE1(128))
        self.S5_5 = CE()

    def forward(self, x):
        f2 = self.S1S2(x)
        f3 = self.S3(f2)
        f4 = self.S4(f3)
        f5_4 = self.S5_4(f4)
        return f2, f3, f4, f5_4, self.S5_5(f5_4)


class BGA(nn.Module):
    def __init__(self):
        super().__init__()
        self.left1 = nn.Sequential(*conv_bn(128, 128, 3, groups=128), nn.Conv2d(128, 128, 1, bias=False))
        self.left2 = nn.Sequential(*conv_bn(128, 128, 3, 2), nn.AvgPool2d(3, 2, 1, count_include_pad=True))
        self.right1 = nn.Sequential(*conv_bn(128, 128, 3))
        self.right2 = nn.Sequential(*conv_bn(128, 128, 3, groups=128), nn.Conv2d(128, 128, 1, bias=False))
        self.conv = nn.Sequential(*conv_bn(128, 128, 3), nn.ReLU())

    def forward(self, x_d, x_s):
        left = self.left1(x_d) * torch.sigmoid(F.interpolate(self.right1(x_s), scale_factor=4, mode='nearest'))
        right = F.interpolate(self.left2(x_d) * torch.sigmoid(self.right2(x_s)), scale_factor=4, mode='nearest')
        return self.conv(left + right)


class Head(nn.Module):
    """SegmentHead(in, mid, n, up, aux): booster heads add nearest x2 + CBR(mid -> up^2) before the classifier."""

    def __init__(self, cin, mid, n, up, aux):
        super().__init__()
        self.conv = CBR(cin, mid)
        self.drop = nn.Dropout(0.1)
        self.up = up // 2 if aux else up
        mid2 = up * up if aux else mid
        first = nn.Sequential(nn.Upsample(scale_factor=2), CBR(mid, mid2)) if aux else nn.Identity()
        self.conv_out = nn.Sequential(first, nn.Conv2d(mid2, n, 1, bias=True))

    def forward(self, x):
        y = self.conv_out(self.drop(self.conv(x)))
        return F.interpolate(y, scale_factor=self.up, mode='bilinear', align_corners=False)


class BiSeNetV2Ref(nn.Module):
    def __init__(self, n_classes, aux=True):
        super().__init__()
        self.detail = Detail()
        self.segment = Segment()
        self.bga = BGA()
        self.head = Head(128, 1024, n_classes, 8, aux=False)
        self.aux = aux
        if aux:
            self.aux2 = Head(16, 128, n_classes, 4, aux=True)
            self.aux3 = Head(32, 128, n_classes, 8, aux=True)
            self.aux4 = Head(64, 128, n_classes, 16, aux=True)
            self.aux5_4 = Head(128, 128, n_classes, 32, aux=True)

    def forward(self, x, with_aux=False):
        f2, f3, f4, f5_4, s = self.segment(x)
        logits = self.head(self.bga(self.detail(x), s))
        if not with_aux:
            return logits
        return logits, self.aux2(f2), self.aux3(f3), self.aux4(f4), self.aux5_4(f5_4)

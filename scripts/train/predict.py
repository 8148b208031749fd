#!/usr/bin/env python3
"""PyTorch's predictions and mIoU for a CoinCheung-layout checkpoint on a labelled set.

    /usr/bin/python3 scripts/train/predict.py --checkpoint fixtures/trained-synthetic-n19/model.pth \
        --data data/synthetic-val --out-labels fixtures/trained-synthetic-n19/pytorch-labels

Writes PyTorch's argmax for every image as an 8-bit PNG (same name), so that the exported models' label
agreement with PyTorch can be measured without Python (`bisenet eval --labels-dir <that dir>`: its pixel
accuracy is then the label agreement), and prints the mIoU with Cityscapes' conventions. Images are fed
at their own size (multiples of 32), RGB on 0..1 with the Cityscapes mean/std CoinCheung uses.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'golden'))
from bisenetv2_ref import BiSeNetV2Ref  # noqa: E402
from miou import confusion, scores, load_set  # noqa: E402

MEAN = torch.tensor([0.3257, 0.3690, 0.3223]).view(1, 3, 1, 1)
STD = torch.tensor([0.2112, 0.2148, 0.2115]).view(1, 3, 1, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--out-labels')
    ap.add_argument('--json')
    a = ap.parse_args()
    torch.set_num_threads(1)  # byte-reproducible
    sd = torch.load(a.checkpoint, map_location='cpu')
    n = sd['head.conv_out.1.weight'].shape[0]
    model = BiSeNetV2Ref(n, aux=any(k.startswith('aux') for k in sd))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    model.eval()
    imgs, labs, names = load_set(a.data)
    conf = np.zeros((n, n), np.int64)
    if a.out_labels:
        os.makedirs(a.out_labels, exist_ok=True)
    with torch.no_grad():
        for img, lab, name in zip(imgs, labs, names):
            h, w = img.shape[:2]
            if h % 32 or w % 32:
                sys.exit(f'error: {name} is {h}x{w}; this script takes sizes that are multiples of 32')
            x = (torch.from_numpy(img).permute(2, 0, 1).float()[None] / 255.0 - MEAN) / STD
            pred = model(x).argmax(1)[0].numpy().astype(np.uint8)
            conf += confusion(pred, lab, n)
            if a.out_labels:
                Image.fromarray(pred, 'L').save(os.path.join(a.out_labels, name), compress_level=9)
    s = scores(conf)
    print(f'{len(names)} images: mIoU {s["miou"]:.4f}  pixel accuracy {s["pixel_accuracy"]:.4f}')
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'miou': s['miou'], 'pixel_accuracy': s['pixel_accuracy'], 'per_class': s['per_class'], 'images': len(names)}, f, indent=2)


if __name__ == '__main__':
    main()

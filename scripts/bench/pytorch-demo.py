#!/usr/bin/env python3
"""The PyTorch side of `segment`'s speed comparison: a CoinCheung-`demo.py`-style loop over a folder.

    /usr/bin/python3 scripts/bench/pytorch-demo.py --checkpoint fixtures/trained-synthetic-n19/model.pth \
        --images DIR --out-dir OUT [--threads 2]

What upstream's tools/demo.py does for one image, done for every PNG/JPEG in DIR in one process (the model
is built and loaded once, outside the timing): read the image (Pillow), RGB to a float tensor on 0..1,
normalise with the Cityscapes mean/std, resize to multiples of 32, run the network (eval mode, no_grad),
resize the logits back, argmax, colour with the palette, write the PNG. Prints frames/s and the time per
stage, so it can stand beside `bisenet segment DIR --out-dir OUT` on the same images. The model is the
project's reference module (scripts/golden/bisenetv2_ref.py, bit-identical to upstream's).
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'golden'))
from bisenetv2_ref import BiSeNetV2Ref  # noqa: E402

MEAN = torch.tensor([0.3257, 0.3690, 0.3223]).view(1, 3, 1, 1)
STD = torch.tensor([0.2112, 0.2148, 0.2115]).view(1, 3, 1, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--images', required=True)
    ap.add_argument('--out-dir', required=True)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sd = torch.load(a.checkpoint, map_location='cpu')
    n = sd['head.conv_out.1.weight'].shape[0]
    model = BiSeNetV2Ref(n, aux=False)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items() if not k.startswith('aux')})
    model.eval()
    rng = np.random.default_rng(123)
    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    files = sorted(f for f in os.listdir(a.images) if f.lower().endswith(('.png', '.jpg', '.jpeg')))
    os.makedirs(a.out_dir, exist_ok=True)
    stages = dict(decode=0.0, preprocess=0.0, inference=0.0, postprocess=0.0, encode=0.0)
    t_all = time.perf_counter()
    with torch.no_grad():
        for name in files:
            t0 = time.perf_counter()
            im = np.asarray(Image.open(os.path.join(a.images, name)).convert('RGB'))
            t1 = time.perf_counter()
            x = torch.from_numpy(im).permute(2, 0, 1).float()[None] / 255.0
            x = (x - MEAN) / STD
            size = x.shape[2:]
            padded = [math.ceil(d / 32) * 32 for d in size]
            if list(padded) != list(size):
                x = F.interpolate(x, size=padded, mode='bilinear', align_corners=False)
            t2 = time.perf_counter()
            out = model(x)
            t3 = time.perf_counter()
            if list(padded) != list(size):
                out = F.interpolate(out, size=size, mode='bilinear', align_corners=False)
            pred = out.argmax(1)[0].numpy()
            colour = palette[pred]
            t4 = time.perf_counter()
            Image.fromarray(colour).save(os.path.join(a.out_dir, os.path.splitext(name)[0] + '.png'))
            t5 = time.perf_counter()
            for k, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                stages[k] += dt
            print(f'{name}: {t5 - t0:.2f} s (inference {t3 - t2:.2f} s)', flush=True)
    total = time.perf_counter() - t_all
    k = len(files)
    print(f'{k} images in {total:.1f} s: {k / total:.3f} frames/s, {total / k:.2f} s/frame; torch {torch.__version__}, {a.threads} threads')
    print('per frame: ' + ', '.join(f'{s} {1000 * v / k:.0f} ms' for s, v in stages.items()))


if __name__ == '__main__':
    main()

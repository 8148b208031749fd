"""Golden sets for the mmsegmentation and PaddleSeg variants (references in families_ref.py).

Run with Debian's PyTorch:  /usr/bin/python3 scripts/golden/make_family_goldens.py
Also writes fixtures/<family>-keys.txt (every state-dict key of a 19-class checkpoint with its shape),
the table the layout tests check the TypeScript mapping against, and a tiny protocol-2 .pdparams.
"""
import json
import os
import pickle
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from families_ref import MMSegBiSeNetV2, PaddleBiSeNetV2, paddle_state_dict  # noqa: E402
from make_goldens import ROOT, randomize, write_outputs  # noqa: E402


def write_keys(name, items):
    with open(os.path.join(ROOT, 'fixtures', f'{name}-keys.txt'), 'w') as f:
        for k, shape in items:
            f.write(f'{k} {list(shape)}\n')


def goldens(name, family, model, batch, h, w, seed, aux, ckpt_file, describe, extra):
    gd = os.path.join(ROOT, 'golden', name)
    x, files = write_outputs(gd, model, batch, h, w, seed, aux, ckpt_file)
    manifest = {
        'source': f'scripts/golden/families_ref.py ({family} variant, this project\'s PyTorch reference), PyTorch {torch.__version__} on CPU, float32',
        'checkpoint': os.path.relpath(ckpt_file, ROOT), 'family': family, 'n_classes': model_classes(model),
        'covers': describe, 'weights': f'seed {seed}: He-normal conv weights, random BatchNorm, random biases', **extra,
        'mode': 'eval-mode BatchNorm; aux*.npy (when present) are the booster heads resized bilinear to the input size',
        'layout': 'NCHW float32, labels int64', 'files': files,
    }
    with open(os.path.join(gd, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'  {name}: {os.path.getsize(ckpt_file) / 2**20:.1f} MiB checkpoint, input {list(x.shape)}')


def model_classes(model):
    head = model.decode_head.conv_seg if hasattr(model, 'decode_head') else model.head.conv_1x1
    return head.out_channels


def main():
    # Key tables of real-layout 19-class checkpoints, booster heads included.
    write_keys('mmseg', [(k, v.shape) for k, v in MMSegBiSeNetV2(19, aux=True).state_dict().items()])
    write_keys('paddleseg', [(k, v.shape) for k, v in paddle_state_dict(PaddleBiSeNetV2(19, aux=True)).items()])

    # mmseg, 150 classes, batch 2: {meta, state_dict} as mmcv's save_checkpoint writes it (optimizer dropped).
    # Booster heads left out of this file: mmseg's are large (the last alone has 9.4 M parameters).
    seed = 1500
    torch.manual_seed(seed)
    mm = MMSegBiSeNetV2(150, aux=False).eval()
    randomize(mm, seed)
    sd = {k: (v.half() if v.is_floating_point() else v) for k, v in mm.state_dict().items()}
    mm.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()})
    fx = os.path.join(ROOT, 'fixtures', 'mmseg-bisenetv2-n150-b2')
    os.makedirs(fx, exist_ok=True)
    ckpt = os.path.join(fx, 'model.pth')
    torch.save({'meta': {'mmseg_version': '0.30.0', 'CLASSES': [f'class{i}' for i in range(150)], 'epoch': 160, 'iter': 160000},
                'state_dict': sd}, ckpt)
    goldens('mmseg-bisenetv2-n150-b2', 'mmseg', mm, 2, 32, 64, seed, False, ckpt,
            'mmseg layout in {meta, state_dict}, 150 classes, batch 2, float16 storages, BGA bilinear, biased BGA pointwise convs, head resized to the input size',
            {'booster_heads_in_checkpoint': False})

    # PaddleSeg, 19 classes with booster heads: a protocol-4 pickle of numpy arrays.
    seed = 190
    torch.manual_seed(seed)
    pd = PaddleBiSeNetV2(19, aux=True).eval()
    randomize(pd, seed)
    # Stored as float16 arrays (what an AMP-O2 paddle.save writes) to keep the repository small; the
    # reference computes with exactly the stored values.
    pd.load_state_dict({k: (v.half().float() if v.is_floating_point() else v) for k, v in pd.state_dict().items()})
    params = {k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in paddle_state_dict(pd).items()}
    params['StructuredToParameterName@@'] = {k: f'param_{i}' for i, k in enumerate(params)}
    fx = os.path.join(ROOT, 'fixtures', 'paddleseg-bisenetv2-n19')
    os.makedirs(fx, exist_ok=True)
    ckpt = os.path.join(fx, 'model.pdparams')
    with open(ckpt, 'wb') as f:
        pickle.dump(params, f, protocol=4)
    goldens('paddleseg-bisenetv2-n19', 'paddleseg', pd, 1, 64, 64, seed, True, ckpt,
            'PaddleSeg layout (.pdparams pickle of numpy float16 arrays), biased convs, Paddle same padding, BGA pool excluding padding, no ReLU after GE depthwise / BGA output, CE ending in a plain conv, booster heads',
            {'booster_heads_in_checkpoint': True})

    # A tiny protocol-2 .pdparams (numpy bytes via _codecs.encode), for the reader's unit tests.
    tiny = {'a.weight': np.arange(6, dtype=np.float32).reshape(2, 3), 'b._mean': np.array([1.5, -2.0], dtype=np.float64),
            'n': np.array([7], dtype=np.int64), 'StructuredToParameterName@@': {'a.weight': 'w_0'}}
    with open(os.path.join(ROOT, 'fixtures', 'tiny-protocol2.pdparams'), 'wb') as f:
        pickle.dump(tiny, f, protocol=2)


if __name__ == '__main__':
    main()

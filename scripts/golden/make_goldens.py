"""Makes the project's golden sets with its own PyTorch reference (bisenetv2_ref.py).

Run with Debian's PyTorch:  /usr/bin/python3 scripts/golden/make_goldens.py
It first checks the reference against the upstream golden set (fixtures/ + golden/
coincheung-bisenetv2-n19, made by CoinCheung's own module) and stops if they differ.
Each set: fixtures/<name>/model.pth (a real torch.save zip, random weights) and golden/<name>/
{input,logits,labels[,aux2,aux3,aux4,aux5_4]}.npy + manifest.json.
"""
import hashlib
import io
import json
import os
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from bisenetv2_ref import BiSeNetV2Ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
UPSTREAM = 'coincheung-bisenetv2-n19'
AUX = ['aux2', 'aux3', 'aux4', 'aux5_4']


def check_against_upstream():
    model = BiSeNetV2Ref(19, aux=True).eval()
    model.load_state_dict(torch.load(os.path.join(ROOT, 'fixtures', UPSTREAM, 'model.pth'), map_location='cpu'), strict=True)
    g = os.path.join(ROOT, 'golden', UPSTREAM)
    x = torch.from_numpy(np.load(os.path.join(g, 'input.npy')))
    with torch.no_grad():
        outs = model(x, with_aux=True)
    worst = 0.0
    for name, out in zip(['logits'] + AUX, outs):
        ref = np.load(os.path.join(g, name + '.npy'))
        rel = float(np.abs(out.numpy() - ref).max() / np.abs(ref).max())
        print(f'  reference vs upstream {name}: max|d|/max|ref| = {rel:.3g}')
        worst = max(worst, rel)
    if worst > 1e-6:
        sys.exit('the reference does not reproduce the upstream golden set; not making goldens')


def randomize(model, seed):
    """He-normal conv weights, random BatchNorm affine and statistics, random classifier biases."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) * 1.5 + 0.5)
                m.num_batches_tracked.fill_(int(torch.randint(1, 100000, (1,), generator=gen)))


def npy_info(path):
    a = np.load(path)
    return {'shape': list(a.shape), 'dtype': str(a.dtype), 'sha256': hashlib.sha256(open(path, 'rb').read()).hexdigest(),
            'absmax': float(np.abs(a).max())}


def make_set(name, n_classes, aux, batch, h, w, dtype, seed, describe, wrap=None, views=False):
    torch.manual_seed(seed)
    model = BiSeNetV2Ref(n_classes, aux=aux).eval()
    randomize(model, seed)
    # Round the weights to the stored dtype first, so the reference computes with exactly what is stored.
    sd = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()})
    if views:
        # Non-contiguous tensors sharing storage: torch.save keeps their offset and strides.
        w0 = sd['detail.S1.0.conv.weight']
        sd['detail.S1.0.conv.weight'] = w0.permute(1, 0, 2, 3).contiguous().permute(1, 0, 2, 3)
        big = torch.cat([torch.zeros(100, dtype=dtype), sd['head.conv_out.1.weight'].flatten()])
        sd['head.conv_out.1.weight'] = big[100:].view(sd['head.conv_out.1.weight'].shape)
        gb = sd['bga.conv.1.weight']
        pair = torch.stack([gb, torch.zeros_like(gb)], dim=1)  # [C, 2]: column 0 has stride 2
        sd['bga.conv.1.weight'] = pair[:, 0]
        assert not sd['detail.S1.0.conv.weight'].is_contiguous() and sd['head.conv_out.1.weight'].storage_offset() == 100
        assert sd['bga.conv.1.weight'].stride() == (2,)
    if wrap == 'state_dict+module':
        obj = {'state_dict': {'module.' + k: v for k, v in sd.items()}, 'meta': {'epoch': 12, 'note': 'wrapped like a DataParallel training checkpoint'}}
    else:
        obj = sd
    fx = os.path.join(ROOT, 'fixtures', name)
    gd = os.path.join(ROOT, 'golden', name)
    os.makedirs(fx, exist_ok=True)
    os.makedirs(gd, exist_ok=True)
    ckpt = os.path.join(fx, 'model.pth')
    torch.save(obj, ckpt)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn((batch, 3, h, w), generator=gen)
    with torch.no_grad():
        outs = model(x, with_aux=aux)
    outs = outs if aux else (outs,)
    np.save(os.path.join(gd, 'input.npy'), x.numpy())
    names = ['logits'] + (AUX if aux else [])
    for nm, o in zip(names, outs):
        np.save(os.path.join(gd, nm + '.npy'), o.numpy().astype(np.float32))
    np.save(os.path.join(gd, 'labels.npy'), outs[0].argmax(dim=1).numpy().astype(np.int64))
    with zipfile.ZipFile(ckpt) as z:
        top = z.namelist()[0].split('/')[0]
    files = {f: npy_info(os.path.join(gd, f)) for f in sorted(os.listdir(gd)) if f.endswith('.npy')}
    files['model.pth'] = {'sha256': hashlib.sha256(open(ckpt, 'rb').read()).hexdigest()}
    manifest = {
        'source': 'scripts/golden/bisenetv2_ref.py (this project\'s PyTorch reference, checked against the upstream set), '
                  f'PyTorch {torch.__version__} on CPU, float32',
        'checkpoint': f'fixtures/{name}/model.pth', 'family': 'coincheung', 'n_classes': n_classes,
        'covers': describe, 'weights': f'seed {seed}: He-normal conv weights, random BatchNorm; stored as {str(dtype).replace("torch.", "")}'
                  ' (goldens computed from the stored values)',
        'zip_top_folder': top, 'booster_heads_in_checkpoint': aux,
        'mode': 'eval-mode BatchNorm; aux*.npy (when present) are the booster heads', 'layout': 'NCHW float32, labels int64',
        'files': files,
    }
    with open(os.path.join(gd, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'  {name}: {os.path.getsize(ckpt) / 2**20:.1f} MiB checkpoint, input {list(x.shape)}, top folder {top!r}')


def main():
    print('checking the reference against the upstream golden set')
    check_against_upstream()
    # Kept small: the whole repository must stay under the 64 MiB a GPU-machine run can carry. 150 classes
    # and an mmseg head are covered by golden/mmseg-bisenetv2-n150-b2; booster heads by the upstream set.
    make_set('coincheung-bisenetv2-n171-b2', 171, False, 2, 64, 32, torch.bfloat16, 171,
             '171 classes (COCO-Stuff count), batch 2, H > W, bfloat16 storage')
    make_set('coincheung-bisenetv2-n19-wrapped-views', 19, False, 1, 64, 64, torch.float16, 19,
             '{state_dict: {module.*}} wrapping, non-contiguous views (permuted, offset, strided) sharing storage, float16',
             wrap='state_dict+module', views=True)

if __name__ == '__main__':
    main()

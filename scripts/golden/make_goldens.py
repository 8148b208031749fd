"""Makes the project's golden sets with its own PyTorch reference (bisenetv2_ref.py).

Run with Debian's PyTorch:  /usr/bin/python3 scripts/golden/make_goldens.py [--extra [OUT_ROOT]]
It first copies the upstream set from ../shared/reference (when present) and checks its sha256s, then
checks the reference against it (made by CoinCheung's own module) and stops if they differ.
Each set: fixtures/<name>/model.pth (a real torch.save zip, random weights) and golden/<name>/
{input,logits,labels[,aux2,aux3,aux4,aux5_4]}.npy + manifest.json. Fixed seeds and one thread:
re-running gives byte-identical files.
--extra writes the project's own coincheung sets, none committed, under OUT_ROOT (default .tmp/coincheung-extra,
ignored by git) and touches nothing in the repository.
"""
import hashlib
import json
import os
import shutil
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from bisenetv2_ref import BiSeNetV2Ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
UPSTREAM = 'coincheung-bisenetv2-n19'
SHARED = os.path.join(ROOT, '..', 'shared', 'reference', UPSTREAM)
AUX = ['aux2', 'aux3', 'aux4', 'aux5_4']
# One thread: with more, oneDNN/OpenMP split reductions differently and outputs move by ~3e-6 relative,
# so the goldens would depend on the machine. Single-threaded they are byte-reproducible.
torch.set_num_threads(1)
TOLERANCE = 1e-5  # max|d| / max|ref| allowed between this reference and the upstream outputs


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def copy_upstream():
    """Set a: copied verbatim from ../shared/reference (made by CoinCheung's own module), never regenerated."""
    fx, gd = os.path.join(ROOT, 'fixtures', UPSTREAM), os.path.join(ROOT, 'golden', UPSTREAM)
    if not os.path.isdir(SHARED):
        print(f'  {SHARED} not here: keeping the committed copy of {UPSTREAM} (checked below)')
        return
    with open(os.path.join(SHARED, 'manifest.json')) as f:
        shared = json.load(f)
    os.makedirs(fx, exist_ok=True)
    os.makedirs(gd, exist_ok=True)
    for name in ['model.pth', 'state_dict_keys.txt']:
        shutil.copyfile(os.path.join(SHARED, name), os.path.join(fx, name))
    for name in sorted(os.listdir(SHARED)):
        if name.endswith('.npy'):
            shutil.copyfile(os.path.join(SHARED, name), os.path.join(gd, name))
    manifest = {
        'provenance': 'copied verbatim from ../shared/reference/coincheung-bisenetv2-n19 (upstream CoinCheung/BiSeNet '
                      'lib/models/bisenetv2.py at commit 6b4b67a, PyTorch 1.13.1, CPU float32); the external truth of this project',
        'checkpoint': f'fixtures/{UPSTREAM}/model.pth', 'family': 'coincheung', **shared,
    }
    with open(os.path.join(gd, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'  {UPSTREAM}: copied from {os.path.normpath(SHARED)}')


def verify_upstream_copy():
    """The committed copy must be byte-identical to what the shared manifest recorded."""
    gd = os.path.join(ROOT, 'golden', UPSTREAM)
    with open(os.path.join(gd, 'manifest.json')) as f:
        files = json.load(f)['files']
    for name, info in files.items():
        path = os.path.join(ROOT, 'fixtures' if name == 'model.pth' else 'golden', UPSTREAM, name)
        if sha256(path) != info['sha256']:
            sys.exit(f'{path}: sha256 differs from the upstream manifest')
    print(f'  {UPSTREAM}: sha256 of all {len(files)} files match the upstream manifest')


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
        d = float(np.abs(out.numpy() - ref).max())
        rel = d / float(np.abs(ref).max())
        print(f'  reference vs upstream {name}: max|d| = {d:.3g}, max|d|/max|ref| = {rel:.3g}')
        worst = max(worst, rel)
    labels = np.load(os.path.join(g, 'labels.npy'))
    if worst > TOLERANCE or not np.array_equal(outs[0].argmax(dim=1).numpy(), labels):
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


def write_outputs(gd, model, batch, h, w, seed, aux, ckpt):
    """Runs the model on a seeded input and writes input/logits/labels[/aux*].npy into `gd`; returns the
    input and the manifest's `files` (shape, dtype, sha256, max|value| of each, sha256 of the checkpoint)."""
    os.makedirs(gd, exist_ok=True)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn((batch, 3, h, w), generator=gen)
    with torch.no_grad():
        outs = model(x, with_aux=aux)
    outs = outs if aux else (outs,)
    np.save(os.path.join(gd, 'input.npy'), x.numpy())
    for nm, o in zip(['logits'] + (AUX if aux else []), outs):
        np.save(os.path.join(gd, nm + '.npy'), o.numpy().astype(np.float32))
    np.save(os.path.join(gd, 'labels.npy'), outs[0].argmax(dim=1).numpy().astype(np.int64))
    files = {f: npy_info(os.path.join(gd, f)) for f in sorted(os.listdir(gd)) if f.endswith('.npy')}
    files[os.path.basename(ckpt)] = {'sha256': sha256(ckpt)}
    return x, files


def make_set(name, n_classes, aux, batch, h, w, dtype, seed, describe, wrap=None, views=False, zip_stem='model',
             out_root=ROOT):
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
        # Two keys in one storage, interleaved: weight at offset 0, bias at offset 1, both stride 2.
        pair = torch.stack([sd['bga.conv.1.weight'], sd['bga.conv.1.bias']], dim=1)  # [C, 2]
        sd['bga.conv.1.weight'], sd['bga.conv.1.bias'] = pair[:, 0], pair[:, 1]
        assert not sd['detail.S1.0.conv.weight'].is_contiguous() and sd['head.conv_out.1.weight'].storage_offset() == 100
        assert sd['bga.conv.1.weight'].stride() == (2,) and sd['bga.conv.1.bias'].storage_offset() == 1
        assert sd['bga.conv.1.weight'].storage().data_ptr() == sd['bga.conv.1.bias'].storage().data_ptr()
    if wrap == 'state_dict+module':
        obj = {'state_dict': {'module.' + k: v for k, v in sd.items()}, 'meta': {'epoch': 12, 'note': 'wrapped like a DataParallel training checkpoint'}}
    elif wrap == 'state_dict-only':
        obj = {'state_dict': {'module.' + k: v for k, v in sd.items()}}
    else:
        obj = sd
    fx = os.path.join(out_root, 'fixtures', name)
    gd = os.path.join(out_root, 'golden', name)
    os.makedirs(fx, exist_ok=True)
    os.makedirs(gd, exist_ok=True)
    ckpt = os.path.join(fx, 'model.pth')
    # torch 1.13 names the zip's top folder after the file name less its last extension ('model' for
    # model.pth, 'x.pth' for x.pth.tar, 'archive' when saving to a buffer), so saving under another name
    # and renaming gives a different top folder.
    tmp = os.path.join(fx, zip_stem + '.tmp') if zip_stem != 'model' else ckpt
    torch.save(obj, tmp)
    if tmp != ckpt:
        os.replace(tmp, ckpt)
    x, files = write_outputs(gd, model, batch, h, w, seed, aux, ckpt)
    with zipfile.ZipFile(ckpt) as z:
        top = z.namelist()[0].split('/')[0]
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


def make_extra(out_root):
    """The project's own coincheung sets, not committed (over the repository budget): the four larger sets of the
    original plan (~50 MB) and the two once committed (16.5 MiB). Same layout under out_root; manifest
    "checkpoint" paths are relative to out_root."""
    make_set('coincheung-bisenetv2-n150-b2', 150, True, 2, 64, 96, torch.float16, 150,
             '150 classes (ADE20k count), booster heads, batch 2, 64x96, float16 storage', out_root=out_root)
    make_set('coincheung-bisenetv2-n171', 171, False, 1, 128, 64, torch.bfloat16, 1710,
             '171 classes, no booster heads, 128x64 (H > W), bfloat16 storage', out_root=out_root)
    make_set('coincheung-bisenetv2-n19-wrapped', 19, False, 1, 32, 32, torch.float32, 1919,
             '{state_dict: {module.*}} (DataParallel-style), float32, 32x32, zip top folder "n19_wrapped"',
             wrap='state_dict-only', zip_stem='n19_wrapped', out_root=out_root)
    make_set('coincheung-bisenetv2-n19-s64x64', 19, True, 1, 64, 64, torch.float32, 6464,
             'booster heads, float32, 64x64, non-contiguous views (permuted, offset, strided; two keys in one storage)',
             views=True, out_root=out_root)
    # These two were committed until the repository needed their 16.5 MiB for a trained checkpoint and a
    # validation set. test/checkpoint/synthesized-layouts.test.ts now builds equivalent checkpoints from the
    # upstream weights at test time (same wrapping, views, dtypes, 171-class head) and checks the port bit for
    # bit; the network's outputs are checked against PyTorch by the upstream set. Same seeds: regenerating
    # gives the files that were committed.
    make_set('coincheung-bisenetv2-n171-b2', 171, False, 2, 64, 32, torch.bfloat16, 171,
             '171 classes (COCO-Stuff count), batch 2, H > W, bfloat16 storage', out_root=out_root)
    make_set('coincheung-bisenetv2-n19-wrapped-views', 19, False, 1, 64, 64, torch.float16, 19,
             '{state_dict: {module.*}} wrapping, non-contiguous views (permuted, offset, strided; two keys in one storage), float16, '
             'zip top folder with a dot ("bisenet_dp_wrapped.pth", as a *.pth.tar file has)',
             wrap='state_dict+module', views=True, zip_stem='bisenet_dp_wrapped.pth', out_root=out_root)


def main():
    extra = sys.argv[1:2] == ['--extra']
    if sys.argv[1:] and not extra:
        sys.exit('usage: make_goldens.py [--extra [OUT_ROOT]]')
    print('set a: the upstream set')
    if not extra:
        copy_upstream()
    verify_upstream_copy()
    print('checking the reference against the upstream golden set')
    check_against_upstream()
    if extra:
        out_root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, '.tmp', 'coincheung-extra'))
        print(f'extra sets (not committed) under {out_root}')
        make_extra(out_root)
        return
    # Only the upstream set is committed: the whole repository must stay under the 64 MiB a GPU-machine run can
    # carry. The project's own coincheung sets are all written by --extra; see make_extra for what covers them.

if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Train BiSeNetV2 (CoinCheung layout, booster heads included) on synthetic street scenes, on CPU.

    /usr/bin/python3 scripts/train/train.py --out fixtures/trained-synthetic-n19 [--iters 4000] [--seed 0]

The model is the project's own PyTorch reference (scripts/golden/bisenetv2_ref.py, bit-identical to
upstream's module). Input is fed exactly as CoinCheung feeds Cityscapes: RGB on 0..1, mean
(0.3257, 0.3690, 0.3223), std (0.2112, 0.2148, 0.2115), so the converted model's recorded preset is right.
Recipe after CoinCheung's where it fits a short CPU run: OHEM cross-entropy (keep pixels with p < 0.7, at
least 1/16 of them) on the main and each booster output (weight 1 each), random scale / crop / flip and
colour jitter, AdamW (CoinCheung's SGD schedule needs 150k iterations) with warm-up and poly decay.
Training scenes come from scripts/synthetic/generate.py (their own seed), generated once into memory.

Writes OUT/model.pth (torch.save of the state dict, float16 storage to keep the repository small) and
OUT/manifest.json (command, seed, time, and the PyTorch mIoU on the held-out set measured with the
float16-rounded weights, i.e. with exactly the tensors the file holds).
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'golden'))
sys.path.insert(0, os.path.join(HERE, '..', 'synthetic'))
from bisenetv2_ref import BiSeNetV2Ref  # noqa: E402
import generate  # noqa: E402
from miou import confusion, scores, load_set  # noqa: E402

MEAN = torch.tensor([0.3257, 0.3690, 0.3223]).view(1, 3, 1, 1)
STD = torch.tensor([0.2112, 0.2148, 0.2115]).view(1, 3, 1, 1)


def normalise(rgb_uint8_nhwc):
    x = torch.from_numpy(rgb_uint8_nhwc).permute(0, 3, 1, 2).float() / 255.0
    return (x - MEAN) / STD


class OhemCE(nn.Module):
    """Cross-entropy over the hardest pixels: those with loss > -log(0.7), or the 1/16 hardest if fewer."""

    def __init__(self, thresh=0.7, ignore=255):
        super().__init__()
        self.thresh = -math.log(thresh)
        self.ignore = ignore

    def forward(self, logits, labels):
        n_min = int((labels != self.ignore).sum().item()) // 16
        loss = F.cross_entropy(logits, labels, ignore_index=self.ignore, reduction='none').view(-1)
        hard = loss[loss > self.thresh]
        if hard.numel() < n_min:
            hard, _ = loss.topk(max(1, n_min))
        return hard.mean()


def init_weights(model):
    """CoinCheung's initialisation: Kaiming (fan out) for convs, zero biases; the last BN of each GE
    layer's residual branch starts at zero so every block starts as an identity."""
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode='fan_out')
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for name, m in model.named_modules():
        if name.endswith('conv2.1') and isinstance(m, nn.BatchNorm2d):
            nn.init.zeros_(m.weight)
    # The classifiers (1x1, 1024 or up^2 -> n) start small, so that the first logits are near zero and the
    # first losses near ln(n) instead of ~7 per head: a short schedule cannot afford the slow start.
    for name, m in model.named_modules():
        if name.endswith('conv_out.1') and isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.01)


def make_training_set(seed, count, h, w, cache):
    if cache and os.path.exists(cache):
        z = np.load(cache)
        if z['images'].shape == (count, h, w, 3) and int(z['seed']) == seed:
            return z['images'], z['labels']
    imgs = np.zeros((count, h, w, 3), np.uint8)
    labs = np.zeros((count, h, w), np.uint8)
    t0 = time.time()
    for i in range(count):
        im, lb = generate.render(np.random.default_rng([seed, i]), h, w)
        imgs[i], labs[i] = np.asarray(im), np.asarray(lb)
        if (i + 1) % 250 == 0:
            print(f'  generated {i + 1}/{count} training scenes ({time.time() - t0:.0f} s)', flush=True)
    if cache:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        np.savez(cache, images=imgs, labels=labs, seed=seed)
    return imgs, labs


def augment_batch(rng, imgs, labs, batch, crop_h, crop_w, scale_lo, scale_hi, jitter):
    """CoinCheung-style: random scale, random crop (padding with ignore), horizontal flip, colour jitter."""
    xs, ys = [], []
    for _ in range(batch):
        i = rng.integers(0, len(imgs))
        img = torch.from_numpy(imgs[i]).permute(2, 0, 1).float()[None] / 255.0
        lab = torch.from_numpy(labs[i].astype(np.int64))[None, None].float()
        s = rng.uniform(scale_lo, scale_hi)
        h, w = int(round(img.shape[2] * s)), int(round(img.shape[3] * s))
        img = F.interpolate(img, size=(h, w), mode='bilinear', align_corners=False)
        lab = F.interpolate(lab, size=(h, w), mode='nearest')
        ph, pw = max(0, crop_h - h), max(0, crop_w - w)
        if ph or pw:
            img = F.pad(img, (0, pw, 0, ph), value=0.0)
            lab = F.pad(lab, (0, pw, 0, ph), value=255.0)
            h, w = img.shape[2], img.shape[3]
        y0, x0 = rng.integers(0, h - crop_h + 1), rng.integers(0, w - crop_w + 1)
        img = img[:, :, y0:y0 + crop_h, x0:x0 + crop_w]
        lab = lab[:, :, y0:y0 + crop_h, x0:x0 + crop_w]
        if rng.random() < 0.5:
            img, lab = img.flip(3), lab.flip(3)
        # colour jitter: brightness, contrast, saturation (CoinCheung: 0.4 each; the scenes already vary
        # their lighting, so `jitter` defaults to 0.25)
        img = img * rng.uniform(1 - jitter, 1 + jitter)
        m = img.mean()
        img = (img - m) * rng.uniform(1 - jitter, 1 + jitter) + m
        g = img.mean(dim=1, keepdim=True)
        img = (img - g) * rng.uniform(1 - jitter, 1 + jitter) + g
        xs.append(img.clamp(0, 1))
        ys.append(lab.long()[:, 0])
    x = torch.cat(xs)
    return (x - MEAN) / STD, torch.cat(ys)


@torch.no_grad()
def evaluate(model, val_imgs, val_labs, n_classes=19):
    model.eval()
    conf = np.zeros((n_classes, n_classes), np.int64)
    for img, lab in zip(val_imgs, val_labs):
        pred = model(normalise(img[None])).argmax(1)[0].numpy()
        conf += confusion(pred, lab, n_classes)
    model.train()
    return scores(conf)


def half_state_dict(model):
    """The state dict as torch.save will hold it: float tensors stored as float16."""
    return {k: (v.half() if v.is_floating_point() else v).clone() for k, v in model.state_dict().items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=0, help='seed of initialisation, batches and augmentation')
    ap.add_argument('--iters', type=int, default=4000)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--crop', default='128x256', help='training crop HxW')
    ap.add_argument('--scale', default='0.5,1.5', help='random scale range')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--jitter', type=float, default=0.25, help='colour jitter strength (brightness, contrast, saturation)')
    ap.add_argument('--weight-decay', type=float, default=1e-4)
    ap.add_argument('--warmup', type=int, default=150)
    ap.add_argument('--train-seed', type=int, default=1, help='generator seed of the training scenes')
    ap.add_argument('--train-count', type=int, default=2000)
    ap.add_argument('--train-size', default='256x512')
    ap.add_argument('--val', default='data/synthetic-val', help='held-out labelled set (images/, labels/)')
    ap.add_argument('--eval-every', type=int, default=500)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--cache', default='.tmp/train-cache/scenes.npz', help='where the generated training set is cached')
    ap.add_argument('--init', default=None,
                    help='continue from this state dict (a second stage: fresh optimizer, warm-up and poly decay); '
                         'its directory\'s manifest.json, if any, is recorded as the earlier stage')
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    crop_h, crop_w = (int(v) for v in a.crop.split('x'))
    th, tw = (int(v) for v in a.train_size.split('x'))
    scale_lo, scale_hi = (float(v) for v in a.scale.split(','))
    t_start = time.time()
    print(f'generating {a.train_count} training scenes (seed {a.train_seed}, {th}x{tw})', flush=True)
    imgs, labs = make_training_set(a.train_seed, a.train_count, th, tw, a.cache)
    val_imgs, val_labs, val_names = load_set(a.val)
    print(f'held-out set: {len(val_imgs)} images from {a.val}', flush=True)

    model = BiSeNetV2Ref(19, aux=True)
    init_weights(model)
    earlier = []
    if a.init:
        sd = torch.load(a.init, map_location='cpu')
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
        m_path = os.path.join(os.path.dirname(a.init), 'manifest.json')
        if os.path.exists(m_path):
            with open(m_path) as f:
                prev = json.load(f)
            earlier = prev.get('stages', []) + [{k: prev.get(k) for k in (
                'command', 'seed', 'iters', 'batch', 'crop', 'scale', 'lr', 'jitter', 'weight_decay', 'warmup',
                'train_seconds', 'threads', 'machine', 'history') if k in prev} | {'pytorch_miou': prev.get('pytorch', {}).get('miou')}]
        s0 = evaluate(model, val_imgs, val_labs)
        print(f'initialised from {a.init}: held-out mIoU {s0["miou"]:.2f}', flush=True)
    model.train()
    crit = OhemCE()
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': a.weight_decay}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=a.lr, betas=(0.9, 0.999))

    def lr_at(it):
        if it < a.warmup:
            return a.lr * (0.1 + 0.9 * it / a.warmup)
        return a.lr * (1 - (it - a.warmup) / (a.iters - a.warmup)) ** 0.9

    t_train = time.time()
    history = []
    smooth = None
    for it in range(a.iters):
        for g in opt.param_groups:
            g['lr'] = lr_at(it)
        x, y = augment_batch(rng, imgs, labs, a.batch, crop_h, crop_w, scale_lo, scale_hi, a.jitter)
        logits, *aux = model(x, with_aux=True)
        loss = crit(logits, y) + sum(crit(o, y) for o in aux)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        smooth = loss.item() if smooth is None else 0.95 * smooth + 0.05 * loss.item()
        if (it + 1) % 25 == 0:
            el = time.time() - t_train
            eta = el / (it + 1) * (a.iters - it - 1)
            print(f'iter {it + 1}/{a.iters}  loss {smooth:.3f}  lr {lr_at(it):.2e}  {el / (it + 1):.2f} s/it  eta {eta / 60:.1f} min', flush=True)
        if (it + 1) % a.eval_every == 0 or it + 1 == a.iters:
            s = evaluate(model, val_imgs, val_labs)
            history.append({'iter': it + 1, 'miou': round(s['miou'], 2), 'seconds': round(time.time() - t_train)})
            print(f'== iter {it + 1}: held-out mIoU {s["miou"]:.2f}  pixel acc {s["pixel_accuracy"]:.2f}', flush=True)
            os.makedirs(a.out, exist_ok=True)
            torch.save(model.state_dict(), os.path.join('.tmp', 'train-last-fp32.pth'))
    train_seconds = time.time() - t_train

    # What the file holds: float16 storage. The recorded mIoU is measured with exactly those values.
    sd16 = half_state_dict(model)
    os.makedirs(a.out, exist_ok=True)
    torch.save(sd16, os.path.join(a.out, 'model.pth'))
    s32 = evaluate(model, val_imgs, val_labs)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd16.items()})
    s16 = evaluate(model, val_imgs, val_labs)
    names = generate.CLASSES
    manifest = {
        'what': 'BiSeNetV2 trained on synthetic street scenes (scripts/synthetic), CoinCheung layout with booster heads',
        'checkpoint': 'model.pth',
        'storage': 'float16 (torch.save of the state dict with every float tensor cast to half, to keep the repository small); num_batches_tracked int64',
        'keys': len(sd16),
        'family': 'coincheung', 'num_classes': 19, 'class_names': names,
        'preprocessing': {'color': 'RGB', 'scale': 1 / 255, 'mean': [0.3257, 0.3690, 0.3223], 'std': [0.2112, 0.2148, 0.2115]},
        'command': 'python3 ' + ' '.join(sys.argv),
        'init': a.init,
        'stages': earlier,
        'stages_note': 'earlier training stages, oldest first; this file\'s own fields describe the last stage, which '
                       'started from `init` (the earlier stage\'s model.pth as committed) with a fresh optimizer',
        'seed': a.seed, 'iters': a.iters, 'batch': a.batch, 'crop': a.crop, 'scale': a.scale, 'lr': a.lr, 'jitter': a.jitter,
        'weight_decay': a.weight_decay, 'warmup': a.warmup, 'optimizer': 'AdamW, linear warm-up then poly 0.9',
        'loss': 'OHEM cross-entropy (p < 0.7, at least 1/16 of pixels) on logits + aux2 + aux3 + aux4 + aux5_4, weight 1 each',
        'training_set': {'generator': 'scripts/synthetic/generate.py', 'seed': a.train_seed, 'count': a.train_count, 'size': a.train_size},
        'validation_set': {'dir': a.val, 'images': len(val_imgs), 'files': val_names},
        'train_seconds': round(train_seconds),
        'train_seconds_all_stages': round(train_seconds) + sum(st.get('train_seconds') or 0 for st in earlier), 'total_seconds': round(time.time() - t_start), 'threads': a.threads,
        'machine': f'{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, python {platform.python_version()}',
        'history': history,
        'pytorch': {
            'miou': round(s16['miou'], 4), 'pixel_accuracy': round(s16['pixel_accuracy'], 4),
            'per_class': {n: (None if v is None else round(v, 4)) for n, v in zip(names, s16['per_class'])},
            'note': 'measured with the float16-rounded weights of model.pth, computed in float32, at each image\'s own size',
            'miou_float32_weights': round(s32['miou'], 4),
        },
    }
    with open(os.path.join(a.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    print(f'done: mIoU {s16["miou"]:.2f} (float16 weights), {s32["miou"]:.2f} (float32); {train_seconds / 60:.1f} min training', flush=True)


if __name__ == '__main__':
    main()

"""Extra golden sets for the mmsegmentation and PaddleSeg variants, too large to commit.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/golden/make_family_extra.py [OUT_ROOT]
(OUT_ROOT defaults to .tmp/family-extra, which git ignores). Writes OUT_ROOT/fixtures/<name>/model.* and
OUT_ROOT/golden/<name>/ exactly like the committed sets (manifest "checkpoint" relative to OUT_ROOT), so

    bin/bisenet convert OUT_ROOT/fixtures/<name>/model.pth --to onnx --aux --labels --out m.onnx
    bin/bisenet verify m.onnx --golden OUT_ROOT/golden/<name>

checks them. They are the checkpoints the tests never see: full float32 storage (as mmcv and paddle.save
write it), sizes other than the committed sets', and the file shapes users actually hold:

| set | covers |
|---|---|
| mmseg-bisenetv2-n19-aux | mmseg 1.x file: {meta, state_dict, message_hub, optimizer, param_schedulers}; message_hub pickles mmengine HistoryBuffer objects holding numpy arrays (read as inert placeholders, never called); 19 classes, the four FCN booster heads (11.4 M parameters: why this set is not committed), batch 1, 64x96 |
| mmseg-bisenetv2-n150-v0 | mmseg 0.x file: {meta: {CLASSES, PALETTE, ...}, state_dict}; 150 classes, batch 2, 96x64 |
| paddleseg-bisenetv2-n171 | .pdparams, protocol 4, float32, 171 classes, no booster heads, batch 1, 96x64 |
| paddleseg-bisenetv2-n19-p2 | .pdparams, protocol 2 (bytes through _codecs.encode), float32, booster heads, batch 2, 64x96 |
| paddleseg-bisenetv2-n19-nested | what paddle.save({'model': state_dict, 'epoch': ...}) writes (Paddle >= 2.1): tensors as tuple((name, ndarray)) under 'model', protocol 4, 64x64 |

Same seeds, same weights on every run (He-normal convs, random BatchNorm statistics, random biases).
"""
import json
import os
import pickle
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from families_ref import MMSegBiSeNetV2, PaddleBiSeNetV2, paddle_state_dict  # noqa: E402
from make_goldens import ROOT, randomize, write_outputs  # noqa: E402

torch.set_num_threads(1)


# ---- stand-ins for the mmengine classes an mmseg 1.x checkpoint pickles (only their names matter: pickle
# stores module + class name and the instance __dict__; our reader must never resolve or call them).
def _fake_module(name):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    return mod


_hb = _fake_module('mmengine.logging.history_buffer')
_fake_module('mmengine')
_fake_module('mmengine.logging')


class HistoryBuffer:
    def __init__(self, values):
        self.max_length = 1000000
        self._log_history = np.asarray(values, dtype=np.float64)
        self._count_history = np.ones(len(values), dtype=np.int64)


HistoryBuffer.__module__ = 'mmengine.logging.history_buffer'
_hb.HistoryBuffer = HistoryBuffer


class PaddleTensor:
    """Pickles like a Paddle >= 2.1 tensor inside a nested object: tuple((name, ndarray))."""

    def __init__(self, name, array):
        self.name, self.array = name, array

    def __reduce__(self):
        return (tuple, ((self.name, self.array),))


def write_set(out_root, name, family, model, ckpt, batch, h, w, seed, aux, describe):
    gd = os.path.join(out_root, 'golden', name)
    x, files = write_outputs(gd, model, batch, h, w, seed, aux, ckpt)
    n = model.decode_head.conv_seg.out_channels if family == 'mmseg' else model.head.conv_1x1.out_channels
    manifest = {
        'source': f'scripts/golden/families_ref.py ({family} variant), made by make_family_extra.py, PyTorch {torch.__version__} on CPU, float32',
        'checkpoint': os.path.relpath(ckpt, out_root), 'family': family, 'n_classes': n, 'covers': describe,
        'weights': f'seed {seed}: He-normal conv weights, random BatchNorm, random biases; float32 storage',
        'booster_heads_in_checkpoint': aux,
        'mode': 'eval-mode BatchNorm; aux*.npy (when present) are the booster heads resized bilinear to the input size',
        'layout': 'NCHW float32, labels int64', 'files': files,
    }
    with open(os.path.join(gd, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'  {name}: {os.path.getsize(ckpt) / 2**20:.1f} MiB checkpoint, input {list(x.shape)}')


def fixture_path(out_root, name, file):
    d = os.path.join(out_root, 'fixtures', name)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, file)


def mmseg_model(n, aux, seed):
    torch.manual_seed(seed)
    m = MMSegBiSeNetV2(n, aux=aux).eval()
    randomize(m, seed)
    return m


def paddle_model(n, aux, seed):
    torch.manual_seed(seed)
    m = PaddleBiSeNetV2(n, aux=aux).eval()
    randomize(m, seed)
    return m


def main(out_root):
    out_root = os.path.abspath(out_root)
    print(f'writing under {out_root}')

    # mmseg 1.x (mmengine runner.save_checkpoint): meta, state_dict, message_hub, optimizer, param_schedulers.
    seed = 1901
    mm = mmseg_model(19, True, seed)
    sd = mm.state_dict()
    params = [v for k, v in sd.items() if v.is_floating_point()][:3]
    ckpt = fixture_path(out_root, 'mmseg-bisenetv2-n19-aux', 'model.pth')
    torch.save({
        'meta': {'mmengine_version': '0.10.4', 'mmseg_version': '1.2.2', 'epoch': 0, 'iter': 160000, 'seed': 1234,
                 'experiment_name': 'bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024', 'cfg': "model = dict(type='EncoderDecoder')\n",
                 'dataset_meta': {'classes': tuple(f'class{i}' for i in range(19)), 'palette': [[i, i, i] for i in range(19)]}},
        'state_dict': sd,
        'message_hub': {'log_scalars': {'train/loss': HistoryBuffer([1.5, 1.25]), 'train/lr': HistoryBuffer([0.05])},
                        'runtime_info': {'iter': 160000, 'best_miou': np.float64(0.7321), 'dataset_meta': None},
                        'resumed_keys': {'iter': True}},
        'optimizer': {'state': {i: {'momentum_buffer': p.clone()} for i, p in enumerate(params)},
                      'param_groups': [{'lr': 1e-4, 'momentum': 0.9, 'params': [0, 1, 2]}]},
        'param_schedulers': [{'eta_min': 1e-4, 'power': 0.9, 'last_step': 160000}],
    }, ckpt)
    write_set(out_root, 'mmseg-bisenetv2-n19-aux', 'mmseg', mm, ckpt, 1, 64, 96, seed, True,
              'mmseg 1.x checkpoint (message_hub with mmengine HistoryBuffer + numpy arrays, optimizer state), 19 classes, booster heads, float32')

    # mmseg 0.x (mmcv save_checkpoint, optimizer dropped): {meta, state_dict}.
    seed = 1502
    mm = mmseg_model(150, False, seed)
    ckpt = fixture_path(out_root, 'mmseg-bisenetv2-n150-v0', 'model.pth')
    torch.save({'meta': {'mmseg_version': '0.30.0', 'mmcv_version': '1.7.1', 'config': "model = dict()\n",
                         'CLASSES': tuple(f'class{i}' for i in range(150)), 'PALETTE': [[i, 0, 0] for i in range(150)],
                         'epoch': 1, 'iter': 160000, 'time': 'Thu Nov 25 00:00:00 2021'},
                'state_dict': mm.state_dict()}, ckpt)
    write_set(out_root, 'mmseg-bisenetv2-n150-v0', 'mmseg', mm, ckpt, 2, 96, 64, seed, False,
              'mmseg 0.x checkpoint {meta (CLASSES, PALETTE), state_dict}, 150 classes, batch 2, float32')

    # PaddleSeg, 171 classes: what paddle.save(model.state_dict(), 'model.pdparams') writes (protocol 4).
    seed = 1711
    pd = paddle_model(171, False, seed)
    prm = paddle_state_dict(pd)
    prm['StructuredToParameterName@@'] = {k: f'conv2d_{i}.w_0' for i, k in enumerate(prm)}
    ckpt = fixture_path(out_root, 'paddleseg-bisenetv2-n171', 'model.pdparams')
    with open(ckpt, 'wb') as f:
        pickle.dump(prm, f, protocol=4)
    write_set(out_root, 'paddleseg-bisenetv2-n171', 'paddleseg', pd, ckpt, 1, 96, 64, seed, False,
              'PaddleSeg .pdparams (protocol 4, float32), 171 classes, no booster heads')

    # PaddleSeg, 19 classes with booster heads, an older protocol-2 file.
    seed = 1902
    pd = paddle_model(19, True, seed)
    prm = paddle_state_dict(pd)
    prm['StructuredToParameterName@@'] = {k: f'param_{i}' for i, k in enumerate(prm)}
    ckpt = fixture_path(out_root, 'paddleseg-bisenetv2-n19-p2', 'model.pdparams')
    with open(ckpt, 'wb') as f:
        pickle.dump(prm, f, protocol=2)
    write_set(out_root, 'paddleseg-bisenetv2-n19-p2', 'paddleseg', pd, ckpt, 2, 64, 96, seed, True,
              'PaddleSeg .pdparams (protocol 2: bytes via _codecs.encode), float32, 19 classes, booster heads, batch 2')

    # PaddleSeg, nested object saved by Paddle >= 2.1 (_pickle_save): {'model': {key: tuple((name, ndarray))}, ...}.
    seed = 1903
    pd = paddle_model(19, False, seed)
    prm = {k: PaddleTensor(f'param_{i}', v) for i, (k, v) in enumerate(paddle_state_dict(pd).items())}
    ckpt = fixture_path(out_root, 'paddleseg-bisenetv2-n19-nested', 'model.pdparams')
    with open(ckpt, 'wb') as f:
        pickle.dump({'model': prm, 'epoch': 3, 'iters': 160000}, f, protocol=4)
    write_set(out_root, 'paddleseg-bisenetv2-n19-nested', 'paddleseg', pd, ckpt, 1, 64, 64, seed, False,
              'PaddleSeg nested object (Paddle >= 2.1 tensors as tuple((name, ndarray)) under "model"), protocol 4, float32')


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '.tmp', 'family-extra'))

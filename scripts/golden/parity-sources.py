"""Where the ONNX parity error comes from, on this machine: the shipped upstream checkpoint at 1x3x512x1024.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/golden/parity-sources.py [OUT]   (default .tmp/parity-sources)
Writes OUT/input.npy (seeded), OUT/torch32.npy (PyTorch float32, one thread: what golden sets hold),
OUT/torch64.npy (the same module in float64: the exact answer to ~1e-12) and OUT/torch-export.onnx
(torch.onnx.export's own ONNX of the module, opset 17). scripts/parity-sources.mjs then runs that ONNX and
bisenet-port's own ONNX in onnxruntime-node and prints each one's error against float32 and float64 PyTorch.
Nothing is written inside the repository except under .tmp/ (ignored).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from bisenetv2_ref import BiSeNetV2Ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
torch.set_num_threads(1)


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '.tmp', 'parity-sources'))
    os.makedirs(out, exist_ok=True)
    model = BiSeNetV2Ref(19, aux=True).eval()
    model.load_state_dict(torch.load(os.path.join(ROOT, 'fixtures', 'coincheung-bisenetv2-n19', 'model.pth'), map_location='cpu'), strict=True)
    g = torch.Generator().manual_seed(512)
    x = torch.randn(1, 3, 512, 1024, generator=g)
    with torch.no_grad():
        y32 = model(x).numpy()
        y64 = model.double()(x.double()).numpy()
        model.float()
        torch.onnx.export(model, x, os.path.join(out, 'torch-export.onnx'), opset_version=17,
                          input_names=['input'], output_names=['logits'])
    np.save(os.path.join(out, 'input.npy'), x.numpy())
    np.save(os.path.join(out, 'torch32.npy'), y32)
    np.save(os.path.join(out, 'torch64.npy'), y64)
    rel = np.abs(y32.astype(np.float64) - y64).max() / np.abs(y64).max()
    print(f'{out}: input {list(x.shape)}, PyTorch float32 vs float64: max|d|/max|ref| {rel:.2e}')


if __name__ == '__main__':
    main()

"""mIoU with Cityscapes' conventions (ignore 255; a class absent from both prediction and label is
excluded), shared by the training script and the PyTorch evaluation of a checkpoint."""
import glob
import os

import numpy as np
from PIL import Image


def confusion(pred, label, n):
    valid = label != 255
    idx = label[valid].astype(np.int64) * n + pred[valid].astype(np.int64)
    return np.bincount(idx, minlength=n * n).reshape(n, n)


def scores(conf):
    """conf[label, pred] -> {'miou', 'pixel_accuracy', 'per_class'} in percent; per_class None where absent."""
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    per = [None if u == 0 else 100.0 * t / u for t, u in zip(tp, union)]
    present = [v for v in per if v is not None]
    return {'miou': float(np.mean(present)) if present else 0.0,
            'pixel_accuracy': 100.0 * tp.sum() / max(1, conf.sum()), 'per_class': per}


def load_set(d):
    names = sorted(os.path.basename(f) for f in glob.glob(os.path.join(d, 'images', '*.png')))
    imgs = [np.asarray(Image.open(os.path.join(d, 'images', n)).convert('RGB')) for n in names]
    labs = [np.asarray(Image.open(os.path.join(d, 'labels', n))) for n in names]
    return imgs, labs, names

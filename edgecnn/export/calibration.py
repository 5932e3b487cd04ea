"""Real images for export: calibration batches, BatchNorm re-estimation, parity sets.

All image arrays are uint8 ``N x H x W x 3`` (RGB) as ``edgecnn.data`` returns
them; tensors are normalised float32 NCHW (``to_tensor`` with the model's mean
and std, resized to the model's input side).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from edgecnn.data import ArrayDataset, load_dataset, to_tensor
from edgecnn.data.preprocess import Preprocessing


def model_tensors(images: np.ndarray, card_or_meta: Any, input_size: int, batch: int = 64) -> Iterable[Any]:
    """Yield normalised NCHW float32 torch batches of at most ``batch`` images.

    ``card_or_meta``: a ``Preprocessing`` (the weights' own: each image resized
    and centre-cropped with PIL as torchvision does, then normalised), or a card
    / dict with ``mean`` and ``std`` (the image squashed to ``input_size``)."""
    if isinstance(card_or_meta, Preprocessing):
        for i in range(0, len(images), batch):
            yield card_or_meta.normalize(card_or_meta.crops(images[i:i + batch]))
        return
    mean, std = _mean_std(card_or_meta)
    for i in range(0, len(images), batch):
        yield to_tensor(images[i:i + batch], mean, std, size=input_size)


def _mean_std(card_or_meta: Any) -> tuple[tuple, tuple]:
    if isinstance(card_or_meta, dict):
        return tuple(card_or_meta["mean"]), tuple(card_or_meta["std"])
    return tuple(card_or_meta.mean), tuple(card_or_meta.std)


def load_images(dataset: str = "cifar10", split: str = "train", n: int = 128, seed: int = 0,
                data_dir: str | None = None) -> ArrayDataset:
    """A deterministic, class-balanced subset of ``n`` real images."""
    return load_dataset(dataset, split, data_dir).subset(n, seed=seed)


def folder_images(folder: str, n: int, pre: Preprocessing, seed: int = 0) -> tuple[np.ndarray, Preprocessing]:
    """Up to ``n`` images from any folder (recursive, no labels), decoded and
    cropped as ``pre`` says: (uint8 crops, the preprocessing that now only
    normalises them). For ``--calibration-dir``."""
    from dataclasses import replace

    from edgecnn.data.image_source import calibration_source

    crops = calibration_source(folder, n, seed).crops(pre)
    return crops, replace(pre, resize_size=pre.crop_size)


def recalibrate_bn(model: Any, images: np.ndarray, card_or_meta: Any, input_size: int, batch: int = 64) -> int:
    """Re-estimate every BatchNorm's running mean/variance on real images.

    Freshly initialised networks keep running_mean=0 / running_var=1, which
    with random weights shrinks logits to ~1e-9 (mobilenet_v2/v3) and makes
    any parity number meaningless. This forwards ``images`` (uint8 NHWC) in
    training mode for the BatchNorm layers only (cumulative average, no
    gradients, other layers such as dropout stay in eval mode), then returns
    the model to eval mode. Weights are not changed. Returns the number of
    BatchNorm layers updated (0: nothing to do, e.g. LeNet-5).
    """
    import torch
    from torch import nn

    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    model.eval()
    saved = []
    for bn in bns:
        saved.append(bn.momentum)
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over all batches
        bn.train()
    try:
        with torch.no_grad():
            for x in model_tensors(images, card_or_meta, input_size, batch):
                model(x)
    finally:
        for bn, mom in zip(bns, saved):
            bn.momentum = mom
        model.eval()
    return len(bns)


def calibration_arrays(images: np.ndarray, card_or_meta: Any, input_size: int, batch: int = 1) -> list[np.ndarray]:
    """Normalised NCHW float32 numpy batches of ``batch`` images (INT8 calibration)."""
    return [t.numpy() for t in model_tensors(images, card_or_meta, input_size, batch)]

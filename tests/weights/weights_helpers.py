"""Helpers of the weights tests (imported by name: tests/ folders are not packages)."""

from __future__ import annotations

import os
from pathlib import Path

# CIFAR-10 class -> the wnid of a matching ImageNet-1k class
CIFAR_TO_WNID = {"airplane": "n02690373", "automobile": "n02814533", "bird": "n01530575", "cat": "n02123045",
                 "deer": "n02422699", "dog": "n02085620", "frog": "n01641577", "horse": "n02389026",
                 "ship": "n03095699", "truck": "n03417042"}
PER_CLASS = 40  # test JPEGs per class in the cifar_as_imagenet folders


def save_torchvision_weights(weights, folder: Path, seed: int = 0, recalibrate_on=None, **builder_kwargs) -> Path:
    """torchvision's model for ``weights`` (an enum member) with seeded random
    weights, saved under ``folder`` with the exact file name of the weights'
    URL, as torchvision's download would. ``recalibrate_on``: uint8 images whose
    BatchNorm statistics replace the fresh 0/1 ones (else MobileNet logits are
    ~1e-9 and any difference is meaningless)."""
    import torch
    import torchvision

    from edgecnn.data.preprocess import Preprocessing
    from edgecnn.export.calibration import recalibrate_bn

    builder = torchvision.models.get_model_builder(_builder_of(weights))
    torch.manual_seed(seed)
    model = builder(weights=None, **builder_kwargs)
    if recalibrate_on is not None:
        t = weights.transforms()
        pre = Preprocessing(t.crop_size[0], t.resize_size[0], t.interpolation.value, tuple(t.mean), tuple(t.std))
        recalibrate_bn(model, recalibrate_on, pre, t.crop_size[0])
    path = folder / os.path.basename(weights.url)
    torch.save(model.state_dict(), path)
    return path


def _builder_of(weights) -> str:
    import torchvision

    for name in torchvision.models.list_models(module=torchvision.models):
        if torchvision.models.get_model_weights(name) is type(weights):
            return name
    raise LookupError(type(weights).__name__)

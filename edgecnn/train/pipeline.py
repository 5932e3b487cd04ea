"""The on-device input pipeline: uint8 arrays moved to the device once, then
batch augmentation and normalisation there (``edgecnn.data.augment``), so the
host never decodes or copies images during an epoch."""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from edgecnn.data import augment as A
from edgecnn.models._registry import is_cifar_size
from edgecnn.train.recipes import Recipe


def to_device_images(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 NHWC numpy -> uint8 NCHW tensor on ``device`` (pinned, non-blocking copy on CUDA)."""
    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()
    if device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


def to_device_labels(labels: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)


def train_transform(x: torch.Tensor, g: torch.Generator, *, recipe: Recipe, input_size: int, mean, std,
                    channels_last: bool) -> torch.Tensor:
    """uint8 batch -> augmented, normalised float batch (CIFAR or ImageNet style by input size)."""
    if is_cifar_size(input_size):
        if x.shape[-1] != input_size:
            x = A.center_resize(x, input_size)
        x = A.pad_crop_flip(x, g, pad=recipe.pad, do_flip=recipe.flip)
    else:
        x = A.random_resized_crop(x, input_size, g, scale=(recipe.rrc_scale_min, 1.0), do_flip=recipe.flip)
    x = A.normalize(x, mean, std, channels_last)
    if recipe.cutout > 0:
        x = A.cutout(x, recipe.cutout, g)
    if recipe.random_erasing > 0:
        x = A.random_erasing(x, g, p=recipe.random_erasing)
    return x


def eval_transform(x: torch.Tensor, *, recipe: Recipe | None, input_size: int, mean, std,
                   channels_last: bool = False) -> torch.Tensor:
    """uint8 batch -> normalised float batch (centre crop for ImageNet-size models)."""
    crop = 1.0 if is_cifar_size(input_size) or recipe is None else recipe.eval_crop
    if x.shape[-1] != input_size or crop < 1.0:
        x = A.center_resize(x, input_size, crop)
    return A.normalize(x, mean, std, channels_last)


def transforms(recipe: Recipe, input_size: int, mean, std, channels_last: bool):
    """(train_fn(x, g), eval_fn(x)) bound to one configuration."""
    kw = dict(recipe=recipe, input_size=input_size, mean=mean, std=std, channels_last=channels_last)
    return partial(train_transform, **kw), partial(eval_transform, **kw)

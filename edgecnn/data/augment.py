"""Batch augmentation on tensors already on the training device (GPU or CPU).

Everything here takes a whole batch and an explicit ``torch.Generator`` so a
step's augmentation depends only on that generator's seed (the trainer seeds
one per step, which is what makes ``--resume`` exact). Images enter as uint8
``N x 3 x H x W`` (the cached dataset, moved to the device once) and leave as
normalised float tensors; nothing goes back through PIL or a DataLoader.

- ``pad_crop_flip``: CIFAR standard (pad 4 px, random 32x32 crop, horizontal flip).
- ``random_resized_crop``: ImageNet-style (scale 0.08-1, ratio 3/4-4/3) via
  ``torchvision.ops.roi_align`` (one vectorised call), then flip.
- ``center_resize``: the matching eval transform (centre crop of ``crop_frac``
  of the side, resized to ``size``).
- ``cutout`` (DeVries & Taylor 2017) and ``random_erasing`` (Zhong et al. 2017)
  on normalised images (the fill 0 is the dataset mean).
- ``mixup`` (Zhang et al. 2018): returns mixed images, both label sets and lambda.
Label smoothing lives in the loss (``nn.CrossEntropyLoss(label_smoothing=...)``).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


def _rand(n: int, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=g.device).to(device)


def _randint(low: int, high: int, n: int, g: torch.Generator, device) -> torch.Tensor:
    return torch.randint(low, high, (n,), generator=g, device=g.device).to(device)


@functools.lru_cache(maxsize=16)
def _scaled_mean_std(mean: tuple, std: tuple, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # made once per device: a host-to-GPU copy every batch would sync the stream every step
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1) * 255.0
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1) * 255.0
    return m, s


def normalize(x: torch.Tensor, mean, std, channels_last: bool = False) -> torch.Tensor:
    """uint8 (or float in [0, 255]) NCHW -> float32 ``(x / 255 - mean) / std``."""
    m, s = _scaled_mean_std(tuple(map(float, mean)), tuple(map(float, std)), x.device)
    out = (x.float() - m) / s
    if channels_last:
        out = out.contiguous(memory_format=torch.channels_last)
    return out


def flip(x: torch.Tensor, g: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Flip each image left-right with probability ``p``."""
    mask = (_rand(x.shape[0], g, x.device) < p).view(-1, 1, 1, 1)
    return torch.where(mask, x.flip(3), x)


def pad_crop_flip(x: torch.Tensor, g: torch.Generator, pad: int = 4, do_flip: bool = True) -> torch.Tensor:
    """Zero-pad by ``pad`` px, take a random crop of the original size per image,
    flip half of them. Works on uint8 and float batches alike."""
    n, c, h, w = x.shape
    if pad > 0:
        xp = F.pad(x, (pad, pad, pad, pad))
        oy = _randint(0, 2 * pad + 1, n, g, x.device)
        ox = _randint(0, 2 * pad + 1, n, g, x.device)
        rows = (oy.view(n, 1) + torch.arange(h, device=x.device).view(1, h)).view(n, 1, h, 1)
        cols = (ox.view(n, 1) + torch.arange(w, device=x.device).view(1, w)).view(n, 1, 1, w)
        ni = torch.arange(n, device=x.device).view(n, 1, 1, 1)
        ci = torch.arange(c, device=x.device).view(1, c, 1, 1)
        x = xp[ni, ci, rows, cols]
    return flip(x, g) if do_flip else x


def random_resized_crop(x: torch.Tensor, size: int, g: torch.Generator, scale=(0.08, 1.0),
                        ratio=(3 / 4, 4 / 3), do_flip: bool = True) -> torch.Tensor:
    """ImageNet-style crop: a box of ``scale`` of the area and ``ratio`` aspect
    per image, bilinearly resized to ``size`` x ``size``. Returns float [0, 255]."""
    from torchvision.ops import roi_align

    n, _, h, w = x.shape
    area = h * w * (scale[0] + (scale[1] - scale[0]) * _rand(n, g, x.device))
    logr = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * _rand(n, g, x.device)
    ar = torch.exp(logr)
    bw = torch.sqrt(area * ar).clamp(1, w)
    bh = torch.sqrt(area / ar).clamp(1, h)
    x0 = _rand(n, g, x.device) * (w - bw)
    y0 = _rand(n, g, x.device) * (h - bh)
    boxes = torch.stack([torch.arange(n, device=x.device, dtype=torch.float32), x0, y0, x0 + bw, y0 + bh], 1)
    out = roi_align(x.float(), boxes, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    return flip(out, g) if do_flip else out


def center_resize(x: torch.Tensor, size: int, crop_frac: float = 1.0) -> torch.Tensor:
    """Eval transform: centre crop ``crop_frac`` of the side, resize to ``size``.
    Returns float [0, 255] (uint8 input) or the input dtype's range."""
    h, w = x.shape[-2:]
    if crop_frac < 1.0:
        ch, cw = max(1, round(h * crop_frac)), max(1, round(w * crop_frac))
        top, left = (h - ch) // 2, (w - cw) // 2
        x = x[..., top:top + ch, left:left + cw]
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x


def cutout(x: torch.Tensor, size: int, g: torch.Generator, p: float = 1.0) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square (clipped at the border) at a random centre,
    in each image with probability ``p``. Use on normalised images (0 = mean)."""
    if size <= 0:
        return x
    n, _, h, w = x.shape
    cy = _randint(0, h, n, g, x.device).view(n, 1, 1)
    cx = _randint(0, w, n, g, x.device).view(n, 1, 1)
    on = (_rand(n, g, x.device) < p).view(n, 1, 1)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    half = size // 2
    hole = (ys >= cy - half) & (ys < cy - half + size) & (xs >= cx - half) & (xs < cx - half + size) & on
    return x.masked_fill(hole.unsqueeze(1), 0.0)


def random_erasing(x: torch.Tensor, g: torch.Generator, p: float = 0.5, scale=(0.02, 0.33),
                   ratio=(0.3, 3.3)) -> torch.Tensor:
    """Erase one random rectangle (``scale`` of the area, aspect ``ratio``) with
    probability ``p`` per image, filled with 0 (the mean after normalisation)."""
    if p <= 0:
        return x
    n, _, h, w = x.shape
    area = h * w * (scale[0] + (scale[1] - scale[0]) * _rand(n, g, x.device))
    logr = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * _rand(n, g, x.device)
    ar = torch.exp(logr)
    eh = torch.sqrt(area / ar).clamp(1, h).floor()
    ew = torch.sqrt(area * ar).clamp(1, w).floor()
    y0 = (_rand(n, g, x.device) * (h - eh + 1)).floor().view(n, 1, 1)
    x0 = (_rand(n, g, x.device) * (w - ew + 1)).floor().view(n, 1, 1)
    on = (_rand(n, g, x.device) < p).view(n, 1, 1)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (ys >= y0) & (ys < y0 + eh.view(n, 1, 1)) & (xs >= x0) & (xs < x0 + ew.view(n, 1, 1)) & on
    return x.masked_fill(hole.unsqueeze(1), 0.0)


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, g: torch.Generator):
    """Mix each image with a partner from a shuffled batch: returns
    ``(mixed, y, y_partner, lam)``; the loss is ``lam * L(y) + (1 - lam) * L(y_partner)``.
    ``lam`` ~ Beta(alpha, alpha), drawn from ``g`` (one per batch)."""
    if alpha <= 0:
        return x, y, y, 1.0
    # Beta from two Gammas would need torch.distributions (no generator): numpy, seeded from g's seed.
    # The seed is host state: drawing it from g (.item()) would wait for the GPU at every step.
    import numpy as np

    lam = float(np.random.default_rng([g.initial_seed(), 0x6D6978]).beta(alpha, alpha))
    perm = torch.randperm(x.shape[0], generator=g, device=g.device).to(x.device)
    return lam * x + (1.0 - lam) * x[perm], y, y[perm], lam


def step_generator(device: torch.device | str, *keys: int) -> torch.Generator:
    """A generator seeded from integers (seed, epoch, step, rank): augmentation of
    any step can be replayed without saving RNG state. On CUDA the generator
    lives on the GPU so sampling never syncs with the host."""
    dev = torch.device(device)
    gdev = dev if dev.type == "cuda" else torch.device("cpu")
    g = torch.Generator(device=gdev)
    g.manual_seed(mix_seed(*keys))
    return g


def mix_seed(*keys: int) -> int:
    """Deterministic 63-bit seed from integers (splitmix64 over the keys)."""
    h = 0x9E3779B97F4A7C15
    for k in keys:
        h = (h ^ (int(k) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF

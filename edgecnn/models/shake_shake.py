"""Shake-Shake-26 (Gastaldi, 2017): a 26-layer ResNet whose blocks have two
parallel residual branches, CIFAR by default.

    stage   width (2 x d)   blocks   stride     (32 px)
    stem    16, 3x3 conv + BN        1          32
    1       d               4        1          32
    2       2d              4        2          16
    3       4d              4        2          8
    ReLU, global average pool, FC

Each block is ``shortcut(x) + mix(branch1(x), branch2(x))`` with
(ReLU-conv3x3-BN) x 2 branches. ``mix`` averages the branches (0.5 / 0.5)
unless the block's ``shake`` flag is on (``edgecnn train --shake-shake``):
then, in training, each image gets a random convex combination forward and an
independent one backward (the paper's "Shake-Shake-Image"); evaluation always
averages. Where the width changes the shortcut is the paper's: two 1x1 convs
(each to half the width) on the input and on the input shifted by one
pixel, both average-pooled to the stride, concatenated, then BN.

Parameters at 32 px / 10 classes: 2x32d 2,923,162 and 2x96d 26,192,922 (the
paper's Table 1: 2.9M and 26.2M). ImageNet-sized input (>= 64 px) gets a 7x7
stride-2 stem and a max-pool, as the other CIFAR-born families here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgecnn.models._registry import CIFAR10_MEAN, CIFAR10_STD, ModelCard, Reference, register_variant

PAPER = "Gastaldi, 2017. Shake-Shake regularization"
STAGES = [(1, 4, 1), (2, 4, 2), (4, 4, 2)]  # (width in units of d, blocks, stride of the first block)
STEM_WIDTH = 16


class _ShakeShake(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, alpha, beta):
        ctx.save_for_backward(beta)
        return alpha * a + (1 - alpha) * b

    @staticmethod
    def backward(ctx, grad):
        (beta,) = ctx.saved_tensors
        return beta * grad, (1 - beta) * grad, None, None


def shake_shake(a: torch.Tensor, b: torch.Tensor, training: bool) -> torch.Tensor:
    """Shake-Shake mixing of two branches: a random per-sample convex combination
    forward, an independent one backward ("Shake-Shake-Image"); 0.5/0.5 at eval."""
    if not training:
        return 0.5 * (a + b)
    shape = (a.shape[0],) + (1,) * (a.ndim - 1)
    alpha = torch.rand(shape, dtype=a.dtype, device=a.device)
    beta = torch.rand(shape, dtype=a.dtype, device=a.device)
    return _ShakeShake.apply(a, b, alpha, beta)


class ShiftedShortcut(nn.Module):
    """The paper's shortcut where the width changes: two 1x1 convs to half the
    width each, on the input and on the input shifted by one pixel, both
    average-pooled to ``stride``; concatenated, then BN."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.conv2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = F.relu(x)
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        a = self.conv1(F.avg_pool2d(x, 1, self.stride))
        b = self.conv2(F.avg_pool2d(shifted, 1, self.stride))
        return self.bn(torch.cat([a, b], 1))


class ShakeShakeBlock(nn.Module):
    """``shortcut(x) + mix(branch1(x), branch2(x))``; ``shake`` turns the mixing
    into Shake-Shake in training (see the module doc)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()

        def branch() -> nn.Sequential:
            return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                                 nn.ReLU(), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))

        self.branch1, self.branch2 = branch(), branch()
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else ShiftedShortcut(c_in, c_out, stride))
        self.shake = False

    def forward(self, x):
        return self.shortcut(x) + shake_shake(self.branch1(x), self.branch2(x), self.training and self.shake)


class ShakeShakeNet(nn.Module):
    def __init__(self, d: int, num_classes: int, cifar: bool) -> None:
        super().__init__()
        stem: list[nn.Module] = ([nn.Conv2d(3, STEM_WIDTH, 3, 1, 1, bias=False)] if cifar else
                                 [nn.Conv2d(3, STEM_WIDTH, 7, 2, 3, bias=False)])
        stem.append(nn.BatchNorm2d(STEM_WIDTH))
        if not cifar:
            stem.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem)
        blocks: list[nn.Module] = []
        c = STEM_WIDTH
        for mult, n, stride in STAGES:
            for i in range(n):
                blocks.append(ShakeShakeBlock(c, d * mult, stride if i == 0 else 1))
                c = d * mult
        self.blocks = nn.Sequential(*blocks)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.blocks(self.stem(x)))
        return self.fc(self.pool(x).flatten(1))


def _register(d: int, params: int, paper_params: str) -> None:
    name = f"shake_shake26_2x{d}d"

    register_variant(ModelCard(
        name=name, family="shake_shake", paper=PAPER, input_size=32, num_classes=10, dataset="cifar10",
        mean=CIFAR10_MEAN, std=CIFAR10_STD, min_input_size=4,  # downsamples 4x at CIFAR size
        references={(32, 10): Reference(params=params, tolerance=0.0,
                                        source=f"counted; Gastaldi 2017, Table 1: {paper_params} (rounded)")},
        description=f"Shake-Shake-26 2x{d}d: two-branch residual blocks; `edgecnn train --shake-shake` shakes them",
    ), ShakeShakeNet, d, size_as="cifar")


_register(32, 2_923_162, "2.9M")
_register(96, 26_192_922, "26.2M")

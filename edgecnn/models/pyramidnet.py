"""Additive PyramidNet (Han, Kim & Kim, 2017), depth 110, alpha 48, basic blocks.

Instead of doubling the width at each down-sampling, every block widens by
alpha / N channels (N = 3n blocks in all), from 16 to 16 + alpha = 64; the
widths are rounded per block (the authors' code). With basic blocks,
depth = 6n + 2, so depth 110 has n = 18 blocks per group:

    group   blocks   stride   widths              (32 px)
    stem    conv 3x3 16 + BN                      32
    1       18       1        16.9 ... 32         32
    2       18       2        32.9 ... 48         16
    3       18       2        48.9 ... 64         8
    BN-ReLU, global average pool, FC

A PyramidNet block (paper Fig. 6(d)): BN-conv3x3-BN-ReLU-conv3x3-BN, no ReLU
after the addition. The shortcut is the identity (a 2x2 average pool where the
block has stride 2) with the new channels zero-padded (paper Sec. 3.2, option
"zero-padded identity mapping"), so it has no parameters.

Parameters at 32 px / 10 classes: 1,772,706, as osmr/imgclsmob's port of
the authors' code; the paper's Table 4 prints 1.7M (truncated, 4 % below).
ImageNet (input >= 64 px): a 7x7 stride-2 conv + BN + ReLU + 3x3 max-pool stem
(4x down), as the paper's ImageNet PyramidNets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgecnn.models._registry import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    ModelCard,
    Reference,
    is_cifar_size,
    register_model,
)

PAPER = "Han, Kim & Kim, 2017. Deep Pyramidal Residual Networks"
STEM_WIDTH = 16
GROUP_STRIDES = (1, 2, 2)


def pyramid_widths(depth: int, alpha: float, start: int = STEM_WIDTH) -> list[int]:
    """Output width of each of the 3n basic blocks: round(start + alpha * k / 3n), k = 1..3n."""
    n = (depth - 2) // 6
    total = 3 * n
    return [int(round(start + alpha * k / total)) for k in range(1, total + 1)]


class PyramidBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm2d(c_in),
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.pool = nn.AvgPool2d(2, 2, ceil_mode=True) if stride != 1 else nn.Identity()
        self.extra = c_out - c_in

    def forward(self, x):
        out = self.branch(x)
        shortcut = self.pool(x)
        if self.extra:  # zero-padded identity: the new channels get no shortcut
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra))
        return out + shortcut


class PyramidNet(nn.Module):
    def __init__(self, depth: int, alpha: float, num_classes: int, cifar: bool) -> None:
        super().__init__()
        if cifar:
            self.stem = nn.Sequential(nn.Conv2d(3, STEM_WIDTH, 3, 1, 1, bias=False), nn.BatchNorm2d(STEM_WIDTH))
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, STEM_WIDTH, 7, 2, 3, bias=False), nn.BatchNorm2d(STEM_WIDTH),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        widths = pyramid_widths(depth, alpha)
        n = len(widths) // 3
        blocks: list[nn.Module] = []
        c = STEM_WIDTH
        for i, width in enumerate(widths):
            stride = GROUP_STRIDES[i // n] if i % n == 0 else 1
            blocks.append(PyramidBlock(c, width, stride))
            c = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.head(self.blocks(self.stem(x))).flatten(1))


@register_model(ModelCard(
    name="pyramidnet110_a48", family="pyramidnet", paper=PAPER, input_size=32, num_classes=10,
    dataset="cifar10", mean=CIFAR10_MEAN, std=CIFAR10_STD,
    min_input_size=4,  # downsamples 4x: smallest input with a real 1x1 last map
    references={(32, 10): Reference(
        params=1_772_706, tolerance=0.0,
        source="osmr/imgclsmob pyramidnet110_a48_cifar10 (1,772,706; a port of the authors' code); "
               "Han et al. 2017, Table 4 prints it truncated as 1.7M")},
    description="additive PyramidNet-110, alpha 48, basic blocks, zero-padded shortcuts",
))
def pyramidnet110_a48(*, num_classes: int, input_size: int) -> nn.Module:
    return PyramidNet(110, 48, num_classes, cifar=is_cifar_size(input_size))

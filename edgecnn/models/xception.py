"""Xception (Chollet, 2017), the network of the paper's Figure 5.

Every "SeparableConv" is a real depthwise 3x3 conv (``groups = channels``)
followed by a pointwise 1x1 conv, with no BN or ReLU between them (Keras'
``SeparableConv2D``), so the cost tool finds every pair.

    entry flow   conv 3x3/2 32, conv 3x3 64 (unpadded), each BN-ReLU
                 3 blocks (128, 256, 728): [ReLU] sep, BN, ReLU, sep, BN,
                 max-pool 3/2; shortcut 1x1/2 conv + BN
    middle flow  8 blocks: 3 x (ReLU, sep 728, BN) + identity
    exit flow    ReLU sep 728, BN, ReLU sep 1024, BN, max-pool 3/2; shortcut
                 1x1/2 conv 1024 + BN
                 sep 1536, BN, ReLU, sep 2048, BN, ReLU, global pool, FC

The blocks are the ``BLOCKS`` table. The first block skips its leading ReLU
(it follows the stem's ReLU). No conv has a bias (as in Keras' Xception), so
at 299 px and 1000 classes the model has 22,855,952 parameters, the trainable
count of ``keras.applications.Xception`` (its other 54,528 are BN running
statistics, buffers in PyTorch) and the count of timm's ``legacy_xception``.

CIFAR variant (input < 64 px): the two stem convs are padded and run at
stride 1, so 32x32 ends as a 2x2 map (four stride-2 blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from edgecnn.models._classic_blocks import SeparableConv2d, conv_bn_relu
from edgecnn.models._registry import ModelCard, Reference, is_cifar_size, register_model

PAPER = "Chollet, 2017. Xception: Deep Learning with Depthwise Separable Convolutions"


@dataclass(frozen=True)
class XBlock:
    """A residual block of separable convs: widths of its separable convs, its stride
    (a 3x3 max-pool and a 1x1 projection shortcut when 2), and whether it starts
    with a ReLU."""

    widths: tuple[int, ...]
    stride: int
    relu_first: bool = True


BLOCKS = [
    XBlock((128, 128), 2, relu_first=False),  # entry flow
    XBlock((256, 256), 2),
    XBlock((728, 728), 2),
    *[XBlock((728, 728, 728), 1) for _ in range(8)],  # middle flow
    XBlock((728, 1024), 2),  # exit flow
]
EXIT_WIDTHS = (1536, 2048)


class XceptionBlock(nn.Module):
    def __init__(self, c_in: int, spec: XBlock) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = c_in
        for i, width in enumerate(spec.widths):
            if i or spec.relu_first:
                layers.append(nn.ReLU(inplace=False))  # not in place: the input also feeds the shortcut
            layers += [SeparableConv2d(c, width), nn.BatchNorm2d(width)]
            c = width
        if spec.stride != 1:
            layers.append(nn.MaxPool2d(3, spec.stride, 1))
        self.branch = nn.Sequential(*layers)
        self.shortcut = (nn.Sequential(nn.Conv2d(c_in, c, 1, spec.stride, bias=False), nn.BatchNorm2d(c))
                         if spec.stride != 1 or c_in != c else nn.Identity())

    def forward(self, x):
        return self.branch(x) + self.shortcut(x)


class Xception(nn.Module):
    def __init__(self, num_classes: int = 1000, cifar: bool = False) -> None:
        super().__init__()
        pad = 1 if cifar else 0  # Keras' "valid" stem convs at ImageNet size
        self.stem = nn.Sequential(conv_bn_relu(3, 32, 3, 1 if cifar else 2, pad), conv_bn_relu(32, 64, 3, 1, pad))
        blocks: list[nn.Module] = []
        c = 64
        for spec in BLOCKS:
            blocks.append(XceptionBlock(c, spec))
            c = spec.widths[-1]
        self.blocks = nn.Sequential(*blocks)
        tail: list[nn.Module] = []
        for width in EXIT_WIDTHS:
            tail += [SeparableConv2d(c, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            c = width
        self.exit = nn.Sequential(*tail)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.fc(self.pool(self.exit(self.blocks(self.stem(x)))).flatten(1))


@register_model(ModelCard(
    name="xception", family="xception", paper=PAPER, input_size=299, num_classes=1000, dataset="imagenet",
    mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),  # Keras' Xception scales inputs to [-1, 1]
    min_input_size=16,  # CIFAR variant downsamples 16x: smallest input with a real 1x1 last map
    references={(299, 1000): Reference(
        params=22_855_952, tolerance=0.0,
        source="keras.applications.Xception trainable parameters (22,855,952 of 22,910,480; the rest are "
               "BN moving statistics) = timm legacy_xception; paper Table 3: 22,855,952")},
    description="Xception: entry/middle/exit flows of depthwise-separable convs with residual connections",
))
def xception(*, num_classes: int, input_size: int) -> nn.Module:
    return Xception(num_classes=num_classes, cifar=is_cifar_size(input_size))

"""Network in Network (Lin, Chen & Yan, 2013).

Each mlpconv block is one spatial conv followed by two 1x1 convs (the
"micro network"), all with ReLU, then a pool; the last block's final 1x1 conv
outputs one map per class and a global average pool gives the logits (no FC
layer). The tables are the authors' released Caffe definitions, which the
common ports follow.

CIFAR-10 model (default; ``MLPCONV_CIFAR``): 32 -> 16 -> 8 -> global pool.

    block  conv              1x1    1x1      pool
    1      5x5 192, pad 2    160    96       max 3/2, dropout 0.5
    2      5x5 192, pad 2    192    192      avg 3/2, dropout 0.5
    3      3x3 192, pad 1    192    classes  global average

ImageNet model (input >= 64 px; ``MLPCONV_IMAGENET``), 224 -> 54 -> 27 -> 13 -> 6 -> 1:

    1      11x11/4 96        96     96       max 3/2
    2      5x5 256, pad 2    256    256      max 3/2
    3      3x3 384, pad 1    384    384      max 3/2, dropout 0.5
    4      3x3 1024, pad 1   1024   classes  global average

Pools round up (``ceil_mode``), as Caffe does. Parameters at 32 px and 10
classes: 966,986 (the "0.97M" of the common CIFAR ports).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from edgecnn.models._registry import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    ModelCard,
    Reference,
    is_cifar_size,
    register_model,
)

PAPER = "Lin, Chen & Yan, 2013. Network In Network"
CLASSES = -1  # stands for num_classes in the tables


@dataclass(frozen=True)
class MLPConv:
    """One mlpconv block: ``kernel`` x ``kernel`` conv (``stride``, ``padding``) to
    ``widths[0]``, then 1x1 convs to ``widths[1:]``; ``pool`` is "max", "avg" or
    "global"; ``dropout`` after the pool (0 = none)."""

    kernel: int
    stride: int
    padding: int
    widths: tuple[int, int, int]
    pool: str
    dropout: float = 0.0


MLPCONV_CIFAR = [
    MLPConv(5, 1, 2, (192, 160, 96), "max", 0.5),
    MLPConv(5, 1, 2, (192, 192, 192), "avg", 0.5),
    MLPConv(3, 1, 1, (192, 192, CLASSES), "global"),
]
MLPCONV_IMAGENET = [
    MLPConv(11, 4, 0, (96, 96, 96), "max"),
    MLPConv(5, 1, 2, (256, 256, 256), "max"),
    MLPConv(3, 1, 1, (384, 384, 384), "max", 0.5),
    MLPConv(3, 1, 1, (1024, 1024, CLASSES), "global"),
]
POOLS = {
    "max": lambda: nn.MaxPool2d(3, 2, ceil_mode=True),
    "avg": lambda: nn.AvgPool2d(3, 2, ceil_mode=True),
    "global": lambda: nn.AdaptiveAvgPool2d(1),
}


def mlpconv(c_in: int, spec: MLPConv, num_classes: int) -> tuple[nn.Sequential, int]:
    widths = [num_classes if w == CLASSES else w for w in spec.widths]
    layers: list[nn.Module] = [nn.Conv2d(c_in, widths[0], spec.kernel, spec.stride, spec.padding),
                               nn.ReLU(inplace=True)]
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Conv2d(a, b, 1), nn.ReLU(inplace=True)]
    layers.append(POOLS[spec.pool]())
    if spec.dropout:
        layers.append(nn.Dropout(spec.dropout))
    return nn.Sequential(*layers), widths[-1]


class NIN(nn.Module):
    def __init__(self, table: list[MLPConv], num_classes: int) -> None:
        super().__init__()
        blocks, c = [], 3
        for spec in table:
            block, c = mlpconv(c, spec, num_classes)
            blocks.append(block)
        self.features = nn.Sequential(*blocks)
        for m in self.modules():  # the Caffe definitions' N(0, 0.05) conv init
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.05)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.features(x).flatten(1)


@register_model(ModelCard(
    name="nin", family="nin", paper=PAPER, input_size=32, num_classes=10, dataset="cifar10",
    mean=CIFAR10_MEAN, std=CIFAR10_STD,
    min_input_size=5,  # smallest input the CIFAR table runs on (two ceil-mode 3x3 pools)
    references={(32, 10): Reference(
        params=966_986, tolerance=0.0,
        source="Lin et al. 2013, the authors' CIFAR-10 Caffe definition (counted: 966,986; the common "
               "ports quote 0.97M)")},
    description="Network in Network: mlpconv blocks and global average pooling, no FC layer",
))
def nin(*, num_classes: int, input_size: int) -> nn.Module:
    return NIN(MLPCONV_CIFAR if is_cifar_size(input_size) else MLPCONV_IMAGENET, num_classes)

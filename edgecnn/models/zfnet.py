"""ZFNet (Zeiler & Fergus, 2013), the network of the paper's Figure 3.

    layer   kernel / stride   out    then                           (224 px)
    conv1   7x7 / 2, pad 1    96     ReLU, max 3/2, contrast norm   110 -> 55
    conv2   5x5 / 2           256    ReLU, max 3/2, contrast norm   26 -> 13
    conv3   3x3, pad 1        384    ReLU                           13
    conv4   3x3, pad 1        384    ReLU                           13
    conv5   3x3, pad 1        256    ReLU, max 3/2                  13 -> 6
    fc6, fc7                  4096   dropout 0.5, ReLU
    fc8                       classes

The max-pools round up (``ceil_mode``), which is what gives the figure's
55 and 13 (floor would give 54 and 12). The contrast normalisation is a
local response normalisation across channels with AlexNet's constants. The
paper states no parameter count; the reference is the count of this table:
62,357,608 (single tower, no grouped convs, unlike AlexNet).

CIFAR variant (input < 64 px): conv1 7x7 and conv2 5x5 run at stride 1
(padded to keep the size), so a 32x32 image ends as a 4x4 map
(32 -> 16 -> 8 -> 4 through the three pools); fc6 then sees 256 * 4 * 4.
"""

from __future__ import annotations

from torch import nn

from edgecnn.models._classic_blocks import LRN, Conv, ConvStackNet, MaxPool
from edgecnn.models._registry import ModelCard, Reference, is_cifar_size, register_model

PAPER = "Zeiler & Fergus, 2013. Visualizing and Understanding Convolutional Networks"
POOL = MaxPool(3, 2, ceil_mode=True)


def _table(conv1: Conv, conv2: Conv) -> list:
    return [
        conv1, POOL, LRN(),
        conv2, POOL, LRN(),
        Conv(384, 3, 1, 1),
        Conv(384, 3, 1, 1),
        Conv(256, 3, 1, 1), POOL,
    ]


# variant -> (layer table, side of the map fed to fc6)
VARIANTS = {
    "imagenet": (_table(Conv(96, 7, 2, 1), Conv(256, 5, 2, 0)), 6),
    "cifar": (_table(Conv(96, 7, 1, 3), Conv(256, 5, 1, 2)), 4),
}
FC_WIDTHS = (4096, 4096)


@register_model(ModelCard(
    name="zfnet", family="zfnet", paper=PAPER, input_size=224, num_classes=1000, dataset="imagenet",
    min_input_size=6,  # CIFAR variant: the three ceil-mode 3x3 pools need a 3x3 map from 6 px up
    references={(224, 1000): Reference(
        params=62_357_608, tolerance=0.0,
        source="Zeiler & Fergus 2013, Fig. 3 layer sizes (counted; the paper gives no total)")},
    description="ZFNet: 7x7 stride-2 first conv, contrast normalisation after the first two pools",
))
def zfnet(*, num_classes: int, input_size: int) -> nn.Module:
    layers, side = VARIANTS["cifar" if is_cifar_size(input_size) else "imagenet"]
    return ConvStackNet(layers, side, FC_WIDTHS, num_classes)

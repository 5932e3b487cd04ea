"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012), with local response normalisation.

The paper's Figure 2 / Section 3.5, read for one device: the two GPU towers
become ``groups=2`` on the layers that only saw their own tower's kernels
(conv2, conv4, conv5); conv3 and the FC layers connect across towers.

    layer   kernel / stride   out    then                  (224 px input)
    conv1   11x11 / 4, pad 2  96     ReLU, LRN, max 3/2    55 -> 27
    conv2   5x5, pad 2, g=2   256    ReLU, LRN, max 3/2    27 -> 13
    conv3   3x3, pad 1        384    ReLU                  13
    conv4   3x3, pad 1, g=2   384    ReLU                  13
    conv5   3x3, pad 1, g=2   256    ReLU, max 3/2         13 -> 6
    fc6, fc7                  4096   dropout 0.5, ReLU
    fc8                       classes

LRN uses the paper's constants (k=2, n=5, alpha=1e-4, beta=0.75, Sec. 3.3).
The input is 224x224 with conv1 padded by 2 (the paper's "224" only works out
to 55x55 that way, or at 227 px unpadded); an adaptive average pool to 6x6
before fc6 keeps the FC sizes at other ImageNet sizes, as torchvision does.
torchvision's ``alexnet`` is the later one-tower, LRN-less variant (64, 192,
384, 256, 256 kernels, 61,100,840 parameters), which is not what is built here.

Parameters: 60,965,224 (the paper: "60 million"; Sze et al. 2017, Table III:
61M weights, 724M MACs for this two-tower layout at 227x227, which gives the
same 55x55 conv1 map as 224 px padded by 2).

CIFAR variant (input < 64 px): conv1 becomes 5x5 stride 1 (pad 2) so a
32x32 image keeps a 3x3 map after the three max-pools (32 -> 15 -> 7 -> 3);
the FC layers then see 256 * 3 * 3 inputs.
"""

from __future__ import annotations

from torch import nn

from edgecnn.models._classic_blocks import LRN, Conv, ConvStackNet, MaxPool
from edgecnn.models._registry import ModelCard, Reference, is_cifar_size, register_model

PAPER = "Krizhevsky, Sutskever & Hinton, 2012. ImageNet Classification with Deep Convolutional Neural Networks"


def _table(conv1: Conv) -> list:
    return [
        conv1, LRN(), MaxPool(3, 2),
        Conv(256, 5, 1, 2, groups=2), LRN(), MaxPool(3, 2),
        Conv(384, 3, 1, 1),
        Conv(384, 3, 1, 1, groups=2),
        Conv(256, 3, 1, 1, groups=2), MaxPool(3, 2),
    ]


# variant -> (layer table, side of the map fed to fc6)
VARIANTS = {
    "imagenet": (_table(Conv(96, 11, 4, 2)), 6),
    "cifar": (_table(Conv(96, 5, 1, 2)), 3),
}
FC_WIDTHS = (4096, 4096)


@register_model(ModelCard(
    name="alexnet", family="alexnet", paper=PAPER, input_size=224, num_classes=1000, dataset="imagenet",
    # the CIFAR variant needs a 3x3 map before each of its three 3x3 max-pools
    min_input_size=15,
    references={(224, 1000): Reference(
        params=60_965_224, macs=724_406_816, tolerance=0.0,
        source="Krizhevsky et al. 2012, Fig. 2 layer sizes with the two towers as groups=2 (counted: "
               "60,965,224; text: '60 million parameters'); MACs: Sze et al. 2017, 'Efficient Processing "
               "of Deep Neural Networks', Table III (666M conv + 58.6M FC = 724M)")},
    description="AlexNet as in the paper: LRN after conv1 and conv2, two towers as grouped convs",
))
def alexnet(*, num_classes: int, input_size: int) -> nn.Module:
    layers, side = VARIANTS["cifar" if is_cifar_size(input_size) else "imagenet"]
    return ConvStackNet(layers, side, FC_WIDTHS, num_classes)

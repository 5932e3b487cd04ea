"""Wide residual networks (Zagoruyko & Komodakis, 2016).

``wrn_28_10``: the paper's CIFAR WRN-d-k with d = 28, k = 10, i.e.
n = (d - 4) / 6 = 4 pre-activation basic blocks per group (Table 1):

    group   width        blocks   stride   (32 px)
    conv1   16           3x3 conv           32
    conv2   16k = 160    4        1         32
    conv3   32k = 320    4        2         16
    conv4   64k = 640    4        2         8
    BN-ReLU, global average pool, FC

36,479,194 parameters at 10 classes (paper, Table 4/5: 36.5M). Dropout
between the convs is an option (the paper's 0.3 runs); default 0.
ImageNet (input >= 64 px): a 7x7 stride-2 stem + max-pool first (4x down).

``wide_resnet50_2``: torchvision's WRN-50-2 (bottleneck ResNet-50 with twice
the inner width), published 68,883,240 parameters; CIFAR stem below 64 px as
the other ResNets.
"""

from __future__ import annotations

from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.models._classic_blocks import PreActResNet, torchvision_reference, torchvision_weights
from edgecnn.models._registry import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    ModelCard,
    Reference,
    is_cifar_size,
    register_model,
)
from edgecnn.models.resnet import CIFAR_MIN_INPUT, torchvision_resnet

PAPER = "Zagoruyko & Komodakis, 2016. Wide Residual Networks"


def wrn_stages(depth: int, widen: int) -> list[tuple[int, int, int]]:
    """The (width, blocks, stride) rows of WRN-depth-widen (paper Table 1)."""
    if (depth - 4) % 6:
        raise InvalidOptionError(f"WideResNet depth must be 6n + 4, got {depth}")
    n = (depth - 4) // 6
    return [(16 * widen, n, 1), (32 * widen, n, 2), (64 * widen, n, 2)]


@register_model(ModelCard(
    name="wrn_28_10", family="wide_resnet", paper=PAPER, input_size=32, num_classes=10, dataset="cifar10",
    mean=CIFAR10_MEAN, std=CIFAR10_STD,
    min_input_size=4,  # downsamples 4x: smallest input with a real 1x1 last map
    options={"dropout": 0.0},
    references={(32, 10): Reference(
        params=36_500_000, tolerance=0.002,
        source="Zagoruyko & Komodakis 2016, Table 4 (WRN-28-10: 36.5M, rounded to 0.1M); counted 36,479,194")},
    description="WRN-28-10 for CIFAR (pre-activation basic blocks, widen factor 10)",
))
def wrn_28_10(*, num_classes: int, input_size: int, dropout: float = 0.0) -> nn.Module:
    if not 0.0 <= dropout < 1.0:
        raise InvalidOptionError(f"wrn_28_10: dropout must be in [0, 1), got {dropout}")
    return PreActResNet(16, wrn_stages(28, 10), num_classes, cifar=is_cifar_size(input_size), dropout=dropout)


@register_model(ModelCard(
    name="wide_resnet50_2", family="wide_resnet", paper=PAPER, input_size=224, num_classes=1000,
    dataset="imagenet", min_input_size=CIFAR_MIN_INPUT,
    references={(224, 1000): torchvision_reference("Wide_ResNet50_2_Weights", 68_883_240, 11.398)},
    description="torchvision wide_resnet50_2; CIFAR stem below 64 px",
    torchvision=torchvision_weights("Wide_ResNet50_2_Weights", "wide_resnet50_2"),
))
def wide_resnet50_2(*, num_classes: int, input_size: int) -> nn.Module:
    return torchvision_resnet("wide_resnet50_2", num_classes=num_classes, input_size=input_size)

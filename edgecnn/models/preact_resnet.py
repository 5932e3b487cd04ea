"""Pre-activation ResNet-18 (He, Zhang, Ren & Sun, 2016, "Identity Mappings in
Deep Residual Networks"), CIFAR by default.

ResNet-18's stage table with the paper's pre-activation basic block
(BN-ReLU-conv3x3-BN-ReLU-conv3x3 + shortcut) and its final BN-ReLU before the
pool (the "extra activation after the last addition", Sec. 4.1):

    stage   width   blocks   stride     (32 px)
    stem    64      3x3 conv 1          32
    1       64      2        1          32
    2       128     2        2          16
    3       256     2        2          8
    4       512     2        2          4
    BN-ReLU, global average pool, FC

Parameters at 32 px / 10 classes: 11,172,170 = kuangliu/pytorch-cifar's
``PreActResNet18`` (11,171,146, which leaves out the final BN) + 1,024 for
the final BN. ImageNet (input >= 64 px): a 7x7 stride-2 stem + max-pool,
as the paper's ImageNet models.
"""

from __future__ import annotations

from torch import nn

from edgecnn.models._classic_blocks import PreActResNet
from edgecnn.models._registry import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    ModelCard,
    Reference,
    is_cifar_size,
    register_model,
)

PAPER = "He, Zhang, Ren & Sun, 2016. Identity Mappings in Deep Residual Networks"
STEM_WIDTH = 64
STAGES = [(64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)]  # (width, blocks, stride)


@register_model(ModelCard(
    name="preact_resnet18", family="preact_resnet", paper=PAPER, input_size=32, num_classes=10,
    dataset="cifar10", mean=CIFAR10_MEAN, std=CIFAR10_STD,
    min_input_size=8,  # downsamples 8x: smallest input with a real 1x1 last map
    references={(32, 10): Reference(
        params=11_172_170, tolerance=0.0,
        source="kuangliu/pytorch-cifar PreActResNet18 (11,171,146) + the paper's final BN (1,024), counted")},
    description="pre-activation ResNet-18 for CIFAR (ImageNet stem at >= 64 px)",
))
def preact_resnet18(*, num_classes: int, input_size: int) -> nn.Module:
    return PreActResNet(STEM_WIDTH, STAGES, num_classes, cifar=is_cifar_size(input_size))

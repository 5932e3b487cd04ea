"""MNASNet-A1 without squeeze-excite, as released in torchvision (Tan et al., 2019).

The network torchvision ships (and its counts, e.g. 4,383,312 parameters at
depth multiplier 1.0) is the paper's Figure 7 search result in the form of
the reference "mnasnet-b1" code: no SE blocks, ReLU throughout.

    stem   conv 3x3 stride 2 -> 32, depthwise 3x3 + pointwise 1x1 -> 16
    stacks of inverted residuals, the ``STACKS`` table:
           (expansion, kernel, out channels, repeats, stride)
    head   conv 1x1 -> 1280, global pool, dropout, FC

``alpha`` (the depth multiplier) scales every channel count of the table and
the stem, rounded to a multiple of 8 (the 1280 head is fixed). The blocks are
torchvision's ``MNASNet`` built without weights; a test checks the built
stacks against ``STACKS``.

CIFAR variant (input < 64 px): the stem conv and the first stride-2 stack
(24 channels) run at stride 1, like the MobileNet v2 CIFAR port, so the
network downsamples 8x (32x32 -> 4x4). Strides do not change counts.
"""

from __future__ import annotations

from torch import nn

from edgecnn.models._classic_blocks import torchvision_reference, torchvision_weights
from edgecnn.models._registry import ModelCard, register_variant

PAPER = "Tan et al., 2019. MnasNet: Platform-Aware Neural Architecture Search for Mobile"

# expansion, kernel, out channels (alpha 1.0), repeats, stride of the first block
STACKS = [
    (3, 3, 24, 3, 2),
    (3, 5, 40, 3, 2),
    (6, 5, 80, 3, 2),
    (6, 3, 96, 2, 1),
    (6, 5, 192, 4, 2),
    (6, 3, 320, 1, 1),
]
FIRST_STACK = 8  # index of the first stack in torchvision's ``MNASNet.layers``
CIFAR_STRIDE_ONE_STACK = 0

# name: (alpha, torchvision MNASNet*_Weights.IMAGENET1K_V1 num_params, _ops GMACs at 224)
VARIANTS = {
    "mnasnet0_5": (0.5, 2_218_512, 0.104),
    "mnasnet0_75": (0.75, 3_170_208, 0.215),
    "mnasnet1_0": (1.0, 4_383_312, 0.314),
    "mnasnet1_3": (1.3, 6_282_256, 0.526),
}


def build_mnasnet(alpha: float, *, num_classes: int, cifar: bool) -> nn.Module:
    from torchvision.models.mnasnet import MNASNet

    model = MNASNet(alpha, num_classes=num_classes)
    if cifar:
        model.layers[0].stride = (1, 1)  # stem conv
        first_block = model.layers[FIRST_STACK + CIFAR_STRIDE_ONE_STACK][0]
        first_block.layers[3].stride = (1, 1)  # its depthwise conv (no residual: channels change)
    return model


def _register(name: str) -> None:
    alpha, params, gmacs = VARIANTS[name]
    enum = f"{name.upper().replace('MNASNET', 'MNASNet')}_Weights"
    ref = torchvision_reference(enum, params, gmacs)

    # the CIFAR variant downsamples 8x: 8 px is the smallest input whose last map is a real 1x1
    register_variant(ModelCard(name=name, family="mnasnet", paper=PAPER, input_size=224, num_classes=1000,
                             dataset="imagenet", min_input_size=8, references={(224, 1000): ref},
                             description=f"MNASNet (B1, no SE) at depth multiplier {alpha}",
                             torchvision=torchvision_weights(enum, name)),
                     build_mnasnet, alpha, size_as="cifar")


for _name in VARIANTS:
    _register(_name)

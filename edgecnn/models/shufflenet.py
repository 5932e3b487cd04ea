"""ShuffleNet v2 (Ma et al., 2018), paper Table 5.

    layer      out size (224)  stride  repeats  out channels (x0.5 x1.0 x1.5 x2.0)
    conv1 3x3  112             2       1        24   24   24   24
    maxpool    56              2
    stage2     28              2, 1    1, 3     48   116  176  244
    stage3     14              2, 1    1, 7     96   232  352  488
    stage4     7               2, 1    1, 3     192  464  704  976
    conv5 1x1  7               1       1        1024 1024 1024 2048
    global pool, FC

``STAGE_REPEATS`` and ``WIDTHS`` are that table; the units (channel split,
shuffle, stride-2 units with two branches) are torchvision's
``ShuffleNetV2``, built without weights, so counts equal torchvision's.

CIFAR variant (input < 64 px): conv1 has stride 1 and the max pool is
removed, as in kuangliu/pytorch-cifar ``ShuffleNetV2``; the three stages
keep their stride-2 first unit, so the network downsamples 8x
(32x32 -> 4x4). The max pool has no parameters: counts do not change.
"""

from __future__ import annotations

from torch import nn

from edgecnn.models._classic_blocks import torchvision_reference, torchvision_weights
from edgecnn.models._registry import ModelCard, register_variant

PAPER = "Ma et al., 2018. ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design"
STAGE_REPEATS = (4, 8, 4)
# width name: (conv1, stage2, stage3, stage4, conv5) output channels
WIDTHS = {
    "x0_5": (24, 48, 96, 192, 1024),
    "x1_0": (24, 116, 232, 464, 1024),
    "x1_5": (24, 176, 352, 704, 1024),
    "x2_0": (24, 244, 488, 976, 2048),
}
# torchvision ShuffleNet_V2_*_Weights.IMAGENET1K_V1: num_params, _ops (GMACs at 224)
TORCHVISION = {
    "x0_5": (1_366_792, 0.040),
    "x1_0": (2_278_604, 0.145),
    "x1_5": (3_503_624, 0.296),
    "x2_0": (7_393_996, 0.583),
}


def build_shufflenet_v2(width: str, *, num_classes: int, cifar: bool) -> nn.Module:
    from torchvision.models.shufflenetv2 import ShuffleNetV2

    model = ShuffleNetV2(list(STAGE_REPEATS), list(WIDTHS[width]), num_classes=num_classes)
    if cifar:
        model.conv1[0].stride = (1, 1)
        model.maxpool = nn.Identity()
    return model


def _register(width: str) -> None:
    name = f"shufflenet_v2_{width}"
    params, gmacs = TORCHVISION[width]
    ref = torchvision_reference(f"ShuffleNet_V2_{width.upper()}_Weights", params, gmacs)

    # the CIFAR variant downsamples 8x: 8 px is the smallest input whose last map is a real 1x1
    register_variant(ModelCard(name=name, family="shufflenet_v2", paper=PAPER, input_size=224, num_classes=1000,
                             dataset="imagenet", min_input_size=8, references={(224, 1000): ref},
                             description=f"ShuffleNet v2 {width.replace('_', '.')}",
                             torchvision=torchvision_weights(f"ShuffleNet_V2_{width.upper()}_Weights", name)),
                     build_shufflenet_v2, width, size_as="cifar")


for _width in WIDTHS:
    _register(_width)

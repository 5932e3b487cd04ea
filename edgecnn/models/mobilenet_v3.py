"""MobileNet v3 Small and Large (Howard et al., 2019), tables 1 and 2 of the paper.

Each row of ``LARGE`` / ``SMALL`` is one bottleneck block as the paper
tables it: (kernel, expanded channels, out channels, squeeze-excite,
activation "RE" = ReLU / "HS" = hard-swish, stride). The blocks are built by
torchvision's ``MobileNetV3`` (its inverted-residual block, SE with
hard-sigmoid, its head: 1x1 conv to 576 / 960, pool, FC to 1024 / 1280
with hard-swish, dropout, FC), never with downloaded weights, so the counts
equal torchvision's (2,542,856 and 5,483,032 parameters).

CIFAR variant (input < 64 px): the 3x3 stem conv and the first stride-2
block (Small: row 1; Large: row 2) run at stride 1, like the MobileNet v2
CIFAR port, so the network downsamples 8x (32x32 -> 4x4). Parameter counts
do not change with strides.
"""

from __future__ import annotations

from functools import partial

from torch import nn

from edgecnn.models._registry import ModelCard, Reference, TorchvisionWeights, is_cifar_size, register_model

PAPER = "Howard et al., 2019. Searching for MobileNetV3"
STEM_CHANNELS = 16

# kernel, expanded, out, SE, activation, stride: paper Table 1 (Large)
LARGE = [
    (3, 16, 16, False, "RE", 1),
    (3, 64, 24, False, "RE", 2),
    (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2),
    (5, 120, 40, True, "RE", 1),
    (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2),
    (3, 200, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 480, 112, True, "HS", 1),
    (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2),
    (5, 960, 160, True, "HS", 1),
    (5, 960, 160, True, "HS", 1),
]
# paper Table 2 (Small)
SMALL = [
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
    (5, 240, 40, True, "HS", 1),
    (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1),
    (5, 144, 48, True, "HS", 1),
    (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1),
    (5, 576, 96, True, "HS", 1),
]


def first_stride_two(table: list[tuple]) -> int:
    return next(i for i, row in enumerate(table) if row[5] == 2)


def build_mobilenet_v3(table: list[tuple], last_channel: int, *, num_classes: int, cifar: bool) -> nn.Module:
    """torchvision's MobileNetV3 from a table of (kernel, expanded, out, SE, activation, stride) rows."""
    from torchvision.models.mobilenetv3 import InvertedResidualConfig, MobileNetV3

    cifar_row = first_stride_two(table) if cifar else -1
    settings, c_in = [], STEM_CHANNELS
    for i, (k, exp, out, se, act, stride) in enumerate(table):
        settings.append(InvertedResidualConfig(c_in, k, exp, out, se, act, 1 if i == cifar_row else stride,
                                               dilation=1, width_mult=1.0))
        c_in = out
    model = MobileNetV3(settings, last_channel, num_classes=num_classes,
                        norm_layer=partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))
    if cifar:
        model.features[0][0].stride = (1, 1)  # the stem conv
    return model


def _card(name: str, ref: Reference) -> ModelCard:
    # the CIFAR variant downsamples 8x: 8 px is the smallest input whose last map is a real 1x1
    enum = "MobileNet_V3_" + name.split("_")[-1].capitalize() + "_Weights"
    return ModelCard(name=name, family="mobilenet_v3", paper=PAPER, input_size=224, num_classes=1000,
                     dataset="imagenet", min_input_size=8, references={(224, 1000): ref},
                     torchvision=TorchvisionWeights(enum, name))


@register_model(_card("mobilenet_v3_small", Reference(
    params=2_542_856, macs=57_000_000, tolerance=0.0,
    source="torchvision MobileNet_V3_Small_Weights.IMAGENET1K_V1: num_params, 0.057 GMACs (paper: 2.5M, 56M)",
    top1=67.668, top1_source="torchvision MobileNet_V3_Small_Weights.IMAGENET1K_V1 meta acc@1",
    top1_weights="IMAGENET1K_V1")))
def mobilenet_v3_small(*, num_classes: int, input_size: int) -> nn.Module:
    return build_mobilenet_v3(SMALL, 1024, num_classes=num_classes, cifar=is_cifar_size(input_size))


@register_model(_card("mobilenet_v3_large", Reference(
    params=5_483_032, macs=217_000_000, tolerance=0.0,
    source="torchvision MobileNet_V3_Large_Weights.IMAGENET1K_V1: num_params, 0.217 GMACs (paper: 5.4M, 219M)",
    top1=74.042, top1_source="torchvision MobileNet_V3_Large_Weights.IMAGENET1K_V1 meta acc@1",
    top1_weights="IMAGENET1K_V1")))
def mobilenet_v3_large(*, num_classes: int, input_size: int) -> nn.Module:
    return build_mobilenet_v3(LARGE, 1280, num_classes=num_classes, cifar=is_cifar_size(input_size))

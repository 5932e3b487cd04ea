"""MobileNet v1 (Howard et al., 2017), written from the paper's Table 1.

    layer                 stride  out      (ImageNet 224)
    conv 3x3              2       32       112x112
    13 depthwise-separable blocks, each
        depthwise 3x3 (groups = channels) + BN + ReLU
        pointwise 1x1                      + BN + ReLU
    global average pool, FC

The 13 blocks are the ``BLOCKS`` table below, one row (stride, out channels)
per block. Table 1 prints the 14th row ("Conv dw / s2" at 7x7) as stride 2;
its own output size (7x7 stays 7x7) shows that is a typo, so the last block
has stride 1, as in every released implementation.

The width multiplier ``width_mult`` (alpha in the paper, one of 0.25, 0.5,
0.75, 1.0) scales every layer's channels, the stem and the FC input
included. Depthwise and pointwise convolutions are real ``nn.Conv2d``
modules (``groups=c`` and ``kernel_size=1``) so the cost tool finds each
separable pair.

CIFAR variant (input < 64 px): the stem conv has stride 1, as in the
published CIFAR port (kuangliu/pytorch-cifar ``MobileNet``), so the network
downsamples 16x: a 32x32 image ends as a 2x2x1024 map. The block table is
unchanged.
"""

from __future__ import annotations

from torch import nn

from edgecnn.models._registry import ModelCard, Reference, check_choice, is_cifar_size, register_model, register_variant

PAPER = "Howard et al., 2017. MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications"
WIDTHS = (0.25, 0.5, 0.75, 1.0)
STEM_CHANNELS = 32

# (stride, out channels) of the 13 depthwise-separable blocks, Table 1 order
BLOCKS = [
    (1, 64),
    (2, 128), (1, 128),
    (2, 256), (1, 256),
    (2, 512), (1, 512), (1, 512), (1, 512), (1, 512), (1, 512),
    (2, 1024), (1, 1024),
]


def conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class DepthwiseSeparable(nn.Sequential):
    """Depthwise 3x3 (one filter per channel) then pointwise 1x1, each with BN + ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__(*conv_bn_relu(c_in, c_in, 3, stride, groups=c_in), *conv_bn_relu(c_in, c_out, 1, 1))


class MobileNetV1(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, stem_stride: int = 2) -> None:
        super().__init__()
        c = int(STEM_CHANNELS * width_mult)
        layers: list[nn.Module] = [nn.Sequential(*conv_bn_relu(3, c, 3, stem_stride))]
        for stride, out in BLOCKS:
            out = int(out * width_mult)
            layers.append(DepthwiseSeparable(c, out, stride))
            c = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


def _build(*, num_classes: int, input_size: int, width_mult: float, name: str) -> nn.Module:
    check_choice(name, "width_mult", width_mult, WIDTHS)
    return MobileNetV1(num_classes=num_classes, width_mult=width_mult,
                       stem_stride=1 if is_cifar_size(input_size) else 2)


def _card(name: str, refs: dict, options: dict | None = None, description: str = "") -> ModelCard:
    # the CIFAR variant downsamples 16x: 16 px is the smallest input whose last map is a real 1x1
    return ModelCard(name=name, family="mobilenet_v1", paper=PAPER, input_size=224, num_classes=1000,
                     dataset="imagenet", min_input_size=16, references=refs, options=options or {},
                     description=description)


_SRC = "parameters counted from the paper's Table 1 layer list (paper: 4.2M); MACs: paper Table 6, 569M"


@register_model(_card("mobilenet_v1", {
    (224, 1000): Reference(params=4_231_976, macs=569_000_000, source=_SRC, tolerance=0.0, top1=70.6,
                           top1_source="Howard et al. 2017, Table 8: 1.0 MobileNet-224, 70.6% ImageNet accuracy"),
    # same table, stem stride 1, FC 1024 -> 10 (kuangliu/pytorch-cifar MobileNet: 3.2M)
    (32, 10): Reference(params=3_217_226, source="Table 1 with the CIFAR stem (stride 1), 10 classes",
                        tolerance=0.0),
}, options={"width_mult": 1.0}, description="MobileNet v1, width multiplier option (0.25/0.5/0.75/1.0)"))
def mobilenet_v1(*, num_classes: int, input_size: int, width_mult: float = 1.0) -> nn.Module:
    return _build(num_classes=num_classes, input_size=input_size, width_mult=width_mult, name="mobilenet_v1")


def _register_width(name: str, width: float, params: int, macs: int, top1: float, tolerance: float) -> None:
    src = (f"paper Table 6 (width {width}): {params / 1e6:.1f}M params, {macs / 1e6:.0f}M MACs; the paper "
           f"rounds params to 0.1M, so the tolerance is 0.05M / {params / 1e6:.1f}M = {tolerance:.3f}")

    register_variant(_card(name, {(224, 1000): Reference(
        params=params, macs=macs, source=src, tolerance=tolerance, top1=top1,
        top1_source=f"Howard et al. 2017, Table 6: {width} MobileNet-224, {top1}% ImageNet accuracy")},
                         description=f"MobileNet v1 at width multiplier {width}"), _build, width_mult=width, name=name)


# name, width, paper params, paper MACs, ImageNet top-1 % (Table 6, 224 px); params rounded to 0.1M
for _name, _width, _params, _macs, _top1 in [
    ("mobilenet_v1_075", 0.75, 2_600_000, 325_000_000, 68.4),
    ("mobilenet_v1_050", 0.5, 1_300_000, 149_000_000, 63.7),
    ("mobilenet_v1_025", 0.25, 500_000, 41_000_000, 50.6),
]:
    _register_width(_name, _width, _params, _macs, _top1, round(0.05e6 / _params, 3))

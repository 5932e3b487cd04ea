"""MobileNet v2 (Sandler et al., 2018), written from the paper's Table 2.

Each ``SETTINGS`` row is the paper's ``t, c, n, s``: expansion factor t,
output channels c, n repeated inverted-residual blocks, stride s of the
first block (the others have stride 1). An inverted residual is

    1x1 expand to t*c_in channels + BN + ReLU6   (skipped when t == 1)
    3x3 depthwise (groups = channels) + BN + ReLU6
    1x1 linear projection + BN                    (no activation)
    + identity shortcut when stride 1 and c_in == c_out

between a 3x3 stride-2 stem conv (32 channels) and a final 1x1 conv to
1280 channels, global average pool, dropout 0.2 and the FC. The layout and
the rounding of channels (``width_mult * c`` to a multiple of 8, never more
than 10 % below; the last conv widened only for ``width_mult > 1``) follow
the reference TF-slim code and torchvision, so at width 1.0 the model has
torchvision's 3,504,872 parameters exactly.

CIFAR variant (input < 64 px): the stem has stride 1 and the first stride-2
row (t=6, c=24) has stride 1, as in kuangliu/pytorch-cifar ``MobileNetV2``,
so the network downsamples 8x (32x32 -> 4x4x1280). That port also adds a
1x1-conv projection shortcut to every stride-1 block whose channel count
changes and an expansion conv to the t=1 block (60,240 more parameters:
2,296,922 at 10 classes); those are not in the paper and are not built
here: this variant is the paper's network with two strides changed
(2,236,682 parameters at 10 classes).
"""

from __future__ import annotations

from torch import nn

from edgecnn.models._registry import (
    ModelCard,
    Reference,
    TorchvisionWeights,
    check_choice,
    is_cifar_size,
    register_model,
    register_variant,
)

PAPER = "Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear Bottlenecks"
WIDTHS = (0.5, 0.75, 1.0, 1.4)
STEM_CHANNELS = 32
LAST_CHANNELS = 1280

# t (expansion), c (out channels), n (blocks), s (stride of the first block): paper Table 2
SETTINGS = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]
CIFAR_STRIDE_ONE_ROWS = {1}  # row indices whose stride becomes 1 in the CIFAR variant


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never more than 10 % below it."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(c_out)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers = [conv_bn(c_in, hidden, 1)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, c_out, 1, act=False)]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and c_in == c_out

    def forward(self, x):
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, cifar: bool = False,
                 dropout: float = 0.2) -> None:
        super().__init__()
        c = make_divisible(STEM_CHANNELS * width_mult)
        last = make_divisible(LAST_CHANNELS * max(1.0, width_mult))
        layers: list[nn.Module] = [conv_bn(3, c, 3, stride=1 if cifar else 2)]
        for row, (t, out, n, s) in enumerate(SETTINGS):
            out = make_divisible(out * width_mult)
            if cifar and row in CIFAR_STRIDE_ONE_ROWS:
                s = 1
            for i in range(n):
                layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        layers.append(conv_bn(c, last, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


def _build(*, num_classes: int, input_size: int, width_mult: float, name: str) -> nn.Module:
    check_choice(name, "width_mult", width_mult, WIDTHS)
    return MobileNetV2(num_classes=num_classes, width_mult=width_mult, cifar=is_cifar_size(input_size))


def _card(name: str, refs: dict, options: dict | None = None, description: str = "",
          torchvision: TorchvisionWeights | None = None) -> ModelCard:
    # the CIFAR variant downsamples 8x: 8 px is the smallest input whose last map is a real 1x1
    return ModelCard(name=name, family="mobilenet_v2", paper=PAPER, input_size=224, num_classes=1000,
                     dataset="imagenet", min_input_size=8, references=refs, options=options or {},
                     description=description, torchvision=torchvision)


@register_model(_card("mobilenet_v2", {
    (224, 1000): Reference(params=3_504_872, macs=300_774_272,
                           source="torchvision MobileNet_V2_Weights.IMAGENET1K_V1 (num_params; 0.301 GMACs, "
                                  "counted exactly: 300.77M); paper Table 4: 3.4M, 300M",
                           tolerance=0.0, top1=71.878,
                           top1_source="torchvision MobileNet_V2_Weights.IMAGENET1K_V1 meta acc@1",
                           top1_weights="IMAGENET1K_V1"),
    (32, 10): Reference(params=2_236_682, source="paper Table 2 with the CIFAR strides (stem and row 2 at "
                        "stride 1), 10 classes; kuangliu's port reports 2,296,922 because of its extra "
                        "projection shortcuts", tolerance=0.0),
}, options={"width_mult": 1.0}, description="MobileNet v2, width multiplier option (0.5/0.75/1.0/1.4)",
   # the same tensors as torchvision's mobilenet_v2 in the same order (block names differ): loaded by order
   torchvision=TorchvisionWeights("MobileNet_V2_Weights", "mobilenet_v2")))
def mobilenet_v2(*, num_classes: int, input_size: int, width_mult: float = 1.0) -> nn.Module:
    return _build(num_classes=num_classes, input_size=input_size, width_mult=width_mult, name="mobilenet_v2")


def _register_width(name: str, width: float, ref: Reference) -> None:
    register_variant(_card(name, {(224, 1000): ref}, description=f"MobileNet v2 at width multiplier {width}"),
                     _build, width_mult=width, name=name)


_register_width("mobilenet_v2_050", 0.5, Reference(
    params=2_000_000, macs=97_000_000, tolerance=0.025,
    source="published figures for width 0.5 at 224 px: 2.0M params (rounded to 0.1M, so +-0.05M = 2.5%), "
           "97M MACs; counted: 1,968,680 params as torchvision's mobilenet_v2(width_mult=0.5)"))
_register_width("mobilenet_v2_075", 0.75, Reference(
    params=2_600_000, macs=209_000_000, tolerance=0.019,
    source="published figures for width 0.75 at 224 px: 2.6M params (rounded to 0.1M, so +-0.05M = 1.9%), "
           "209M MACs; counted: 2,636,424 params as torchvision's mobilenet_v2(width_mult=0.75)"))
_register_width("mobilenet_v2_140", 1.4, Reference(
    params=6_108_776, macs=585_000_000, tolerance=0.0,
    source="params: Table 2 at width 1.4 with the reference rounding, equal to torchvision's "
           "mobilenet_v2(width_mult=1.4); the paper's Table 4 says 6.9M, which its own Table 2 does not give "
           "(TF-slim's released 1.4 checkpoint lists 6.06M); MACs: paper Table 4, 585M"))

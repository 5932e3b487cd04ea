"""EfficientNet B0-B7 (Tan & Le, 2019): the B0 table and compound scaling.

``B0`` is the paper's Table 1, one row per stage of MBConv blocks:
(expansion, kernel, stride, in channels, out channels, layers). B1-B7 scale
it with ``SCALING``: (width multiplier, depth multiplier, input resolution,
dropout) as released with the paper (Tan & Le's reference code), the three
coefficients growing together (compound scaling: depth ~ 1.2^phi, width ~
1.1^phi, resolution ~ 1.15^phi). Channels are ``width * c`` rounded to a
multiple of 8; each stage's layer count is ``ceil(depth * n)``. The blocks,
the stem (3x3 stride-2 conv to 32 channels) and the head (1x1 conv to
4 * 320 channels, pool, dropout, FC) are torchvision's ``EfficientNet``
built without weights, so counts equal torchvision's.

Default input sizes are the paper's resolutions: 224, 240, 260, 300, 380,
456, 528, 600 (torchvision evaluates B2 at a 288 crop; the 260 of the paper
is used here).

CIFAR variant (input < 64 px): the stem conv runs at stride 1 and the stage
strides are kept, as in kuangliu/pytorch-cifar ``EfficientNetB0``, so the
network downsamples 16x (32x32 -> 2x2). Strides carry no weights: the
parameter counts are unchanged.
"""

from __future__ import annotations

from functools import partial

from torch import nn

from edgecnn.models._classic_blocks import torchvision_reference, torchvision_weights
from edgecnn.models._registry import ModelCard, Reference, register_variant

PAPER = "Tan & Le, 2019. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks"

# expansion, kernel, stride, in channels, out channels, layers: paper Table 1 (B0)
B0 = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]

# variant: (width multiplier, depth multiplier, resolution px, dropout)
SCALING = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}

# torchvision EfficientNet_B*_Weights.IMAGENET1K_V1: num_params, _ops (GMACs), and the crop (px) the
# ops are counted at: the paper's resolution except B2, which torchvision evaluates at 288
TORCHVISION = {
    "b0": (5_288_548, 0.386, 224),
    "b1": (7_794_184, 0.687, 240),
    "b2": (9_109_994, 1.088, 288),
    "b3": (12_233_232, 1.827, 300),
    "b4": (19_341_616, 4.394, 380),
    "b5": (30_389_784, 10.266, 456),
    "b6": (43_040_704, 19.068, 528),
    "b7": (66_347_960, 37.746, 600),
}
# paper Table 2 FLOPs (multiply-adds) where torchvision gives none at the paper's resolution
PAPER_MACS = {"b2": 1.0e9}


def build_efficientnet(variant: str, *, num_classes: int, cifar: bool) -> nn.Module:
    from torchvision.models.efficientnet import EfficientNet, MBConvConfig

    width, depth, _, dropout = SCALING[variant]
    settings = [MBConvConfig(t, k, s, c_in, c_out, n, width_mult=width, depth_mult=depth)
                for t, k, s, c_in, c_out, n in B0]
    # B5-B7 use the reference code's BN settings (as torchvision); parameter counts are the same
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01) if variant in ("b5", "b6", "b7") else None
    model = EfficientNet(settings, dropout, num_classes=num_classes, norm_layer=norm)
    # torchvision draws the classifier from U(+-1/sqrt(num_classes)): right for 1,000 classes, 10x too wide for
    # CIFAR-10's 10 (initial loss ~3.9 instead of ln 10 = 2.3, and SGD from scratch diverged here); draw it from
    # U(+-1/sqrt(in_features)) instead, the same scale as torchvision's for ImageNet (1/sqrt(1280) ~ 1/sqrt(1000))
    fc = model.classifier[-1]
    nn.init.uniform_(fc.weight, -fc.in_features ** -0.5, fc.in_features ** -0.5)
    nn.init.zeros_(fc.bias)
    if cifar:
        model.features[0][0].stride = (1, 1)  # the stem conv
    return model


def _register(variant: str) -> None:
    name = f"efficientnet_{variant}"
    params, gmacs, crop = TORCHVISION[variant]
    resolution = SCALING[variant][2]
    refs = {(crop, 1000): torchvision_reference(f"EfficientNet_{variant.upper()}_Weights", params, gmacs)}
    if crop != resolution:
        # the paper rounds to 0.1 GMACs: +-0.05 G
        refs[(resolution, 1000)] = Reference(
            params=params, macs=int(PAPER_MACS[variant]), tolerance=0.0,
            macs_tolerance=round(0.05e9 / PAPER_MACS[variant], 3),
            source=f"params: torchvision (as at {crop} px); MACs: paper Table 2, "
                   f"{PAPER_MACS[variant] / 1e9:.1f}B at {resolution} px, rounded to 0.1B")

    # the CIFAR variant downsamples 16x: 16 px is the smallest input whose last map is a real 1x1
    register_variant(ModelCard(name=name, family="efficientnet", paper=PAPER, input_size=resolution,
                             num_classes=1000, dataset="imagenet", min_input_size=16,
                             references=refs,
                             description=f"EfficientNet-{variant.upper()}: width x{SCALING[variant][0]}, "
                                         f"depth x{SCALING[variant][1]}, {resolution} px",
                             torchvision=torchvision_weights(f"EfficientNet_{variant.upper()}_Weights", name)),
                     build_efficientnet, variant, size_as="cifar")


for _variant in SCALING:
    _register(_variant)

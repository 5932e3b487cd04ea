"""SqueezeNet 1.0 and 1.1 (Iandola et al., 2016), torchvision's implementation
(random weights); parameters equal torchvision's published counts
(1,248,424 and 1,235,496).

CIFAR variant (input < 64 px): the stride-2 stem conv (7x7 in 1.0, 3x3 in
1.1) becomes a 3x3 stride-1 conv with padding, the way CIFAR ports of
SqueezeNet do; the three ceil-mode max-pools then take 32x32 to 4x4.
"""

from __future__ import annotations


import torchvision
from torch import nn

from edgecnn.models._classic_blocks import torchvision_reference, torchvision_weights
from edgecnn.models._registry import ModelCard, is_cifar_size, register_variant

PAPER = ("Iandola et al., 2016. SqueezeNet: AlexNet-level accuracy with 50x fewer parameters "
         "and <0.5MB model size")

# name -> (torchvision weights enum, published num_params, GFLOPS = GMACs, stem width)
SQUEEZENETS = {
    "squeezenet1_0": ("SqueezeNet1_0_Weights", 1_248_424, 0.819, 96),
    "squeezenet1_1": ("SqueezeNet1_1_Weights", 1_235_496, 0.349, 64),
}


def build_squeezenet(name: str, *, num_classes: int, input_size: int, stem_width: int) -> nn.Module:
    """torchvision's SqueezeNet; below 64 px a 3x3 stride-1 stem of ``stem_width`` channels."""
    model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    if is_cifar_size(input_size):
        model.features[0] = nn.Conv2d(3, stem_width, 3, 1, 1)
        nn.init.kaiming_uniform_(model.features[0].weight)  # torchvision's SqueezeNet init
        nn.init.zeros_(model.features[0].bias)
    return model


for _name, (_weights, _params, _gmacs, _stem) in SQUEEZENETS.items():
    register_variant(ModelCard(
        name=_name, family="squeezenet", paper=PAPER, input_size=224, num_classes=1000, dataset="imagenet",
        min_input_size=8,  # CIFAR variant downsamples 8x (three pools): smallest input with a 1x1 last map
        references={(224, 1000): torchvision_reference(_weights, _params, _gmacs)},
        description=f"torchvision {_name}; 3x3 stride-1 stem below 64 px",
        torchvision=torchvision_weights(_weights, _name),
    ), build_squeezenet, _name, stem_width=_stem)

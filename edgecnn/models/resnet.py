"""ResNet-18/34/50/101/152 (He et al., 2015), torchvision's implementation
(v1.5: the stride of a bottleneck sits on its 3x3 conv), random weights.

ImageNet (input >= 64 px): torchvision's model; parameters and MACs equal its
published figures (ResNet-50: 25,557,032 parameters, 4.089 GMACs).

CIFAR variant (input < 64 px): the 7x7 stride-2 stem conv becomes 3x3 stride 1
and the stem max-pool goes (kuangliu/pytorch-cifar ``ResNet``), so 32x32 ends
as a 4x4 map; ResNet-18 then has 11,173,962 parameters at 10 classes, the
figure of that port.
"""

from __future__ import annotations


import torchvision
from torch import nn

from edgecnn.models._classic_blocks import cifar_resnet_stem, torchvision_reference, torchvision_weights
from edgecnn.models._registry import ModelCard, Reference, is_cifar_size, register_variant

PAPER = "He, Zhang, Ren & Sun, 2015. Deep Residual Learning for Image Recognition"
CIFAR_MIN_INPUT = 8  # the CIFAR variant downsamples 8x: smallest input with a real 1x1 last map
CIFAR_SOURCE = "kuangliu/pytorch-cifar models/resnet.py at 10 classes (3x3 stride-1 stem, no max-pool)"

# name -> (torchvision weights enum, published num_params, GFLOPS = GMACs, ImageNet top-1 %,
#          CIFAR-10 port's params)
RESNETS = {
    "resnet18": ("ResNet18_Weights", 11_689_512, 1.814, 69.758, 11_173_962),
    "resnet34": ("ResNet34_Weights", 21_797_672, 3.664, 73.314, 21_282_122),
    "resnet50": ("ResNet50_Weights", 25_557_032, 4.089, 76.13, 23_520_842),
    "resnet101": ("ResNet101_Weights", 44_549_160, 7.801, 77.374, 42_512_970),
    "resnet152": ("ResNet152_Weights", 60_192_808, 11.514, 78.312, 58_156_618),
}


def torchvision_resnet(name: str, *, num_classes: int, input_size: int) -> nn.Module:
    """torchvision's ``name`` (any ResNet-family builder) with the CIFAR stem below 64 px."""
    model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    return cifar_resnet_stem(model) if is_cifar_size(input_size) else model


for _name, (_weights, _params, _gmacs, _top1, _cifar_params) in RESNETS.items():
    register_variant(ModelCard(
        name=_name, family="resnet", paper=PAPER, input_size=224, num_classes=1000, dataset="imagenet",
        min_input_size=CIFAR_MIN_INPUT,
        references={(224, 1000): torchvision_reference(_weights, _params, _gmacs, _top1),
                    (32, 10): Reference(params=_cifar_params, tolerance=0.0, source=CIFAR_SOURCE)},
        description=f"torchvision {_name}; CIFAR stem below 64 px",
        torchvision=torchvision_weights(_weights, _name),
    ), torchvision_resnet, _name)

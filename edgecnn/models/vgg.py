"""VGG (Simonyan & Zisserman, 2014), configurations A, B, D, E with and without
batch norm, built with torchvision's implementation (random weights).

ImageNet (input >= 64 px): torchvision's model as is: the conv table, an
adaptive average pool to 7x7 and the 4096-4096 classifier; the parameter
counts equal torchvision's published ones (VGG-16: 138,357,544).

CIFAR variant (input < 64 px): the same conv table (five 2x2 max-pools take
32x32 to 1x1x512), then a global average pool and one linear layer 512 ->
classes, as the common CIFAR ports (kuangliu/pytorch-cifar ``VGG``) do.
"""

from __future__ import annotations


import torchvision
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from edgecnn.models._classic_blocks import torchvision_reference, torchvision_weights
from edgecnn.models._registry import ModelCard, Reference, is_cifar_size, register_variant

PAPER = "Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for Large-Scale Image Recognition"

# CIFAR parameter counts of the batch-norm configurations at 10 classes: the
# layout of kuangliu/pytorch-cifar models/vgg.py (conv+BN+ReLU table, global
# pool, 512 -> 10), counted; VGG-16: 14,728,266
CIFAR_BN_PARAMS = {"vgg11_bn": 9_231_114, "vgg13_bn": 9_416_010, "vgg16_bn": 14_728_266,
                   "vgg19_bn": 20_040_522}

# name -> (torchvision weights enum, published num_params, published GFLOPS = GMACs)
VGGS = {
    "vgg11": ("VGG11_Weights", 132_863_336, 7.609),
    "vgg13": ("VGG13_Weights", 133_047_848, 11.308),
    "vgg16": ("VGG16_Weights", 138_357_544, 15.47),
    "vgg19": ("VGG19_Weights", 143_667_240, 19.632),
    "vgg11_bn": ("VGG11_BN_Weights", 132_868_840, 7.609),
    "vgg13_bn": ("VGG13_BN_Weights", 133_053_736, 11.308),
    "vgg16_bn": ("VGG16_BN_Weights", 138_365_992, 15.47),
    "vgg19_bn": ("VGG19_BN_Weights", 143_678_248, 19.632),
}


# torchvision's configuration letters (the paper's Table 1 columns)
CONFIGS = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


class CifarVGG(nn.Module):
    """torchvision's VGG conv table, then a global average pool and 512 -> classes."""

    def __init__(self, config: str, batch_norm: bool, num_classes: int) -> None:
        super().__init__()
        self.features = make_layers(cfgs[config], batch_norm=batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(512, num_classes)
        for m in self.modules():  # torchvision's VGG initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def build_vgg(name: str, *, num_classes: int, input_size: int) -> nn.Module:
    """torchvision's VGG; below 64 px the CIFAR layout (``CifarVGG``)."""
    if is_cifar_size(input_size):
        return CifarVGG(CONFIGS[name.removesuffix("_bn")], name.endswith("_bn"), num_classes)
    return getattr(torchvision.models, name)(weights=None, num_classes=num_classes)


for _name, (_weights, _params, _gmacs) in VGGS.items():
    register_variant(ModelCard(
        name=_name, family="vgg", paper=PAPER, input_size=224, num_classes=1000, dataset="imagenet",
        min_input_size=32,  # five 2x2 max-pools: 32 px is the smallest input with a 1x1 last map
        references={(224, 1000): torchvision_reference(_weights, _params, _gmacs),
                    **({(32, 10): Reference(params=CIFAR_BN_PARAMS[_name], tolerance=0.0,
                                            source="kuangliu/pytorch-cifar models/vgg.py layout (counted)")}
                       if _name in CIFAR_BN_PARAMS else {})},
        description=f"torchvision {_name}" + (" (batch norm)" if _name.endswith("_bn") else ""),
        torchvision=torchvision_weights(_weights, _name),
    ), build_vgg, _name)

"""DenseNet-121/169/201/264 (Huang, Liu, van der Maaten & Weinberger, 2017),
DenseNet-BC, with torchvision's ``DenseNet`` class (random weights).

All four are the paper's Table 1 columns: growth rate k = 32, bottleneck
width bn_size * k = 128 (bn_size 4), compression 0.5 at each transition, a
64-channel stem, and dense blocks of

    densenet121   (6, 12, 24, 16)    torchvision: 7,978,856 parameters
    densenet169   (6, 12, 32, 32)    torchvision: 14,149,480
    densenet201   (6, 12, 48, 32)    torchvision: 20,013,928
    densenet264   (6, 12, 64, 48)    not in torchvision: 33,337,704 counted
                                     (paper Table 1 column; 33.3M as quoted)

CIFAR variant (input < 64 px): the 7x7 stride-2 stem conv becomes 3x3
stride 1 and the stem max-pool goes (kuangliu/pytorch-cifar ``DenseNet121``
layout), so the three transitions take 32x32 to 4x4.
"""

from __future__ import annotations


from torch import nn
from torchvision.models.densenet import DenseNet

from edgecnn.models._classic_blocks import torchvision_reference, torchvision_weights
from edgecnn.models._registry import ModelCard, Reference, is_cifar_size, register_variant

PAPER = "Huang, Liu, van der Maaten & Weinberger, 2017. Densely Connected Convolutional Networks"
GROWTH, BN_SIZE, STEM = 32, 4, 64
CIFAR_MIN_INPUT = 8  # three 2x2 transitions: smallest input with a real 1x1 last map

# name -> (blocks per dense block, reference at 224 px / 1000 classes)
DENSENETS = {
    "densenet121": ((6, 12, 24, 16), torchvision_reference("DenseNet121_Weights", 7_978_856, 2.834)),
    "densenet169": ((6, 12, 32, 32), torchvision_reference("DenseNet169_Weights", 14_149_480, 3.36)),
    "densenet201": ((6, 12, 48, 32), torchvision_reference("DenseNet201_Weights", 20_013_928, 4.291)),
    "densenet264": ((6, 12, 64, 48), Reference(
        params=33_300_000, tolerance=0.0015,
        source="Huang et al. 2017, Table 1 DenseNet-264 column (k=32, compression 0.5, bottleneck 4k): "
               "33.3M as quoted (rounded to 0.1M); counted 33,337,704")),
}


def build_densenet(blocks: tuple[int, ...], *, num_classes: int, input_size: int) -> nn.Module:
    model = DenseNet(growth_rate=GROWTH, block_config=blocks, num_init_features=STEM, bn_size=BN_SIZE,
                     num_classes=num_classes)
    if is_cifar_size(input_size):
        model.features.conv0 = nn.Conv2d(3, STEM, 3, 1, 1, bias=False)
        nn.init.kaiming_normal_(model.features.conv0.weight)
        model.features.pool0 = nn.Identity()
    return model


for _name, (_blocks, _ref) in DENSENETS.items():
    register_variant(ModelCard(
        name=_name, family="densenet", paper=PAPER, input_size=224, num_classes=1000, dataset="imagenet",
        min_input_size=CIFAR_MIN_INPUT, references={(224, 1000): _ref},
        description=f"DenseNet-BC, blocks {_blocks}, growth 32; CIFAR stem below 64 px",
        torchvision=torchvision_weights(f"DenseNet{_name[8:]}_Weights", _name) if _name != "densenet264" else None,
    ), build_densenet, _blocks)

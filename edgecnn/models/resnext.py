"""ResNeXt-50 (32x4d) and ResNeXt-101 (32x8d) (Xie et al., 2017), torchvision's
implementation, random weights; parameters and MACs equal torchvision's
published figures. CIFAR variant (input < 64 px): the ResNet CIFAR stem
(3x3 stride-1 conv, no max-pool), see ``edgecnn.models.resnet``.
"""

from __future__ import annotations



from edgecnn.models._classic_blocks import torchvision_reference, torchvision_weights
from edgecnn.models._registry import ModelCard, register_variant
from edgecnn.models.resnet import CIFAR_MIN_INPUT, torchvision_resnet

PAPER = "Xie, Girshick, Dollar, Tu & He, 2017. Aggregated Residual Transformations for Deep Neural Networks"

# name -> (torchvision weights enum, published num_params, GFLOPS = GMACs)
RESNEXTS = {
    "resnext50_32x4d": ("ResNeXt50_32X4D_Weights", 25_028_904, 4.23),
    "resnext101_32x8d": ("ResNeXt101_32X8D_Weights", 88_791_336, 16.414),
}


for _name, (_weights, _params, _gmacs) in RESNEXTS.items():
    register_variant(ModelCard(
        name=_name, family="resnext", paper=PAPER, input_size=224, num_classes=1000, dataset="imagenet",
        min_input_size=CIFAR_MIN_INPUT,
        references={(224, 1000): torchvision_reference(_weights, _params, _gmacs)},
        description=f"torchvision {_name} (cardinality 32); CIFAR stem below 64 px",
        torchvision=torchvision_weights(_weights, _name),
    ), torchvision_resnet, _name)

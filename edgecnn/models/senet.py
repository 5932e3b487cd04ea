"""SE-ResNet-50 (Hu, Shen, Albanie, Sun & Wu, 2018, "Squeeze-and-Excitation
Networks"): torchvision's ResNet-50 with a squeeze-and-excitation unit in every
bottleneck, applied to the residual branch before the addition (paper Fig. 3):

    global average pool -> FC c/16 + ReLU -> FC c + sigmoid -> scale channels

(reduction ratio r = 16; the FCs are 1x1 convs with bias, as
``torchvision.ops.SqueezeExcitation``). That adds 2,530,992 parameters to
ResNet-50's 25,557,032: 28,088,024 (paper: 28.09M). The paper's 3.87 GMACs is
for the original ResNet-50 with the stride on the first 1x1 conv; torchvision's
layout (stride on the 3x3, 4.09 GMACs) is used here, so no MAC reference.

CIFAR variant (input < 64 px): the ResNet CIFAR stem (3x3 stride-1 conv, no
max-pool).
"""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops import SqueezeExcitation

from edgecnn.models._classic_blocks import cifar_resnet_stem
from edgecnn.models._registry import ModelCard, Reference, is_cifar_size, register_model
from edgecnn.models.resnet import CIFAR_MIN_INPUT

PAPER = "Hu, Shen, Albanie, Sun & Wu, 2018. Squeeze-and-Excitation Networks"
REDUCTION = 16
RESNET50_BLOCKS = [3, 4, 6, 3]


class SEBottleneck(Bottleneck):
    """torchvision's Bottleneck with an SE unit on the residual branch."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        channels = self.conv3.out_channels
        self.se = SqueezeExcitation(channels, channels // REDUCTION)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


@register_model(ModelCard(
    name="se_resnet50", family="senet", paper=PAPER, input_size=224, num_classes=1000, dataset="imagenet",
    min_input_size=CIFAR_MIN_INPUT,
    references={(224, 1000): Reference(
        params=28_090_000, tolerance=0.01,
        source="Hu et al. 2018, SE-ResNet-50 (r=16): 28.09M parameters; counted 28,088,024")},
    description="ResNet-50 (torchvision layout) with squeeze-and-excitation, reduction 16",
))
def se_resnet50(*, num_classes: int, input_size: int) -> nn.Module:
    model = ResNet(SEBottleneck, RESNET50_BLOCKS, num_classes=num_classes)
    return cifar_resnet_stem(model) if is_cifar_size(input_size) else model

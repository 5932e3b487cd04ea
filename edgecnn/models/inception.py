"""GoogLeNet (Szegedy et al., 2014) and Inception v3 (Szegedy et al., 2015),
built with torchvision's implementations (random weights).

GoogLeNet: the auxiliary classifiers are off (as in torchvision's released
model and its published 6,624,904 parameters); ``forward`` returns the logits.

Inception v3: torchvision's published 27,161,264 parameters include the
auxiliary head (``AuxLogits``), so the head is kept wherever it can run, but
``forward`` returns only the main logits tensor in eval *and* train mode (the
aux output is computed in training mode and dropped; it is not used by any
trainer here). The aux head needs a 17x17 Mixed_6e map, i.e. an input of at
least 299 px; below that it is left out (fewer parameters). The ImageNet
variant takes at least 75 px (torchvision's ``min_size``).

CIFAR variants (input < 64 px), as the CIFAR ports do:
- GoogLeNet: the 7x7 stride-2 stem conv becomes 3x3 stride 1 and the two stem
  max-pools go (kuangliu/pytorch-cifar ``GoogLeNet`` layout): 32 -> 32 at
  inception 3a/3b -> 16 at 4a-4e -> 8 at 5a/5b.
- Inception v3: ``Conv2d_1a_3x3`` runs at stride 1 (padded) and both stem
  max-pools go: 32 -> 28 at Mixed_5x -> 13 at Mixed_6x -> 6 at Mixed_7x; no
  aux head.
"""

from __future__ import annotations

import torchvision
from torch import nn
from torchvision.models.googlenet import BasicConv2d as GoogLeNetConv
from torchvision.models.inception import BasicConv2d as InceptionConv
from torchvision.models.inception import Inception3

from edgecnn.models._classic_blocks import require_imagenet_min, torchvision_reference
from edgecnn.models._registry import ModelCard, TorchvisionWeights, is_cifar_size, register_model

AUX_MIN_INPUT = 299  # smallest input whose Mixed_6e map (17x17) the aux head can pool and convolve
IMAGENET_MIN_INPUT = 75  # torchvision Inception_V3_Weights meta["min_size"]


class Inception3Logits(Inception3):
    """torchvision's Inception3 whose ``forward`` always returns the logits tensor."""

    def forward(self, x):  # type: ignore[override]
        logits, _aux = self._forward(self._transform_input(x))
        return logits


@register_model(ModelCard(
    name="googlenet", family="inception",
    paper="Szegedy et al., 2014. Going Deeper with Convolutions", input_size=224, num_classes=1000,
    dataset="imagenet",
    min_input_size=4,  # CIFAR variant downsamples 4x: the smallest input with a real 1x1 last map
    references={(224, 1000): torchvision_reference("GoogLeNet_Weights", 6_624_904, 1.498)},
    description="torchvision GoogLeNet (Inception v1) without the auxiliary classifiers",
    # torchvision's files keep the aux heads; its builder maps inputs to [-1, 1] for these TF-ported weights
    torchvision=TorchvisionWeights("GoogLeNet_Weights", "googlenet", (("aux_logits", False),),
                                   ignore_keys=("aux1.", "aux2."), set_attrs=(("transform_input", True),)),
))
def googlenet(*, num_classes: int, input_size: int) -> nn.Module:
    model = torchvision.models.googlenet(weights=None, num_classes=num_classes, aux_logits=False,
                                         init_weights=True)
    if is_cifar_size(input_size):
        model.conv1 = GoogLeNetConv(3, 64, kernel_size=3, stride=1, padding=1)
        model.maxpool1 = nn.Identity()
        model.maxpool2 = nn.Identity()
    return model


@register_model(ModelCard(
    name="inception_v3", family="inception",
    paper="Szegedy et al., 2015. Rethinking the Inception Architecture for Computer Vision",
    input_size=299, num_classes=1000, dataset="imagenet",
    min_input_size=11,  # CIFAR variant: Mixed_7a's 3x3 stride-2 convs need a 3x3 map (11 px in)
    references={(299, 1000): torchvision_reference("Inception_V3_Weights", 27_161_264, 5.713)},
    description="torchvision Inception v3 (aux head kept for parameter parity); forward returns logits only",
    torchvision=TorchvisionWeights("Inception_V3_Weights", "inception_v3", ignore_keys=("AuxLogits.",),
                                   set_attrs=(("transform_input", True),)),
))
def inception_v3(*, num_classes: int, input_size: int) -> nn.Module:
    require_imagenet_min("inception_v3", input_size, IMAGENET_MIN_INPUT)
    cifar = is_cifar_size(input_size)
    model = Inception3Logits(num_classes=num_classes, aux_logits=input_size >= AUX_MIN_INPUT,
                             transform_input=False, init_weights=True)
    if cifar:
        model.Conv2d_1a_3x3 = InceptionConv(3, 32, kernel_size=3, stride=1, padding=1)
        model.maxpool1 = nn.Identity()
        model.maxpool2 = nn.Identity()
    return model

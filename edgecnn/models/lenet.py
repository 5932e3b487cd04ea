"""LeNet-5 (LeCun et al., 1998), as tabled for 32x32 input.

    layer   kernel  out   output
    C1      5x5     6     28x28
    S2      2x2 max       14x14
    C3      5x5     16    10x10
    S4      2x2 max       5x5
    F5      FC      120
    F6      FC      84
    out     FC      classes

RGB input (3 channels), tanh activations, max pooling (the common modern
reading of the subsampling layers). At larger inputs the flatten size grows
with the feature map; the table itself is unchanged.
"""

from __future__ import annotations

from torch import nn

from edgecnn.models._registry import CIFAR10_MEAN, CIFAR10_STD, ModelCard, Reference, register_model

# (out_channels, kernel) for the two conv stages, then the FC widths
CONV_TABLE = [(6, 5), (16, 5)]
FC_TABLE = [120, 84]


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, input_size: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, side = in_channels, input_size
        for out, k in CONV_TABLE:
            layers += [nn.Conv2d(c, out, k), nn.Tanh(), nn.MaxPool2d(2)]
            c, side = out, (side - k + 1) // 2
        self.features = nn.Sequential(*layers)
        fcs: list[nn.Module] = []
        width = c * side * side
        for w in FC_TABLE:
            fcs += [nn.Linear(width, w), nn.Tanh()]
            width = w
        fcs.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*fcs)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


@register_model(ModelCard(
    name="lenet5", family="lenet", paper="LeCun et al., 1998. Gradient-Based Learning Applied to Document Recognition",
    input_size=32, num_classes=10, dataset="cifar10", mean=CIFAR10_MEAN, std=CIFAR10_STD, min_input_size=32,
    # as tabled, with 3 input channels: 456 + 2,416 + 48,120 + 10,164 + 850
    references={(32, 10): Reference(params=62_006, macs=651_720, source="paper table (RGB input)", tolerance=0.0)},
))
def lenet5(*, num_classes: int, input_size: int) -> nn.Module:
    return LeNet5(num_classes=num_classes, input_size=input_size)

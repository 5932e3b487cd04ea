"""Blocks and helpers shared by the classic and residual families.

- ``torchvision_reference``: a Reference from torchvision's published weight
  metadata (``num_params`` and the "GFLOPS" column, which is GMACs).
- ``conv_bn_relu``, ``SeparableConv2d``: small building blocks.
- ``cifar_resnet_stem``: the CIFAR stem for torchvision ResNet-style models
  (3x3 stride-1 conv, no max-pool), as in kuangliu/pytorch-cifar.
- ``ConvStackNet`` with ``Conv`` / ``MaxPool`` / ``LRN`` rows: AlexNet-style
  networks written as tables of layer specs.
- ``require_imagenet_min``: a clear error where an ImageNet variant cannot take
  an input that is still too large for the CIFAR variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.models._registry import CIFAR_MAX, Reference, TorchvisionWeights


def torchvision_reference(weights: str, params: int, gmacs: float, top1: float | None = None) -> Reference:
    """A Reference for a torchvision architecture: exact params, MACs = ``gmacs * 1e9``.

    ``weights`` names the enum (``"ResNet50_Weights"``); ``params``, ``gmacs`` and
    ``top1`` are its ``IMAGENET1K_V1.meta["num_params"]``, ``meta["_ops"]`` and
    ``meta["_metrics"]["ImageNet-1K"]["acc@1"]`` (torchvision's "GFLOPS" column
    counts one multiply-accumulate once, so it is GMACs; rounded to 3 decimals,
    well inside the 2 % MAC tolerance).
    """
    return Reference(params=params, macs=int(round(gmacs * 1e9)), tolerance=0.0,
                     source=f"torchvision {weights}.IMAGENET1K_V1 meta: num_params {params:,}, "
                            f"{gmacs} GFLOPS (= GMACs)",
                     top1=top1, top1_source=f"torchvision {weights}.IMAGENET1K_V1 meta acc@1" if top1 else "",
                     top1_weights="IMAGENET1K_V1" if top1 else "")


def torchvision_weights(enum: str, builder: str, **builder_kwargs) -> TorchvisionWeights:
    """The card entry naming torchvision's weights enum and builder for an architecture."""
    return TorchvisionWeights(enum=enum, builder=builder, builder_kwargs=tuple(sorted(builder_kwargs.items())))


def conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int | None = None,
                 relu: bool = True) -> nn.Sequential:
    """Conv (no bias) + BatchNorm (+ ReLU); ``padding`` defaults to ``kernel // 2``."""
    pad = kernel // 2 if padding is None else padding
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=False), nn.BatchNorm2d(c_out)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SeparableConv2d(nn.Module):
    """Depthwise ``kernel x kernel`` conv (``groups = c_in``) then a pointwise 1x1 conv.

    Two real ``nn.Conv2d`` modules, no bias and nothing in between, as in
    Keras' ``SeparableConv2D`` (Chollet 2017): the cost tool sees the pair.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, kernel, stride, kernel // 2, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def cifar_resnet_stem(model: nn.Module, width: int = 64) -> nn.Module:
    """Turn a torchvision ResNet/ResNeXt/Wide-ResNet into its CIFAR form in place:
    ``conv1`` becomes 3x3 stride 1 (no bias) and the stem max-pool goes, so the
    network downsamples 8x (32x32 -> 4x4), as kuangliu/pytorch-cifar's ResNets."""
    model.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


def require_imagenet_min(name: str, input_size: int, smallest: int) -> None:
    """Raise InvalidOptionError when the ImageNet variant (input > CIFAR_MAX px)
    cannot take ``input_size``: sizes up to CIFAR_MAX use the CIFAR variant."""
    if CIFAR_MAX < input_size < smallest:
        raise InvalidOptionError(
            f"{name} cannot take {input_size}x{input_size} input: its ImageNet variant needs at least "
            f"{smallest}x{smallest} (inputs up to {CIFAR_MAX}x{CIFAR_MAX} use the CIFAR variant)")


# -- plain conv stacks (AlexNet, ZFNet) as tables of layer specs ----------------------------

@dataclass(frozen=True)
class Conv:
    """Conv + ReLU row: ``out`` channels, ``kernel``, ``stride``, ``padding``, ``groups``."""

    out: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1

    def build(self, c_in: int) -> tuple[list[nn.Module], int]:
        conv = nn.Conv2d(c_in, self.out, self.kernel, self.stride, self.padding, groups=self.groups)
        return [conv, nn.ReLU(inplace=True)], self.out


@dataclass(frozen=True)
class MaxPool:
    kernel: int = 3
    stride: int = 2
    ceil_mode: bool = False

    def build(self, c_in: int) -> tuple[list[nn.Module], int]:
        return [nn.MaxPool2d(self.kernel, self.stride, ceil_mode=self.ceil_mode)], c_in


@dataclass(frozen=True)
class LRN:
    """Local response normalisation across ``size`` adjacent channels, with the
    paper's constants (Krizhevsky et al. 2012, Sec. 3.3: k=2, n=5, alpha=1e-4,
    beta=0.75). PyTorch divides alpha by n inside the sum, so alpha*n is passed
    to reproduce the paper's formula ``a / (k + alpha * sum a^2) ^ beta``."""

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0

    def build(self, c_in: int) -> tuple[list[nn.Module], int]:
        return [nn.LocalResponseNorm(self.size, alpha=self.alpha * self.size, beta=self.beta, k=self.k)], c_in


LayerSpec = Union[Conv, MaxPool, LRN]


class ConvStackNet(nn.Module):
    """``features`` from a table of layer specs, an adaptive average pool to
    ``pool_side`` x ``pool_side``, then dropout + FC + ReLU rows and the classifier
    (the AlexNet/ZFNet layout; ``fc`` lists the hidden FC widths)."""

    def __init__(self, layers: Sequence[LayerSpec], pool_side: int, fc: Sequence[int], num_classes: int,
                 dropout: float = 0.5) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        c = 3
        for spec in layers:
            built, c = spec.build(c)
            modules += built
        self.features = nn.Sequential(*modules)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_side)
        head: list[nn.Module] = []
        width = c * pool_side * pool_side
        for w in fc:
            head += [nn.Dropout(dropout), nn.Linear(width, w), nn.ReLU(inplace=True)]
            width = w
        head.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# -- pre-activation residual networks (He et al. 2016 identity mappings; WideResNet) --------

class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3 plus a shortcut (He et al. 2016,
    "Identity Mappings", Fig. 1b). Where the shape changes the shortcut is a 1x1
    conv (no BN) applied to the pre-activated input, as in the authors' code and
    Zagoruyko & Komodakis' WideResNet."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = (nn.Conv2d(c_in, c_out, 1, stride, bias=False)
                         if stride != 1 or c_in != c_out else None)

    def forward(self, x):
        out = self.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.dropout(self.relu(self.bn2(out))))
        return out + shortcut


def stem(c_out: int, cifar: bool) -> nn.Sequential:
    """CIFAR: one 3x3 stride-1 conv. ImageNet: 7x7 stride-2 conv + BN + ReLU + 3x3
    stride-2 max-pool (4x down), as the ImageNet ResNets. No BN-ReLU after the
    CIFAR conv: the first pre-activation block starts with one."""
    if cifar:
        return nn.Sequential(nn.Conv2d(3, c_out, 3, 1, 1, bias=False))
    return nn.Sequential(nn.Conv2d(3, c_out, 7, 2, 3, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.MaxPool2d(3, 2, 1))


class PreActResNet(nn.Module):
    """Stem, then ``stages`` rows of (width, blocks, stride of the first block) of
    pre-activation basic blocks, a final BN-ReLU, global average pool and FC."""

    def __init__(self, stem_width: int, stages: Sequence[tuple[int, int, int]], num_classes: int,
                 cifar: bool, dropout: float = 0.0) -> None:
        super().__init__()
        self.stem = stem(stem_width, cifar)
        layers: list[nn.Module] = []
        c = stem_width
        for width, blocks, stride in stages:
            for i in range(blocks):
                layers.append(PreActBlock(c, width, stride if i == 0 else 1, dropout))
                c = width
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.relu(self.bn(self.layers(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))

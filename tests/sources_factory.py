"""A model outside the zoo, as a user's own module builds it: the factory the
model-source tests call as ``sources_factory:tiny_separable_net``."""

from __future__ import annotations

from torch import nn


def tiny_separable_net(width: int = 16, num_classes: int = 10) -> nn.Module:
    """A stem, one depthwise-separable block and a classifier (CIFAR-size)."""
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, stride=2, padding=1, groups=width, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes))


def not_a_module() -> str:
    return "a string"

"""Model registry plumbing: ModelCard, ``register_model``, ``create_model``.

A builder is a function ``build(*, num_classes: int, input_size: int, **options)
-> nn.Module``. ``input_size`` selects the variant: at CIFAR sizes (< 64 px)
builders adapt the stem and early strides the way published CIFAR ports do;
at ImageNet sizes they follow the paper / torchvision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from edgecnn.errors import InvalidOptionError
from edgecnn.registry import Registry

if TYPE_CHECKING:  # annotations only: cards and sources load without torch
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

CIFAR_MAX = 63  # input sizes up to this use the CIFAR-style variant


@dataclass(frozen=True)
class Reference:
    """A published figure a built model must match.

    ``params``: parameter count; ``macs``: conv + linear multiply-accumulates
    (what torchvision's "GFLOPS" column and the papers quote); ``source``:
    where the figures come from; ``tolerance``: relative tolerance allowed
    (0 = exact, used for torchvision's counts). ``top1``: the published
    ImageNet-1k top-1 accuracy (%, single centre crop) of this architecture
    trained as its source describes, with ``top1_source``; edgecnn never
    measured it (it has no ImageNet), and records of it say ``source="published"``.
    """

    params: int | None
    macs: int | None = None
    source: str = ""
    tolerance: float = 0.0
    macs_tolerance: float = 0.02
    top1: float | None = None
    top1_source: str = ""
    top1_weights: str = ""  # the weights the published top-1 is of (torchvision: IMAGENET1K_V1)


@dataclass(frozen=True)
class TorchvisionWeights:
    """The torchvision architecture a zoo model is, so its released weights load.

    Only at the ImageNet size (> ``CIFAR_MAX`` px) and 1000 classes. ``enum``:
    the weights enum (``"ResNet50_Weights"``); ``builder``: torchvision's
    builder (``"resnet50"``), called with ``builder_kwargs`` to get the layout
    the weights were saved from; ``ignore_keys``: key prefixes in torchvision's
    files that the zoo model leaves out (GoogLeNet's auxiliary heads);
    ``set_attrs``: attributes torchvision's builder sets when it loads weights
    (``transform_input`` for GoogLeNet and Inception v3, whose weights were
    ported from TensorFlow and expect inputs mapped to [-1, 1]).
    """

    enum: str
    builder: str
    builder_kwargs: tuple[tuple[str, Any], ...] = ()
    ignore_keys: tuple[str, ...] = ()
    set_attrs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ModelCard:
    name: str
    family: str
    paper: str  # "Authors, Year. Title"
    input_size: int  # default side, in pixels (square inputs)
    num_classes: int  # default class count
    dataset: str  # the dataset the default configuration is for: "imagenet" or "cifar10"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    min_input_size: int = 32
    # reference figures keyed by (input_size, num_classes)
    references: dict[tuple[int, int], Reference] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # builder defaults (e.g. width_mult)
    description: str = ""
    torchvision: TorchvisionWeights | None = None  # torchvision's weights fit this model (ImageNet size, 1000)

    def reference(self, input_size: int | None = None, num_classes: int | None = None) -> Reference | None:
        return self.references.get((input_size or self.input_size, num_classes or self.num_classes))

    def to_dict(self) -> dict[str, Any]:
        ref = self.reference()
        return {
            "name": self.name,
            "family": self.family,
            "paper": self.paper,
            "input_size": self.input_size,
            "num_classes": self.num_classes,
            "dataset": self.dataset,
            "mean": list(self.mean),
            "std": list(self.std),
            "min_input_size": self.min_input_size,
            "options": dict(self.options),
            "reference_params": ref.params if ref else None,
            "reference_macs": ref.macs if ref else None,
            "reference_source": ref.source if ref else None,
            "reference_top1": ref.top1 if ref else None,
            "reference_top1_source": ref.top1_source if ref else None,
            "torchvision_weights": self.torchvision.enum if self.torchvision else None,
        }


@dataclass(frozen=True)
class _Entry:
    card: ModelCard
    builder: Callable[..., nn.Module]


MODELS: Registry[_Entry] = Registry("model")


def register_model(card: ModelCard, builder: Callable[..., nn.Module] | None = None):
    """Register ``builder`` under ``card.name``; usable as a decorator."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.add(card.name, _Entry(card, fn))
        return fn

    return deco(builder) if builder is not None else deco


def register_variant(card: ModelCard, build: Callable[..., nn.Module], *args: Any, size_as: str = "input_size",
                     **fixed: Any) -> Callable[..., nn.Module]:
    """Register ``card.name`` as one variant of a family: ``build(*args,
    num_classes=..., <size>, **fixed)`` where ``<size>`` is ``input_size=side``
    or, with ``size_as="cifar"``, ``cifar=is_cifar_size(side)``. The one way every
    family registers its widths, depths and sizes."""
    if size_as not in ("input_size", "cifar"):
        raise ValueError(f"size_as must be input_size or cifar, got {size_as!r}")

    def variant(*, num_classes: int, input_size: int, **options: Any) -> nn.Module:
        size = {"cifar": is_cifar_size(input_size)} if size_as == "cifar" else {"input_size": input_size}
        return build(*args, num_classes=num_classes, **size, **fixed, **options)

    variant.__name__ = variant.__qualname__ = card.name
    register_model(card, variant)
    return variant


def get_card(name: str) -> ModelCard:
    return MODELS.get(name).card


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, optionally filtered by wildcards (``"mobilenet*"``)."""
    return MODELS.list(pattern)


def create_model(name: str, *, num_classes: int | None = None, input_size: int | None = None,
                 **options: Any) -> nn.Module:
    """Build a registered model (random weights, eval mode off: a fresh ``nn.Module``).

    ``input_size`` (pixels, square) picks the CIFAR (< 64) or ImageNet variant;
    defaults come from the ModelCard. The card is attached as ``model.edgecnn_card``
    and the resolved configuration as ``model.edgecnn_config``.
    """
    entry = MODELS.get(name)
    config = resolve_config(entry.card, input_size=input_size, num_classes=num_classes, options=options)
    kwargs = {k: v for k, v in config.items() if k not in ("name", "num_classes", "input_size")}
    model = entry.builder(num_classes=config["num_classes"], input_size=config["input_size"], **kwargs)
    model.edgecnn_card = entry.card  # type: ignore[attr-defined]
    model.edgecnn_config = config  # type: ignore[attr-defined]
    return model


def resolve_config(card: ModelCard, *, input_size: int | None = None, num_classes: int | None = None,
                   options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The configuration ``create_model`` builds (``{"name", "num_classes",
    "input_size", **options}``, the card's defaults filled in), checked against
    the card: a size below its smallest input, fewer than one class or an
    option it does not take is one line. Needs no torch."""
    options = options or {}
    size = int(input_size or card.input_size)
    classes = int(num_classes or card.num_classes)
    if size < card.min_input_size:
        raise InvalidOptionError(
            f"{card.name} cannot take {size}x{size} input: its smallest input is "
            f"{card.min_input_size}x{card.min_input_size}")
    if classes < 1:
        raise InvalidOptionError(f"num_classes must be >= 1, got {classes}")
    unknown = set(options) - set(card.options)
    if unknown:
        allowed = ", ".join(sorted(card.options)) or "none"
        raise InvalidOptionError(f"{card.name} does not take option(s) {sorted(unknown)}; it takes: {allowed}")
    return {"name": card.name, "num_classes": classes, "input_size": size, **card.options, **options}


def is_cifar_size(input_size: int) -> bool:
    return input_size <= CIFAR_MAX


def check_choice(name: str, option: str, value: Any, allowed: tuple) -> None:
    """Raise a clear error for a value outside ``allowed`` (e.g. a width multiplier)."""
    if value not in allowed:
        raise InvalidOptionError(
            f"{name}: {option}={value!r} is not supported; choose one of {', '.join(map(str, allowed))}")


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

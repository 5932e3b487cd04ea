"""The preprocessing a set of weights expects, as data, and its exact PIL path.

``Preprocessing`` holds what torchvision's ``weights.transforms()`` and timm's
pretrained config say: the shorter side resized to ``resize_size`` px with
``interpolation``, the centre ``crop_size`` square, RGB scaled to [0, 1], then
``(x - mean) / std``. ``crop`` reproduces torchvision's PIL path step by step
(the long side is ``int(resize_size * long / short)``, the crop offset
``int(round((side - crop) / 2))``, zero padding when the crop is larger), so
a crop made here equals torchvision's pixel for pixel; ``normalize`` is
``convert_image_dtype`` + ``normalize`` in float32, the same operations.

Images enter as PIL images or uint8 ``H x W x 3`` arrays (RGB) and leave as
uint8 crops (``crop``) or float32 NCHW torch batches (``normalize``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np

from edgecnn.errors import InvalidOptionError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "box", "hamming", "lanczos")
DEFAULT_CROP_FRACTION = 0.875  # resize 256 for a 224 crop: the classic ImageNet evaluation


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes one model input (sizes in pixels, mean/std per RGB
    channel on [0, 1] values). ``source`` says where the figures come from."""

    crop_size: int
    resize_size: int
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    source: str = ""

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise InvalidOptionError(f"unknown interpolation {self.interpolation!r}; "
                                     f"choose one of {', '.join(INTERPOLATIONS)}")
        if self.crop_size < 1 or self.resize_size < 1:
            raise InvalidOptionError(f"crop and resize sizes must be >= 1 px, got {self.crop_size}, "
                                     f"{self.resize_size}")
        object.__setattr__(self, "mean", check_triple("mean", self.mean))
        object.__setattr__(self, "std", check_triple("std", self.std, positive=True))

    # -- data --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessing":
        keys = ("crop_size", "resize_size", "interpolation", "mean", "std", "source")
        return cls(**{k: (tuple(d[k]) if k in ("mean", "std") else d[k]) for k in keys if k in d})

    def with_norm(self, mean: Sequence[float], std: Sequence[float], source: str) -> "Preprocessing":
        """The same geometry with another normalisation."""
        return replace(self, mean=tuple(mean), std=tuple(std), source=source)

    def at_size(self, input_size: int) -> "Preprocessing":
        """The same crop fraction at another input side (the weights' own when equal)."""
        if input_size == self.crop_size:
            return self
        resize = max(input_size, int(round(input_size * self.resize_size / self.crop_size)))
        return replace(self, crop_size=input_size, resize_size=resize,
                       source=f"{self.source}, scaled to a {input_size} px crop" if self.source else "")

    def same_norm(self, other: "Preprocessing") -> bool:
        return bool(np.allclose(self.mean, other.mean, atol=1e-6) and np.allclose(self.std, other.std, atol=1e-6))

    def geometry_key(self) -> str:
        return f"r{self.resize_size}-c{self.crop_size}-{self.interpolation}"

    def describe(self) -> str:
        return (f"resize {self.resize_size} ({self.interpolation}), centre crop {self.crop_size}, "
                f"mean {fmt_triple(self.mean)}, std {fmt_triple(self.std)}")

    # -- pixels ------------------------------------------------------------------------
    def crop(self, image: Any) -> np.ndarray:
        """A PIL image or uint8 HxWx3 array -> the uint8 ``crop_size`` square (RGB),
        as torchvision's ``Resize(resize_size)`` + ``CenterCrop(crop_size)`` on PIL."""
        from PIL import Image

        im = Image.fromarray(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
        if im.mode != "RGB":
            im = im.convert("RGB")
        w, h = im.size
        size = resized_size(h, w, self.resize_size)
        if size != (h, w):
            im = im.resize((size[1], size[0]), pil_mode(self.interpolation))
        arr = np.asarray(im, dtype=np.uint8)
        return centre_crop(arr, self.crop_size)

    def crops(self, images: Iterable[Any]) -> np.ndarray:
        """uint8 N x crop x crop x 3 from an iterable of images (``crop`` each)."""
        out = [self.crop(im) for im in images]
        if not out:
            return np.zeros((0, self.crop_size, self.crop_size, 3), np.uint8)
        return np.stack(out)

    def normalize(self, batch: np.ndarray):
        """uint8 NHWC crops -> float32 NCHW torch tensor ``(x / 255 - mean) / std``."""
        return normalize(batch, self.mean, self.std)


def normalize(batch: np.ndarray, mean: Sequence[float], std: Sequence[float]):
    """uint8 NHWC -> float32 NCHW ``(x / 255 - mean) / std`` (torchvision's
    ``convert_image_dtype`` then ``normalize``)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    m = torch.tensor(tuple(mean), dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(tuple(std), dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub_(m).div_(s)


def default_preprocessing(input_size: int, mean: Sequence[float], std: Sequence[float], source: str,
                          cifar_max: int = 63) -> Preprocessing:
    """Preprocessing for weights that do not state theirs: at CIFAR sizes the
    image is resized to ``input_size`` (a 32 px image is left as is); larger
    models get the classic resize ``input_size / 0.875`` and centre crop."""
    resize = input_size if input_size <= cifar_max else int(round(input_size / DEFAULT_CROP_FRACTION))
    return Preprocessing(crop_size=input_size, resize_size=resize, interpolation="bilinear", mean=tuple(mean),
                         std=tuple(std), source=source)


def resized_size(h: int, w: int, short_side: int) -> tuple[int, int]:
    """(h, w) after resizing the shorter side to ``short_side`` (torchvision's
    rule: the long side is truncated, not rounded)."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = short_side, int(short_side * long / short)
    return (new_long, new_short) if w <= h else (new_short, new_long)


def centre_crop(arr: np.ndarray, side: int) -> np.ndarray:
    """The centre ``side`` square of an HxWxC array, zero-padded first when smaller
    (torchvision's ``center_crop``)."""
    h, w = arr.shape[:2]
    if side > w or side > h:
        left, top = (side - w) // 2 if side > w else 0, (side - h) // 2 if side > h else 0
        right, bottom = (side - w + 1) // 2 if side > w else 0, (side - h + 1) // 2 if side > h else 0
        arr = np.pad(arr, ((top, bottom), (left, right), (0, 0)))
        h, w = arr.shape[:2]
    top, left = int(round((h - side) / 2.0)), int(round((w - side) / 2.0))
    return np.ascontiguousarray(arr[top:top + side, left:left + side])


def pil_mode(interpolation: str) -> int:
    from PIL import Image

    return {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "box": Image.BOX,
            "hamming": Image.HAMMING, "lanczos": Image.LANCZOS}[interpolation]


def check_triple(what: str, values: Any, positive: bool = False) -> tuple[float, float, float]:
    """Three finite floats (one per RGB channel); one value is repeated."""
    try:
        vals = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"{what} takes 1 or 3 numbers, got {values!r}") from None
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3 or not all(np.isfinite(vals)) or (positive and min(vals) <= 0):
        raise InvalidOptionError(f"{what} takes 1 or 3 {'positive ' if positive else ''}numbers (R,G,B), "
                                 f"got {values!r}")
    return vals  # type: ignore[return-value]


def parse_triple(what: str, text: str | None, positive: bool = False) -> tuple[float, float, float] | None:
    """``"0.5"`` or ``"0.485,0.456,0.406"`` -> a triple (None stays None); bad text is one line."""
    if text is None:
        return None
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InvalidOptionError(f"{what} takes 1 or 3 numbers separated by commas, got {text!r}") from None
    return check_triple(what, numbers, positive)


def fmt_triple(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"

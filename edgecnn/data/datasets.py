"""Datasets as decoded uint8 arrays, cached so epochs never re-decode JPEGs.

Sources, in the order tried for ``cifar10`` / ``cifar100``:
1. ``data_dir`` given: an ImageFolder tree with ``train/`` and ``test/``
   sub-folders, a ``.tar.gz`` / ``.tgz`` / ``.tar`` of one, or torchvision's
   format (``cifar-10-batches-py`` / ``cifar-100-python`` inside the folder).
2. ``EDGECNN_CIFAR10`` environment variable (same forms), then the project's
   shared archive ``../shared/datasets/cifar10-jpeg.tar.gz`` beside the checkout.
3. torchvision's download (needs internet).

``imagefolder`` takes any folder or archive laid out as ``<split>/<class>/*``.
Decoded arrays are cached as ``.npz`` under ``$EDGECNN_CACHE`` (default
``~/.cache/edgecnn``), keyed by the source path, size and mtime.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn.errors import CorruptFileError, EdgeCNNError, InvalidOptionError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_CIFAR10 = REPO_ROOT.parent / "shared" / "datasets" / "cifar10-jpeg.tar.gz"
DATASETS = ("cifar10", "cifar100", "imagefolder")


class DataError(EdgeCNNError):
    """Missing or unreadable data."""


@dataclass
class ArrayDataset:
    """Images as uint8 ``N x H x W x 3`` (RGB), labels as int64 ``N``."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    name: str
    split: str
    source: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, n: int | None, seed: int = 0, stratified: bool = True) -> "ArrayDataset":
        """A deterministic subset of ``n`` samples (balanced across classes when
        ``stratified``); the whole set when ``n`` is None or >= len."""
        if n is None or n >= len(self):
            return self
        rng = np.random.default_rng(seed)
        if stratified:
            per = [rng.permutation(np.flatnonzero(self.labels == c)) for c in range(self.num_classes)]
            idx, i = [], 0
            while len(idx) < n:
                for p in per:
                    if i < len(p) and len(idx) < n:
                        idx.append(p[i])
                i += 1
            idx = np.sort(np.asarray(idx))
        else:
            idx = np.sort(rng.choice(len(self), size=n, replace=False))
        return ArrayDataset(self.images[idx], self.labels[idx], self.classes, self.name, self.split, self.source)


def cache_dir() -> Path:
    return Path(os.environ.get("EDGECNN_CACHE", Path.home() / ".cache" / "edgecnn"))


def default_cifar10_source() -> Path | None:
    env = os.environ.get("EDGECNN_CIFAR10")
    if env:
        return Path(env)
    return SHARED_CIFAR10 if SHARED_CIFAR10.exists() else None


def load_dataset(name: str = "cifar10", split: str = "train", data_dir: str | os.PathLike | None = None,
                 image_size: int | None = None) -> ArrayDataset:
    """Load ``split`` ("train" or "test") of a dataset as arrays (see module doc)."""
    if name not in DATASETS:
        raise InvalidOptionError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in ("train", "test"):
        raise InvalidOptionError(f"unknown split {split!r}; choose train or test")
    src = Path(data_dir) if data_dir is not None else None
    if src is None and name == "cifar10":
        src = default_cifar10_source()
    if src is None:
        if name == "imagefolder":
            raise InvalidOptionError("the imagefolder dataset needs --data-dir (a folder or .tar.gz)")
        return _torchvision_download(name, split)
    if not src.exists():
        raise DataError(f"data folder {src} does not exist")
    if src.is_dir() and name in ("cifar10", "cifar100") and _torchvision_layout(src, name):
        return _torchvision_local(name, split, src)
    ds = _load_imagefolder(src, split, image_size)
    ds.name = name
    if name == "cifar10" and ds.num_classes != 10:
        raise DataError(f"{src} has {ds.num_classes} classes in {split}/, CIFAR-10 has 10")
    if name == "cifar100" and ds.num_classes != 100:
        raise DataError(f"{src} has {ds.num_classes} classes in {split}/, CIFAR-100 has 100")
    return ds


# ---------------------------------------------------------------------------
# ImageFolder trees and archives
# ---------------------------------------------------------------------------
def _cache_path(src: Path, split: str, image_size: int | None) -> Path:
    st = src.stat()
    key = f"{src.resolve()}|{st.st_size}|{int(st.st_mtime)}|{split}|{image_size}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir() / "datasets" / f"{src.name}-{split}-{image_size or 'native'}-{digest}.npz"


def _load_imagefolder(src: Path, split: str, image_size: int | None) -> ArrayDataset:
    cache = _cache_path(src, split, image_size)
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return ArrayDataset(z["images"], z["labels"], [str(c) for c in z["classes"]], "imagefolder",
                                    split, str(src))
        except Exception:  # a bad cache is rebuilt, never trusted
            cache.unlink(missing_ok=True)
    if src.is_dir():
        items = _scan_dir(src, split)
    elif src.name.endswith(ARCHIVE_SUFFIXES):
        items = _scan_archive(src, split)
    else:
        raise DataError(f"{src} is neither a folder nor a .tar.gz/.tgz/.tar archive")
    if not items:
        raise DataError(f"no images under {split}/<class>/ in {src}")
    classes = sorted({c for c, _ in items})
    index = {c: i for i, c in enumerate(classes)}
    images, labels = [], []
    for cls, data in items:
        images.append(_decode(data, image_size, f"{src}:{split}/{cls}"))
        labels.append(index[cls])
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataError(f"images in {src} have different sizes {sorted(shapes)[:3]}...; pass an image size")
    arr = np.stack(images)
    lab = np.asarray(labels, dtype=np.int64)
    _save_cache(cache, arr, lab, classes)
    return ArrayDataset(arr, lab, classes, "imagefolder", split, str(src))


def _scan_dir(root: Path, split: str) -> list[tuple[str, bytes]]:
    base = root / split
    if not base.is_dir():
        raise DataError(f"{root} has no {split}/ folder (expected {split}/<class>/<image>)")
    out = []
    for cls_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for f in sorted(cls_dir.iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                out.append((cls_dir.name, f.read_bytes()))
    return out


def _scan_archive(path: Path, split: str) -> list[tuple[str, bytes]]:
    out = []
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                parts = Path(m.name).parts
                # accept an optional top-level folder: [top/]split/class/file
                if len(parts) >= 3 and parts[-3] == split and Path(parts[-1]).suffix.lower() in IMAGE_SUFFIXES:
                    fh = tar.extractfile(m)
                    if fh is not None:
                        out.append((parts[-2], fh.read()))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CorruptFileError(f"cannot read archive {path}: {str(exc).splitlines()[0]}") from None
    return out


def _decode(data: bytes, image_size: int | None, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGB")
            if image_size and im.size != (image_size, image_size):
                im = im.resize((image_size, image_size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise CorruptFileError(f"cannot decode an image in {where}: {exc}") from None


def _save_cache(path: Path, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> None:
    from edgecnn.records import atomic_output

    try:
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, images=images, labels=labels, classes=np.asarray(classes))
    except OSError:
        pass  # a cache we cannot write only costs time


# ---------------------------------------------------------------------------
# torchvision formats
# ---------------------------------------------------------------------------
def _torchvision_layout(root: Path, name: str) -> bool:
    sub = "cifar-10-batches-py" if name == "cifar10" else "cifar-100-python"
    return (root / sub).is_dir()


def _torchvision_local(name: str, split: str, root: Path) -> ArrayDataset:
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        tv = cls(str(root), train=split == "train", download=False)
    except Exception as exc:
        raise CorruptFileError(f"cannot read torchvision {name} in {root}: {exc}") from None
    return ArrayDataset(np.asarray(tv.data, dtype=np.uint8), np.asarray(tv.targets, dtype=np.int64),
                        list(tv.classes), name, split, str(root))


def _torchvision_download(name: str, split: str) -> ArrayDataset:
    root = cache_dir() / "torchvision"
    try:
        from torchvision import datasets

        cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
        tv = cls(str(root), train=split == "train", download=True)
    except Exception as exc:
        raise DataError(f"no local {name} found and the download failed ({type(exc).__name__}); "
                        f"pass --data-dir (torchvision folder, ImageFolder tree or .tar.gz)") from None
    return ArrayDataset(np.asarray(tv.data, dtype=np.uint8), np.asarray(tv.targets, dtype=np.int64),
                        list(tv.classes), name, split, str(root))


# ---------------------------------------------------------------------------
# to tensors
# ---------------------------------------------------------------------------
def to_tensor(images: np.ndarray, mean, std, size: int | None = None):
    """uint8 NHWC -> normalised float32 NCHW torch tensor (resized to ``size``)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - m) / s

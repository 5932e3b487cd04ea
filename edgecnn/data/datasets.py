"""Datasets as decoded uint8 arrays, cached so epochs never re-decode JPEGs.

Sources, in the order tried for ``cifar10`` / ``cifar100``:
1. ``data_dir`` given: an ImageFolder tree with ``train/`` and ``test/``
   sub-folders, a ``.tar.gz`` / ``.tgz`` / ``.tar`` of one, or torchvision's
   format: a root holding ``cifar-10-batches-py`` / ``cifar-100-python``, that
   folder itself, or the ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``
   torchvision downloads. The pickled batches are read directly (no MD5 check,
   no network), so a root copied from another machine works offline.
2. ``EDGECNN_CIFAR10`` environment variable (same forms), then the project's
   shared archive ``../shared/datasets/cifar10-jpeg.tar.gz`` beside the checkout.
3. torchvision's download (needs internet).

``imagefolder`` takes any folder or archive laid out as ``<split>/<class>/*``.
Its images must share one size, or ``image_size`` is given: then each image
is resized (shorter side to ``image_size``) and centre-cropped to a square.
Decoded arrays are cached as ``.npz`` under ``$EDGECNN_CACHE`` (default
``~/.cache/edgecnn``), keyed by the source path and, for an archive, its size
and mtime; for a folder, the names, sizes and mtimes of every file in the
split (so adding, removing or replacing an image rebuilds the cache).
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
        idx = subset_indices(self.labels, n, self.num_classes, seed, stratified)
        return ArrayDataset(self.images[idx], self.labels[idx], self.classes, self.name, self.split, self.source)


def subset_indices(labels: np.ndarray, n: int, num_classes: int, seed: int = 0,
                   stratified: bool = True) -> np.ndarray:
    """Sorted indices of a deterministic subset of ``n`` of ``labels`` (n < len):
    round-robin over the classes, each class in a seeded random order, so the
    subset is balanced across the classes present (classes with no sample are
    skipped); or a plain seeded sample when not ``stratified``."""
    rng = np.random.default_rng(seed)
    if stratified:
        per = [rng.permutation(np.flatnonzero(labels == c)) for c in range(num_classes)]
        per = [p for p in per if len(p)]
        idx, i = [], 0
        while len(idx) < n:
            for p in per:
                if i < len(p) and len(idx) < n:
                    idx.append(p[i])
            i += 1
        return np.sort(np.asarray(idx))
    return np.sort(rng.choice(len(labels), size=n, replace=False))


def cache_dir() -> Path:
    return Path(os.environ.get("EDGECNN_CACHE", Path.home() / ".cache" / "edgecnn"))


def default_cifar10_source() -> Path | None:
    env = os.environ.get("EDGECNN_CIFAR10")
    if env:
        return Path(env)
    return SHARED_CIFAR10 if SHARED_CIFAR10.exists() else None


def load_dataset(name: str = "cifar10", split: str = "train", data_dir: str | os.PathLike | None = None,
                 image_size: int | None = None) -> ArrayDataset:
    """Load ``split`` ("train" or "test") of a dataset as arrays (see module doc).

    ``image_size`` applies to ImageFolder sources only (CIFAR's pickled
    batches are always 32x32): every image is stored as an ``image_size``
    square (shorter side resized, centre crop)."""
    if name not in DATASETS:
        raise InvalidOptionError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in ("train", "test"):
        raise InvalidOptionError(f"unknown split {split!r}; choose train or test")
    if image_size is not None and image_size < 1:
        raise InvalidOptionError(f"image size must be >= 1, got {image_size}")
    src = Path(data_dir) if data_dir is not None else None
    if src is None and name == "cifar10":
        src = default_cifar10_source()
    if src is None:
        if name == "imagefolder":
            raise InvalidOptionError("the imagefolder dataset needs --data-dir (a folder or .tar.gz)")
        return _torchvision_download(name, split)
    if not src.exists():
        raise DataError(f"data folder {src} does not exist")
    if name in ("cifar10", "cifar100"):
        pickled = _torchvision_source(src, name)
        if pickled is not None:
            return _read_cifar_pickles(pickled, name, split, src)
    ds = _load_imagefolder(src, split, image_size)
    ds.name = name
    expected = {"cifar10": 10, "cifar100": 100}.get(name)
    if expected is not None and ds.num_classes != expected:
        raise DataError(f"{src} has {ds.num_classes} classes in {split}/, {CIFAR_TITLE[name]} has {expected}")
    return ds


CIFAR_TITLE = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


# ---------------------------------------------------------------------------
# ImageFolder trees and archives
# ---------------------------------------------------------------------------
def _cache_path(src: Path, split: str, image_size: int | None) -> Path:
    if src.is_dir():
        fingerprint = _listing_digest(src / split)
    else:
        st = src.stat()
        fingerprint = f"{st.st_size}|{st.st_mtime_ns}"
    key = f"{src.resolve()}|{fingerprint}|{split}|{image_size}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir() / "datasets" / f"{src.name}-{split}-{image_size or 'native'}-{digest}.npz"


def _listing_digest(base: Path) -> str:
    """Hash of (relative name, size, mtime) of every file under ``base``: a folder's own
    mtime misses an image replaced or removed inside a class sub-folder."""
    h = hashlib.sha1()
    if base.is_dir():
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for f in sorted(filenames):
                st = os.stat(os.path.join(dirpath, f))
                h.update(f"{os.path.relpath(os.path.join(dirpath, f), base)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _load_imagefolder(src: Path, split: str, image_size: int | None) -> ArrayDataset:
    if src.is_dir():
        if not (src / split).is_dir():
            raise DataError(f"{src} has no {split}/ folder (expected {split}/<class>/<image>)")
    elif not src.name.endswith(ARCHIVE_SUFFIXES):
        raise DataError(f"{src} is neither a folder nor a .tar.gz/.tgz/.tar archive")
    cache = _cache_path(src, split, image_size)
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return ArrayDataset(z["images"], z["labels"], [str(c) for c in z["classes"]], "imagefolder",
                                    split, str(src))
        except Exception:  # a bad cache is rebuilt, never trusted
            cache.unlink(missing_ok=True)
    items = _scan_dir(src, split) if src.is_dir() else _scan_archive(src, split)
    if not items:
        raise DataError(f"no images under {split}/<class>/ in {src}")
    classes = sorted({c for c, _, _ in items})
    index = {c: i for i, c in enumerate(classes)}
    images, labels = [], []
    for cls, fname, data in items:
        images.append(_decode(data, image_size, f"{src}: {split}/{cls}/{fname}"))
        labels.append(index[cls])
    shapes = sorted({im.shape for im in images})
    if len(shapes) != 1:
        raise DataError(f"images in {src} have different sizes ({shapes[0][1]}x{shapes[0][0]}, "
                        f"{shapes[-1][1]}x{shapes[-1][0]}, ...); pass --input-size so they are resized")
    arr = np.stack(images)
    lab = np.asarray(labels, dtype=np.int64)
    _save_cache(cache, arr, lab, classes)
    return ArrayDataset(arr, lab, classes, "imagefolder", split, str(src))


def _scan_dir(root: Path, split: str) -> list[tuple[str, str, bytes]]:
    """(class, file name, bytes) of every image under ``root/split/<class>/``."""
    out = []
    for cls_dir in sorted(p for p in (root / split).iterdir() if p.is_dir()):
        for f in sorted(cls_dir.iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                out.append((cls_dir.name, f.name, f.read_bytes()))
    return out


def _scan_archive(path: Path, split: str) -> list[tuple[str, str, bytes]]:
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
                        out.append((parts[-2], parts[-1], fh.read()))
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise CorruptFileError(f"cannot read archive {path}: {str(exc).splitlines()[0]}") from None
    return out


def _decode(data: bytes, image_size: int | None, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGB")
            if image_size and im.size != (image_size, image_size):
                im = _resize_centre_crop(im, image_size)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        reason = "not an image file" if isinstance(exc, UnidentifiedImageError) else str(exc).splitlines()[0]
        raise CorruptFileError(f"cannot decode {where}: {reason}") from None


def _resize_centre_crop(im, side: int):
    """Shorter side to ``side`` (bilinear, antialiased), then the centre ``side`` square."""
    from PIL import Image

    w, h = im.size
    scale = side / min(w, h)
    nw, nh = max(side, round(w * scale)), max(side, round(h * scale))
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - side) // 2, (nh - side) // 2
    return im.crop((left, top, left + side, top + side))


def _save_cache(path: Path, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> None:
    from edgecnn.records import atomic_output

    try:
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, images=images, labels=labels, classes=np.asarray(classes))
    except OSError:
        pass  # a cache we cannot write only costs time


# ---------------------------------------------------------------------------
# torchvision's format: pickled batches (read directly, no MD5 check)
# ---------------------------------------------------------------------------
TV_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
TV_FILES = {  # split -> batch files; then (meta file, key of the class names, key of the labels)
    "cifar10": ({"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
                ("batches.meta", "label_names", "labels")),
    "cifar100": ({"train": ["train"], "test": ["test"]}, ("meta", "fine_label_names", "fine_labels")),
}


def _torchvision_source(src: Path, name: str) -> Path | None:
    """The torchvision batches folder or tarball ``src`` points at, else None."""
    folder = TV_FOLDER[name]
    if src.is_dir():
        if src.name == folder:
            return src
        if (src / folder).is_dir():
            return src / folder
        return None
    if src.is_file() and src.name.endswith(ARCHIVE_SUFFIXES):
        try:  # torchvision's own download (cifar-10-python.tar.gz) starts with the batches folder
            with tarfile.open(src, "r:*") as tar:
                first = tar.next()
        except (tarfile.TarError, EOFError, OSError, ValueError):
            return None  # the ImageFolder reader reports the broken archive
        if first is not None and Path(first.name).parts[:1] == (folder,):
            return src
    return None


def _unpickle(data: bytes, where: str) -> dict:
    import pickle

    try:
        obj = pickle.loads(data, encoding="latin1")
    except Exception as exc:  # truncated or not a pickle
        raise CorruptFileError(f"cannot read {where}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if not isinstance(obj, dict):
        raise CorruptFileError(f"{where} is not a CIFAR batch (a pickled dict)")
    # python-2 pickles load with str keys, python-3 ones with bytes keys
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _read_cifar_pickles(source: Path, name: str, split: str, shown: Path) -> ArrayDataset:
    files, (meta_file, names_key, labels_key) = TV_FILES[name]
    wanted = [*files[split], meta_file]
    blobs: dict[str, bytes] = {}
    if source.is_dir():
        for f in wanted:
            if (source / f).is_file():
                blobs[f] = (source / f).read_bytes()
    else:
        try:
            with tarfile.open(source, "r:*") as tar:
                for m in tar:
                    base = Path(m.name).name
                    if m.isfile() and base in wanted:
                        blobs[base] = tar.extractfile(m).read()
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise CorruptFileError(f"cannot read archive {source}: {str(exc).splitlines()[0]}") from None
    missing = [f for f in wanted if f not in blobs]
    if missing:
        raise DataError(f"{source} is missing {', '.join(missing)} (torchvision {CIFAR_TITLE[name]} format)")
    data, labels = [], []
    for f in files[split]:
        entry = _unpickle(blobs[f], f"{source}/{f}")
        try:
            arr = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            lab = np.asarray(entry[labels_key], dtype=np.int64)
        except (KeyError, ValueError) as exc:
            raise CorruptFileError(f"{source}/{f} is not a {CIFAR_TITLE[name]} batch ({type(exc).__name__}: "
                                   f"{exc})") from None
        if len(arr) != len(lab):
            raise CorruptFileError(f"{source}/{f} holds {len(arr)} images but {len(lab)} labels")
        data.append(arr)
        labels.append(lab)
    meta = _unpickle(blobs[meta_file], f"{source}/{meta_file}")
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in meta.get(names_key, [])]
    expected = 10 if name == "cifar10" else 100
    y = np.concatenate(labels)
    if len(classes) != expected or (len(y) and (y.min() < 0 or y.max() >= expected)):
        raise DataError(f"{source} has {len(classes)} class names and labels up to {int(y.max(initial=0))}; "
                        f"{CIFAR_TITLE[name]} has {expected} classes")
    images = np.ascontiguousarray(np.concatenate(data).transpose(0, 2, 3, 1))
    return ArrayDataset(images, y, classes, name, split, str(shown))


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

"""Labelled images read on demand, for evaluation and calibration at any size.

``ArrayDataset`` (``datasets.py``) decodes a whole split into one array of
equal-size images; ImageNet-style folders hold 50,000 images of every size,
so an ``ImageSource`` keeps file names and labels, picks a subset *before*
decoding (``subset``: stratified, so ``--subset 500`` reads 500 files), and
decodes batch by batch into the crops a ``Preprocessing`` asks for.

``open_image_folder`` takes the common validation layouts:

- class folders ``<root>[/<split>]/<class>/*.JPEG``; when every folder is an
  ImageNet-1k wnid (``n01440764``...) the labels are the 1,000 ImageNet
  indices in torchvision's order (a folder may hold only some classes);
  otherwise the sorted folder names are the classes;
- a flat folder of images with a labels file (``labels``, or a
  ``LOC_val_solution.csv`` found beside it): see ``edgecnn.data.imagenet``;
- a ``.tar``/``.tar.gz`` of class folders (the selected members are read in one pass).

``dataset_name`` is ``imagenet`` when all 1,000 ImageNet classes are there,
``imagenet-partial`` for a wnid folder with fewer, ``imagefolder`` otherwise.
"""

from __future__ import annotations

import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgecnn.data.datasets import ARCHIVE_SUFFIXES, IMAGE_SUFFIXES, ArrayDataset, DataError, subset_indices
from edgecnn.data.imagenet import NUM_CLASSES, imagenet_categories, label_space, read_labels_file
from edgecnn.data.preprocess import Preprocessing
from edgecnn.errors import CorruptFileError

KAGGLE_LABELS = "LOC_val_solution.csv"


@dataclass
class ImageSource:
    """Images (files, archive members or a uint8 array) with int64 labels.
    ``classes``: label index -> class name (wnids for ImageNet); ``titles``:
    human-readable names where known."""

    labels: np.ndarray
    classes: list[str]
    name: str
    source: str
    layout: str  # wnid-folders | class-folders | labels-file | arrays
    files: list[str] | None = None  # paths, or member names inside ``archive``
    archive: str | None = None
    arrays: np.ndarray | None = None  # uint8 N x H x W x 3
    titles: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def imagenet(self) -> bool:
        return self.layout in ("wnid-folders", "labels-file") and self.num_classes == NUM_CLASSES and \
            self.name.startswith("imagenet")

    def present(self) -> list[int]:
        """Class indices that have at least one image, ascending."""
        return sorted(int(c) for c in np.unique(self.labels))

    def take(self, idx: np.ndarray) -> "ImageSource":
        idx = np.asarray(idx, dtype=np.int64)
        return ImageSource(self.labels[idx], self.classes, self.name, self.source, self.layout,
                           [self.files[i] for i in idx] if self.files is not None else None, self.archive,
                           self.arrays[idx] if self.arrays is not None else None, self.titles, dict(self.extra))

    def subset(self, n: int | None, seed: int = 0) -> "ImageSource":
        """A deterministic, class-balanced subset of ``n`` images (all when n is None or >= len)."""
        if n is None or n >= len(self):
            return self
        return self.take(subset_indices(self.labels, n, self.num_classes, seed))

    def batches(self, pre: Preprocessing, batch: int = 64) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(uint8 N x crop x crop x 3, labels) in order, ``batch`` images at a time."""
        if self.arrays is not None:
            for i in range(0, len(self), batch):
                yield pre.crops(self.arrays[i:i + batch]), self.labels[i:i + batch]
            return
        blobs = _archive_members(Path(self.archive), self.files) if self.archive else None
        workers = max(1, min(4, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # PIL decodes and resizes without the GIL
            for i in range(0, len(self), batch):
                names = self.files[i:i + batch]
                datas = [blobs[n] for n in names] if blobs is not None else names
                crops = list(pool.map(lambda a: _decode_crop(a[0], a[1], pre, self.source), zip(datas, names)))
                yield np.stack(crops), self.labels[i:i + batch]

    def crops(self, pre: Preprocessing) -> np.ndarray:
        """Every image as one uint8 array of crops (small sets: calibration, parity)."""
        parts = [c for c, _ in self.batches(pre)]
        return np.concatenate(parts) if parts else np.zeros((0, pre.crop_size, pre.crop_size, 3), np.uint8)


def from_arrays(ds: ArrayDataset) -> ImageSource:
    """An ``ArrayDataset`` (CIFAR arrays, a decoded image folder) as a source."""
    return ImageSource(ds.labels, list(ds.classes), ds.name, ds.source, "arrays", arrays=ds.images)


def open_image_folder(path: str | os.PathLike, split: str | None = None,
                      labels: str | os.PathLike | None = None) -> ImageSource:
    """Scan a validation folder or archive (see the module doc); nothing is decoded yet."""
    root = Path(path)
    if not root.exists():
        raise DataError(f"data folder {root} does not exist")
    if root.is_file():
        if not root.name.endswith(ARCHIVE_SUFFIXES):
            raise DataError(f"{root} is neither a folder nor a .tar.gz/.tgz/.tar archive")
        if labels is not None:
            raise DataError("a labels file goes with a flat folder of images, not an archive")
        return _scan_archive(root, split)
    base = _image_root(root, split)
    labels_path = Path(labels) if labels is not None else _find_kaggle_labels(base)
    class_dirs = sorted(p for p in base.iterdir() if p.is_dir() and _has_images(p))
    if labels_path is not None:
        return _flat_with_labels(base, labels_path)
    if not class_dirs:
        if any(_is_image(p) for p in base.iterdir()):
            raise DataError(f"{base} holds images but no class folders; pass --labels FILE (lines "
                            f"'<file name> <wnid or index>') or lay it out as <wnid>/<image>")
        raise DataError(f"no images under {base}/<class>/")
    files, texts = [], []
    for d in class_dirs:
        for f in sorted(d.iterdir()):
            if _is_image(f):
                files.append(str(f))
                texts.append(d.name)
    return _make(files, texts, str(base), "folders")


def _image_root(root: Path, split: str | None) -> Path:
    """``root/split`` when given; else ``root/val`` or ``root/test`` when present; else ``root``."""
    if split:
        if not (root / split).is_dir():
            raise DataError(f"{root} has no {split}/ folder")
        return root / split
    for name in ("val", "test"):
        if (root / name).is_dir():
            return root / name
    return root


def _make(files: list[str], texts: list[str], source: str, how: str, archive: str | None = None) -> ImageSource:
    classes, mapping, imagenet = label_space(texts)
    labels = np.asarray([mapping[t] for t in texts], dtype=np.int64)
    if imagenet:
        present = len(np.unique(labels))
        name = "imagenet" if present == NUM_CLASSES else "imagenet-partial"
        layout = "labels-file" if how == "labels" else "wnid-folders"
        titles = imagenet_categories()
    else:
        name, layout, titles = "imagefolder", "labels-file" if how == "labels" else "class-folders", None
    return ImageSource(labels, classes, name, source, layout, files=files, archive=archive, titles=titles)


def _flat_with_labels(base: Path, labels_path: Path) -> ImageSource:
    table = read_labels_file(labels_path)
    files, texts, unlabelled = [], [], []
    for f in sorted(base.iterdir()):
        if not _is_image(f):
            continue
        label = table.get(f.name, table.get(f.stem))
        if label is None:
            unlabelled.append(f.name)
            continue
        files.append(str(f))
        texts.append(label)
    if unlabelled:
        raise DataError(f"{len(unlabelled)} image(s) in {base} have no line in {labels_path} "
                        f"(e.g. {unlabelled[0]})")
    if not files:
        raise DataError(f"no image in {base} is named in {labels_path}")
    src = _make(files, texts, str(base), "labels")
    src.extra["labels_file"] = str(labels_path)
    return src


def _find_kaggle_labels(base: Path) -> Path | None:
    for folder in (base, base.parent):
        if (folder / KAGGLE_LABELS).is_file() and not any(p.is_dir() and _has_images(p) for p in base.iterdir()):
            return folder / KAGGLE_LABELS
    return None


def _scan_archive(path: Path, split: str | None) -> ImageSource:
    members: list[tuple[str, str, str]] = []  # (split folder, class, member name)
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                parts = Path(m.name).parts
                if m.isfile() and len(parts) >= 2 and Path(parts[-1]).suffix.lower() in IMAGE_SUFFIXES:
                    members.append((parts[-3] if len(parts) >= 3 else "", parts[-2], m.name))
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise CorruptFileError(f"cannot read archive {path}: {str(exc).splitlines()[0]}") from None
    splits = {s for s, _, _ in members}
    want = split or next((s for s in ("val", "test") if s in splits), None)
    chosen = sorted((c, n) for s, c, n in members if want is None or s == want)
    if not chosen:
        raise DataError(f"no images under {want + '/' if want else ''}<class>/ in {path}")
    return _make([n for _, n in chosen], [c for c, _ in chosen], str(path), "folders", archive=str(path))


def _archive_members(path: Path, names: list[str]) -> dict[str, bytes]:
    wanted, out = set(names), {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                if m.name in wanted:
                    fh = tar.extractfile(m)
                    if fh is not None:
                        out[m.name] = fh.read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise CorruptFileError(f"cannot read archive {path}: {str(exc).splitlines()[0]}") from None
    return out


def _decode_crop(data: Any, name: str, pre: Preprocessing, where: str) -> np.ndarray:
    """Open a file path or bytes with PIL, convert to RGB, crop as ``pre`` says."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            return pre.crop(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        reason = "not an image file" if isinstance(exc, UnidentifiedImageError) else str(exc).splitlines()[0]
        raise CorruptFileError(f"cannot decode {name if os.path.isabs(name) else where + ': ' + name}: "
                               f"{reason}") from None


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES


def _has_images(d: Path) -> bool:
    return any(_is_image(p) for p in d.iterdir())


def image_files(path: str | os.PathLike) -> list[Path]:
    """Every image under ``path`` (recursively, sorted): a calibration folder
    needs no labels or layout."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"calibration folder {root} does not exist or is not a folder")
    found = sorted(p for p in root.rglob("*") if _is_image(p))
    if not found:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return found


def calibration_source(path: str | os.PathLike, n: int, seed: int = 0) -> ImageSource:
    """``n`` images (a seeded sample when there are more) from any folder, unlabelled."""
    files = image_files(path)
    if len(files) > n:
        rng = np.random.default_rng(seed)
        files = [files[i] for i in np.sort(rng.choice(len(files), size=n, replace=False))]
    return ImageSource(np.zeros(len(files), np.int64), ["-"], "calibration", str(path), "unlabelled",
                       files=[str(f) for f in files])

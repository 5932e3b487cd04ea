"""ImageNet-1k class identity: the 1,000 WordNet ids in torchvision's class order.

torchvision's (and timm's) ImageNet-1k models number the classes by the
sorted WordNet ids (``n01440764`` = 0, tench, ... ``n15075141`` = 999, toilet
tissue). ``imagenet_wnids.txt`` beside this file is that list, one id a line;
a test checks it against timm's copy and torchvision's category names.

Labels files for a flat validation folder (``read_labels_file``):

- Kaggle's ``LOC_val_solution.csv``: header ``ImageId,PredictionString``, the
  first token of the prediction string is the image's wnid;
- lines ``<file name> <label>`` (or ``<file name>,<label>``), the label a wnid
  or an integer index in torchvision's order (0-999), or any other class name
  (then the classes are the sorted names, as a class-folder tree).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from edgecnn.data.datasets import DataError

WNIDS_FILE = Path(__file__).with_name("imagenet_wnids.txt")
NUM_CLASSES = 1000
_WNID = re.compile(r"^n\d{8}$")


@functools.lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k wnids in torchvision's class order (index = position)."""
    wnids = tuple(WNIDS_FILE.read_text().split())
    if len(wnids) != NUM_CLASSES or list(wnids) != sorted(wnids):
        raise DataError(f"{WNIDS_FILE} is damaged: expected the 1000 sorted ImageNet wnids")
    return wnids


@functools.lru_cache(maxsize=1)
def wnid_index() -> dict[str, int]:
    return {w: i for i, w in enumerate(imagenet_wnids())}


def imagenet_categories() -> list[str]:
    """torchvision's 1,000 human-readable class names, in the same order."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def looks_like_wnid(name: str) -> bool:
    return bool(_WNID.match(name))


def read_labels_file(path: Path) -> dict[str, str]:
    """image name (as written, and without its suffix) -> label text (a wnid, an
    index or a class name). One line per image; see the module doc."""
    if not path.is_file():
        raise DataError(f"labels file {path} does not exist")
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read labels file {path}: {exc.strerror or exc}") from None
    out: dict[str, str] = {}
    kaggle = bool(lines) and lines[0].replace(" ", "").lower().startswith("imageid,predictionstring")
    for n, line in enumerate(lines[1:] if kaggle else lines, 2 if kaggle else 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if kaggle:
            image, _, pred = line.partition(",")
            label = pred.split()[0] if pred.split() else ""
        else:
            parts = [p for p in re.split(r"[,\s]+", line) if p]
            if len(parts) < 2:
                raise DataError(f"{path}:{n}: expected '<file name> <label>', got {line[:80]!r}")
            image, label = parts[0], parts[-1]
        if not label:
            raise DataError(f"{path}:{n}: no label for {image!r}")
        out[image] = label
        out.setdefault(Path(image).stem, label)
    if not out:
        raise DataError(f"labels file {path} holds no labels")
    return out


def label_space(labels: list[str]) -> tuple[list[str], dict[str, int], bool]:
    """(classes, label text -> index, is ImageNet-1k) for the labels of a folder:
    wnids and integer indices map to the 1,000 ImageNet classes; other names are
    sorted into their own classes. A mix of ImageNet and other names is refused."""
    wnids, index = imagenet_wnids(), wnid_index()
    imagenet = [lab for lab in labels if lab in index or lab.isdigit()]
    if imagenet and len(imagenet) == len(labels):
        bad = [lab for lab in labels if lab.isdigit() and int(lab) >= NUM_CLASSES]
        if bad:
            raise DataError(f"label {bad[0]} is not an ImageNet-1k index (0-{NUM_CLASSES - 1})")
        mapping = {lab: (int(lab) if lab.isdigit() else index[lab]) for lab in set(labels)}
        return list(wnids), mapping, True
    unknown_wnids = sorted({lab for lab in labels if looks_like_wnid(lab) and lab not in index})
    if unknown_wnids and len(unknown_wnids) == len(set(labels)):
        raise DataError(f"{unknown_wnids[0]} is a WordNet id outside ImageNet-1k's 1,000 classes "
                        f"(an ImageNet-21k class?); edgecnn maps only the 1,000 ImageNet-1k wnids")
    if imagenet:
        other = next(lab for lab in labels if lab not in index and not lab.isdigit())
        raise DataError(f"the labels mix ImageNet classes ({imagenet[0]}) with other names ({other}); "
                        f"use one or the other")
    classes = sorted(set(labels))
    return classes, {c: i for i, c in enumerate(classes)}, False

"""What every source of pretrained weights shares: the spec of a set of
weights, the error when they are not at hand, where torch hub caches files,
whether downloads are off, and loading a state dict by name or by order
(``edgecnn.models.weights`` for torchvision names and files,
``edgecnn.models.weights_timm`` for timm)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgecnn.data.preprocess import Preprocessing
from edgecnn.errors import EdgeCNNError, InvalidOptionError
from edgecnn.models._registry import TorchvisionWeights


class WeightsUnavailable(EdgeCNNError):
    """The weights file is not in the cache and cannot be downloaded."""


@dataclass(frozen=True)
class WeightsSpec:
    """Resolved weights. ``name``: what records call them (``IMAGENET1K_V2``,
    ``tv_in1k``, a file name); ``kind``: torchvision | timm | file;
    ``source``: where they come from, for a reader (``torchvision
    MobileNet_V2_Weights.IMAGENET1K_V2``). ``top1``/``top5``: the accuracy the
    weights' publisher quotes (%), if any."""

    name: str
    kind: str
    source: str
    preprocessing: Preprocessing | None = None
    num_classes: int | None = None
    categories: tuple[str, ...] | None = None
    url: str | None = None
    file_name: str | None = None  # the file expected in $TORCH_HOME/hub/checkpoints/
    path: str | None = None  # a local file given by the user
    arch: str | None = None  # torchvision builder or timm architecture
    top1: float | None = None
    top5: float | None = None
    num_params: int | None = None
    requested: str = ""  # as the user wrote it (DEFAULT)
    torchvision: TorchvisionWeights | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        """A short name for file names (``IMAGENET1K_V2``; a file's stem)."""
        raw = Path(self.name).stem if self.kind == "file" else self.name
        return "".join(c if c.isalnum() or c in "-_" else "_" for c in raw)[:48]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("categories", "torchvision", "extra")}
        d["preprocessing"] = self.preprocessing.to_dict() if self.preprocessing else None
        return d


def hub_checkpoints_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (torch hub's cache, where torchvision looks)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def offline() -> bool:
    return os.environ.get("EDGECNN_OFFLINE", "").lower() not in ("", "0", "false", "no")


def match_tensors(own: dict[str, Any], theirs: dict[str, Any], ignore: tuple[str, ...] = ()) -> \
        tuple[str | None, str]:
    """("name", "") when ``theirs`` has ``own``'s keys and shapes; ("order", "")
    when the keys differ but the shapes (and the last name component: weight,
    bias, running_mean, ...) match one for one in order; else (None, why)."""
    own = {_strip(k): tuple(v.shape) for k, v in own.items()}
    theirs = {_strip(k): tuple(v.shape) for k, v in theirs.items()}
    if ignore:
        theirs = {k: s for k, s in theirs.items() if k in own or not k.startswith(tuple(ignore))}
    if set(own) == set(theirs):
        bad = [k for k in own if own[k] != theirs[k]]
        if not bad:
            return "name", ""
        k = bad[0]
        return None, (f"{k} is {theirs[k]} in the weights, {own[k]} in the model (another class count or "
                      f"width?)")
    if len(own) != len(theirs):
        missing = [k for k in own if k not in theirs]
        return None, (f"the weights hold {len(theirs)} tensors, the model {len(own)} "
                      f"(e.g. {(missing or [k for k in theirs if k not in own])[0]}): another architecture?")
    for i, ((ko, so), (kt, st)) in enumerate(zip(own.items(), theirs.items())):
        if so != st or ko.rsplit(".", 1)[-1] != kt.rsplit(".", 1)[-1]:
            return None, (f"tensor #{i} is {kt} {st} in the weights but {ko} {so} in the model: another "
                          f"architecture?")
    return "order", ""


def apply_state_dict(model: Any, state_dict: dict[str, Any], where: str, ignore: tuple[str, ...] = ()) -> str:
    """Load ``state_dict`` by name or, failing that, by order (``match_tensors``);
    returns which. By name the file's ``_metadata`` goes along, so a module's
    own upgrade hook runs as under torchvision (MNASNet rebuilds its stem for a
    version-1 file). One-line ``InvalidOptionError`` when neither fits."""
    from collections import OrderedDict

    own = model.state_dict()
    sd = OrderedDict((_strip(k), v) for k, v in state_dict.items()
                     if not ignore or _strip(k) in own or not _strip(k).startswith(tuple(ignore)))
    meta = getattr(state_dict, "_metadata", None)
    how, why = match_tensors(own, sd)
    name = getattr(model, "edgecnn_config", {}).get("name", type(model).__name__)
    if set(sd) == set(own):
        named = OrderedDict((k, v.to(own[k].dtype)) for k, v in sd.items())
        if meta is not None:
            named._metadata = OrderedDict((_strip(k), v) for k, v in meta.items())  # type: ignore[attr-defined]
        try:
            model.load_state_dict(named)
            return "name"
        except (RuntimeError, ValueError):
            if how == "name":
                raise
    if how is None:
        raise InvalidOptionError(f"{where} does not fit {name}: {why}")
    model.load_state_dict(OrderedDict((ko, v.to(own[ko].dtype)) for ko, v in zip(own, sd.values())))
    return "order"


def _strip(key: str) -> str:
    return key.removeprefix("module.").removeprefix("_orig_mod.")

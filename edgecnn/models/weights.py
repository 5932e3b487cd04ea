"""Pretrained weights: what ``--weights`` names, where the file is, and loading it.

A weights spec is one of

- a torchvision weight name (``DEFAULT``, ``IMAGENET1K_V1``, ``IMAGENET1K_V2``,
  or the full ``MobileNet_V2_Weights.IMAGENET1K_V2``) for a zoo model whose
  card records the torchvision architecture it is (``ModelCard.torchvision``),
  or for ``arch="torchvision:<builder>"``;
- a timm pretrained tag (``tv_in1k``, ``ra_in1k``, ``DEFAULT``) for
  ``arch="timm:<name>"`` (``edgecnn.models.weights_timm``);
- a local file (``.pth``, ``.pt``, ``.bin``, ``.safetensors``): a state dict, an
  edgecnn checkpoint, or a dict holding a state dict under ``state_dict`` / ``model``.

``resolve_weights`` turns the text into a ``WeightsSpec`` (the weights' own
preprocessing, classes, file name and published accuracy) without reading
any file. ``load_weights(model, spec)`` checks the architecture, finds the
file and loads it: by name when the keys are the model's, else by order when
every tensor shape matches in order (edgecnn's own MobileNet v2 has
torchvision's tensors under other names), else it refuses in one line.

Files come from torch hub's cache, ``$TORCH_HOME/hub/checkpoints/<file name
of the weights' URL>`` (``~/.cache/torch/hub/checkpoints`` by default), the
place torchvision itself reads, so a file fetched once on a connected machine
works offline. A missing file is downloaded there, unless ``EDGECNN_OFFLINE=1``;
when it cannot be, the error is one line naming the file and the folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgecnn.data.preprocess import Preprocessing, default_preprocessing
from edgecnn.errors import CorruptFileError, InvalidOptionError
from edgecnn.models._registry import CIFAR_MAX, ModelCard, TorchvisionWeights
from edgecnn.models.weights_spec import (WeightsSpec, WeightsUnavailable, apply_state_dict, hub_checkpoints_dir,
                                         match_tensors, offline)

FILE_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".ckpt")
DOWNLOAD_TIMEOUT_S = 30.0


def is_weights_file(text: str) -> bool:
    """A path rather than a weight name: it exists, or ends like a weights file."""
    return Path(text).suffix.lower() in FILE_SUFFIXES or os.sep in text or Path(text).is_file()


# ---------------------------------------------------------------------------
# resolving a name (no file is read)
# ---------------------------------------------------------------------------
def resolve_weights(weights: "str | WeightsSpec", model: str | None = None, *, arch: str | None = None,
                    card: ModelCard | None = None) -> WeightsSpec:
    """The spec ``weights`` names for the zoo model ``model`` (or ``card``), or
    for ``arch`` (``timm:<name>``, ``torchvision:<builder>``). Refuses in one
    line a name the architecture has no weights for."""
    if isinstance(weights, WeightsSpec):
        return weights
    text = str(weights).strip()
    if not text:
        raise InvalidOptionError("--weights is empty")
    if is_weights_file(text):
        return file_spec(text)
    if arch and arch.startswith("timm:"):
        from edgecnn.models.weights_timm import resolve_timm

        return resolve_timm(arch[len("timm:"):], text)
    if arch and arch.startswith("torchvision:"):
        builder = arch[len("torchvision:"):]
        return torchvision_spec(torchvision_entry_for_builder(builder), text, builder)
    if card is None and model is not None:
        from edgecnn.models import get_card

        card = get_card(model)
    if card is None:
        raise InvalidOptionError(f"weights {text!r}: say which model they are for")
    if card.torchvision is None:
        raise InvalidOptionError(f"{card.name} has no torchvision weights (no torchvision architecture matches "
                                 f"it); pass a weights file (.pth, .pt, .safetensors) instead of {text!r}")
    return torchvision_spec(card.torchvision, text, card.name)


def torchvision_entry_for_builder(builder: str) -> TorchvisionWeights:
    """The torchvision weights enum of a builder; the zoo card of the same name
    adds what the weights need (ignored aux keys, ``transform_input``)."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(builder)
    except (ValueError, KeyError):
        raise InvalidOptionError(f"torchvision has no weights for a model named {builder!r}") from None
    from edgecnn.models import MODELS

    if builder in MODELS and MODELS.get(builder).card.torchvision is not None:
        entry = MODELS.get(builder).card.torchvision
        if entry.enum == enum.__name__:
            return entry
    return TorchvisionWeights(enum=enum.__name__, builder=builder)


def torchvision_spec(entry: TorchvisionWeights, text: str, model: str) -> WeightsSpec:
    """A torchvision weights entry by name (``DEFAULT`` resolved), with its own
    ``transforms()`` as preprocessing."""
    import torchvision

    enum = getattr(torchvision.models, entry.enum)
    member = text.split(".", 1)[1] if text.startswith(entry.enum + ".") else text
    if "." in member:
        raise InvalidOptionError(f"{text!r} are not {model}'s weights: its weights are {entry.enum}.<name>")
    names = [n for n in enum.__members__ if n != "DEFAULT"]
    if member not in enum.__members__ and member.upper() not in enum.__members__:
        from difflib import get_close_matches

        close = get_close_matches(member.upper(), names + ["DEFAULT"], n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise InvalidOptionError(f"{model}: torchvision's {entry.enum} has no {member!r}{hint} (it has "
                                 f"{', '.join(names)}; DEFAULT = {enum.DEFAULT.name})")
    if member not in enum.__members__ and member.upper() in enum.__members__:
        member = member.upper()
    w = enum[member]
    meta = dict(w.meta)
    metrics = (meta.get("_metrics") or {}).get("ImageNet-1K", {})
    cats = meta.get("categories")
    url = w.url
    return WeightsSpec(name=w.name, kind="torchvision", source=f"torchvision {entry.enum}.{w.name}",
                       preprocessing=transforms_preprocessing(w, f"torchvision {entry.enum}.{w.name}.transforms()"),
                       num_classes=len(cats) if cats else None, categories=tuple(cats) if cats else None,
                       url=url, file_name=os.path.basename(url.split("?")[0]), arch=entry.builder,
                       top1=metrics.get("acc@1"), top5=metrics.get("acc@5"), num_params=meta.get("num_params"),
                       requested=text, torchvision=entry,
                       extra={"recipe": meta.get("recipe"), "gmacs": meta.get("_ops")})


def transforms_preprocessing(w: Any, source: str) -> Preprocessing:
    """torchvision's ``weights.transforms()`` (an ``ImageClassification``) as data."""
    t = w.transforms()
    try:
        crop, resize = int(t.crop_size[0]), int(t.resize_size[0])
        interp = getattr(t.interpolation, "value", str(t.interpolation))
    except (AttributeError, IndexError, TypeError):
        raise InvalidOptionError(f"{source} is not an image-classification transform ({type(t).__name__})") \
            from None
    return Preprocessing(crop_size=crop, resize_size=resize, interpolation=interp, mean=tuple(t.mean),
                         std=tuple(t.std), source=source)


def file_spec(text: str) -> WeightsSpec:
    path = Path(text).expanduser()
    if not path.is_file():
        raise InvalidOptionError(f"weights file {path} does not exist")
    return WeightsSpec(name=path.name, kind="file", source=f"file {path.resolve()}", path=str(path.resolve()),
                       requested=text)


# ---------------------------------------------------------------------------
# the file
# ---------------------------------------------------------------------------


def cached_file(spec: WeightsSpec, download: bool = True) -> Path:
    """The weights file in torch hub's cache, downloaded there when missing
    (not with ``EDGECNN_OFFLINE=1``). One-line ``WeightsUnavailable`` otherwise."""
    if spec.path:
        return Path(spec.path)
    if not spec.url or not spec.file_name:
        raise WeightsUnavailable(f"{spec.source} has no file to load")
    folder = hub_checkpoints_dir()
    path = folder / spec.file_name
    if path.is_file():
        return path
    why = "EDGECNN_OFFLINE is set" if offline() else None
    if why is None and download:
        why = _download(spec.url, path)
        if why is None:
            return path
    raise WeightsUnavailable(
        f"weights file {spec.file_name} ({spec.source}) is not in $TORCH_HOME/hub/checkpoints/ ({folder}) "
        f"and cannot be downloaded ({why or 'download not allowed'}): fetch {spec.url} on a connected machine "
        f"and put it in that folder")


def _download(url: str, path: Path) -> str | None:
    """Download ``url`` to ``path`` with torch hub (hash prefix checked); the reason on failure."""
    import re
    import socket

    import torch

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    made = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        match = re.search(r"-([a-f0-9]*)\.", path.name)
        torch.hub.download_url_to_file(url, str(path), match.group(1) if match else None, progress=False)
        return None
    except Exception as exc:  # no network, refused, timeout, hash mismatch: all mean "not here"
        for d in made:  # leave no empty cache folders behind a failed download
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        reason = getattr(exc, "reason", None) or exc
        return f"{type(exc).__name__}: {str(reason).splitlines()[0] if str(reason) else ''}"[:160]
    finally:
        socket.setdefaulttimeout(previous)


def read_state_dict(path: Path, trusted: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state dict, edgecnn checkpoint info) of a weights file. ``.safetensors``
    through safetensors; others through ``torch.load`` (``weights_only`` first;
    an edgecnn checkpoint, which holds optimizer and RNG state, through its loader)."""
    import torch

    if path.suffix.lower() == ".safetensors":
        from edgecnn.errors import require

        st = require("safetensors.torch", "weights", ".safetensors weights")
        try:
            return dict(st.load_file(str(path))), {}
        except Exception as exc:
            raise CorruptFileError(f"cannot read {path}: {type(exc).__name__}: {str(exc).splitlines()[0]}") \
                from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        if trusted:
            raise CorruptFileError(f"cannot read weights file {path}") from None
        from edgecnn.models.checkpoint import checkpoint_info, read_checkpoint

        ckpt = read_checkpoint(path)
        return ckpt["state_dict"], {**checkpoint_info(ckpt), "model": ckpt.get("model"),
                                    "config": ckpt.get("config")}
    from edgecnn.models.checkpoint import FORMAT, checkpoint_info

    if isinstance(data, dict) and data.get("format") == FORMAT:
        return data["state_dict"], {**checkpoint_info(data), "model": data.get("model"), "config": data.get("config")}
    for key in ("state_dict", "model_state_dict", "model"):
        inner = data.get(key) if isinstance(data, dict) else None
        if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return inner, {}
    if isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        return data, {}
    raise CorruptFileError(f"{path} holds no state dict (a dict of tensors, or one under 'state_dict' or 'model')")


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------
def load_weights(model: Any, weights: "str | WeightsSpec", *, arch: str | None = None) -> WeightsSpec:
    """Load ``weights`` into ``model`` (eval mode) and return the spec, whose
    ``preprocessing`` is the one these weights expect at the model's input
    size. ``arch``: ``timm:<name>`` or ``torchvision:<builder>`` for a module
    outside the zoo; a zoo model (``create_model``) needs none. The spec is
    attached as ``model.edgecnn_weights``."""
    from dataclasses import replace

    card = getattr(model, "edgecnn_card", None)
    cfg = dict(getattr(model, "edgecnn_config", {}) or {})
    name = cfg.get("name") or (arch or type(model).__name__)
    spec = resolve_weights(weights, cfg.get("name"), arch=arch, card=card if arch is None else None)
    size = int(cfg.get("input_size") or 0) or None
    if spec.kind == "timm":
        from edgecnn.models.weights_timm import load_timm

        spec = load_timm(model, spec)
    elif spec.kind == "torchvision":
        check_torchvision_fit(model, spec, name, size, cfg.get("num_classes"))
        sd, _ = read_state_dict(cached_file(spec), trusted=True)
        how = apply_state_dict(model, sd, f"{spec.source} ({spec.file_name})", spec.torchvision.ignore_keys)
        for attr, value in spec.torchvision.set_attrs:
            setattr(model, attr, value)
        pre = spec.preprocessing.at_size(size) if size and spec.preprocessing else spec.preprocessing
        spec = replace(spec, preprocessing=pre, extra={**spec.extra, "loaded_by": how})
    else:
        sd, info = read_state_dict(Path(spec.path))
        stored = info.get("model")
        if stored and cfg.get("name") and stored != cfg["name"]:
            raise InvalidOptionError(f"weights file {spec.path} is an edgecnn checkpoint of {stored}, "
                                     f"not {cfg['name']}")
        how = apply_state_dict(model, sd, f"weights file {spec.path}")
        mean = info.get("mean") or (card.mean if card else None)
        std = info.get("std") or (card.std if card else None)
        pre = None
        if mean is not None and std is not None and size:
            said = "the checkpoint's normalisation" if info.get("mean") else "the model card's normalisation " \
                                                                              "(the file states none)"
            pre = default_preprocessing(size, mean, std, f"{said}, default resize and crop")
        spec = replace(spec, preprocessing=pre, num_classes=cfg.get("num_classes"),
                       categories=tuple(info["classes"]) if info.get("classes") else None,
                       extra={**spec.extra, "loaded_by": how, "checkpoint": bool(stored),
                              "dataset": info.get("dataset")})
    model.eval()
    model.edgecnn_weights = spec
    return spec


def check_torchvision_fit(model: Any, spec: WeightsSpec, name: str, input_size: int | None,
                          num_classes: int | None) -> str:
    """Refuse in one line a model torchvision's weights do not fit: the CIFAR
    variant, another class count, another layout (checked against torchvision's
    builder on the meta device, before any file is read). Returns how the
    tensors will load: ``name`` or ``order``."""
    import torch
    import torchvision

    check_size_and_classes(spec, name, input_size, num_classes)
    entry = spec.torchvision
    kwargs = dict(entry.builder_kwargs)
    if spec.num_classes:
        kwargs["num_classes"] = spec.num_classes
    if entry.builder in ("googlenet", "inception_v3"):
        kwargs.setdefault("init_weights", False)
    with torch.device("meta"):
        theirs = getattr(torchvision.models, entry.builder)(weights=None, **kwargs).state_dict()
    how, why = match_tensors(model.state_dict(), theirs, entry.ignore_keys)
    if how is None:
        raise InvalidOptionError(f"{spec.source} does not fit {name}: {why}")
    return how


def check_size_and_classes(spec: WeightsSpec, name: str, input_size: int | None, num_classes: int | None) -> None:
    """One line when torchvision's weights cannot fit the model asked for: the
    CIFAR variant (same tensors, other strides) or another class count."""
    if spec.kind != "torchvision":
        return
    if input_size is not None and input_size <= CIFAR_MAX:
        raise InvalidOptionError(
            f"{name} at {input_size}x{input_size} is the CIFAR variant (other strides); {spec.source} fits its "
            f"ImageNet variant: use --input-size {spec.preprocessing.crop_size if spec.preprocessing else 224} "
            f"(or any side over {CIFAR_MAX})")
    if num_classes is not None and spec.num_classes is not None and int(num_classes) != spec.num_classes:
        raise InvalidOptionError(f"{spec.source} has {spec.num_classes} classes; this {name} has {num_classes} "
                                 f"(leave --num-classes out)")


def build_with_weights(name: str, weights: "str | WeightsSpec", *, input_size: int | None = None,
                       num_classes: int | None = None, **options: Any) -> tuple[Any, WeightsSpec]:
    """A zoo model with ``weights`` loaded: ``(model in eval mode, spec)``.
    Without ``input_size`` a torchvision or timm model takes its weights' own
    crop (EfficientNet-B2's weights are evaluated at 288, not the paper's 260)."""
    from edgecnn.models import create_model

    spec = resolve_weights(weights, name)
    if input_size is None and spec.kind != "file" and spec.preprocessing is not None:
        input_size = spec.preprocessing.crop_size
    if spec.kind == "file":  # an edgecnn checkpoint says how its model was built
        cfg = dict(read_state_dict(Path(spec.path))[1].get("config") or {})
        input_size = input_size or cfg.pop("input_size", None)
        num_classes = num_classes or cfg.pop("num_classes", None)
        options = {**{k: v for k, v in cfg.items() if k not in ("name", "input_size", "num_classes")}, **options}
    model = create_model(name, input_size=input_size, num_classes=num_classes, **options)
    return model, load_weights(model, spec)

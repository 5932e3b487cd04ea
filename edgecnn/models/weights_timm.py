"""timm's pretrained weights for ``timm:<architecture>`` models.

A tag (``tv_in1k``, ``ra_in1k``; ``DEFAULT`` = timm's first-listed tag for the
architecture) selects a pretrained config, which gives the preprocessing
(``input_size``, ``crop_pct``, ``interpolation``, ``mean``, ``std``: resize to
``floor(side / crop_pct)``, centre crop, as timm's eval transform) and the file.

The file is looked for where timm and torch hub keep it, without network:
``$TORCH_HOME/hub/checkpoints/<file name of the config's url>`` first, then the
Hugging Face cache (``$HF_HOME/hub``) for the config's ``hf_hub_id``. When
neither has it, timm downloads it (unless ``EDGECNN_OFFLINE=1``); when that
fails the error is one line naming both places. The weights are loaded the
way timm loads them (its per-architecture checkpoint filters run), into a
fresh timm model, then copied by name into the given module.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgecnn.data.preprocess import Preprocessing
from edgecnn.errors import InvalidOptionError, require
from edgecnn.models.weights_spec import (
    WeightsSpec,
    WeightsUnavailable,
    apply_state_dict,
    hub_checkpoints_dir,
    offline,
)

HF_FILES = ("model.safetensors", "pytorch_model.bin")


def resolve_timm(arch: str, tag: str) -> WeightsSpec:
    """The spec of timm's ``arch.tag`` pretrained config (no file is read)."""
    require("timm", "weights", "timm pretrained weights")
    from timm.models import get_pretrained_cfg, list_pretrained

    base, _, in_name = arch.partition(".")
    tags = [n.split(".", 1)[1] for n in list_pretrained(f"{base}.*") if n.split(".", 1)[0] == base]
    if not tags:
        raise InvalidOptionError(f"timm has no pretrained weights for {base!r}")
    wanted = in_name if tag.upper() in ("DEFAULT", "PRETRAINED") and in_name else tag
    if wanted.upper() in ("DEFAULT", "PRETRAINED"):
        wanted = tags[0]
    if wanted not in tags:
        from difflib import get_close_matches

        close = get_close_matches(wanted, tags, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise InvalidOptionError(f"timm has no {base}.{wanted}{hint} (its tags: {', '.join(tags[:12])}"
                                 f"{', ...' if len(tags) > 12 else ''})")
    cfg = get_pretrained_cfg(f"{base}.{wanted}").to_dict()
    url = cfg.get("url") or None
    return WeightsSpec(name=wanted, kind="timm", source=f"timm {base}.{wanted}",
                       preprocessing=cfg_preprocessing(cfg, f"timm {base}.{wanted} pretrained config"),
                       num_classes=cfg.get("num_classes"), url=url,
                       file_name=os.path.basename(url.split("?")[0]) if url else None, arch=base, requested=tag,
                       extra={"hf_hub_id": cfg.get("hf_hub_id"), "crop_pct": cfg.get("crop_pct"),
                              "crop_mode": cfg.get("crop_mode"), "license": cfg.get("license")})


def cfg_preprocessing(cfg: dict[str, Any], source: str) -> Preprocessing:
    """timm's eval transform from a pretrained config: ``Resize(floor(side /
    crop_pct))`` with its interpolation, ``CenterCrop(side)``, mean/std."""
    side = int(cfg.get("input_size", (3, 224, 224))[-1])
    crop_pct = float(cfg.get("crop_pct") or 0.875)
    mode = cfg.get("crop_mode") or "center"
    if mode != "center":
        raise InvalidOptionError(f"{source} uses crop mode {mode!r}; edgecnn reproduces timm's 'center' mode only")
    interp = cfg.get("interpolation") or "bilinear"
    return Preprocessing(crop_size=side, resize_size=int(math.floor(side / crop_pct)),
                         interpolation="bicubic" if interp == "bicubic" else interp,
                         mean=tuple(cfg.get("mean") or (0.485, 0.456, 0.406)),
                         std=tuple(cfg.get("std") or (0.229, 0.224, 0.225)), source=source)


def local_file(spec: WeightsSpec) -> Path | None:
    """The weights file already on this machine: torch hub's cache, then Hugging Face's."""
    if spec.file_name and (hub_checkpoints_dir() / spec.file_name).is_file():
        return hub_checkpoints_dir() / spec.file_name
    hub_id = spec.extra.get("hf_hub_id")
    if hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        for fname in HF_FILES:
            found = try_to_load_from_cache(hub_id, fname)
            if isinstance(found, str) and Path(found).is_file():
                return Path(found)
    return None


def load_timm(model: Any, spec: WeightsSpec) -> WeightsSpec:
    """Load timm's ``spec`` into ``model`` (a timm model of ``spec.arch``)."""
    timm = require("timm", "weights", "timm pretrained weights")
    classes = getattr(model, "num_classes", None)
    if classes is not None and spec.num_classes is not None and int(classes) != spec.num_classes:
        raise InvalidOptionError(f"{spec.source} has {spec.num_classes} classes; this model has {classes}")
    path = local_file(spec)
    if path is None and offline():
        raise WeightsUnavailable(_missing(spec, "EDGECNN_OFFLINE is set"))
    overlay = {"file": str(path)} if path is not None else {}
    try:
        ref = timm.create_model(f"{spec.arch}.{spec.name}", pretrained=True, pretrained_cfg_overlay=overlay)
    except Exception as exc:  # a failed download (no network), a broken file
        if path is None:
            raise WeightsUnavailable(_missing(spec, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")) \
                from None
        raise InvalidOptionError(f"cannot load {path} as {spec.source}: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:160]}") from None
    how = apply_state_dict(model, ref.state_dict(), spec.source)
    return replace(spec, path=str(path) if path else None, extra={**spec.extra, "loaded_by": how})


def _missing(spec: WeightsSpec, why: str) -> str:
    where = []
    if spec.file_name:
        where.append(f"{spec.file_name} in $TORCH_HOME/hub/checkpoints/ ({hub_checkpoints_dir()})")
    if spec.extra.get("hf_hub_id"):
        where.append(f"the Hugging Face repo {spec.extra['hf_hub_id']} in the Hugging Face cache "
                     f"($HF_HOME/hub)")
    return (f"{spec.source} weights are not on this machine ({' or '.join(where) or 'no file named'}) and cannot "
            f"be downloaded ({why}): fetch them on a connected machine"
            + (f" ({spec.url})" if spec.url else "") + " and copy them there")

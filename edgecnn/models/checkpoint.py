"""Checkpoints: one format for training, resume, evaluation and export.

The lowest part that both the trainer and the exporters reach (``models``):
writing and reading the file, rebuilding the zoo model it belongs to, and
what export takes from it besides the weights (normalisation, classes).

A checkpoint is a ``torch.save``d dict::

    {"format": "edgecnn-checkpoint-v1", "model": name, "config": model.edgecnn_config,
     "state_dict": ..., "optimizer": ..., "scheduler": ..., "scaler": ...,
     "epoch": completed epochs, "step": optimizer steps so far,
     "position": {"epoch": e, "step_in_epoch": s},   # where training resumes
     "rng_state": {"torch", "numpy", "python", "cuda"},
     "metrics": {...}, "history": [per-epoch rows], "dataset": ..., "classes": [...],
     "mean": [...], "std": [...], "edgecnn_version": ...}

Files are written atomically (``edgecnn.records.atomic_output``), so a kill
while saving leaves the previous file intact. A bare ``state_dict`` (for
example the fp16 file of ``save_fp16_state_dict``) loads too when the model
name is given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgecnn.errors import CorruptFileError, InvalidOptionError
from edgecnn.records import atomic_output

FORMAT = "edgecnn-checkpoint-v1"
# a quantisation-aware-training checkpoint (`edgecnn train --qat`) holds this entry (quantizer, scheme, source
# checkpoint, epochs, images): its state_dict is a PT2E graph's, with fake quantisers (edgecnn/export/qat.py)
QAT_KEY = "qat"


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (see module doc) atomically; ``format`` and version are added."""
    from edgecnn.version import __version__

    data = {"format": FORMAT, "edgecnn_version": __version__, **payload}
    with atomic_output(path) as tmp:
        torch.save(data, tmp)
    return Path(path)


def save_fp16_state_dict(model: nn.Module, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Save the model's weights in half precision (floating tensors only; integer
    buffers such as BatchNorm's counter stay as they are) in the checkpoint
    format without optimizer state: about half the size of the fp32 weights."""
    sd = {k: (v.detach().to("cpu", torch.float16) if v.is_floating_point() else v.detach().cpu())
          for k, v in unwrap(model).state_dict().items()}
    cfg = dict(getattr(unwrap(model), "edgecnn_config", {}))
    return save_checkpoint(path, {"model": cfg.get("name"), "config": cfg, "state_dict": sd,
                                  "weights_dtype": "float16", **(extra or {})})


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DistributedDataParallel / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint file into a dict with at least ``state_dict``; a bare
    state dict is wrapped as ``{"state_dict": sd}``. Unreadable -> CorruptFileError."""
    p = Path(path)
    if not p.is_file():
        raise CorruptFileError(f"checkpoint {p} does not exist")
    try:
        data = torch.load(p, map_location=map_location, weights_only=False)
    except Exception as exc:  # pickle, zip and EOF errors all mean "not a checkpoint"
        raise CorruptFileError(f"cannot read checkpoint {p}: {type(exc).__name__}: {str(exc).splitlines()[0]}") \
            from None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return data
    if isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        return {"state_dict": data}
    raise CorruptFileError(f"{p} is not an edgecnn checkpoint or a state dict")


def is_qat_checkpoint(path: str | os.PathLike) -> bool:
    """True when ``path`` is a QAT checkpoint (``QAT_KEY``); unreadable -> CorruptFileError."""
    return bool(read_checkpoint(path).get(QAT_KEY))


def refuse_qat(ckpt: dict[str, Any], path: str | os.PathLike) -> None:
    """One line for a QAT checkpoint where float weights are expected."""
    if ckpt.get(QAT_KEY):
        raise InvalidOptionError(f"{path} is a quantisation-aware-training checkpoint (fake-quantised INT8 "
                                 f"graph), not float weights: export it with `edgecnn export {ckpt.get('model')} "
                                 f"--checkpoint {path} --precision int8 --to onnx|tflite|executorch`")


def check_model_name(ckpt: dict[str, Any], path: str | os.PathLike, name: str | None) -> None:
    """One line when a full checkpoint names another model than ``name``."""
    stored = ckpt.get("model")
    if name and stored and name != stored:
        raise InvalidOptionError(f"checkpoint {path} is for {stored}, not {name}")


def trained_input_size(ckpt: dict[str, Any]) -> int | None:
    """The input side a full checkpoint's model was built (and trained) at; None for a bare state dict."""
    size = (ckpt.get("config") or {}).get("input_size")
    return int(size) if size else None


def check_input_size(ckpt: dict[str, Any], path: str | os.PathLike, input_size: int | None,
                     force: bool = False) -> bool:
    """True when ``input_size`` differs from the side the checkpoint was trained at
    and ``force`` allows it; one line (``InvalidOptionError``) when it differs
    without ``force``: weights trained at 32 px give chance-level answers at
    224 px, and nothing else would say so."""
    trained = trained_input_size(ckpt)
    if not input_size or not trained or int(input_size) == trained:
        return False
    if not force:
        raise InvalidOptionError(f"checkpoint {path} was trained at {trained}x{trained} input, not "
                                 f"{input_size}x{input_size}; leave out --input-size, or give --force-input-size "
                                 f"to run it at {input_size}x{input_size} anyway (the record notes it)")
    return True


def forced_size_metrics(trained: int | None, size: int) -> dict[str, Any]:
    """The record's ``input_size_forced`` and ``trained_input_size`` when a
    checkpoint trained at side ``trained`` ran at ``size`` (``--force-input-size``);
    empty when the sides agree or the training side is unknown."""
    return {"input_size_forced": True, "trained_input_size": int(trained)} if trained and trained != size else {}


def load_checkpoint(path: str | os.PathLike, model_name: str | None = None, *, num_classes: int | None = None,
                    input_size: int | None = None, map_location: str | torch.device = "cpu",
                    force_input_size: bool = False, **options: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Build the checkpoint's model and load its weights (as float32).

    ``model_name``: required for a bare state dict; for a full checkpoint it
    must match the stored name (a checkpoint of another architecture raises
    ``InvalidOptionError`` in one line). An ``input_size`` other than the one
    the checkpoint was trained at is an ``InvalidOptionError`` unless
    ``force_input_size`` (``check_input_size``). Returns ``(model in eval mode,
    checkpoint dict)``.
    """
    from edgecnn.models import create_model

    ckpt = read_checkpoint(path, map_location)
    check_model_name(ckpt, path, model_name)
    check_input_size(ckpt, path, input_size, force_input_size)
    refuse_qat(ckpt, path)
    name = model_name or ckpt.get("model")
    if not name:
        raise InvalidOptionError(f"{path} is a bare state dict; say which model it is for")
    cfg = dict(ckpt.get("config") or {})
    cfg.pop("name", None)
    classes = num_classes or cfg.pop("num_classes", None)
    size = input_size or cfg.pop("input_size", None)
    cfg.pop("num_classes", None)
    cfg.pop("input_size", None)
    cfg.update(options)
    model = create_model(name, num_classes=classes, input_size=size, **cfg)
    load_weights(model, ckpt["state_dict"], str(path))
    model.eval()
    return model, ckpt


def load_weights(model: nn.Module, state_dict: dict[str, torch.Tensor], where: str = "checkpoint") -> None:
    """``load_state_dict`` with a one-line error for another architecture or class count."""
    own = model.state_dict()
    sd = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state_dict.items()}
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [k for k in own if k in sd and tuple(own[k].shape) != tuple(sd[k].shape)]
    name = getattr(model, "edgecnn_config", {}).get("name", type(model).__name__)
    if missing or unexpected:
        raise InvalidOptionError(f"{where} does not fit {name}: {len(missing)} missing and {len(unexpected)} "
                                 f"unexpected tensors (e.g. {(missing or unexpected)[0]}); is it another "
                                 f"architecture?")
    if shapes:
        k = shapes[0]
        raise InvalidOptionError(f"{where} does not fit {name}: {k} is {tuple(sd[k].shape)} in the file, "
                                 f"{tuple(own[k].shape)} in the model (another class count or width?)")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items()})


# what export takes from a checkpoint -----------------------------------------------------
INFO_KEYS = ("mean", "std", "classes", "dataset")


def checkpoint_info(ckpt: dict[str, Any]) -> dict[str, Any]:
    """What export takes from a full checkpoint besides the weights: the
    normalisation it was trained with (``mean``, ``std``), ``classes``,
    ``dataset`` and ``trained_input_size`` (a bare state dict has none of these)."""
    info = {k: ckpt[k] for k in INFO_KEYS if ckpt.get(k) is not None}
    if trained_input_size(ckpt):
        info["trained_input_size"] = trained_input_size(ckpt)
    return info


def load_checkpoint_info(path: str | os.PathLike, model_name: str | None = None,
                         **create_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """``(model, checkpoint_info(ckpt))``: ``load_checkpoint`` plus the checkpoint's
    normalisation and class list."""
    kwargs = {k: v for k, v in create_kwargs.items() if v is not None}
    model, ckpt = load_checkpoint(path, model_name, **kwargs)
    return model.eval(), checkpoint_info(ckpt)


def load_model(path: str | os.PathLike, model_name: str | None = None, **create_kwargs: Any):
    """Build the zoo model a checkpoint belongs to and load its weights (eval mode, float32).

    ``model_name`` is required for a bare state dict and, for a full
    checkpoint, must equal its ``"model"`` field; ``create_kwargs``
    (``num_classes``, ``input_size``, builder options; None values ignored)
    override the checkpoint's config.
    """
    return load_checkpoint_info(path, model_name, **create_kwargs)[0]


def load_into(model: Any, path: str | os.PathLike, force_input_size: bool = False) -> dict[str, Any]:
    """Load a checkpoint's weights into an existing zoo module (its name must
    match, and its input size be the one the checkpoint was trained at unless
    ``force_input_size``); returns ``checkpoint_info`` of the file."""
    ckpt = read_checkpoint(path)
    cfg = getattr(model, "edgecnn_config", {})
    check_model_name(ckpt, path, cfg.get("name"))
    check_input_size(ckpt, path, cfg.get("input_size"), force_input_size)
    refuse_qat(ckpt, path)
    load_weights(model, ckpt["state_dict"], f"checkpoint {path}")
    model.eval()
    return checkpoint_info(ckpt)

"""Checkpoints for export: the training package's loader, one clear line on a misfit.

Export reads the same files the trainer writes (``edgecnn.train.checkpoint``):
a full checkpoint ``{"format": "edgecnn-checkpoint-v1", "model": name,
"config": model.edgecnn_config, "state_dict": ..., ...}`` (the model is rebuilt
from its config: class count, input size, builder options) or a bare
``state_dict`` (the model name must be given). A file torch cannot read raises
``CorruptFileError``; a checkpoint of another architecture (a different
``"model"`` field, missing, unexpected or mis-shaped tensors) raises
``InvalidOptionError``. Both print as one line in the CLI. There is one loader
in the code base (training's); this module only adapts it to export's calls.
"""

from __future__ import annotations

import os
from typing import Any


INFO_KEYS = ("mean", "std", "classes", "dataset")


def checkpoint_info(ckpt: dict[str, Any]) -> dict[str, Any]:
    """What export takes from a full checkpoint besides the weights: the
    normalisation it was trained with (``mean``, ``std``), ``classes`` and
    ``dataset`` (a bare state dict has none of these)."""
    return {k: ckpt[k] for k in INFO_KEYS if ckpt.get(k) is not None}


def load_checkpoint_info(path: str | os.PathLike, model_name: str | None = None,
                         **create_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """``(model, checkpoint_info(ckpt))``: ``load_checkpoint`` plus the checkpoint's
    normalisation and class list."""
    from edgecnn.train.checkpoint import load_checkpoint as _load

    kwargs = {k: v for k, v in create_kwargs.items() if v is not None}
    model, ckpt = _load(path, model_name, **kwargs)
    return model.eval(), checkpoint_info(ckpt)


def load_checkpoint(path: str | os.PathLike, model_name: str | None = None, **create_kwargs: Any):
    """Build the zoo model a checkpoint belongs to and load its weights (eval mode, float32).

    ``model_name`` is required for a bare state dict and, for a full
    checkpoint, must equal its ``"model"`` field; ``create_kwargs``
    (``num_classes``, ``input_size``, builder options; None values ignored)
    override the checkpoint's config.
    """
    return load_checkpoint_info(path, model_name, **create_kwargs)[0]


def load_into(model: Any, path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint's weights into an existing zoo module (its name must
    match); returns ``checkpoint_info`` of the file."""
    from edgecnn.train.checkpoint import check_model_name, load_weights, read_checkpoint

    ckpt = read_checkpoint(path)
    check_model_name(ckpt, path, getattr(model, "edgecnn_config", {}).get("name"))
    load_weights(model, ckpt["state_dict"], f"checkpoint {path}")
    model.eval()
    return checkpoint_info(ckpt)

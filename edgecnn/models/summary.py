"""A layer table from forward hooks: leaf modules with output shapes and parameters."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def layer_table(model: nn.Module, input_size: int, batch: int = 1) -> list[dict[str, Any]]:
    """Run one forward pass at ``input_size`` and list each leaf module that ran,
    in execution order, with its output shape and own parameter count."""
    rows: list[dict[str, Any]] = []
    handles = []
    names = {m: n for n, m in model.named_modules()}

    def hook(mod: nn.Module, _inp: Any, out: Any) -> None:
        shape = list(out.shape) if isinstance(out, torch.Tensor) else []
        rows.append({
            "name": names.get(mod, "?"),
            "type": type(mod).__name__,
            "output_shape": shape[1:],
            "params": sum(p.numel() for p in mod.parameters(recurse=False)),
        })

    for mod in model.modules():
        if next(mod.children(), None) is None:  # leaf
            handles.append(mod.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.randn(batch, 3, input_size, input_size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return rows

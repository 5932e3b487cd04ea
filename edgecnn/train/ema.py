"""An exponential moving average of a model's weights (``Recipe.ema``).

After every optimizer step each floating-point parameter of the average
moves towards the model's: ``avg = decay * avg + (1 - decay) * weight``
(one ``lerp``), starting from the initial weights. Buffers (BatchNorm's
running mean, variance and counter) are copied, not averaged: the running
statistics are already averages, and copying keeps them those of the
weights being trained. The average is what the trainer evaluates, and what
a checkpoint's ``state_dict`` holds (so ``edgecnn eval`` and ``edgecnn
export`` use it); the trained weights are kept beside it for ``--resume``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from edgecnn.models.checkpoint import load_weights, unwrap


class WeightEma:
    """The moving average of ``model``'s parameters, as a module of its own (eval mode)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(unwrap(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the average towards ``model``'s current weights."""
        src = unwrap(model)
        pairs = [(a, p.detach()) for a, p in zip(self.module.parameters(), src.parameters())
                 if a.is_floating_point()]
        if pairs:
            avg, new = zip(*pairs)
            torch._foreach_lerp_(list(avg), list(new), 1.0 - self.decay)
        for a, b in zip(self.module.buffers(), src.buffers()):
            a.copy_(b)
        self.updates += 1

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps besides the averaged weights."""
        return {"decay": self.decay, "updates": self.updates}

    def restore(self, state_dict: dict[str, torch.Tensor], state: dict[str, Any] | None, where: str) -> None:
        load_weights(self.module, state_dict, where)
        self.updates = int((state or {}).get("updates", 0))

    def snapshot(self) -> dict[str, Any]:
        return {"weights": {k: v.detach().clone() for k, v in self.module.state_dict().items()},
                "updates": self.updates}

    def put_back(self, snap: dict[str, Any]) -> None:
        self.module.load_state_dict(snap["weights"])
        self.updates = snap["updates"]

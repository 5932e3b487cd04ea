"""edgecnn: pick, cost, export, time and compare CNNs for edge devices."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "get_card", "list_models"]
_MODEL_API = ("create_model", "get_card", "list_models")


def __getattr__(name: str) -> Any:
    # the model API loads torch and torchvision (seconds): only when first used, so
    # `edgecnn --version` and the CLI's one-line errors do not pay for it
    if name in _MODEL_API:
        from edgecnn import models

        return getattr(models, name)
    raise AttributeError(f"module 'edgecnn' has no attribute {name!r}")

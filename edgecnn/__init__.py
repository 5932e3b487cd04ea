"""edgecnn: pick, cost, export, time and compare CNNs for edge devices."""

from __future__ import annotations

from typing import Any

from edgecnn.version import __version__

__all__ = ["__version__", "create_model", "get_card", "list_models", "select"]
_MODEL_API = ("create_model", "get_card", "list_models")


def __getattr__(name: str) -> Any:
    # the model API loads torch and torchvision (seconds): only when first used, so
    # `edgecnn --version` and the CLI's one-line errors do not pay for it
    if name in _MODEL_API:
        from edgecnn import models

        return getattr(models, name)
    if name == "select":
        # the package edgecnn.select, which is callable: edgecnn.select(records, device=..., ...); importing
        # it also binds it here, so this runs once (``from edgecnn import select`` would recurse into this hook)
        import importlib

        return importlib.import_module("edgecnn.select")
    raise AttributeError(f"module 'edgecnn' has no attribute {name!r}")

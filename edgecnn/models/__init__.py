"""The model zoo. Its API (``create_model``, ``get_card``, ``list_models``,
``MODELS``, ...) registers every family on first use.

Loading is deferred (PEP 562) because the families pull in torch and
torchvision (seconds): the CLI imports ``edgecnn.cli.models`` to list
its commands, and `edgecnn --version`, `edgecnn report` or a one-line usage
error should not pay for the zoo.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODELS", "ModelCard", "Reference", "count_params", "create_model", "get_card",
           "list_models", "register_model", "register_variant"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from edgecnn.models import _registry
        # Family files register their builders on import. Keep the list in _families sorted.
        from edgecnn.models import _families  # noqa: F401

        return getattr(_registry, name)
    raise AttributeError(f"module 'edgecnn.models' has no attribute {name!r}")

"""The model zoo. Importing this package registers every family."""

from __future__ import annotations

from edgecnn.models._registry import (
    MODELS,
    ModelCard,
    Reference,
    count_params,
    create_model,
    get_card,
    list_models,
    register_model,
)

# Family files register their builders on import. Keep this list sorted.
from edgecnn.models import _families  # noqa: F401,E402

__all__ = ["MODELS", "ModelCard", "Reference", "count_params", "create_model", "get_card",
           "list_models", "register_model"]

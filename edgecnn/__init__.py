"""edgecnn: pick, cost, export, time and compare CNNs for edge devices."""

from __future__ import annotations

__version__ = "0.1.0"

from edgecnn.models import create_model, get_card, list_models  # noqa: E402

__all__ = ["__version__", "create_model", "get_card", "list_models"]

"""The roof a remote measurement carries: its compute unit's peaks."""

from __future__ import annotations

from typing import Any


def unit_peaks(spec: Any, runtime: str) -> dict[str, Any] | None:
    """The roof of the unit ``runtime`` runs on, as measured records carry it (``device_peaks``)."""
    units = getattr(spec, "units", None)
    if not units:
        return None
    unit = spec.unit_of(runtime)
    return {**units[unit].to_dict(), "device": spec.name} if unit in units else None

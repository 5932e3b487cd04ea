"""The one rule that says what kind of layer a cost row is.

The cost counter's separable check, the latency predictor's per-op-class fit
and the report's per-layer colours all call ``layer_class``, so a depthwise
convolution is the same thing everywhere:

- ``linear``: a Linear / Gemm / fully connected row;
- ``depthwise``: a convolution with ``groups == in_channels > 1``;
- ``pointwise``: a dense (``groups == 1``) convolution whose kernel is 1x1;
- ``conv``: any other convolution (dense or grouped);
- ``elementwise``: everything else (pooling, activations, adds, BatchNorm).
"""

from __future__ import annotations

from typing import Any

OP_CLASSES = ("conv", "depthwise", "pointwise", "linear", "elementwise")


def field_of(row: Any, key: str, default: Any = None) -> Any:
    """``row[key]`` of a dict row, or the attribute of a ``LayerCost``."""
    return row.get(key, default) if isinstance(row, dict) else getattr(row, key, default)


def layer_class(row: Any) -> str:
    """The class of a cost row (a dict or a ``LayerCost``): one of ``OP_CLASSES``."""
    cat = field_of(row, "category")
    typ = str(field_of(row, "type", ""))
    if cat == "linear" or typ == "Linear":
        return "linear"
    if cat == "conv" or typ.startswith("Conv"):
        groups = field_of(row, "groups") or 1
        cin = field_of(row, "in_channels")
        kernel = field_of(row, "kernel") or []
        if groups > 1 and cin is not None and groups == cin:
            return "depthwise"
        if kernel and all(k == 1 for k in kernel) and groups == 1:
            return "pointwise"
        return "conv"
    return "elementwise"

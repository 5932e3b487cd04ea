"""edgecnn.cost: analytic per-layer cost (MACs, parameters, bytes, arithmetic
intensity) from layer shapes, of PyTorch modules and of ONNX / TFLite files
(``count_file``), cross-checks with fvcore and torch's flop
counter, and the depthwise-separable check.

Units: MACs (one multiply-accumulate = 1); a FLOP figure, where shown, is
``2 * macs`` and labelled so. See ``edgecnn.cost.formulas`` for every formula.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BYTES_PER_ELEMENT", "CostReport", "CrossCheck", "FORMULAS", "LayerCost", "SeparablePair",
           "UnsupportedOp", "count_cost", "count_file", "count_onnx", "count_tflite", "cross_check",
           "separable_layer_check", "separable_pairs", "separable_pairs_file"]
# where each name lives; loaded on first use (the engine imports torch, which the CLI's
# start-up should not pay for)
_HOME = {"BYTES_PER_ELEMENT": "rows", "CostReport": "rows", "LayerCost": "rows", "UnsupportedOp": "rows",
         "count_cost": "engine", "FORMULAS": "formulas", "SeparablePair": "separable",
         "separable_layer_check": "separable", "separable_pairs": "separable", "CrossCheck": "crosscheck",
         "cross_check": "crosscheck", "count_file": "files", "count_onnx": "onnx_graph",
         "count_tflite": "tflite_graph", "separable_pairs_file": "separable"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(f"edgecnn.cost.{_HOME[name]}"), name)
    raise AttributeError(f"module 'edgecnn.cost' has no attribute {name!r}")

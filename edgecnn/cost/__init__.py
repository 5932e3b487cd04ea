"""edgecnn.cost: analytic per-layer cost (MACs, parameters, bytes, arithmetic
intensity) from layer shapes, cross-checks with fvcore and torch's flop
counter, and the depthwise-separable check.

Units: MACs (one multiply-accumulate = 1); a FLOP figure, where shown, is
``2 * macs`` and labelled so. See ``edgecnn.cost.formulas`` for every formula.
"""

from __future__ import annotations

from edgecnn.cost.engine import BYTES_PER_ELEMENT, CostReport, LayerCost, UnsupportedOp, count_cost
from edgecnn.cost.formulas import FORMULAS
from edgecnn.cost.separable import SeparablePair, separable_layer_check, separable_pairs
from edgecnn.cost.crosscheck import CrossCheck, cross_check

__all__ = ["BYTES_PER_ELEMENT", "CostReport", "CrossCheck", "FORMULAS", "LayerCost", "SeparablePair",
           "UnsupportedOp", "count_cost", "cross_check", "separable_layer_check", "separable_pairs"]

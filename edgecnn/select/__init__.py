"""edgecnn.select: choose the model, weights, runtime, format, precision and batch to ship.

    import edgecnn
    sel = edgecnn.select("profiles", device="local", max_latency_ms=10)
    sel.chosen, sel.ranked, sel.excluded, sel.reason_counts(), sel.message

Options are joined from records (``options``: latency with accuracy, export
parity, size and memory; ``evidence``: whose weights and which accuracy),
judged and ordered (``rank``: the rule), and the winner comes with its
artifact and the commands that rebuild and re-measure it (``commands``).

``edgecnn.select`` is this package and also the function: the package is
callable (``edgecnn.select(records, device=...)`` is ``select(...)``), so the
name means the same thing however it was imported.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from edgecnn.select.api import Selection, load_records, rank, resolve_device, select
from edgecnn.select.options import Option, Reason, build_options
from edgecnn.select.rank import REASONS, Constraints, beats
from edgecnn.select.recommend import DEFAULT_BUDGETS, Recommendation, recommend

__all__ = ["DEFAULT_BUDGETS", "REASONS", "Constraints", "Option", "Reason", "Recommendation", "Selection", "beats",
           "build_options", "load_records", "rank", "recommend", "resolve_device", "select"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Selection:
        return select(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

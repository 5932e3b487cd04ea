"""The report's recommendation: per device, the front and the pick under default budgets.

For each device with latency records, and each dataset its top-1 figures
come from (top-1 on CIFAR-10 and on ImageNet are not comparable), every
option over all runtimes and precisions together: which are on the
latency/top-1 Pareto front (parity failures and untimed builds take no
part), which one ``select`` picks under ``DEFAULT_BUDGETS``, and whether each
figure was measured, predicted or published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from edgecnn.join import newest
from edgecnn.records import Record
from edgecnn.select.api import Selection, rank
from edgecnn.select.options import Option, build_options
from edgecnn.select.rank import FILTERS, HARD, Constraints

# 30 frames per second at batch 1: the usual real-time budget of a camera pipeline
DEFAULT_BUDGETS = {"max_latency_ms": 33.3, "batch": 1}


@dataclass
class Recommendation:
    device: str
    dataset: str | None
    selection: Selection
    options: list[Option] = field(default_factory=list)  # this group's options, pick first, then the front
    front: set[int] = field(default_factory=set)  # id() of the options on the front

    @property
    def pick(self) -> Option | None:
        return self.selection.chosen


def front_of(options: list[Option]) -> set[int]:
    """id() of the options no other beats on both p50 latency and top-1 (ties stay on)."""
    from edgecnn.select.rank import beats

    usable = [o for o in options if o.latency_ms is not None and o.top1 is not None
              and not any(r.code in HARD + FILTERS for r in o.reasons)]
    return {id(o) for o in usable if not any(beats(p, o) for p in usable if p is not o)}


def recommend(records: Iterable[Record], budgets: dict | None = None) -> list[Recommendation]:
    """One recommendation per (device, dataset) with latency records."""
    used, _ = newest(records)
    budgets = dict(DEFAULT_BUDGETS if budgets is None else budgets)
    out = []
    for device in sorted({r.device for r in used if r.kind == "latency" and r.device}):
        datasets = sorted({o.dataset for o in build_options(used, device) if o.dataset}) or [None]
        for ds in datasets:
            opts = build_options(used, device, ds)
            sel = rank(opts, Constraints(**budgets, dataset=ds), device)
            group = [o for o in opts if ds is None or o.dataset == ds]
            front = front_of(group)
            pick = sel.chosen
            group.sort(key=lambda o: (o is not pick, id(o) not in front, o.latency_ms is None,
                                      o.latency_ms or 0.0, o.label))
            out.append(Recommendation(device, ds, sel, group, front))
    return out

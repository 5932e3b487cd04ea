"""The accuracy-vs-cost Pareto front: minimise cost, maximise accuracy.

Pure functions on plain numbers, no plotting. A point is on the front when no
other point is at least as cheap *and* at least as accurate, and strictly
better in one of the two. Conventions:

- ties: two points with the same cost and the same accuracy do not dominate
  each other, so both are on the front (they are equally good choices);
- a point with equal accuracy but higher cost than another is dominated;
- points whose cost or accuracy is missing (``None``, NaN, infinite) take no
  part: they are neither on the front nor able to dominate anything. The report
  still shows them in cost and latency views, only not on an accuracy front.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence


def _usable(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Does point ``a = (cost, accuracy)`` dominate ``b``? (cost lower-is-better,
    accuracy higher-is-better; equal in both is not domination)."""
    return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])


def pareto_front(costs: Sequence[float | None], accuracies: Sequence[float | None]) -> list[int]:
    """Indices of the non-dominated points, ordered by cost (then input order).

    ``costs[i]`` and ``accuracies[i]`` describe point ``i``; any unit works
    (latency in ms, MACs, parameters / top-1 as a fraction or a percentage).
    Points with a missing cost or accuracy are left out. O(n log n).
    """
    if len(costs) != len(accuracies):
        raise ValueError(f"{len(costs)} costs but {len(accuracies)} accuracies")
    idx = [i for i in range(len(costs)) if _usable(costs[i]) and _usable(accuracies[i])]
    # cheapest first; within one cost, most accurate first
    idx.sort(key=lambda i: (costs[i], -accuracies[i], i))
    front: list[int] = []
    best = -math.inf
    pos = 0
    while pos < len(idx):
        cost = costs[idx[pos]]
        group = []
        while pos < len(idx) and costs[idx[pos]] == cost:
            group.append(idx[pos])
            pos += 1
        top = accuracies[group[0]]  # the group is sorted by accuracy, highest first
        if top > best:
            front.extend(i for i in group if accuracies[i] == top)
            best = top
    return front


def front_mask(costs: Sequence[float | None], accuracies: Sequence[float | None]) -> list[bool]:
    """``[True, False, ...]``: is point ``i`` on the front?"""
    on = set(pareto_front(costs, accuracies))
    return [i in on for i in range(len(costs))]


def dominated_by(costs: Sequence[float | None], accuracies: Sequence[float | None]) -> list[list[int]]:
    """For each point, the indices of the points that dominate it (empty for
    front points and for points with missing figures). O(n^2): for hover text
    on a few hundred points, not for big sweeps."""
    usable = [(_usable(c) and _usable(a)) for c, a in zip(costs, accuracies)]
    out: list[list[int]] = []
    for j in range(len(costs)):
        if not usable[j]:
            out.append([])
            continue
        b = (costs[j], accuracies[j])
        out.append([i for i in range(len(costs))
                    if i != j and usable[i] and dominates((costs[i], accuracies[i]), b)])
    return out


def spans_decades(values: Iterable[float | None], decades: float = 1.0) -> bool:
    """True when the positive values span at least ``decades`` powers of ten
    (the report then uses a log axis)."""
    vals = [v for v in values if _usable(v) and v > 0]
    if len(vals) < 2:
        return False
    return math.log10(max(vals) / min(vals)) >= decades

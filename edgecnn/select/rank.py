"""Constraints, the ranking rule, and what binds when nothing fits.

The rule (docs/select.md):

1. Filters: ``batch`` and ``dataset`` (the dataset the top-1 was measured
   on) keep the options asked for; an export that did not pass parity, a
   latency record that is not ``ok`` and an untimed TensorRT build are
   excluded whatever the budgets.
2. Budgets: latency (p50, or p90 with ``tail``) <= ``max_latency_ms``; top-1
   >= ``min_top1``; size <= ``max_size_mb`` (MB = 10^6 bytes); peak memory <=
   ``max_memory_mb``. A figure a budget needs and the option lacks excludes it
   ("unknown").
   A prediction of a configuration that was also measured is excluded: a
   prediction never outranks a measurement of the same thing.
3. Order: measured latency before predicted; measured accuracy (in this
   format, or PyTorch fp32 behind a passed parity check) before published
   before unknown; then by top-1 (highest first, ties by latency) when a
   latency budget is given, else by latency (lowest first, ties by top-1);
   ``rank_by`` overrides. A prediction is ordered by its validated error
   band's pessimistic end (latency x (1 + p90 |error|)). Two top-1 figures
   whose difference is inside the test set's binomial interval (95 %, the
   difference of two proportions on n images) are a tie, which the latency
   breaks. Within its trust tier the first option is on the latency/top-1
   Pareto front; a less trusted option that beats it on both is listed as a
   challenger. A choice whose weights (a checkpoint) are not on this machine
   is named so in the notes.

A prediction inside the latency budget also says whether the budget holds at
its error band's pessimistic end (latency x (1 + p90 |error|)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edgecnn.errors import InvalidOptionError
from edgecnn.select.options import Option, Reason

RANKINGS = ("accuracy", "latency")

REASONS = {  # code -> how the output counts it
    "batch": "other batch", "dataset": "no top-1 on the requested dataset",
    "parity": "export did not pass parity", "no_latency": "no latency figure (not measured or failed)",
    "untimed": "prepared TensorRT build, never timed on this device",
    "latency": "over the latency budget", "latency_unknown": "no figure for the latency budget",
    "accuracy": "below the top-1 floor", "accuracy_unknown": "no top-1 figure",
    "size": "over the size budget", "size_unknown": "size unknown",
    "memory": "over the memory budget", "memory_unknown": "peak memory unknown",
    "measured_twin": "predicted, and the same configuration was measured",
}
FILTERS = ("batch", "dataset")
HARD = ("parity", "no_latency", "untimed", "measured_twin")


@dataclass(frozen=True)
class Constraints:
    """Budgets and filters; every one optional. Units: ms, percent, MB (10^6
    bytes) of artifact, MB of peak resident memory."""

    max_latency_ms: float | None = None
    min_top1: float | None = None
    max_size_mb: float | None = None
    max_memory_mb: float | None = None
    dataset: str | None = None
    batch: int | None = None
    tail: bool = False
    rank_by: str | None = None

    def __post_init__(self) -> None:
        for flag, value in (("--max-latency-ms", self.max_latency_ms), ("--max-size-mb", self.max_size_mb),
                            ("--max-memory-mb", self.max_memory_mb)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0 and value < float("inf")):
                raise InvalidOptionError(f"{flag} must be a positive number, got {value!r}")
        if self.min_top1 is not None and not (isinstance(self.min_top1, (int, float)) and 0 <= self.min_top1 <= 100):
            raise InvalidOptionError(f"--min-top1 is a top-1 in percent, 0 to 100; got {self.min_top1!r}")
        if self.batch is not None and (not isinstance(self.batch, int) or self.batch < 1):
            raise InvalidOptionError(f"--batch must be a whole number >= 1, got {self.batch!r}")
        if self.tail and self.max_latency_ms is None:
            raise InvalidOptionError("--tail checks the latency budget against p90: give --max-latency-ms too")
        if self.rank_by is not None and self.rank_by not in RANKINGS:
            raise InvalidOptionError(f"--rank-by must be accuracy or latency, got {self.rank_by!r}")

    @property
    def ranking(self) -> str:
        if self.rank_by:
            return self.rank_by
        return "accuracy" if self.max_latency_ms is not None else "latency"

    @property
    def statistic(self) -> str:
        return "p90" if self.tail else "p50"

    def budgets(self) -> list[tuple[str, str, float]]:
        """(code, flag, limit) of each budget given."""
        out = []
        for code, flag, value in (("latency", "--max-latency-ms", self.max_latency_ms),
                                  ("accuracy", "--min-top1", self.min_top1),
                                  ("size", "--max-size-mb", self.max_size_mb),
                                  ("memory", "--max-memory-mb", self.max_memory_mb)):
            if value is not None:
                out.append((code, flag, float(value)))
        return out

    def describe(self) -> str:
        parts = [f"latency {self.statistic} <= {self.max_latency_ms:g} ms" if self.max_latency_ms else "",
                 f"top-1 >= {self.min_top1:g} %" if self.min_top1 is not None else "",
                 f"size <= {self.max_size_mb:g} MB" if self.max_size_mb else "",
                 f"peak memory <= {self.max_memory_mb:g} MB" if self.max_memory_mb else "",
                 f"dataset {self.dataset}" if self.dataset else "", f"batch {self.batch}" if self.batch else ""]
        return ", ".join(p for p in parts if p) or "no constraints"

    def to_dict(self) -> dict[str, Any]:
        return {"max_latency_ms": self.max_latency_ms, "min_top1": self.min_top1, "max_size_mb": self.max_size_mb,
                "max_memory_mb": self.max_memory_mb, "dataset": self.dataset, "batch": self.batch,
                "tail": self.tail, "rank_by": self.ranking, "statistic": self.statistic}


def judge(opt: Option, c: Constraints) -> list[Reason]:
    """Why ``opt`` is out under ``c`` (empty: it is eligible)."""
    out: list[Reason] = []
    if c.batch is not None and opt.batch != c.batch:
        out.append(Reason("batch", f"batch {opt.batch}, not {c.batch}"))
    if c.dataset is not None and opt.dataset != c.dataset:
        out.append(Reason("dataset", f"no top-1 on {c.dataset}"))
    if out:
        return out
    if opt.parity.failed:
        err = (opt.parity.record.error or "") if opt.parity.record is not None else ""
        out.append(Reason("parity", f"export did not pass parity ({opt.parity.status}"
                                    f"{': ' + _clip(err) if err else ''})"))
    if opt.status == "prepared":
        out.append(Reason("untimed", opt.error or "prepared TensorRT build, not timed"))
    elif opt.latency_ms is None:
        out.append(Reason("no_latency", f"{opt.status}: {_clip(opt.error or 'no latency figure')}"))
    if out:
        return out
    lat = opt.budget_latency(c.tail)
    for code, _flag, limit in c.budgets():
        if code == "latency":
            _over(out, code, lat, limit, f"{c.statistic} {{v:.3g}} ms > {limit:g} ms",
                  f"no {c.statistic} figure ({opt.statistic} only)" if c.tail else "no latency figure")
        elif code == "accuracy":
            v = opt.top1
            if v is None:
                out.append(Reason("accuracy_unknown", opt.accuracy.note))
            elif v < limit:
                out.append(Reason(code, f"top-1 {v:.2f} % < {limit:g} %", limit - v, (limit - v) / max(limit, 1e-9)))
        elif code == "size":
            mb = opt.size_bytes / 1e6 if opt.size_bytes is not None else None
            _over(out, code, mb, limit, f"{{v:.3g}} MB > {limit:g} MB", "no artifact size recorded")
        elif code == "memory":
            _over(out, code, opt.memory_mb, limit, f"peak {{v:.4g}} MB > {limit:g} MB", "no memory figure recorded")
    return out


def _clip(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def _over(out: list[Reason], code: str, v: float | None, limit: float, text: str, unknown: str) -> None:
    if v is None:
        out.append(Reason(code + "_unknown", unknown))
    elif v > limit:
        out.append(Reason(code, text.format(v=v), v - limit, (v - limit) / limit))


def trust(opt: Option) -> tuple[int, int]:
    """(latency: 0 measured, 1 predicted; accuracy: 0 measured, 1 published, 2 unknown)."""
    acc = {"measured": 0, "pytorch_fp32_parity": 0, "published": 1}.get(opt.accuracy.tier, 2)
    return (0 if opt.source == "measured" else 1, acc)


def order_key(opt: Option, c: Constraints) -> tuple:
    lat = opt.rank_latency(c.tail)
    lat = lat if lat is not None else float("inf")
    neg_top1 = -opt.top1 if opt.top1 is not None else float("inf")
    size = opt.size_bytes if opt.size_bytes is not None else float("inf")
    by = (neg_top1, lat) if c.ranking == "accuracy" else (lat, neg_top1)
    return (*trust(opt), *by, size, opt.label, opt.weights or "")


def beats(a: Option, b: Option, tail: bool = False) -> bool:
    """``a`` is at least as fast (a prediction at its band's pessimistic end)
    and as accurate as ``b`` and better in one."""
    la, lb = a.rank_latency(tail), b.rank_latency(tail)
    if None in (la, lb, a.top1, b.top1):
        return False
    return la <= lb and a.top1 >= b.top1 and (la < lb or a.top1 > b.top1)


def top1_margin(a: Option, b: Option) -> float:
    """Half-width (points) of the 95 % interval of the difference of two
    top-1 figures on ``n`` test images each (0 when a count is unknown)."""
    ns = [o.top1_images for o in (a, b)]
    if None in ns or a.top1 is None or b.top1 is None:
        return 0.0
    p = (a.top1 + b.top1) / 200.0
    return 1.96 * math.sqrt(max(p * (1 - p), 0.0) * (1.0 / ns[0] + 1.0 / ns[1])) * 100.0


def break_accuracy_ties(ranked: list[Option], c: Constraints) -> list[Option]:
    """``ranked`` (sorted by ``order_key``, by accuracy) with each run of
    options whose top-1 is tied with the best remaining one of its trust tier
    (``top1_margin``) ordered by latency."""
    out, rest = [], list(ranked)
    while rest:
        head = rest[0]
        tied = [o for o in rest if trust(o) == trust(head) and head.top1 is not None and o.top1 is not None
                and head.top1 - o.top1 <= top1_margin(head, o)]
        if len(tied) <= 1:
            out.append(rest.pop(0))
            continue
        lat = lambda o: o.rank_latency(c.tail) if o.rank_latency(c.tail) is not None else float("inf")  # noqa: E731
        best = min(tied, key=lambda o: (lat(o), -(o.top1 or 0.0), order_key(o, c)))
        out.append(best)
        rest.remove(best)
    return out


def twins(options: list[Option]) -> dict[tuple, Option]:
    """configuration -> its measured ``ok`` option (see ``Option.configuration``)."""
    return {o.configuration: o for o in options if o.source == "measured" and o.latency_ms is not None}


def band_verdict(opt: Option, c: Constraints) -> str | None:
    """For a prediction under a latency budget: does the budget hold at the
    band's pessimistic end? None for measurements or without a budget."""
    if opt.source != "predicted" or c.max_latency_ms is None:
        return None
    hi = opt.pessimistic_ms(c.tail)
    if hi is None:
        note = (opt.error_band or {}).get("note") or "no validation of this kind of prediction"
        return f"cannot be checked at the pessimistic end: the prediction has no validated error band ({note})"
    if hi <= c.max_latency_ms:
        return f"holds at the error band's pessimistic end ({hi:.3g} ms <= {c.max_latency_ms:g} ms)"
    return f"does NOT hold at the error band's pessimistic end ({hi:.3g} ms > {c.max_latency_ms:g} ms)"


def binding(candidates: list[Option], c: Constraints) -> tuple[str, list[dict[str, Any]]]:
    """Nothing met the budgets: which budget binds, the closest option and by
    how much it misses. ``candidates`` passed the filters and hard checks."""
    budgets = c.budgets()
    alone = [(code, flag, limit) for code, flag, limit in budgets
             if all(any(r.code in (code, code + "_unknown") for r in o.reasons) for o in candidates)]
    details: list[dict[str, Any]] = []
    if alone:
        parts = []
        for code, flag, limit in alone:
            known = [o for o in candidates if any(r.code == code for r in o.reasons)]
            if not known:
                parts.append(f"{flag} {limit:g}: no option has the figure ({REASONS[code + '_unknown']})")
                details.append({"constraint": flag, "limit": limit, "option": None, "miss": None})
                continue
            best = min(known, key=lambda o: (_reason(o, code).relative, order_key(o, c)))
            r = _reason(best, code)
            parts.append(f"{flag} {limit:g}: closest is {best.label} ({best.weights_label}), {r.text}, "
                         f"{_miss_text(code, r)}")
            details.append({"constraint": flag, "limit": limit, "option": best.label, "weights": best.weights,
                            "reason": r.text, "miss": r.miss, "relative": r.relative})
        return "no option meets " + "; ".join(parts), details
    scored = [o for o in candidates if all(r.miss is not None for r in o.reasons)]
    pool = scored or candidates
    best = min(pool, key=lambda o: (sum(r.relative if r.relative is not None else 1e9 for r in o.reasons),
                                    order_key(o, c)))
    parts = []
    for r in best.reasons:
        flag = next((f for code, f, _ in budgets if r.code in (code, code + "_unknown")), r.code)
        parts.append(f"{flag}: {r.text}" + (f", {_miss_text(r.code, r)}" if r.miss is not None else ""))
        details.append({"constraint": flag, "option": best.label, "weights": best.weights, "reason": r.text,
                        "miss": r.miss, "relative": r.relative})
    return (f"no option meets all the budgets together ({c.describe()}); each alone is met, and the closest, "
            f"{best.label} ({best.weights_label}), misses " + "; ".join(parts)), details


def _reason(opt: Option, code: str) -> Reason:
    return next(r for r in opt.reasons if r.code == code)


def _miss_text(code: str, r: Reason) -> str:
    unit = {"latency": "ms", "accuracy": "points", "size": "MB", "memory": "MB"}[code]
    word = "under" if code == "accuracy" else "over"
    return f"{r.miss:.3g} {unit} ({r.relative * 100:.0f} %) {word}"

"""When does INT8 pay on this device? The verdict an INT8 export record carries
(``int8_pays``, ``int8_verdict``, ``speedup_macs``) and the per-device, per-runtime
summary that ``report`` and ``select`` print from those records.

A speed-up is the FP32 twin's p50 over the INT8 artifact's p50 on the same
runtime, both timed in isolated worker processes, interleaved
(``export/speedup.py``). Within ``EVEN`` of 1 the two are called even: the
shared VMs this was built on drift more than that between rounds. No torch
at import: ``select`` reads these records without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EVEN = 0.05  # |speed-up - 1| below this: neither faster nor slower


def call_macs(model: Any, input_size: int, batch: int) -> int | None:
    """Conv + linear MACs of one timed call (``batch`` images at ``input_size``),
    counted on the float model; None where the model cannot be counted."""
    try:
        from edgecnn.cost.engine import count_cost
        from edgecnn.export.qat import float_of

        per_image = count_cost(float_of(model), input_size, batch=1).totals["conv_linear_macs"]
    except Exception:  # noqa: BLE001 - a figure beside the verdict, never the export's outcome
        return None
    return int(per_image) * int(batch)


def _mmacs(macs: float | None) -> str:
    return f"{macs / 1e6:.1f} MMACs per call" if macs else "MACs per call not counted"


def verdict(speedup: float, macs: int | None, runtime: str, batch: int, input_size: int,
            noisy: bool = False) -> dict[str, Any]:
    """The record's ``int8_pays`` (True only when INT8 was faster by more than
    ``EVEN``) and its ``int8_verdict`` sentence."""
    where = f"{runtime}, batch {batch}, {input_size}x{input_size}, {_mmacs(macs)}"
    if speedup >= 1.0 + EVEN:
        text = f"INT8 pays here: {speedup:.2f}x faster than its FP32 twin ({where})"
    elif speedup <= 1.0 - EVEN:
        text = (f"INT8 is slower than FP32 here: {speedup:.2f}x ({where}); the quantise/dequantise steps and "
                f"int8 kernels cost more than the cheaper arithmetic saves at this size on this device: ship "
                f"FP32 unless the smaller file matters")
    else:
        text = f"INT8 is no faster than FP32 here: {speedup:.2f}x ({where})"
    if noisy:
        text += " (a noisy timing series: measure again before relying on it)"
    return {"int8_pays": speedup >= 1.0 + EVEN, "int8_verdict": text}


def break_even(points: Iterable[tuple[float, float]]) -> float | None:
    """The smallest MACs per call from which every measured call of that size
    or more had a speed-up above 1 (None when the largest call was not faster).
    ``points``: (MACs per call, speed-up)."""
    done = sorted((p for p in points if p[0] and p[1]), key=lambda p: p[0])
    if not done or done[-1][1] <= 1.0:
        return None
    even = done[-1][0]
    for macs, speedup in reversed(done):
        if speedup <= 1.0:
            break
        even = macs
    return even


def summaries(records: Iterable[Any], device: str | None = None) -> dict[str, str]:
    """Per runtime, one sentence on where INT8 paid among ``records``' INT8
    exports with a measured speed-up (on ``device`` when given): how many were
    slower, their range, and from which MACs per call every larger call was
    faster. Runtimes without such exports are left out."""
    by_rt: dict[str, list[tuple[float, float, str]]] = {}
    for r in records:
        sp, macs = r.metrics.get("speedup"), r.metrics.get("speedup_macs")
        if (r.kind != "export" or not str(r.precision or "").startswith("int8") or not isinstance(sp, (int, float))
                or (device is not None and r.device != device)):
            continue
        rt = r.metrics.get("parity_runtime") or r.runtime or r.format or "?"
        by_rt.setdefault(rt, []).append((float(macs) if isinstance(macs, (int, float)) else 0.0, float(sp),
                                         r.model or "?"))
    out = {}
    for rt, pts in sorted(by_rt.items()):
        slower = [p for p in pts if p[1] <= 1.0 - EVEN]
        faster = [p for p in pts if p[1] >= 1.0 + EVEN]
        lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
        span = f"{lo:.2f}x" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}x"
        text = (f"INT8 on {rt}: {len(faster)} of {len(pts)} measured exports faster than FP32, {len(slower)} slower "
                f"(speed-up {span})")
        if slower:
            names = ", ".join(sorted({p[2] for p in slower}))
            text += f"; slower for {names}"
        counted = [(m, s) for m, s, _ in pts if m]
        even = break_even(counted)
        if counted and even is not None and any(s <= 1.0 for _, s in counted):
            text += f"; every call of {even / 1e6:.1f} MMACs or more ran faster in INT8"
        elif counted and even is None and slower:
            text += "; not faster at the largest call measured"
        out[rt] = text
    return out

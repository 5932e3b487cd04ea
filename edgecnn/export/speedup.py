"""Speed-up of a quantised artifact against its FP32 twin on the same runtime.

Both artifacts are loaded in worker processes of their own
(``edgecnn.runtime.workers``: one process per artifact, rounds alternating,
the order rotated every round, one untimed call before each block), so the
two medians share the machine's drift and neither shares a process with the
other or with torch. On a shared machine the medians still move between runs;
the ratio of interleaved medians is what is recorded (``speedup`` =
FP32 p50 / INT8 p50; above 1 the INT8 artifact is faster).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgecnn.runtime.timing import TimingConfig

# enough rounds for a stable ratio on a loaded 2-core machine, short enough for an export
SPEEDUP_TIMING = TimingConfig(warmup=10, warmup_s=0.3, runs=200, min_time_s=3.0, max_time_s=20.0)


def measure_speedup(runtime: str, fp32_path: Path, quant_path: Path, *, batch: int, input_size: int,
                    runner_options: dict[str, Any] | None = None, fp32_runner_options: dict[str, Any] | None = None,
                    threads: int | None = None, config: TimingConfig | None = None) -> dict[str, Any]:
    """Time ``fp32_path`` and ``quant_path`` on ``runtime`` in two isolated,
    interleaved workers; returns the record's figures (milliseconds, ratio)."""
    from edgecnn.runtime.workers import ISOLATION, RuntimeWorker, interleave_workers

    kw = {"threads": threads} if threads else {}
    workers: dict[str, RuntimeWorker] = {}
    try:
        workers["fp32"] = RuntimeWorker(runtime, {**kw, **(fp32_runner_options or runner_options or {})}).start()
        workers["quant"] = RuntimeWorker(runtime, {**kw, **(runner_options or {})}).start()
        infos = {k: workers[k].request("load", artifact=str(p), batch=batch, size=input_size)
                 for k, p in (("fp32", fp32_path), ("quant", quant_path))}
        stats = interleave_workers(workers, config or SPEEDUP_TIMING)
    finally:
        for w in workers.values():
            w.close()
    f, q = stats["fp32"], stats["quant"]
    return {"speedup": f.median_ms / q.median_ms if q.median_ms > 0 else None,
            "latency_ms_p50": q.median_ms, "latency_ms_p90": q.p90_ms,
            "fp32_latency_ms_p50": f.median_ms, "fp32_latency_ms_p90": f.p90_ms,
            "speedup_runs": int(min(f.runs, q.runs)), "speedup_noisy": bool(f.noisy or q.noisy),
            "speedup_threads": int(infos["quant"].get("threads") or 0),
            "speedup_isolation": ISOLATION, "fp32_file_bytes": _size(fp32_path)}


def _size(path: Path) -> int:
    """Bytes of an artifact (an OpenVINO .xml counts its .bin)."""
    p = Path(path)
    total = p.stat().st_size
    if p.suffix == ".xml" and p.with_suffix(".bin").exists():
        total += p.with_suffix(".bin").stat().st_size
    return total

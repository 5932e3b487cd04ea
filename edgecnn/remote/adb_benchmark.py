"""LiteRT's ``benchmark_model`` on a phone: build its command line, parse its output.

``benchmark_model`` (tensorflow/lite/tools/benchmark) prints, in microseconds::

    Initialized session in 32.163ms.
    count=32 first=19834 curr=15648 min=14936 max=21608 avg=15997.4 std=1663      (warm-up runs)
    count=64 first=16067 curr=15102 min=14661 max=17579 avg=15517.6 std=551       (regular runs)
    Inference timings in us: Init: 32163, First inference: 19834, Warmup (avg): 15997.4, Inference (avg): 15517.6
    Memory footprint delta from the start of the tool (MB): init=22.0273 overall=34.8281

and with ``--enable_op_profiling=true`` the tables of
``Operator-wise Profiling Info for Regular Benchmark Runs:`` ("Run Order",
"Top by Computation Time", "Summary by node type") in milliseconds. Lines may
carry an ``INFO: `` prefix (newer builds), columns may be tab- or
space-separated, and older builds have a ``[start]`` column; the parser reads
the column header row to find each field.

benchmark_model reports mean, min, max and standard deviation, not a median:
the record keeps those (``latency_ms_mean`` ...), says so with
``latency_statistic = "mean"`` and leaves ``latency_ms_p50`` unset rather than
invent it. Op rows use the record schema's layer-row names (``type``,
``time_ms`` = benchmark_model's average ms per run), as every other runtime's.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

_STAT = re.compile(r"count=(\d+)(?:\s+first=(\d+))?\s+curr=(\d+)(?:\s+min=(\d+)\s+max=(\d+)\s+avg=([\d.eE+-]+)"
                   r"\s+std=([\d.eE+-]+))?")
_INIT = re.compile(r"Initialized session in ([\d.]+)\s*ms")
_SUMMARY = re.compile(r"Inference timings in us:\s*Init:\s*([\d.]+),\s*First inference:\s*([\d.]+),\s*"
                      r"Warmup \(avg\):\s*([\d.eE+-]+),\s*Inference \(avg\):\s*([\d.eE+-]+)")
_MEMORY = re.compile(r"Memory footprint delta from the start of the tool \(MB\):\s*init=([\d.]+)\s+overall=([\d.]+)")
_LEGACY_MEMORY = re.compile(r"Peak memory footprint \(MB\):\s*init=([\d.]+)\s+overall=([\d.]+)")
_PEAK = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring:\s*([\d.]+)")
_SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"


@dataclass
class BenchmarkOutput:
    """What one ``benchmark_model`` run printed (times in milliseconds)."""

    init_ms: float | None = None
    first_inference_ms: float | None = None
    warmup: dict[str, float] = field(default_factory=dict)  # count, first_ms, min_ms, max_ms, mean_ms, std_ms
    inference: dict[str, float] = field(default_factory=dict)
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    peak_memory_mb: float | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)  # Run Order rows
    op_types: list[dict[str, Any]] = field(default_factory=list)  # Summary by node type rows
    delegates: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        """Record metrics, units in the names (ms, MB)."""
        inf = self.inference
        m: dict[str, Any] = {
            "latency_ms_mean": inf.get("mean_ms"), "latency_ms_min": inf.get("min_ms"),
            "latency_ms_max": inf.get("max_ms"), "latency_ms_std": inf.get("std_ms"),
            "runs": int(inf["count"]) if "count" in inf else None,
            "warmup_runs": int(self.warmup["count"]) if "count" in self.warmup else None,
            "warmup_ms_mean": self.warmup.get("mean_ms"), "init_ms": self.init_ms,
            "first_inference_ms": self.first_inference_ms, "memory_init_mb": self.memory_init_mb,
            "memory_added_mb": self.memory_overall_mb, "memory_peak_mb": self.peak_memory_mb,
            "timing_method": "benchmark_model", "latency_statistic": "mean",
        }
        if self.memory_overall_mb is not None or self.peak_memory_mb is not None:
            m["memory_method"] = ("benchmark_model: footprint delta from the tool's start (added) and its periodic "
                                  "peak monitor (peak)")
        if self.delegates:
            m["delegates"] = self.delegates
        # the tool times whole invocations: on a GPU delegate the copies to and from it are inside
        gpu = any("gpu" in str(d).lower() for d in self.delegates or [])
        m.update(latency_measure="end_to_end" if gpu else "host_call", includes_host_copies=gpu)
        return {k: v for k, v in m.items() if v is not None}


def _stat_ms(m: re.Match) -> dict[str, float]:
    count, first, curr, lo, hi, avg, std = m.groups()
    out: dict[str, float] = {"count": int(count), "curr_ms": int(curr) / 1e3}
    if first is not None:
        out["first_ms"] = int(first) / 1e3
    if lo is not None:
        out.update(min_ms=int(lo) / 1e3, max_ms=int(hi) / 1e3, mean_ms=float(avg) / 1e3, std_ms=float(std) / 1e3)
    return out


def _strip(line: str) -> str:
    line = line.rstrip("\r\n")
    for prefix in ("INFO: ", "I ", "INFO:"):
        if line.startswith(prefix):
            return line[len(prefix):]
    return line


def parse_benchmark_output(text: str) -> BenchmarkOutput:
    """Parse ``benchmark_model`` stdout+stderr. Raises ``ValueError`` when the
    output has no inference timings (the tool failed: its last lines say why)."""
    out = BenchmarkOutput()
    lines = [_strip(ln) for ln in text.splitlines()]
    stats = []
    in_profile = False
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("Profiling Info for Benchmark Initialization"):
            in_profile = False  # the init table has its own "Timings" line: skip it
        if _SECTION in s:
            in_profile = True
            out.ops, out.op_types = _parse_tables(lines[i + 1:])
            continue
        if s.startswith("Timings (microseconds):"):
            continue  # the profiler's own summaries (init and per-run); not the benchmark stats
        m = _STAT.search(s)
        if m and s.startswith("count=") and not in_profile:
            stats.append(_stat_ms(m))
            continue
        if (m := _INIT.search(s)):
            out.init_ms = float(m.group(1))
        elif (m := _SUMMARY.search(s)):
            init_us, first_us, warm_us, inf_us = (float(v) for v in m.groups())
            out.init_ms = init_us / 1e3
            out.first_inference_ms = first_us / 1e3
            out.warmup.setdefault("mean_ms", warm_us / 1e3)
            out.inference.setdefault("mean_ms", inf_us / 1e3)
        elif (m := _MEMORY.search(s)):
            out.memory_init_mb, out.memory_overall_mb = float(m.group(1)), float(m.group(2))
        elif (m := _LEGACY_MEMORY.search(s)):
            out.memory_init_mb, out.peak_memory_mb = float(m.group(1)), float(m.group(2))
        elif (m := _PEAK.search(s)):
            out.peak_memory_mb = float(m.group(1))
        elif "delegate" in s.lower() and s.startswith(("Created TensorFlow Lite", "Explicitly applied")):
            out.delegates.append(s)
    # benchmark_model prints warm-up stats first, then the regular runs
    if len(stats) >= 2:
        out.warmup.update(stats[-2])
        out.inference.update(stats[-1])
    elif len(stats) == 1:
        out.inference.update(stats[0])
    if "mean_ms" not in out.inference:
        errors = [ln.strip() for ln in lines if ln.strip().startswith(("ERROR", "E "))]
        tail = " | ".join(errors or [ln.strip() for ln in lines if ln.strip()][-3:])[-300:]
        raise ValueError(f"benchmark_model printed no inference timings: {tail or '(no output)'}")
    return out


def _columns(header: str) -> list[str]:
    return [c.lower() for c in re.findall(r"\[([^\]]+)\]", header)]


def _split_row(line: str, ncols: int) -> list[str]:
    """Split a table row into ``ncols`` cells: tabs when present, else runs of
    2+ spaces; the first (node type) and last (name) cells may hold spaces."""
    parts = [p.strip() for p in (line.split("\t") if "\t" in line else re.split(r"\s{2,}", line)) if p.strip()]
    if len(parts) > ncols:  # a name with double spaces: glue the tail back
        parts = parts[:ncols - 1] + ["  ".join(parts[ncols - 1:])]
    return parts


def _num(v: str) -> float | None:
    try:
        return float(v.rstrip("%"))
    except ValueError:
        return None


def _parse_tables(lines: list[str]) -> tuple[list[dict], list[dict]]:
    ops: list[dict] = []
    types: list[dict] = []
    table = None
    cols: list[str] = []
    for line in lines:
        s = line.strip()
        if s.startswith("====") and "Run Order" in s:
            table, cols = "run", []
            continue
        if s.startswith("====") and "Summary by node type" in s:
            table, cols = "types", []
            continue
        if s.startswith("====") or s.startswith("Timings (microseconds)"):
            if s.startswith("Timings"):
                break
            table = None  # "Top by Computation Time" repeats rows of Run Order
            continue
        if table is None or not s:
            continue
        if s.startswith("["):
            cols = _columns(s)
            continue
        if not cols:
            continue
        cells = _split_row(s, len(cols))
        if len(cells) != len(cols):
            continue
        row = dict(zip(cols, cells))
        if table == "run":
            name = row.get("name", "")
            m = re.match(r"^(.*):(\d+)$", name)
            ops.append({"type": row.get("node type"), "name": m.group(1) if m else name,
                        "node_index": int(m.group(2)) if m else None,
                        "first_ms": _num(row.get("first", "")), "time_ms": _num(row.get("avg ms", "")),
                        "percent": _num(row.get("%", "")), "times_called": int(_num(row.get("times called", "1")) or 1),
                        "mem_kb": _num(row.get("mem kb", ""))})
        else:
            types.append({"type": row.get("node type"), "count": int(_num(row.get("count", "0")) or 0),
                          "time_ms": _num(row.get("avg ms", "")), "percent": _num(row.get("avg %", "")),
                          "times_called": int(_num(row.get("times called", "1")) or 1)})
    return ops, types


def benchmark_command(binary: str, graph: str, num_threads: int | None = None, num_runs: int = 50,
                      warmup_runs: int = 10, op_profiling: bool = True, extra: list[str] | None = None,
                      min_secs: float | None = None, max_secs: float | None = None,
                      warmup_min_secs: float | None = None) -> str:
    """The shell command that runs ``benchmark_model`` on the phone. Like
    edgecnn's timing loop, ``num_runs``/``min_secs`` are both minimums
    (benchmark_model runs until it has both), ``max_secs`` a cap."""
    argv = [binary, f"--graph={graph}", f"--num_runs={int(num_runs)}", f"--warmup_runs={int(warmup_runs)}",
            f"--enable_op_profiling={'true' if op_profiling else 'false'}"]
    if num_threads:
        argv.insert(2, f"--num_threads={int(num_threads)}")
    for flag, value in (("min_secs", min_secs), ("max_secs", max_secs), ("warmup_min_secs", warmup_min_secs)):
        if value is not None:
            argv.append(f"--{flag}={float(value):g}")
    argv += list(extra or [])
    return shlex.join(argv) + " 2>&1"


def run_benchmark_model(transport, spec, template, artifact, info, timing: dict | None, threads: int | None,
                        device_env: dict) -> list:
    """Push a .tflite to the phone, run ``benchmark_model`` on it, parse the
    output. Returns a ``latency`` record and, when the op profile was printed,
    a ``layer_latency`` record (per-op rows in ``metrics["layers"]``, ms)."""
    from edgecnn.remote.transports import connection_settings
    from edgecnn.records import Record

    timing = timing or {}
    conn = connection_settings(spec)
    binary = str(info.extra["benchmark_model"])  # where the probe found it (connection.benchmark_model or the workdir)
    transport.push([artifact], transport.remote_path("artifacts"))
    graph = transport.remote_path(f"artifacts/{artifact.name}")
    if not threads:  # edgecnn's default, as on other devices
        from edgecnn.runtime.base import thread_rule

        threads = thread_rule(device_env.get("cpu_count") or 4)
    cmd = benchmark_command(binary, graph, num_threads=threads, num_runs=int(timing.get("runs") or 50),
                            warmup_runs=int(timing.get("warmup") or 10), op_profiling=True,
                            extra=list(conn.get("benchmark_model_args") or []),
                            min_secs=timing.get("min_time_s"), max_secs=timing.get("max_time_s"),
                            warmup_min_secs=timing.get("warmup_s"))
    out = transport.run(cmd)
    base = template.to_dict()
    base["env"] = {**device_env, "benchmark_model_command": cmd}
    try:
        parsed = parse_benchmark_output(out.stdout + "\n" + out.stderr)
    except ValueError as exc:
        return [Record.from_dict({**base, "status": "failed", "error": str(exc)})]
    from edgecnn.remote.roof import unit_peaks

    peaks = unit_peaks(spec, "litert")
    latency = Record.from_dict({**base, **parsed.metrics(), "threads": threads, "artifact": artifact.name,
                                "artifact_bytes": artifact.stat().st_size, "device_peaks": peaks,
                                "isolation": "benchmark_model alone on the phone"})
    records = [latency]
    if parsed.ops:
        layer = {**base, "kind": "layer_latency", "layers": parsed.ops, "op_types": parsed.op_types,
                 "timing_method": "benchmark_model --enable_op_profiling", "device_peaks": peaks}
        records.append(Record.from_dict(layer))
    return records

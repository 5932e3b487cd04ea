"""Upgrades of record rows written by older schema versions (``edgecnn/schema.py``
declares the current one); ``RecordStore`` reads every row through ``upgrade``."""

from __future__ import annotations

from typing import Any, Mapping

SCHEMA_VERSION = 3  # the current version; edgecnn.schema re-exports it


_PERCENT_V1 = {"export": ("top1", "top1_reference", "top1_drop", "top1_agreement")}
_RENAMED_V1 = {"separable": {"latency_ms_separable": "separable_ms_p50", "latency_ms_standard": "standard_ms_p50"},
               "latency": {"memory_overall_mb": "memory_added_mb", "peak_memory_mb": "memory_peak_mb"}}
_ROW_RENAMED_V1 = {"avg_ms": "time_ms", "node_type": "type"}


def upgrade(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of an older schema version, in the current one (a new dict).
    Each version's step is below (``_upgrade_v1``, ``_upgrade_v2``).

    Version 1 (before the schema was declared): export records held top-1
    figures as fractions (now percent); benchmark_model rows used ``avg_ms`` /
    ``node_type`` (now ``time_ms`` / ``type``) and named memory figures
    differently; prepared TensorRT builds were ``ok`` (now ``prepared``)."""
    out = dict(row)
    version = out.get("schema_version", 1) or 1
    if version >= SCHEMA_VERSION:
        return out
    if version < 2:
        _upgrade_v1(out)
    if version < 3:
        _upgrade_v2(out)
    out["schema_version"] = SCHEMA_VERSION
    return out


def _upgrade_v2(out: dict[str, Any]) -> None:
    """Version 2: a GPU latency (the torch runner on CUDA) timed the whole call,
    copies from pageable host memory included (``includes_host_copies``), with
    nothing saying what the headline measured; version 3 declares it."""
    gpu = "cuda" in str(out.get("variant") or "").split("+")
    if out.get("kind") == "latency" and out.get("includes_host_copies") and "latency_measure" not in out:
        if gpu:
            out["latency_measure"] = "end_to_end"
        else:  # the host CPU's records of the same run said so too, but there is no device to copy to
            out["includes_host_copies"] = False
            out["latency_measure"] = "host_call"
    if out.get("kind") == "separable" and out.get("accel") == "cuda" and "latency_measure" not in out:
        out["latency_measure"] = "end_to_end"  # the torch runner's call, copies of the block's input included


def _upgrade_v1(out: dict[str, Any]) -> None:
    kind = out.get("kind")
    for name in _PERCENT_V1.get(kind, ()):
        v = out.get(name)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[name] = v * 100.0
    for old, new in _RENAMED_V1.get(kind, {}).items():
        if old in out and new not in out:
            out[new] = out.pop(old)
    if kind == "latency" and out.get("timing_method") == "benchmark_model" and out.get("latency_ms_p50") is None:
        out.setdefault("latency_statistic", "mean")
    if isinstance(out.get("layers"), list):
        out["layers"] = [{_ROW_RENAMED_V1.get(k, k): v for k, v in r.items()} if isinstance(r, dict) else r
                         for r in out["layers"]]
    if kind == "export" and out.get("n_images") and "parity_runtime" not in out:
        out["parity_runtime"] = "onnxruntime" if out.get("prepared_only") else out.get("runtime")
    if kind == "export" and out.get("prepared_only"):
        out["runtime"] = "tensorrt"  # v1 named the runtime that checked the prepared ONNX
        if out.get("status") == "ok":
            out["status"] = "prepared"

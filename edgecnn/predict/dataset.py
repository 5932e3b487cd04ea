"""What the latency model learns from: every measured whole-model latency in
a records folder, with the roof of the unit that ran it.

A **situation** is one (device, compute unit, runtime, configuration,
precision, batch): the CPU of a machine at a thread count, or a GPU in one
configuration (eager, channels-last, CUDA graphs, compiled). Its parameters
are fitted on its measurements; the devices it is compared across are the
(device, unit, configuration) it belongs to. Only device-time figures count
on a GPU (``latency_measure = "device_compute"``): a GPU figure with the
host copies inside measures the copies.

The roof of each measurement: the ``device_peaks`` the record carries (this
machine's detected peaks when it was measured), else the peaks a predicted
record of the same device and unit used, else the device's TOML file; a CPU
peak is scaled to the threads the runtime used (of the machine's cores).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from edgecnn.records import Record
from edgecnn.runtime import compute_unit


@dataclass(frozen=True)
class Situation:
    device: str
    unit: str  # cpu | gpu
    runtime: str
    config: str  # threads=2 | cuda+channels_last | ...
    precision: str
    batch: int

    @property
    def machine(self) -> str:
        """What a leave-one-device-out validation holds out together: a CPU at
        one thread count; a GPU with all its configurations (eager, graphs,
        compiled run the same silicon)."""
        return f"{self.device}:{self.unit}" if self.unit == "gpu" else f"{self.device}:{self.unit}:{self.config}"

    def label(self) -> str:
        return f"{self.device} {self.unit} {self.config} {self.runtime} {self.precision} b{self.batch}"


@dataclass(frozen=True)
class Measurement:
    situation: Situation
    model: str
    input_size: int
    ms: float
    peak_gmacs_per_s: float
    bandwidth_gb_per_s: float


def _unit_of(rec: Record) -> str:
    accel = "cuda" if "cuda" in (rec.variant or "").split("+") else "cpu"
    return compute_unit(rec.runtime or "torch", accel)


def _cores(rec: Record) -> int:
    fp = rec.env.get("fingerprint") if isinstance(rec.env, dict) else None
    if isinstance(fp, dict) and fp.get("cores"):
        return int(fp["cores"])
    return int((rec.env or {}).get("cpu_count") or rec.metric("threads") or 1)


def _peaks_from_predictions(records: list[Record]) -> dict[tuple[str, str], tuple[dict, float]]:
    """(device, unit) -> (peak GMAC/s per precision, bandwidth) as its predicted records used them."""
    out: dict[tuple[str, str], tuple[dict, float]] = {}
    for r in records:
        if r.kind == "latency" and r.ok and r.source == "predicted" and r.metric("peak_gmacs_per_s"):
            unit = r.metric("compute_unit") or "cpu"
            peaks, bw = out.get((r.device, unit), ({}, r.metric("memory_bandwidth_gb_per_s")))
            peaks = dict(peaks)
            peaks.setdefault(r.metric("peak_precision_used") or r.precision, r.metric("peak_gmacs_per_s"))
            out[(r.device, unit)] = (peaks, bw)
    return out


@functools.lru_cache(maxsize=32)
def _toml_unit(device: str, unit: str) -> Optional[tuple[dict, float]]:
    from edgecnn.devices.spec import load_device
    from edgecnn.errors import EdgeCNNError

    try:
        cu = load_device(device).unit(unit)
    except EdgeCNNError:
        return None
    return dict(cu.peak_gmacs_per_s), cu.memory_bandwidth_gb_per_s


def _peak_for(peaks: dict, precision: str) -> Optional[float]:
    for p in (precision, "fp16" if precision == "bf16" else precision, "fp32"):
        if peaks.get(p):
            return float(peaks[p])
    return None


def roof_of(rec: Record, unit: str, predicted: dict) -> Optional[tuple[float, float]]:
    """(peak GMAC/s at the record's precision and threads, bandwidth GB/s) of the unit that ran ``rec``."""
    dp = rec.metric("device_peaks")
    if isinstance(dp, dict) and dp.get("gmacs_per_s"):
        peaks, bw = dp["gmacs_per_s"], dp.get("memory_bandwidth_gb_per_s")
    elif (rec.device, unit) in predicted:
        peaks, bw = predicted[(rec.device, unit)]
    else:
        found = None if rec.device.startswith("local") else _toml_unit(rec.device, unit)
        if found is None:
            return None
        peaks, bw = found
    peak = _peak_for(peaks, rec.precision)
    if not peak or not bw:
        return None
    if unit == "cpu":
        threads = rec.metric("threads") or _cores(rec)
        peak *= min(1.0, float(threads) / max(1, _cores(rec)))
    return peak, float(bw)


def situation_of(rec: Record, unit: str) -> Situation:
    config = f"threads={rec.metric('threads')}" if unit == "cpu" else (rec.variant or "cuda")
    return Situation(rec.device, unit, rec.runtime or "torch", config, rec.precision, rec.batch)


def measurements(records: Iterable[Record]) -> list[Measurement]:
    """Every usable measured latency (see the module doc), newest per identity."""
    records = _newest_per_config(records)
    remember_costs(records)
    predicted = _peaks_from_predictions(records)
    out = []
    for r in records:
        if r.kind != "latency" or not r.ok or r.source != "measured" or not r.input_shape:
            continue
        ms = r.metric("latency_ms_p50")
        unit = _unit_of(r)
        measure = r.metric("latency_measure") or ("host_call" if unit == "cpu" else "end_to_end")
        if not ms or ms <= 0 or (unit == "gpu" and measure != "device_compute"):
            continue
        if unit == "cpu" and r.variant not in (None, "channels_last"):
            continue
        roof = roof_of(r, unit, predicted)
        if roof is None:
            continue
        out.append(Measurement(situation_of(r, unit), r.model, int(r.input_shape[-1]), float(ms), *roof))
    return out


def _newest_per_config(records: Iterable[Record]) -> list[Record]:
    """The newest record per identity *and* thread count (a record's identity
    leaves the threads out; here two thread counts are two devices)."""
    best: dict[tuple, Record] = {}
    for r in records:
        key = (r.key(), r.metrics.get("threads"))
        if key not in best or str(best[key].created_at or "") <= str(r.created_at or ""):
            best[key] = r
    return list(best.values())


def group(ms: Iterable[Measurement]) -> dict[Situation, list[Measurement]]:
    by: dict[Situation, list[Measurement]] = {}
    for m in ms:
        by.setdefault(m.situation, []).append(m)
    return by


# (model, input side) -> fp32 cost rows at batch 1, from ``cost`` records already at hand (no recount)
_KNOWN_ROWS: dict[tuple[str, int], tuple[Any, ...]] = {}


def remember_costs(records: Iterable[Record]) -> None:
    """Keep the per-layer rows of ``ok`` fp32 ``cost`` records, so
    ``cost_rows`` need not count those models again."""
    for r in records:
        if r.kind == "cost" and r.ok and r.precision == "fp32" and r.batch == 1 and r.input_shape \
                and isinstance(r.metric("layers"), list) and r.metric("layers"):
            _KNOWN_ROWS[(r.model, int(r.input_shape[-1]))] = tuple(r.metric("layers"))


def cost_rows(model: str, input_size: int) -> tuple[Any, ...]:
    """The model's cost rows at batch 1 (fp32 bytes; a zoo name or any model
    source): from a ``cost`` record seen by ``remember_costs``, else counted."""
    key = (model, int(input_size))
    if key not in _KNOWN_ROWS:
        from edgecnn.cost.zoo_table import count_zoo

        _KNOWN_ROWS[key] = tuple(count_zoo(model, input_size, "fp32").layers)
    return _KNOWN_ROWS[key]


def precision_rows(m: Measurement, rows: Optional[Any] = None) -> Any:
    """The cost rows of a measurement's model, their bytes at its precision (half for fp16 and bf16)."""
    bytes_scale = 0.5 if m.situation.precision in ("fp16", "bf16") else 1.0
    rows = rows if rows is not None else cost_rows(m.model, m.input_size)
    return [_scaled(r, bytes_scale) for r in rows] if bytes_scale != 1.0 else rows


def features(m: Measurement, rows: Optional[Any] = None) -> Any:
    """The latency model's features of one measurement (``latency_model.model_features``)."""
    from edgecnn.predict.latency_model import model_features

    return model_features(precision_rows(m, rows), m.peak_gmacs_per_s, m.bandwidth_gb_per_s,
                          runtime=m.situation.runtime, batch=m.situation.batch)


def layer_times(records: Iterable[Record]) -> dict[Situation, dict[tuple[str, int], Any]]:
    """Situation -> (model, input side) -> ``kernels.LayerTimes``: every measured
    ``layer_latency`` record (newest per identity and thread count) whose
    model also has a usable whole-model latency of the same situation (see
    ``measurements``), the raw material of a kernel table."""
    from edgecnn.predict.kernels import LayerTimes

    records = _newest_per_config(records)
    whole = {(m.situation, m.model, m.input_size): m for m in measurements(records)}
    out: dict[Situation, dict[tuple[str, int], Any]] = {}
    for r in records:
        if r.kind != "layer_latency" or not r.ok or r.source != "measured" or not r.input_shape:
            continue
        rows = r.metric("layers")
        if not isinstance(rows, list):
            continue
        m = whole.get((situation_of(r, _unit_of(r)), r.model, int(r.input_shape[-1])))
        if m is not None:
            out.setdefault(m.situation, {})[(m.model, m.input_size)] = LayerTimes(
                r.model, rows, m.ms, m.peak_gmacs_per_s, m.bandwidth_gb_per_s, m.situation.batch)
    return out


def _scaled(row: Any, scale: float) -> dict[str, Any]:
    from edgecnn.cost.layer_class import field_of

    keys = ("name", "type", "category", "kernel", "groups", "in_channels", "macs")
    d = {k: field_of(row, k) for k in keys}
    d["bytes_read"] = (field_of(row, "bytes_read") or 0) * scale
    d["bytes_written"] = (field_of(row, "bytes_written") or 0) * scale
    return d

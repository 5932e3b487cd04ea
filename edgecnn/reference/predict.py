"""Predict the latency of the default models on the GPU machine before any of
them is timed there: the GPU from ``devices/h200-box.toml`` (the vendor's
peak figures), the host CPU from what ``edgecnn.devices.spec.detect_local``
finds on it (its model is not documented, so its peaks are estimated from
its flags and clock, and its memory bandwidth is measured with numpy).

Both use the project's roofline predictor (``edgecnn.predict.roofline``).
The host CPU's prediction is calibrated per op class on the torch per-layer
records in ``docs/records`` (measured on the build machine's CPU), against
the peak and bandwidth that machine's own predictions recorded; the GPU's is
the pure roofline (a CPU calibration is never applied to a GPU). Each record
also carries the pure roofline figure (``roofline_ms``), so the report can
show both errors on hardware the predictor never saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from edgecnn.predict.roofline import Calibration, predict_layers
from edgecnn.devices.spec import ComputeUnit, DeviceSpec
from edgecnn.records import Record, RecordStore

REASON = "predicted before the model was timed on this machine (hardware the predictor was not calibrated on)"


def calibration_machine(store: RecordStore) -> Optional[DeviceSpec]:
    """The peak (GMAC/s) and bandwidth (GB/s) of the machine that measured the
    layer records in ``store``, as its own predictions recorded them (the
    ``calibration`` of a predicted latency record); None when none is there."""
    for rec in reversed(store.load(kind="latency")):
        cal = rec.metrics.get("calibration") or {}
        if rec.source == "predicted" and cal.get("device") == "local" and cal.get("peak_gmacs_per_s") \
                and cal.get("memory_bandwidth_gb_per_s"):
            cpu = ComputeUnit("cpu", peak_gmacs_per_s={"fp32": float(cal["peak_gmacs_per_s"])},
                              memory_bandwidth_gb_per_s=float(cal["memory_bandwidth_gb_per_s"]),
                              kind={"fp32": "derived", "memory_bandwidth": "measured"},
                              how={"fp32": "as the build machine's prediction recorded it",
                                   "memory_bandwidth": "as the build machine's prediction recorded it"},
                              sources=[f"calibration recorded by the {rec.device} prediction of {rec.model} "
                                       f"({rec.created_at})"])
            return DeviceSpec(name="local", description="the machine that measured the calibration records",
                              units={"cpu": cpu})
    return None


def reference_calibration(records_root: Path, runtime: str = "torch") -> Calibration:
    """Per op-class fit on the build machine's measured layers of ``runtime``
    (uncalibrated when the records or that machine's figures are missing)."""
    from edgecnn.predict.calibrate import calibration_for

    store = RecordStore(records_root)
    machine = calibration_machine(store) if Path(records_root).is_dir() else None
    if machine is None:
        cal = Calibration.uncalibrated()
        cal.note = f"no calibration records with machine figures under {records_root}: pure roofline"
        return cal
    return calibration_for(store, runtime, local=machine)


def host_cpu_spec() -> DeviceSpec:
    """This machine as ``devices/local.toml`` detects it (its CPU: derived peaks, measured bandwidth)."""
    from edgecnn.devices.spec import load_device

    return load_device("local")


def predicted_record(model: str, cost: Any, spec: DeviceSpec, *, precision: str, batch: int,
                     calibration: Calibration, device_name: str, accel: str, env: dict[str, Any],
                     threads: Optional[int] = None) -> Record:
    """One ``latency`` record, ``source="predicted"``, for ``model`` (``cost``:
    its ``count_cost`` report at batch 1 and ``precision``) on ``spec``'s compute
    unit at ``batch``, torch eager (no fusion). ``variant``: "predicted", then
    "+cuda" for the GPU, so it pairs with the measured record's variant."""
    unit_name = "gpu" if accel != "cpu" else "cpu"
    unit = spec.unit(unit_name)
    peak, used = unit.peak(precision)
    bw = unit.memory_bandwidth_gb_per_s
    if unit_name != "cpu":  # a calibration fitted on a CPU is never applied to a GPU
        calibration = Calibration.uncalibrated()
        calibration.note = "pure roofline: the only calibration is fitted on the build machine's CPU"
    rows = predict_layers(cost.layers, peak, bw, calibration, fuse=False, batch=batch)
    roof = predict_layers(cost.layers, peak, bw, Calibration.uncalibrated(), fuse=False, batch=batch)
    ms = sum(r["predicted_ms"] for r in rows)
    roof_ms = sum(r["predicted_ms"] for r in roof)
    compute_bound = sum(r["predicted_ms"] for r in rows if r["bound"] == "compute")
    macs = int(cost.totals["conv_linear_macs"])
    metrics = {
        "latency_ms_p50": ms, "predicted": True, "prediction_reason": REASON, "macs": macs,
        "achieved_gmacs_per_s": macs * batch / (ms * 1e6) if ms > 0 else None,
        "peak_gmacs_per_s": peak, "peak_precision_used": used, "memory_bandwidth_gb_per_s": bw,
        "peak_kind": dict(unit.kind), "peak_sources": list(unit.sources),
        "compute_unit": unit_name, "predicted_for": spec.description or spec.name,
        "calibration_device": calibration.device if calibration.runtime else None,
        "compute_bound_share": compute_bound / ms if ms else None, "roofline_ms": roof_ms,
        "calibration": calibration.to_dict(), "layers": rows,
    }
    if threads:
        metrics["threads"] = threads
    size = int(cost.input_shape[-1])
    return Record(kind="latency", model=model, source="predicted", device=device_name, runtime="torch",
                  format="pytorch", precision=precision, batch=batch, input_shape=[3, size, size],
                  variant="predicted" if accel == "cpu" else f"predicted+{accel}", metrics=metrics,
                  env=dict(env, compute_unit=unit_name, predicted_device=spec.name))


def predict_all(models: tuple[str, ...], gpu: DeviceSpec, host: DeviceSpec, calibration: Calibration, *,
                gpu_runs: tuple[tuple[str, int], ...], cpu_runs: tuple[tuple[str, int], ...], device_name: str,
                env: dict[str, Any], host_threads: int, input_size: Optional[int] = None) -> list[Record]:
    """Predicted records for every model: the GPU of ``gpu`` at each (precision,
    batch) of ``gpu_runs``, the host CPU at each of ``cpu_runs`` with ``host_threads``."""
    from edgecnn.cost.engine import count_model

    out: list[Record] = []
    for name in models:
        costs: dict[str, Any] = {}

        def cost_of(precision: str) -> Any:
            if precision not in costs:
                costs[precision] = count_model(name, input_size, precision)
            return costs[precision]

        for precision, batch in gpu_runs:
            cost = cost_of(precision)
            out.append(predicted_record(name, cost, gpu, precision=precision, batch=batch, calibration=calibration,
                                        device_name=device_name, accel="cuda", env=env))
        for precision, batch in cpu_runs:
            cost = cost_of(precision)
            out.append(predicted_record(name, cost, host, precision=precision, batch=batch,
                                        calibration=calibration, device_name=device_name, accel="cpu", env=env,
                                        threads=host_threads))
    return out

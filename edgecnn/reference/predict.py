"""Predict the latency of the default models on the GPU machine before any of
them is timed there: the GPU from ``devices/h200-box.toml`` (the vendor's
peak figures), the host CPU from what ``edgecnn.devices.spec.detect_local``
finds on it (its model is not documented, so its peaks are estimated from
its flags and clock, and its memory bandwidth is measured with numpy).

Both use the project's latency model (``edgecnn.predict.latency_model``) with
the prior learned from the repository's records of *other* devices
(``reference_knowledge``: the records of the device being predicted are left
out, so the prediction is what a user gets for hardware edgecnn has not
measured). Each record also carries the pure roofline figure
(``roofline_ms``), so the report can show both errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from edgecnn.devices.spec import DeviceSpec
from edgecnn.predict.calibrate import Knowledge
from edgecnn.records import Record, RecordStore

REASON = "predicted before the model was timed on this machine (hardware the predictor was not calibrated on)"


def reference_knowledge(records_roots: Any, leave_out: str) -> Knowledge:
    """What the records under ``records_roots`` (a folder or several) say of
    latency, without the records of device ``leave_out``."""
    roots = [records_roots] if isinstance(records_roots, (str, Path)) else list(records_roots)
    recs = [r for root in roots if Path(root).is_dir() for r in RecordStore(root).load() if r.device != leave_out]
    return Knowledge(recs)


def host_cpu_spec() -> DeviceSpec:
    """This machine as ``devices/local.toml`` detects it (its CPU: derived peaks, measured bandwidth)."""
    from edgecnn.devices.spec import load_device

    return load_device("local")


def predicted_record(model: str, cost: Any, spec: DeviceSpec, *, precision: str, batch: int,
                     known: Knowledge, device_name: str, accel: str, env: dict[str, Any],
                     threads: Optional[int] = None) -> Record:
    """One ``latency`` record, ``source="predicted"``, for ``model`` (``cost``:
    its ``count_cost`` report at batch 1 and ``precision``) on ``spec``'s compute
    unit at ``batch``, torch eager (no fusion). ``variant``: "predicted", then
    "+cuda" for the GPU, so it pairs with the measured record's variant."""
    from edgecnn.predict.calibrate import params_for
    from edgecnn.predict.dataset import Situation
    from edgecnn.predict.latency_model import predict_rows

    unit_name = "gpu" if accel != "cpu" else "cpu"
    unit = spec.unit(unit_name)
    peak, used = unit.peak(precision)
    bw = unit.memory_bandwidth_gb_per_s
    config = accel if unit_name != "cpu" else f"threads={threads or 'all'}"
    params, calibrated_on, where = params_for(known, Situation(device_name, unit_name, "torch", config, precision,
                                                               batch))
    ms, rows = predict_rows(cost.layers, peak, bw, params, runtime="torch", batch=batch)
    roof_ms = sum(max(r["compute_ms"], r["memory_ms"]) for r in rows if r["predicted_ms"] > 0)
    compute_bound = sum(r["predicted_ms"] for r in rows if r["bound"] == "compute")
    macs = int(cost.totals["conv_linear_macs"])
    metrics = {
        "latency_ms_p50": ms, "predicted": True, "prediction_reason": REASON, "macs": macs,
        "achieved_gmacs_per_s": macs * batch / (ms * 1e6) if ms > 0 else None,
        "peak_gmacs_per_s": peak, "peak_precision_used": used, "memory_bandwidth_gb_per_s": bw,
        "peak_kind": dict(unit.kind), "peak_sources": list(unit.sources),
        "compute_unit": unit_name, "predicted_for": spec.description or spec.name, "config": config,
        "latency_params": params.to_dict(), "params_source": where, "calibrated_on": calibrated_on,
        "prior_devices": list(params.prior_devices), "calibration_device": None,
        "compute_bound_share": compute_bound / ms if ms else None, "roofline_ms": roof_ms, "layers": rows,
    }
    if threads:
        metrics["threads"] = threads
    size = int(cost.input_shape[-1])
    return Record(kind="latency", model=model, source="predicted", device=device_name, runtime="torch",
                  format="pytorch", precision=precision, batch=batch, input_shape=[3, size, size],
                  variant="predicted" if accel == "cpu" else f"predicted+{accel}", metrics=metrics,
                  env=dict(env, compute_unit=unit_name, predicted_device=spec.name))


def predict_all(models: tuple[str, ...], gpu: DeviceSpec, host: DeviceSpec, known: Knowledge, *,
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
            out.append(predicted_record(name, cost, gpu, precision=precision, batch=batch, known=known,
                                        device_name=device_name, accel="cuda", env=env))
        for precision, batch in cpu_runs:
            cost = cost_of(precision)
            out.append(predicted_record(name, cost, host, precision=precision, batch=batch,
                                        known=known, device_name=device_name, accel="cpu", env=env,
                                        threads=host_threads))
    return out

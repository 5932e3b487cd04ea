"""Calibrate the roofline predictor on this machine's measured layers.

Reads ``layer_latency`` records measured on ``local`` (from ``profiles/``),
fits per op class (``edgecnn.predict.roofline.fit_calibration``) against the
local peak figures, and compares predicted with measured whole-model
latency per model (``prediction_errors``), fitting on the *other* models
(leave-one-model-out) so the error is not flattered by fitting on itself.
"""

from __future__ import annotations

from typing import Any, Optional

from edgecnn.predict.roofline import Calibration, FUSING_RUNTIMES, fit_calibration, predict_model_ms
from edgecnn.records import RecordStore

PREFERRED = ("onnxruntime", "torch")


def _local_layer_records(store: RecordStore, runtime: Optional[str]):
    recs = [r for r in store.latest(kind="layer_latency", device="local").values()
            if r.ok and r.source == "measured" and r.metrics.get("layers")]
    if runtime:
        recs = [r for r in recs if r.runtime == runtime]
    return recs


def calibration_for(store: RecordStore, runtime: str, exclude_model: Optional[str] = None,
                    local: Any = None) -> Calibration:
    """Fit on local measured layers of ``runtime`` (falling back to the first of
    onnxruntime, torch that has records); uncalibrated if there are none."""
    from edgecnn.devices.spec import load_device

    chosen = None
    for rt in (runtime, *PREFERRED):
        recs = [r for r in _local_layer_records(store, rt) if r.model != exclude_model]
        if recs:
            chosen = rt
            break
    if chosen is None:
        return Calibration.uncalibrated()
    local = local or load_device("local")
    peak, _ = local.peak("fp32", "cpu")
    rows = [row for r in recs for row in r.metrics["layers"] if row.get("matched") and row.get("macs") is not None]
    cal = fit_calibration(rows, peak, local.unit("cpu").memory_bandwidth_gb_per_s, device="local", runtime=chosen,
                          models=sorted({r.model for r in recs}))
    if chosen != runtime:
        cal.note = f"no local per-layer records for {runtime}; calibrated on {chosen}"
    return cal


def prediction_errors(store: RecordStore, runtime: str = "onnxruntime", local: Any = None) -> list[dict[str, Any]]:
    """Per model: measured local median, predicted (leave-one-model-out and
    in-sample) and relative errors. Needs local latency + layer_latency records."""
    from edgecnn.devices.spec import load_device

    local = local or load_device("local")
    peak, _ = local.peak("fp32", "cpu")
    bw = local.unit("cpu").memory_bandwidth_gb_per_s
    lat = {r.model: r for r in store.latest(kind="latency", device="local", runtime=runtime).values()
           if r.ok and r.source == "measured" and r.batch == 1 and r.variant is None}
    layer_recs = {r.model: r for r in _local_layer_records(store, runtime)}
    costs = {r.model: r for r in store.latest(kind="cost", device="local").values() if r.ok and r.metrics.get("layers")}
    out = []
    full = calibration_for(store, runtime, local=local)
    fuse = runtime in FUSING_RUNTIMES
    for model, rec in sorted(lat.items()):
        if model not in costs:
            continue
        rows = costs[model].metrics["layers"]
        loo = calibration_for(store, runtime, exclude_model=model, local=local)
        p_loo = predict_model_ms(rows, peak, bw, loo, fuse=fuse)
        p_in = predict_model_ms(rows, peak, bw, full, fuse=fuse)
        meas = rec.metrics["latency_ms_p50"]
        out.append({"model": model, "runtime": runtime, "measured_ms": meas, "predicted_ms": p_loo,
                    "error": (p_loo - meas) / meas, "predicted_in_sample_ms": p_in,
                    "error_in_sample": (p_in - meas) / meas, "calibrated_on": loo.models,
                    "has_layers": model in layer_recs})
    return out


def error_band(store: RecordStore, runtime: str, unit: str, calibration: Calibration) -> dict[str, Any]:
    """The expected error of a prediction, from the latest ``prediction_error``
    record of ``runtime`` on this machine (``benchmarks/bench_predict.py``): the
    share within +-10 % / +-25 %, the median and p90 |error|. Without a
    calibration, or without a validation, the band says so instead."""
    if not calibration.runtime:
        return {"validated": False, "note": f"pure roofline on the {unit}: no measured calibration or validation "
                                            f"covers it; expect it to be optimistic"}
    checks = [r for r in store.load(kind="prediction_error", device="local")
              if r.ok and r.runtime == calibration.runtime and r.metric("compute_unit") == unit]
    if not checks:
        return {"validated": False, "note": "no validation of this runtime's predictions yet: run "
                                            "benchmarks/bench_predict.py"}
    last = max(checks, key=lambda r: str(r.created_at))
    band = {k: last.metric(k) for k in ("within_10_pct", "within_25_pct", "median_abs_error", "p90_abs_error",
                                        "spearman", "models")}
    return {"validated": True, **band, "validated_at": last.created_at, "method": last.metric("method"),
            "note": "validated on this machine's CPU; another CPU adds error not measured here"}

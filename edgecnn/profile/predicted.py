"""The predicted step: roofline latency for a device edgecnn cannot measure.

Each runtime runs on one compute unit of the device (``DeviceSpec.unit_of``:
ONNX Runtime's CPU provider, LiteRT and torch on the CPU; TensorRT and torch
CUDA on the GPU), and its layers are predicted with that unit's peaks
(``edgecnn.predict.roofline``): never faster than the roofline bound
max(MACs / peak, bytes / bandwidth). The per-op-class calibration fitted on
this machine's measured layers is applied only to a unit of the same kind
(a CPU calibration for a CPU); other units get the pure roofline, and the
record says which device its calibration came from (``calibration_device``).
Predicted records carry the expected error band of the latest validation of
their kind (``benchmarks/bench_predict.py``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from edgecnn.errors import EdgeCNNError
from edgecnn.profile.records import fail, published_accuracy, template, with_metrics
from edgecnn.records import Record, RecordStore


def predict_records(models: Sequence[str], device: Any, opts: Any, store: RecordStore, reason: str,
                    progress: Callable[..., None] = lambda *a, **k: None) -> list[Record]:
    """Predicted latency records (``source="predicted"``, ``variant="predicted"``)
    for ``models`` x ``opts.runtimes`` on ``device``. A device whose TOML has no
    peak figures at all cannot be predicted: the error says why it was not
    measured either."""
    from edgecnn.cost.sources import count_source, source_fields
    from edgecnn.models.sources import resolve_source
    from edgecnn.predict.roofline import FUSING_RUNTIMES, Calibration, predict_layers
    from edgecnn.predict.calibrate import calibration_for, error_band
    if not device.units:
        raise EdgeCNNError(f"{reason}; and it cannot be predicted: device {device.name!r} has no peak compute "
                           f"figure ([peak.cpu] / [peak.gpu] in {device.path})")
    progress(f"{device.name}: {reason}; writing PREDICTED records (roofline per compute unit)")
    written: list[Record] = []
    listed = device.runtimes
    cals: dict[str, Calibration] = {}  # per runtime, fitted on local layer records this loop does not write

    def keep(rec: Record) -> None:
        store.append(rec)
        written.append(rec)

    for spec in models:
        src = resolve_source(spec, input_size=opts.input_size)
        name, size, shape = src.id, src.input_size, src.input_shape
        extra = source_fields(src) if src.kind != "zoo" else {}
        try:
            cost = count_source(src, opts.precision if opts.precision in ("fp32", "fp16", "int8") else "fp32")
        except Exception as exc:
            for rt in opts.runtimes:
                keep(fail(template("latency", name, rt, device.name, opts, shape, "predicted", "predicted"),
                          "failed", f"cannot build/count {name}: {exc}", **extra))
            progress(None, advance=1)
            continue
        macs = int(cost.totals["conv_linear_macs"])
        published = published_accuracy(name, size, src.num_classes, device.name) if src.kind == "zoo" else None
        if published is not None and not store.has_ok(published):
            keep(published)
        for rt in opts.runtimes:
            tmpl = template("latency", name, rt, device.name, opts, shape, "predicted", "predicted")
            if listed and rt not in listed:
                keep(fail(tmpl, "unsupported", f"device {device.name!r} does not list runtime {rt!r} "
                                               f"(its runtimes: {', '.join(listed)})", **extra))
                continue
            unit_name = device.unit_of(rt, opts.accel)
            try:
                unit = device.unit(unit_name)
                peak, used = unit.peak(opts.precision)
            except EdgeCNNError as exc:
                keep(fail(tmpl, "unsupported", f"{rt} runs on the {unit_name} here: {exc}", **extra))
                continue
            bw = unit.memory_bandwidth_gb_per_s
            cal = _calibration(rt, unit_name, store, cals, calibration_for)
            rows = predict_layers(cost.layers, peak, bw, cal, fuse=rt in FUSING_RUNTIMES, batch=opts.batch)
            ms = sum(r["predicted_ms"] for r in rows)
            compute_bound = sum(r["predicted_ms"] for r in rows if r["bound"] == "compute")
            keep(with_metrics(tmpl, {
                "latency_ms_p50": ms, "predicted": True, "prediction_reason": reason, "macs": macs,
                "achieved_gmacs_per_s": macs * opts.batch / (ms * 1e6) if ms > 0 else None,
                "compute_unit": unit_name, "peak_gmacs_per_s": peak, "peak_precision_used": used,
                "memory_bandwidth_gb_per_s": bw, "peak_kind": dict(unit.kind),
                "compute_bound_share": compute_bound / ms if ms else None, "calibration": cal.to_dict(),
                "calibration_device": cal.device if cal.runtime else None,
                "error_band": error_band(store, rt, unit_name, cal), "layers": rows, **extra}))
        progress(None, advance=1)
    return written


def _calibration(rt: str, unit: str, store: RecordStore, cache: dict, calibration_for: Any) -> Any:
    """This machine's per-op-class fit for ``rt``, only for a CPU unit (this
    machine's measured layers are CPU kernels); the pure roofline elsewhere."""
    from edgecnn.predict.roofline import Calibration

    key = f"{rt}@{unit}"
    if key not in cache:
        if unit == "cpu":
            cache[key] = calibration_for(store, rt)
        else:
            cal = Calibration.uncalibrated()
            cal.note = (f"pure roofline: the only calibration here is fitted on this machine's CPU, and {rt} runs "
                        f"on the {unit}")
            cache[key] = cal
    return cache[key]


def unreachable_record(device: Any, model: str, rt: str, opts: Any, error: str) -> Record:
    """The record of a measurement that could not be made: the device did not answer."""
    from edgecnn.profile.pipeline import input_size_of

    size = input_size_of(model, opts)
    tmpl = template("latency", model, rt, device.name, opts, [3, size, size])
    return fail(tmpl, "unreachable", error)

"""The predicted step: latency for a device edgecnn cannot measure.

Each runtime runs on one compute unit of the device (``DeviceSpec.unit_of``:
ONNX Runtime's CPU provider, LiteRT and torch on the CPU; TensorRT and torch
CUDA on the GPU). A model's latency there is the latency model's
(``edgecnn.predict.latency_model``): its kernels, after the runtime's fusions,
each from its op class and roofline on that unit (the device's TOML peaks),
with the unit's and runtime's parameters (``edgecnn.predict.calibrate.params_for``).
Where the device has per-layer times of its measured models in that
configuration (``edgecnn calibrate`` measures them) and their **kernel table**
predicts them better than the op-class fit, leave-one-model-out, the table
predicts instead (``edgecnn.predict.kernels``: each kernel from the nearest
timed kernels of its op class; ``prediction_method`` "kernels").
Otherwise the parameters are the device's own ``calibration`` record (``edgecnn calibrate``), else its own
measurements, else the prior learned from the other devices with records of
that unit kind. A calibration is never carried from one machine to another:
another machine's figures only ever enter as part of a prior. Every record
says where its parameters came from (``params_source``, ``prior_devices``,
``calibrated_on``) and carries the error band of the validation that matches
its situation (``benchmarks/bench_predict.py``: uncalibrated, calibrated, or
calibrated with per-layer times; unit, runtime) with the devices it covered.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from edgecnn.errors import EdgeCNNError
from edgecnn.profile.records import fail, measurement_variant, published_accuracy, template, with_metrics
from edgecnn.records import Record, RecordStore


def predict_records(models: Sequence[str], device: Any, opts: Any, store: RecordStore, reason: str,
                    progress: Callable[..., None] = lambda *a, **k: None) -> list[Record]:
    """Predicted latency records (``source="predicted"``, ``variant="predicted"``)
    for ``models`` x ``opts.runtimes`` on ``device``. A device whose TOML has no
    peak figures at all cannot be predicted: the error says why it was not
    measured either."""
    from edgecnn.cost.sources import count_source, source_fields
    from edgecnn.models.sources import resolve_source
    from edgecnn.predict.calibrate import Knowledge

    if not device.units:
        raise EdgeCNNError(f"{reason}; and it cannot be predicted: device {device.name!r} has no peak compute "
                           f"figure ([peak.cpu] / [peak.gpu] in {device.path})")
    progress(f"{device.name}: {reason}; writing PREDICTED records (latency model per compute unit)")
    written: list[Record] = []
    known = Knowledge.with_reference(store.load())

    def keep(rec: Record) -> None:
        store.append(rec)
        written.append(rec)

    for spec in models:
        src = resolve_source(spec, input_size=opts.input_size)
        name, shape = src.id, src.input_shape
        extra = source_fields(src) if src.kind != "zoo" else {}
        try:
            cost = count_source(src, opts.precision if opts.precision in ("fp32", "fp16", "int8") else "fp32")
        except Exception as exc:
            for rt in opts.runtimes:
                keep(fail(template("latency", name, rt, device.name, opts, shape, "predicted", "predicted"),
                          "failed", f"cannot build/count {name}: {exc}", **extra))
            progress(None, advance=1)
            continue
        published = published_accuracy(name, src.input_size, src.num_classes, device.name) \
            if src.kind == "zoo" else None
        if published is not None and not store.has_ok(published):
            keep(published)
        for rt in opts.runtimes:
            keep(_predicted(name, cost, rt, device, opts, shape, reason, known, extra))
        progress(None, advance=1)
    return written


def _config(device: Any, unit: str, rt: str, opts: Any) -> tuple[str, float]:
    """(the configuration's name as measured records spell it, the share of the
    unit's peak it uses: threads of the cores on a CPU)."""
    if unit != "cpu":
        return measurement_variant(opts, rt) or opts.accel, 1.0
    cores = device.detected.get("cores") if device.is_local else None
    threads = opts.threads
    if threads is None and cores:
        from edgecnn.runtime import default_threads

        threads = default_threads()
    if not threads:
        return "threads=all", 1.0
    return f"threads={threads}", min(1.0, threads / cores) if cores else 1.0


def _predicted(name: str, cost: Any, rt: str, device: Any, opts: Any, shape: list[int], reason: str,
               known: Any, extra: dict[str, Any]) -> Record:
    """One predicted latency record of ``name`` on ``rt`` (see the module doc)."""
    from edgecnn.predict.calibrate import error_band, kernel_table_for, params_for
    from edgecnn.predict.dataset import Situation
    from edgecnn.predict.latency_model import predict_rows

    tmpl = template("latency", name, rt, device.name, opts, shape, "predicted", "predicted")
    listed = device.runtimes
    if listed and rt not in listed:
        return fail(tmpl, "unsupported", f"device {device.name!r} does not list runtime {rt!r} "
                                         f"(its runtimes: {', '.join(listed)})", **extra)
    unit_name = device.unit_of(rt, opts.accel)
    try:
        unit = device.unit(unit_name)
        peak, used = unit.peak(opts.precision)
    except EdgeCNNError as exc:
        return fail(tmpl, "unsupported", f"{rt} runs on the {unit_name} here: {exc}", **extra)
    config, share = _config(device, unit_name, rt, opts)
    peak *= share
    bw = unit.memory_bandwidth_gb_per_s
    s = Situation(device.name, unit_name, rt, config, opts.precision, opts.batch)
    table, with_layers = kernel_table_for(known, s, leave_out=(name, int(shape[-1])))
    if table is not None:  # the device's own kernels, where they predict its measured models better
        ms, rows = table.predict_rows(cost.layers, batch=opts.batch)
        used_params, calibrated_on, method, prior_devices = table.describe(), len(table.models), "kernels", []
        where = f"kernel table of {s.device} (per-layer times of {len(table.models)} measured models)"
    else:
        params, calibrated_on, where = params_for(known, s)
        ms, rows = predict_rows(cost.layers, peak, bw, params, runtime=rt, batch=opts.batch)
        used_params, method, prior_devices = params.to_dict(), "classes", list(params.prior_devices)
    roof_ms = sum(max(r["compute_ms"], r["memory_ms"]) for r in rows if r["predicted_ms"] > 0)
    compute_bound = sum(r["predicted_ms"] for r in rows if r["bound"] == "compute")
    macs = int(cost.totals["conv_linear_macs"])
    return with_metrics(tmpl, {
        "latency_ms_p50": ms, "predicted": True, "prediction_reason": reason, "macs": macs,
        "achieved_gmacs_per_s": macs * opts.batch / (ms * 1e6) if ms > 0 else None,
        "compute_unit": unit_name, "peak_gmacs_per_s": peak, "peak_precision_used": used,
        "memory_bandwidth_gb_per_s": bw, "peak_kind": dict(unit.kind), "config": config,
        "compute_bound_share": compute_bound / ms if ms else None, "roofline_ms": roof_ms,
        "latency_params": used_params, "prediction_method": method, "params_source": where,
        "calibrated_on": calibrated_on, "prior_devices": prior_devices,
        "calibration_device": s.device if calibrated_on else None,
        "error_band": error_band(known, s, calibrated_on, with_layers), "layers": rows, **extra})

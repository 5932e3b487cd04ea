"""``edgecnn calibrate``: measure a few zoo models on a device and refit its
latency-model parameters from them.

1. ``choose``: at most ``k`` zoo models (default 10) from a candidate pool of
   ImageNet-size models, chosen to spread over op mixes and sizes on that
   device's roof (``latency_model.spread_choice``: the share of roofline time
   per op class, and the total), so few measurements see every kind of kernel.
2. They are measured like ``edgecnn profile`` measures them (whole-model
   latency, and per-layer times unless ``--no-layers``; no separable timing),
   locally, over SSH or adb. Per-layer times of three models or more make the
   device's kernel table (``edgecnn.predict.kernels``), which then predicts
   before the parameters below. Over SSH only whole-model latencies come
   back; over adb ``benchmark_model``'s per-op rows, which carry no MACs.
3. For each (unit, runtime, configuration) of the device that now has
   measurements, the prior from the *other* devices' records is refitted on
   them (``latency_model.fit_params``) and written as a ``calibration`` record
   (``predict.calibrate.calibration_record``); later predictions for this
   device (``edgecnn profile --device X --predict``) use it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from edgecnn.records import Record, RecordStore

# ImageNet-size zoo models the calibration set is chosen from: dense, residual, depthwise-separable,
# squeeze-excite, grouped and concatenating blocks, 0.04 to 4 GMACs
CANDIDATES = ("mobilenet_v1", "mobilenet_v1_050", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
              "mnasnet0_5", "mnasnet1_0", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "squeezenet1_1",
              "efficientnet_b0", "resnet18", "resnet34", "resnet50", "googlenet", "densenet121")
MAX_MODELS = 10


def roof_of(device: Any, runtime: str, opts: Any) -> tuple[str, float, float]:
    """(compute unit, peak GMAC/s at the precision, bandwidth GB/s) ``runtime`` runs on here."""
    unit_name = device.unit_of(runtime, opts.accel)
    unit = device.unit(unit_name)
    return unit_name, unit.peak(opts.precision)[0], unit.memory_bandwidth_gb_per_s


def choose(device: Any, runtime: str, opts: Any, k: int = MAX_MODELS,
           candidates: Sequence[str] = CANDIDATES) -> list[str]:
    """At most ``k`` of ``candidates`` spread over op mixes and sizes on the unit ``runtime`` uses."""
    from edgecnn.predict.dataset import cost_rows
    from edgecnn.predict.latency_model import model_features, spread_choice

    _, peak, bw = roof_of(device, runtime, opts)
    feats = {m: model_features(cost_rows(m, 224), peak, bw, runtime=runtime, batch=opts.batch) for m in candidates}
    return spread_choice(feats, k)


def refit(device_name: str, runtimes: Sequence[str], store: RecordStore) -> list[Record]:
    """A ``calibration`` record per situation of ``device_name`` with
    measurements in ``store``: the prior of the *other* devices (the store's
    and the checkout's reference records) refitted on them, and, where they
    have per-layer times, how the kernel table and the op-class fit each
    predict them leave-one-model-out, and which of the two predictions use."""
    from edgecnn.predict.calibrate import Knowledge, calibration_record
    from edgecnn.predict.dataset import features
    from edgecnn.predict.latency_model import fit_params
    from edgecnn.predict.validate import better_method, kernel_predictor, method_errors, prior_for

    records = store.load()
    known, reference = Knowledge(records), Knowledge.with_reference(records)
    out = []
    for s, ms in sorted(known.by.items(), key=lambda kv: kv[0].label()):
        if s.device != device_name or s.runtime not in runtimes:
            continue
        prior = prior_for(s, reference.fits, exclude_machine=s.machine)
        samples = [(features(m), m.ms) for m in ms]
        params = fit_params(samples, prior, device=s.device, runtime=s.runtime, config=s.config,
                            fitted_on=sorted(m.model for m in ms))
        rows = [{"model": m.model, "measured_ms": m.ms, "fitted_ms": params.predict(f)}
                for m, (f, _) in zip(ms, samples)]
        rec = calibration_record(s, params, ms[0].peak_gmacs_per_s, ms[0].bandwidth_gb_per_s)
        rec.metrics["rows"] = rows
        layers = known.layers.get(s) or {}
        timed = [m for m in ms if (m.model, m.input_size) in layers]
        with_layers = bool(timed) and kernel_predictor(s, layers)(timed) is not None
        errors = method_errors(s, timed, prior, layers) if with_layers else {}
        rec.metrics["prediction_method"] = better_method(errors) if with_layers else "classes"
        if with_layers:
            rec.metrics["leave_one_out_error"] = errors
            rec.metrics["layer_models"] = sorted(m.model for m in timed)
        store.append(rec)
        out.append(rec)
    return out


def calibrate_device(device: Any, opts: Any, store: RecordStore, models: Optional[Sequence[str]] = None,
                     k: int = MAX_MODELS, progress: Callable[..., None] = lambda *a, **kw: None) -> list[Record]:
    """Measure (see the module doc) and refit; returns the ``calibration`` records written."""
    from edgecnn.profile.pipeline import profile

    names = list(models) if models else choose(device, opts.runtimes[0], opts, k)
    progress(f"{device.name}: measuring {len(names)} models for the calibration: {', '.join(names)}")
    profile(names, device, opts, store, progress)
    return refit(device.name, opts.runtimes, store)

"""The profile pipeline: models x runtimes on a device -> Records.

``profile(models, device, options, store)`` dispatches on the device:

- ``local``: build each model, count its cost, make each runtime's artifact,
  load every runner, time them **interleaved** (``timing.interleave``), then
  per-layer times joined to the cost rows, then the separable check;
- ssh/adb: ask ``edgecnn.devices.remote`` (probe, then ``profile_remote``);
  when the device is unreachable (or remote support is missing), write
  **predicted** records (roofline, calibrated on this machine) and say so.

Each record is appended as soon as it exists, so an interrupted run keeps
what finished; a rerun skips (model, runtime, kind) already ``ok`` unless
``force``. Failures are records too (unsupported, export_failed, failed).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence

from edgecnn.devices.spec import DeviceSpec
from edgecnn.errors import EdgeCNNError
from edgecnn.profile.artifacts import ExportFailed, get_artifact, runtime_format
from edgecnn.profile.isolated import METHOD as ISOLATED_METHOD
from edgecnn.records import Record, RecordStore, environment
from edgecnn.runtime import RUNNERS, RunnerUnsupported
from edgecnn.runtime.timing import TimingConfig, interleave, random_inputs

# `make report` budget: 5 models x 3 runtimes in < 10 min on 2 shared cores.
DEFAULT_TIMING = TimingConfig(warmup=5, warmup_s=0.2, runs=20, min_time_s=1.0, max_time_s=10.0)

Progress = Callable[..., None]  # progress(message=None, advance=0)


@dataclass
class ProfileOptions:
    runtimes: list[str]
    precision: str = "fp32"
    batch: int = 1
    input_size: Optional[int] = None
    threads: Optional[int] = None
    accel: str = "cpu"  # cpu | cuda: torch device and ONNX Runtime provider
    channels_last: bool = False  # torch runner: NHWC memory format
    cuda_graphs: bool = False  # torch runner: replay a captured CUDA graph (needs accel="cuda")
    timing: TimingConfig = field(default_factory=lambda: DEFAULT_TIMING)
    layers: bool = True
    layer_runs: int = 10
    separable: bool = True
    shapes: list[Any] = field(default_factory=list)  # edgecnn.profile.separable.Shape from --shape
    export_dir: str = "export"
    force: bool = False
    predict: bool = False  # also write predicted records for a reachable device
    clock: Optional[Callable[[], float]] = None  # seconds; injectable for tests (default perf_counter)


def _noop(message: Optional[str] = None, advance: int = 0) -> None:
    pass


def measurement_variant(opts: ProfileOptions, runtime: Optional[str] = None) -> Optional[str]:
    """What sets a measurement apart beyond (runtime, precision, batch): the
    accelerator, and the torch runner's memory format / CUDA graphs."""
    parts = [] if opts.accel == "cpu" else [opts.accel]
    if runtime == "torch":
        parts += [flag for flag, on in (("channels_last", opts.channels_last), ("cuda_graphs", opts.cuda_graphs))
                  if on]
    return "+".join(parts) or None


def _tmpl(kind: str, model: str, rt: str, device: str, opts: ProfileOptions, shape: list[int],
          source: str = "measured", variant: Optional[str] = None) -> Record:
    return Record(kind=kind, model=model, status="ok", source=source, device=device, runtime=rt,
                  format=runtime_format(rt), precision=opts.precision, batch=opts.batch, input_shape=shape,
                  variant=variant if variant is not None else measurement_variant(opts, rt))


def _with(tmpl: Record, **kw: Any) -> Record:
    d = {**asdict(tmpl), **kw}
    d.pop("created_at", None)
    d.pop("env", None)
    return Record(**d, env=environment())


def _fail(tmpl: Record, status: str, error: str, **metrics: Any) -> Record:
    return _with(tmpl, status=status, error=error, metrics=dict(metrics))


def input_size_of(model: str, opts: ProfileOptions) -> int:
    from edgecnn.models import get_card

    return int(opts.input_size or get_card(model).input_size)


# ---------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------
def profile(models: Sequence[str], device: DeviceSpec, opts: ProfileOptions, store: RecordStore,
            progress: Progress = _noop) -> list[Record]:
    """Profile ``models`` on ``device`` (see the module doc); returns the
    records written by this call."""
    if device.is_local:
        out = profile_local(models, device, opts, store, progress)
        if opts.predict:
            out += predict_records(models, device, opts, store, reason="requested with --predict",
                                   progress=progress)
        return out
    probed, reason = probe_remote(device)
    if reason is None:
        from edgecnn.devices import remote

        try:
            out = remote.profile_remote(device, models, opts.runtimes, precision=opts.precision,
                                        batch=opts.batch, input_size=opts.input_size, store=store,
                                        force=opts.force, timing=asdict(opts.timing), threads=opts.threads,
                                        export_dir=opts.export_dir, progress=lambda m: progress(m),
                                        probed=probed)
        except EdgeCNNError as exc:
            reason = f"remote profiling failed: {exc}"
            out = []
        else:
            progress(None, advance=len(models))
            if opts.predict:
                out += predict_records(models, device, opts, store, reason="requested with --predict",
                                       progress=progress)
            return out
        return out + predict_records(models, device, opts, store, reason=reason, progress=progress)
    return predict_records(models, device, opts, store, reason=reason, progress=progress)


def probe_remote(device: DeviceSpec) -> tuple[Any, Optional[str]]:
    """(the probe, None) when the remote device answers, for profiling to
    reuse; else (None, one line saying why not)."""
    from edgecnn.devices import remote

    try:
        res = remote.probe(device, timeout_s=float(device.connection.get("connect_timeout_s", 10)),
                           read_state=False)
    except Exception as exc:  # a transport bug must not lose the prediction
        return None, f"device {device.name!r} is unreachable: {type(exc).__name__}: {exc}"
    if not res.reachable:  # the probe's error names the device and the transport already
        return None, res.error or f"device {device.name!r} is unreachable: no answer"
    return res, None


# ---------------------------------------------------------------------------
# local
# ---------------------------------------------------------------------------
def published_accuracy(name: str, input_size: int, num_classes: int, device: str) -> Optional[Record]:
    """The model card's published ImageNet top-1 as an ``accuracy`` record
    (``source="published"``, citation in ``reference``), so the Pareto front has
    an accuracy axis before anything is trained here; None when the card quotes
    none for this input size and class count. A measured accuracy record of
    the same model always takes precedence in the report."""
    from edgecnn.models import get_card

    ref = get_card(name).reference(input_size, num_classes)
    if ref is None or ref.top1 is None:
        return None
    return Record(kind="accuracy", model=name, source="published", device=device, runtime="torch",
                  format="pytorch", precision="fp32", input_shape=[3, input_size, input_size], dataset="imagenet",
                  variant="published", metrics={"top1": ref.top1, "reference": ref.top1_source,
                                                "split": "val", "num_classes": num_classes},
                  env=environment())


def profile_local(models: Sequence[str], device: DeviceSpec, opts: ProfileOptions, store: RecordStore,
                  progress: Progress = _noop) -> list[Record]:
    written: list[Record] = []

    def keep(rec: Record) -> None:
        store.append(rec)
        written.append(rec)

    for name in models:
        try:
            _profile_one(name, device, opts, store, keep, progress)
        finally:
            progress(None, advance=1)
    return written


def _profile_one(name: str, device: DeviceSpec, opts: ProfileOptions, store: RecordStore,
                 keep: Callable[[Record], None], progress: Progress) -> None:
    from edgecnn.models import create_model

    size = input_size_of(name, opts)
    shape = [3, size, size]
    lat_t = {rt: _tmpl("latency", name, rt, device.name, opts, shape) for rt in opts.runtimes}
    lay_t = {rt: _tmpl("layer_latency", name, rt, device.name, opts, shape) for rt in opts.runtimes}
    todo_lat = [rt for rt in opts.runtimes if opts.force or not store.has_ok(lat_t[rt])]
    todo_lay = [rt for rt in opts.runtimes if opts.layers and (opts.force or not store.has_ok(lay_t[rt]))]
    todo_sep = [rt for rt in opts.runtimes if opts.separable and opts.batch == 1 and
                (opts.force or not _has_separable(store, name, rt, device.name))]
    if not (todo_lat or todo_lay or todo_sep):
        progress(f"{name}: already measured (use --force to redo)")
        return
    progress(f"{name}: building and counting")
    try:
        model = create_model(name, input_size=size)
        from edgecnn.cost import count_cost

        cost = count_cost(model, shape, precision=opts.precision if opts.precision in ("fp32", "fp16", "int8")
                          else "fp32", batch=1)
    except Exception as exc:
        err = f"cannot build/count {name}: {type(exc).__name__}: {exc}"
        for rt in todo_lat:
            keep(_fail(lat_t[rt], "failed", err))
        return
    macs = int(cost.totals["conv_linear_macs"])
    cost_tmpl = Record(kind="cost", model=name, source="analytic", device=device.name, precision=cost.precision,
                       batch=1, input_shape=shape)
    if opts.force or not store.has_ok(cost_tmpl):
        keep(cost.to_record(name, device=device.name))
    published = published_accuracy(name, size, model.edgecnn_config["num_classes"], device.name)
    if published is not None and not store.has_ok(published):
        keep(published)

    runners = {}
    try:
        for rt in dict.fromkeys(todo_lat + todo_lay):
            r = _load_runner(name, model, rt, size, opts, lat_t[rt], keep if rt in todo_lat else None, progress)
            if r is not None:
                runners[rt] = r
        medians: dict[str, float] = {}
        if runners:
            medians = _time_runners(name, runners, {rt: lat_t[rt] for rt in runners if rt in todo_lat}, macs,
                                    opts, keep, progress)
        for rt in todo_lay:
            if rt not in runners:
                continue
            _layer_record(name, model, runners[rt], lay_t[rt], cost, medians.get(rt), opts, keep, progress)
    finally:
        for r in runners.values():
            r.close()
    if todo_sep:
        _separable(name, model, cost, shape, todo_sep, device, opts, keep, progress)


def _load_runner(name, model, rt, size, opts, tmpl, keep, progress):
    cls = RUNNERS.get(rt)
    dev = opts.accel if rt in ("torch", "onnxruntime") else ("cuda" if rt == "tensorrt" else "cpu")
    reason = cls.unavailable_reason(dev)
    if reason:
        if keep:
            keep(_fail(tmpl, "unsupported", reason))
        progress(f"{name} / {rt}: unsupported: {reason}")
        return None
    try:
        progress(f"{name}: {cls.format} artifact for {rt}")
        art = get_artifact(name, model, cls.format, input_size=size, precision=opts.precision, batch=opts.batch,
                           export_dir=opts.export_dir, force=opts.force)
    except ExportFailed as exc:
        if keep:
            keep(_fail(tmpl, "export_failed", str(exc)))
        return None
    kwargs: dict[str, Any] = {"threads": opts.threads, "device": dev}
    if cls.format == "pytorch":
        kwargs.update(precision=opts.precision, input_shape=[opts.batch, 3, size, size],
                      channels_last=opts.channels_last, cuda_graphs=opts.cuda_graphs)
    try:
        return cls(**kwargs).load(art)
    except RunnerUnsupported as exc:
        if keep:
            keep(_fail(tmpl, "unsupported", str(exc)))
    except EdgeCNNError as exc:
        if keep:
            keep(_fail(tmpl, "failed", str(exc)))
    return None


def _inputs_for(runner, batch: int, size: int):
    shape = runner.input_shape or [batch, 3, size, size]
    wanted = [batch, 3, size, size]
    shape = [d if (d is not None and d > 0) else wanted[i] for i, d in enumerate(shape)]
    return random_inputs(shape, dtype=runner.input_dtype, count=4)


def _time_runners(name, runners, tmpls, macs, opts, keep, progress) -> dict[str, float]:
    size = input_size_of(name, opts)
    inputs = {rt: _inputs_for(r, opts.batch, size) for rt, r in runners.items()}
    ok = {}
    for rt, r in runners.items():  # one call each first: a runtime that cannot run this model fails alone
        try:
            r.infer(inputs[rt][0])
            ok[rt] = r
        except Exception as exc:
            if rt in tmpls:
                keep(_fail(tmpls[rt], "failed", f"{rt} could not run {name}: {type(exc).__name__}: {exc}"))
    timed = {rt: r for rt, r in ok.items() if rt in tmpls}
    if not timed:
        return {}
    progress(f"{name}: timing {', '.join(timed)} interleaved")
    stats = interleave({rt: r.infer for rt, r in timed.items()}, inputs={rt: inputs[rt] for rt in timed},
                       syncs={rt: r.sync for rt, r in timed.items()}, config=opts.timing,
                       clock=opts.clock or time.perf_counter)
    for rt, st in stats.items():
        m = st.to_metrics()
        m.update({"threads": timed[rt].threads, "macs": macs,
                  "achieved_gmacs_per_s": macs * opts.batch / (st.median_ms * 1e6) if st.median_ms > 0 else None,
                  "interleaved_with": sorted(timed), "runner": timed[rt].describe(),
                  "timing_config": asdict(opts.timing)})
        rec = _with(tmpls[rt], metrics=m)
        rec.env = environment({"threads": timed[rt].threads})
        keep(rec)
    return {rt: st.median_ms for rt, st in stats.items()}


def _layer_record(name, model, runner, tmpl, cost, total_ms, opts, keep, progress) -> None:
    from edgecnn.profile.isolated import ISOLATED_FORMATS, isolated_layer_times
    from edgecnn.profile.layers import join_layer_times, summarize_layers

    size = input_size_of(name, opts)
    progress(f"{name}: per-layer times on {runner.name}")
    try:
        if runner.name in ISOLATED_FORMATS:  # no op profiler: time the layers one by one
            rows = isolated_layer_times(model, [opts.batch, 3, size, size], type(runner), threads=runner.threads,
                                        runs=opts.layer_runs)
        else:
            rows = runner.layer_times(_inputs_for(runner, opts.batch, size), runs=opts.layer_runs)
    except RunnerUnsupported as exc:
        keep(_fail(tmpl, "unsupported", str(exc)))
        return
    except Exception as exc:
        keep(_fail(tmpl, "failed", f"{type(exc).__name__}: {exc}"))
        return
    joined = join_layer_times(cost.layers, rows, runtime=runner.name, batch=opts.batch)
    metrics = {"layers": joined, "summary": summarize_layers(joined, total_ms=total_ms),
               "macs": int(cost.totals["conv_linear_macs"]), "layer_runs": opts.layer_runs,
               "threads": runner.threads, "method": _LAYER_METHOD.get(runner.name) or runner.layer_method}
    rec = _with(tmpl, metrics=metrics)
    keep(rec)


_LAYER_METHOD = {
    "torch": "forward pre/post hooks on leaf modules (median of runs)",
    "litert": ISOLATED_METHOD,
    "onnxruntime": "ONNX Runtime profiler node kernel times (median of runs); fused Conv+BN+activation "
                   "timed as the conv",
}


def _has_separable(store: RecordStore, model: str, rt: str, device: str) -> bool:
    return any(r.ok and r.source == "measured" and r.runtime == rt
               for r in store.load(kind="separable", model=model, device=device))


def _separable(name, model, cost, shape, runtimes, device, opts, keep, progress) -> None:
    from edgecnn.cost.separable import pairs_from_report
    from edgecnn.profile.separable import Shape, separable_records, time_shapes

    pairs = pairs_from_report(cost)
    if not pairs:
        return
    shapes = [Shape(p.m, p.n, p.dk, p.df_in, p.stride) for p in pairs if p.depth_multiplier == 1]
    progress(f"{name}: separable check, {len(set(shapes))} shapes")
    results = time_shapes(shapes, runtimes, threads=opts.threads,
                          progress=lambda m: progress(f"{name}: {m}"))
    for rec in separable_records(name, [p for p in pairs if p.depth_multiplier == 1], results, runtimes,
                                 device=device.name, input_shape=shape):
        keep(rec)


def profile_shapes(shapes: Sequence[Any], device: DeviceSpec, opts: ProfileOptions, store: RecordStore,
                   progress: Progress = _noop) -> list[Record]:
    """The separable check for shapes given on the command line (model "layer")."""
    from edgecnn.profile.separable import separable_records, time_shapes

    results = time_shapes(shapes, opts.runtimes, threads=opts.threads, progress=lambda m: progress(m))
    recs = separable_records("layer", shapes, results, opts.runtimes, device=device.name)
    store.extend(recs)
    return recs


# ---------------------------------------------------------------------------
# predicted
# ---------------------------------------------------------------------------
def predict_records(models: Sequence[str], device: DeviceSpec, opts: ProfileOptions, store: RecordStore,
                    reason: str, progress: Progress = _noop) -> list[Record]:
    """Roofline-predicted latency records for a device we cannot measure
    (``source="predicted"``, ``variant="predicted"``), calibrated on this
    machine's per-layer records in ``store``. A device whose TOML has no peak
    figures cannot be predicted: the error says why it was not measured either."""
    from edgecnn.devices.predict import FUSING_RUNTIMES, predict_layers
    from edgecnn.models import get_card
    from edgecnn.profile.calibrate import calibration_for

    try:
        device.peak(opts.precision)
    except EdgeCNNError as exc:
        raise EdgeCNNError(f"{reason}; and it cannot be predicted: {exc}") from None

    progress(f"{device.name}: {reason}; writing PREDICTED records (roofline, calibrated on this machine)")
    written = []
    listed = device.runtimes
    cals: dict[str, Any] = {}  # per runtime; fitted on local layer records, which this loop does not write
    for name in models:
        size = input_size_of(name, opts)
        shape = [3, size, size]
        try:
            from edgecnn.cost.engine import count_model

            cost = count_model(name, size, opts.precision)
        except Exception as exc:
            for rt in opts.runtimes:
                rec = _fail(_tmpl("latency", name, rt, device.name, opts, shape, "predicted", "predicted"),
                            "failed", f"cannot build/count {name}: {exc}")
                store.append(rec)
                written.append(rec)
            progress(None, advance=1)
            continue
        macs = int(cost.totals["conv_linear_macs"])
        published = published_accuracy(name, size, get_card(name).num_classes, device.name)
        if published is not None and not store.has_ok(published):
            store.append(published)
            written.append(published)
        for rt in opts.runtimes:
            tmpl = _tmpl("latency", name, rt, device.name, opts, shape, "predicted", "predicted")
            if listed and rt not in listed:
                rec = _fail(tmpl, "unsupported", f"device {device.name!r} does not list runtime {rt!r} "
                                                 f"(its runtimes: {', '.join(listed)})")
            else:
                peak, used = device.peak(opts.precision)
                bw = device.memory_bandwidth_gb_per_s
                if rt not in cals:
                    cals[rt] = calibration_for(store, rt)
                cal = cals[rt]
                rows = predict_layers(cost.layers, peak, bw, cal, fuse=rt in FUSING_RUNTIMES, batch=opts.batch)
                ms = sum(r["predicted_ms"] for r in rows)
                compute_bound = sum(r["predicted_ms"] for r in rows if r["bound"] == "compute")
                rec = _with(tmpl, metrics={
                    "latency_ms_p50": ms, "predicted": True, "prediction_reason": reason, "macs": macs,
                    "achieved_gmacs_per_s": macs * opts.batch / (ms * 1e6) if ms > 0 else None,
                    "peak_gmacs_per_s": peak, "peak_precision_used": used, "memory_bandwidth_gb_per_s": bw,
                    "peak_kind": device.peak_kind, "compute_bound_share": compute_bound / ms if ms else None,
                    "calibration": cal.to_dict(), "layers": rows})
            store.append(rec)
            written.append(rec)
        progress(None, advance=1)
    return written


"""The local profiling step: build, count, make artifacts, time, per layer, separable.

Per model: the model is built and counted (a ``cost`` record), each runtime
gets its artifact, and the runtimes are timed in a **session**
(``edgecnn.profile.sessions``: one worker process per runtime by default, or
all in this process for tests). Then per-layer times and the separable check
run in the same session, one runtime at a time. Every outcome is a record:
``unsupported`` (the runtime cannot run here), ``export_failed`` (no
artifact), ``failed`` (with the error).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from edgecnn.errors import EdgeCNNError, InvalidOptionError
from edgecnn.export.artifacts import ExportFailed, get_artifact
from edgecnn.profile.isolated import METHOD as ISOLATED_METHOD
from edgecnn.profile.records import fail, published_accuracy, template, with_metrics
from edgecnn.records import Record, RecordStore
from edgecnn.profile.sessions import InProcessSession, WorkerSession, device_of, new_session, runner_kwargs
from edgecnn.runtime import RUNNERS, RunnerUnsupported
from edgecnn.runtime.workers import artifact_bytes

Keep = Callable[[Record], None]

LAYER_METHOD = {
    "torch": "forward pre/post hooks on leaf modules (median of runs)",
    "litert": ISOLATED_METHOD,
    "onnxruntime": "ONNX Runtime profiler node kernel times (median of runs); fused Conv+BN+activation "
                   "timed as the conv",
}


# ---------------------------------------------------------------------------
# the step
# ---------------------------------------------------------------------------
def _noop(message: Optional[str] = None, advance: int = 0) -> None:
    pass


def profile_local(models: Sequence[str], device: Any, opts: Any, store: RecordStore,
                  progress: Callable[..., None] = _noop) -> list[Record]:
    """Profile ``models`` on this machine (see the module doc); returns the
    records written, each appended to ``store`` as soon as it exists."""
    written: list[Record] = []

    def keep(rec: Record) -> None:
        store.append(rec)
        written.append(rec)

    jobs = _missing_artifacts(models, device, opts, store) if opts.isolate else []
    if len(jobs) > 1 and opts.export_jobs > 1:
        _make_artifacts(jobs, opts.export_jobs, progress)
    for name in models:
        try:
            _profile_one(name, device, opts, store, keep, progress)
        finally:
            progress(None, advance=1)
    return written


def _missing_artifacts(models: Sequence[str], device: Any, opts: Any, store: RecordStore) -> list[tuple]:
    """The zoo models' artifacts this run will need and ``opts.export_dir`` lacks,
    as ``make_artifacts`` jobs; the slow converters (LiteRT, ExecuTorch) first."""
    from edgecnn.export.artifacts import SLOW_FORMATS, artifact_path
    from edgecnn.models.sources import resolve_source

    jobs = []
    if opts.weights:  # pretrained weights: exported one model at a time, from the module that holds them
        return jobs
    setup = asked_setup(opts)
    for spec in models:
        try:
            src = resolve_source(spec, input_size=opts.input_size)
        except Exception:  # noqa: BLE001 - the model's own step reports it
            continue
        if src.kind != "zoo":
            continue
        for rt in opts.runtimes:
            cls = RUNNERS.get(rt)
            fmt = cls.export_format
            if not fmt or cls.unavailable_reason(device_of(rt, opts.accel)):
                continue
            lat = template("latency", src.id, rt, device.name, opts, src.input_shape)
            lay = template("layer_latency", src.id, rt, device.name, opts, src.input_shape)
            if not (opts.force or not store.has_ok(lat, setup["latency"]) or
                    (opts.layers and not store.has_ok(lay, setup["layer_latency"]))):
                continue
            path = artifact_path(src.id, fmt, input_size=src.input_size, precision=opts.precision, batch=opts.batch,
                                 export_dir=opts.export_dir)
            if not path.exists():
                jobs.append((src.id, fmt, src.input_size, opts.precision, opts.batch, str(opts.export_dir)))
    jobs = list(dict.fromkeys(jobs))  # two runtimes may load one format
    return sorted(jobs, key=lambda job: job[1] not in SLOW_FORMATS)


def _make_artifacts(jobs: list[tuple], workers: int, progress) -> None:
    from edgecnn.export.artifacts import make_artifacts

    progress(f"making {len(jobs)} artifacts, {workers} at a time, before anything is timed")

    def done(job: tuple, seconds: float, error: Optional[str]) -> None:
        what = f"{job[0]} {job[1]}"
        progress(f"{what}: made in {seconds:.1f} s" if error is None else
                 f"{what}: not made ({error.splitlines()[0][:200]}); its step retries it")

    make_artifacts(jobs, workers, done)


def asked_setup(opts: Any) -> dict[str, dict[str, Any]]:
    """kind -> what a stored measurement must have been measured with for a
    rerun to skip it (``RecordStore.has_ok``): the threads asked for (the
    thread rule's when none), the timing settings and isolation, the per-layer
    runs. Batch, precision, input size and the torch variant are in the
    record's identity."""
    from edgecnn.runtime.base import default_threads

    threads = opts.threads or default_threads()
    isolation = (WorkerSession if opts.isolate else InProcessSession).isolation
    return {"latency": {"threads": threads, "timing_config": opts.timing.to_dict(), "isolation": isolation},
            "layer_latency": {"threads": threads, "layer_runs": opts.layer_runs}, "separable": {"threads": threads}}


def _has_separable(store: RecordStore, model: str, rt: str, device: str, setup: dict[str, Any]) -> bool:
    return any(r.ok and r.source == "measured" and r.runtime == rt and all(r.metrics.get(k) == v
                                                                          for k, v in setup.items())
               for r in store.latest(kind="separable", model=model, device=device).values())


def _profile_one(spec: str, device: Any, opts: Any, store: RecordStore, keep_any: Keep, progress) -> None:
    from edgecnn.cost.sources import count_source, source_fields
    from edgecnn.models.sources import resolve_source

    src = resolve_source(spec, input_size=opts.input_size)
    for w in src.warnings:
        progress(f"warning: {w}")
    name, size, shape = src.id, src.input_size, src.input_shape
    extra = source_fields(src) if src.kind != "zoo" else {}

    def keep(rec: Record) -> None:  # every record of a model outside the zoo says where it came from
        rec.metrics.update(extra)
        keep_any(rec)

    lat_t, lay_t, todo_lat, todo_lay, todo_sep = _todo(name, shape, device, opts, store)
    if not (todo_lat or todo_lay or todo_sep):
        progress(f"{name}: already measured (use --force to redo)")
        return
    progress(f"{name}: building and counting")
    try:
        model = src.module() if src.is_pytorch else None
        if opts.weights:  # the artifacts are then exported from these weights (get_artifact reads them)
            if model is None:
                raise InvalidOptionError(f"--weights applies to PyTorch models; {src.spec} is {src.article} "
                                         f"{src.label} with its own weights")
            from edgecnn.models.weights import load_weights

            load_weights(model, opts.weights, arch=src.spec if src.kind == "timm" else None)
        cost = count_source(src, opts.precision if opts.precision in ("fp32", "fp16", "int8") else "fp32")
    except EdgeCNNError:
        raise
    except Exception as exc:
        err = f"cannot build/count {name}: {type(exc).__name__}: {exc}"
        for rt in todo_lat:
            keep(fail(lat_t[rt], "failed", err))
        return
    macs = int(cost.totals["conv_linear_macs"])
    cost_tmpl = Record(kind="cost", model=name, source="analytic", device=device.name, precision=cost.precision,
                       batch=1, input_shape=shape)
    if opts.force or not store.has_ok(cost_tmpl):
        keep(cost.to_record(name, device=device.name))
    published = published_accuracy(name, size, src.num_classes, device.name) if src.kind == "zoo" else None
    if published is not None and not store.has_ok(published):
        keep(published)
    peaks = device_peaks(device)

    session = new_session(opts)
    with tempfile.TemporaryDirectory(prefix="edgecnn-profile-") as tmp:
        model_file = None
        if model is not None:  # the torch worker and LiteRT's isolated layers load it
            import torch

            model_file = str(Path(tmp) / "model.pt")
            torch.save(model, model_file)
        try:
            loaded = _load_all(src, model, model_file, dict.fromkeys(todo_lat + todo_lay), opts, lat_t,
                               todo_lat, session, keep, progress)
            medians = _time_all(name, [rt for rt in todo_lat if rt in loaded], loaded, lat_t, macs, peaks, session,
                                opts, keep, progress)
            for rt in todo_lay:
                if rt in loaded:
                    _layer_record(name, rt, session, model_file, lay_t[rt], cost, medians.get(rt), opts,
                                  loaded[rt], peaks, keep, progress)
            if todo_sep:
                _separable(name, cost, shape, todo_sep, device, session, opts, keep, progress)
        finally:
            session.close()


def _todo(name: str, shape: list[int], device: Any, opts: Any, store: RecordStore) -> tuple:
    """(latency and layer templates per runtime, the runtimes to time, to time
    per layer, to check separable): what has no ``ok`` record measured as
    this run asks (``asked_setup``), or everything with ``force``."""
    lat_t = {rt: template("latency", name, rt, device.name, opts, shape) for rt in opts.runtimes}
    lay_t = {rt: template("layer_latency", name, rt, device.name, opts, shape) for rt in opts.runtimes}
    setup = asked_setup(opts)
    todo_lat = [rt for rt in opts.runtimes if opts.force or not store.has_ok(lat_t[rt], setup["latency"])]
    todo_lay = [rt for rt in opts.runtimes if opts.layers and
                (opts.force or not store.has_ok(lay_t[rt], setup["layer_latency"]))]
    todo_sep = [rt for rt in opts.runtimes if opts.separable and opts.batch == 1 and
                (opts.force or not _has_separable(store, name, rt, device.name, setup["separable"]))]
    return lat_t, lay_t, todo_lat, todo_lay, todo_sep


def _time_all(name, timed, loaded, lat_t, macs, peaks, session, opts, keep, progress) -> dict[str, float]:
    """Time the loaded runtimes ``timed`` together in ``session``; one latency
    record each. Returns runtime -> median ms."""
    medians: dict[str, float] = {}
    if not timed:
        return medians
    progress(f"{name}: timing {', '.join(timed)} ({'isolated' if opts.isolate else 'one process'})")
    for rt, (st, measured) in session.time(timed).items():
        m = {**st.to_metrics(), **measured}
        info = loaded[rt]
        m.update({"threads": info["threads"], "macs": macs,
                  "achieved_gmacs_per_s": macs * opts.batch / (st.median_ms * 1e6) if st.median_ms > 0 else None,
                  "interleaved_with": sorted(timed), "runner": info["describe"],
                  "timing_config": opts.timing.to_dict(), "isolation": session.isolation,
                  "artifact_bytes": info["artifact_bytes"], "device_peaks": peaks.get(info["unit"]),
                  **session.memory(rt)})
        if info["describe"].get("compile_mode"):
            m.update(compile_mode=info["describe"]["compile_mode"], compile_s=info["describe"]["compile_s"])
        keep(with_metrics(lat_t[rt], m, env={"threads": info["threads"]}))
        medians[rt] = st.median_ms
    return medians


def device_peaks(device: Any) -> dict[str, dict]:
    """unit -> the roof figures a measured record carries (``device_peaks``)."""
    return {u: {**cu.to_dict(), "device": device.name} for u, cu in device.units.items()}


def _load_all(src, model, model_file, rts, opts, lat_t, todo_lat, session, keep, progress) -> dict:
    """Make each runtime's artifact and load it; returns rt -> load info. A
    runtime that cannot run here, or whose artifact fails, becomes a record.
    A model file runs as it is on the runtimes that take its format."""
    name, size = src.id, src.input_size
    loaded: dict[str, dict] = {}
    plans: dict[str, tuple] = {}
    for rt in rts:
        cls = RUNNERS.get(rt)
        dev = device_of(rt, opts.accel)
        tmpl = lat_t[rt]
        record = rt in todo_lat
        reason = cls.unavailable_reason(dev)
        if reason:
            if record:
                keep(fail(tmpl, "unsupported", reason))
            progress(f"{name} / {rt}: unsupported: {reason}")
            continue
        if not (src.runs_on(cls.format) or src.kind in cls.also_loads):
            if record:
                keep(fail(tmpl, "unsupported", f"{src.spec} is {src.article} {src.label}: it runs on runtimes that "
                                               f"load {src.kind} files, and {rt} loads {cls.format}"))
            continue
        try:
            progress(f"{name}: {cls.format} artifact for {rt}")
            art = src.path if not src.is_pytorch else get_artifact(
                name, model, cls.export_format or "pytorch", input_size=size, precision=opts.precision, batch=opts.batch,
                export_dir=opts.export_dir, by_name=src.kind == "zoo")  # --force re-measures; it never replaces
            # an artifact already there (a trained export of `edgecnn export --checkpoint` keeps its weights)
        except ExportFailed as exc:
            if record:
                keep(fail(tmpl, "export_failed", str(exc)))
            continue
        kwargs = runner_kwargs(rt, opts, size)
        target = model_file if cls.format == "pytorch" else art
        if not opts.isolate and cls.format == "pytorch":
            target = model
        plans[rt] = (cls, kwargs, target, model_file if cls.format == "pytorch" else art, dev)
    if isinstance(session, WorkerSession):
        session.start({rt: p[1] for rt, p in plans.items()})
    for rt, (cls, kwargs, target, path, dev) in plans.items():
        try:
            info = session.load(rt, cls, kwargs, target, opts.batch, size)
        except RunnerUnsupported as exc:
            if rt in todo_lat:
                keep(fail(lat_t[rt], "unsupported", str(exc)))
            continue
        except Exception as exc:  # the runtime cannot load or run this model: a record, the others go on
            if rt in todo_lat:
                keep(fail(lat_t[rt], "failed", f"{rt} could not run {name}: {_why(exc)}"))
            continue
        info["artifact_bytes"] = artifact_bytes(path, rt)
        info["unit"] = cls.unit(dev)
        loaded[rt] = info
    return loaded


def _why(exc: BaseException) -> str:
    kind = getattr(exc, "kind", None) or type(exc).__name__
    return f"{kind}: {exc}"


def _layer_record(name, rt, session, model_file, tmpl, cost, total_ms, opts, info, peaks, keep, progress) -> None:
    from edgecnn.profile.isolated import ISOLATED_FORMATS
    from edgecnn.profile.layers import join_layer_times, summarize_layers

    size = tmpl.input_shape[-1]
    progress(f"{name}: per-layer times on {rt}")
    if rt in ISOLATED_FORMATS and model_file is None:
        keep(fail(tmpl, "unsupported", f"{rt} has no op profiler in Python, and a model file has no PyTorch "
                                       f"module to cut its layers from"))
        return
    try:
        rows = session.layer_times(rt, model_file, [opts.batch, 3, size, size])
    except RunnerUnsupported as exc:
        keep(fail(tmpl, "unsupported", str(exc)))
        return
    except Exception as exc:
        keep(fail(tmpl, "failed", _why(exc)))
        return
    joined = join_layer_times(cost.layers, rows, runtime=rt, batch=opts.batch)
    metrics = {"layers": joined, "summary": summarize_layers(joined, total_ms=total_ms),
               "macs": int(cost.totals["conv_linear_macs"]), "layer_runs": opts.layer_runs,
               "threads": info["threads"],  # LiteRT's rows say how they were timed (sliced or converted layers)
               "method": (rows and rows[0].get("method")) or LAYER_METHOD.get(rt) or RUNNERS.get(rt).layer_method,
               "device_peaks": peaks.get(info["unit"])}
    keep(with_metrics(tmpl, metrics))


def _separable(name, cost, shape, runtimes, device, session, opts, keep, progress) -> None:
    from edgecnn.cost.separable import pairs_from_report
    from edgecnn.profile.separable import Shape, separable_records

    pairs = [p for p in pairs_from_report(cost) if p.depth_multiplier == 1]
    if not pairs:
        return
    shapes = [Shape(p.m, p.n, p.dk, p.df_in, p.stride) for p in pairs]
    progress(f"{name}: separable check, {len(set(shapes))} shapes")
    results: dict = {}
    for rt in runtimes:
        results.update(_sweep(session, rt, shapes, lambda m: progress(f"{name}: {m}")))
    for rec in separable_records(name, pairs, results, runtimes, device=device.name, input_shape=shape,
                                 isolation=session.isolation):
        keep(rec)


def _sweep(session, rt: str, shapes: list, progress) -> dict:
    """One runtime's separable sweep; a failure of the whole sweep (its worker
    died, say) is a failed result per shape, not a lost run."""
    try:
        return session.separable(rt, shapes, progress)
    except Exception as exc:
        return {(rt, s.key): {"status": "failed", "error": _why(exc)} for s in shapes}


def profile_shapes(shapes: Sequence[Any], device: Any, opts: Any, store: RecordStore,
                   progress: Callable[..., None] = _noop) -> list[Record]:
    """The separable check for shapes given on the command line (model "layer"),
    each runtime in its own worker (or in process, ``isolate=False``)."""
    from edgecnn.profile.separable import separable_records

    session = new_session(opts)
    results: dict = {}
    try:
        for rt in opts.runtimes:
            results.update(_sweep(session, rt, list(shapes), lambda m: progress(m)))
    finally:
        session.close()
    recs = separable_records("layer", shapes, results, opts.runtimes, device=device.name,
                             isolation=session.isolation)
    store.extend(recs)
    return recs

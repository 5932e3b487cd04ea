"""Remote profiling: export here, time on the device, records tagged with the device.

Entry points (the ``edgecnn profile`` command calls these for ssh/adb devices):

``probe(spec) -> ProbeResult``
    Is the device reachable, which Python and runtimes does it have, what is
    its clock state. Never raises for an unreachable device: ``reachable`` is
    False and ``error`` says why in one line.

``profile_remote(spec, models, runtimes, precision="fp32", batch=1, input_size=None, store=None, force=False, ...) -> list[Record]``
    For each (model, runtime): export the artifact locally (ONNX, TFLite or the
    TensorRT-ready ONNX; reused when ``export_dir`` has it), push it with ``device_runner.py`` and ``timing.py``,
    run it there with the same timing loop as local profiling, and turn the
    answer into a ``latency`` Record with ``device=spec.name``. Each record is
    appended to ``store`` as soon as it is measured, so an interrupted run keeps
    what finished; a rerun skips (model, runtime) pairs that already have an
    ``ok`` record unless ``force``. Failures become records (``unsupported``
    for a runtime the device lacks, ``failed``, ``export_failed``,
    ``unreachable`` once the connection is gone). Raises ``RemoteError`` (an
    ``EdgeCNNError``: one line, exit 2) only when nothing could be measured.

For adb devices the TFLite artifact is timed by LiteRT's ``benchmark_model``
on the phone (see ``adb_benchmark.py``); its per-op profile becomes a
``layer_latency`` record. TensorRT engines are built on the device with
``trtexec`` and cached here by (model, precision, device, TensorRT version);
see ``tensorrt_engine``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from edgecnn.remote import state as device_state
from edgecnn.remote.probe import (RESULT_MARK, RUNNER, ProbeResult, RemoteError, available_runtimes,  # noqa: F401
                                  device_python, parse_result, probe)
from edgecnn.remote.trtexec import (EngineBuildError, engine_cache_paths, parse_trtexec_timing,  # noqa: F401
                                     parse_trtexec_version, tensorrt_engine, trtexec_time_command, trtexec_version)
from edgecnn.remote.transports import (CommandTimeoutError, Transport, TransportError, make_transport, spec_name)
from edgecnn.remote.transports.base import last_line
from edgecnn.errors import EdgeCNNError
from edgecnn.records import Record, RecordStore, environment
from edgecnn.remote.roof import unit_peaks
from edgecnn.runtime.base import thread_rule
from edgecnn.runtime.device_timing import measure_fields

TIMING = Path(__file__).resolve().parents[1] / "runtime" / "timing.py"

def runtime_format(runtime: str) -> str | None:
    """The export format a device runs for ``runtime`` (the runtime table in
    ``edgecnn.runtime``); None for a runtime the device runner cannot load."""
    from edgecnn.runtime import RUNNERS

    return RUNNERS.get(runtime).export_format if runtime in RUNNERS else None

Progress = Callable[[str], None]
Exporter = Callable[..., Path]


def _say(progress: Progress | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


# ---------------------------------------------------------------------------
# exporting (local)
# ---------------------------------------------------------------------------
def default_exporter(model: str, fmt: str, precision: str, input_size: int | None, batch: int,
                     out_dir: str | Path) -> Path:
    """The artifact for ``fmt``, reused when ``out_dir`` has it, as local
    profiling does (``<model>-<size>-<precision>[-b<batch>].<suffix>``; for
    TensorRT the prepared ``...-trt.onnx``, the engine being built on the
    device); else exported without the parity check and without an export
    record (``edgecnn export`` is where export quality is measured)."""
    from edgecnn.export.artifacts import ExportFailed, get_artifact
    from edgecnn.models.sources import resolve_source

    src = resolve_source(model, input_size=input_size)
    if not src.is_pytorch:  # a model file runs as it is, on the runtimes that take its format
        if src.kind != fmt:
            raise ExportFailed(f"{src.spec} is {src.article} {src.label}; this runtime runs {fmt} files")
        return src.path
    return get_artifact(src.id, src.module() if src.kind != "zoo" else None, fmt, input_size=src.input_size,
                        precision=precision, batch=batch, export_dir=out_dir, prepare_only=fmt == "tensorrt",
                        by_name=src.kind == "zoo")


# ---------------------------------------------------------------------------
# profile_remote
# ---------------------------------------------------------------------------
@dataclass
class _Job:
    model: str  # what the user gave (a zoo name or any model source); the record names its id
    runtime: str
    record: Record  # identity + status template
    artifact: Path | None = None


def profile_remote(spec: Any, models: Sequence[str], runtimes: Sequence[str], precision: str = "fp32",
                   batch: int = 1, input_size: int | None = None, store: RecordStore | None = None,
                   force: bool = False, *, timing: dict[str, Any] | None = None, threads: int | None = None,
                   export_dir: str | Path = "export", exporter: Exporter | None = None,
                   progress: Progress | None = None, transport: Transport | None = None,
                   probed: ProbeResult | None = None) -> list[Record]:
    """Time ``models`` x ``runtimes`` on a remote device (see the module doc).

    ``timing`` holds ``timing.measure`` options (``warmup``, ``warmup_s``,
    ``runs``, ``min_time_s``, ``max_time_s``); ``threads`` sets the runtime's
    CPU threads. ``probed``: a ``probe`` of this device the caller already
    made (its clock state is read here when it skipped it), so the device is
    not probed twice. Returns the records written in this call (skipped pairs
    are not repeated)."""
    name = spec_name(spec)
    t = transport or make_transport(spec)
    written: list[Record] = []

    def keep(rec: Record) -> Record:
        if store is not None:
            store.append(rec)
        written.append(rec)
        return rec

    cores = probed.env.get("cpu_count") if probed else None  # what a rerun must match to skip (else: measured again)
    asked = {"timing_config": dict(timing or {}), **({"threads": threads or thread_rule(cores)} if threads or cores
                                                        else {})}
    jobs = _jobs(spec, t, models, runtimes, precision, batch, input_size, keep,
                 None if force else (store, asked), progress)
    if not jobs:
        return written
    info = _connect(spec, t, jobs, probed, keep, progress)
    device_env = _device_env(t, info)
    _push_runner(t, name, jobs, keep)
    run = _Run(spec, t, info, timing, threads, device_env, progress, exporter or default_exporter, export_dir,
               precision, input_size, batch)
    lost: str | None = None
    for job in jobs:
        lost = run.one(job, keep, lost)
    if not any(r.ok for r in written):
        errors = [r.error for r in written if r.error]
        raise RemoteError(errors[0] if errors else f"nothing could be measured on {name!r}")
    return written


def _jobs(spec: Any, t: Transport, models: Sequence[str], runtimes: Sequence[str], precision: str, batch: int,
          input_size: int | None, keep: Callable[[Record], Record], skip: tuple | None,
          progress: Progress | None) -> list[_Job]:
    """The (model, runtime) pairs to time; the ones that cannot run there are
    kept as ``unsupported`` records, the ones measured already skipped
    (``skip``: the store and the setup a stored record must match)."""
    name, listed = spec_name(spec), available_runtimes(spec)
    jobs: list[_Job] = []
    for model in models:
        rid, shape, extra = _model_identity(model, input_size)
        for rt in runtimes:
            fmt = runtime_format(rt)
            tmpl = Record(kind="latency", model=rid, status="ok", source="measured", device=name, runtime=rt,
                          format=fmt, precision=precision, batch=int(batch), input_shape=shape, metrics=dict(extra))
            if fmt is None:
                keep(_failed(tmpl, "unsupported", f"runtime {rt!r} cannot run on a remote device "
                                                  f"(remote runtimes: {', '.join(_remote_runtimes())})"))
            elif listed and rt not in listed:
                keep(_failed(tmpl, "unsupported", f"device {name!r} does not list runtime {rt!r} "
                                                  f"(its [runtimes] available = {listed})"))
            elif t.name == "adb" and rt != "litert":
                keep(_failed(tmpl, "unsupported", f"adb devices run TFLite models with benchmark_model; "
                                                  f"runtime {rt!r} is not available over adb"))
            elif skip is not None and skip[0] is not None and skip[0].has_ok(tmpl, skip[1]):
                _say(progress, f"skip {model} / {rt} on {name}: already measured (use --force to redo)")
            else:
                jobs.append(_Job(model, rt, tmpl))
    return jobs


def _connect(spec: Any, t: Transport, jobs: list[_Job], probed: ProbeResult | None,
             keep: Callable[[Record], Record], progress: Progress | None) -> ProbeResult:
    """The device's probe (the caller's, its clock state read if it skipped
    it); an unreachable device fails every job and raises ``RemoteError``."""
    name = spec_name(spec)
    _say(progress, f"connecting to {t.describe()}")
    info = probed or probe(spec, transport=t)
    if probed is not None and info.reachable and not info.error and not info.state:
        try:
            info.state = device_state.read_state(t)
        except TransportError as exc:
            info.error = str(exc)
    if not info.reachable or (info.error and t.name != "adb"):
        err = info.error or f"device {name!r} is unreachable"
        status = "unreachable" if not info.reachable else "failed"
        for job in jobs:
            keep(_failed(job.record, status, err))
        raise RemoteError(err)
    for w in info.state.get("warnings", []):
        _say(progress, f"warning: {name}: {w}")
    return info


def _push_runner(t: Transport, name: str, jobs: list[_Job], keep: Callable[[Record], Record]) -> None:
    """Copy the device runner and the timing loop there (adb runs benchmark_model instead)."""
    if t.name == "adb":
        return
    try:
        t.push([RUNNER, TIMING])
    except TransportError as exc:  # gone since the probe, or the working folder is not writable
        status = "failed" if type(exc) is TransportError else "unreachable"
        for job in jobs:
            keep(_failed(job.record, status, f"copying the runner to {name!r} failed: {exc}"))
        raise RemoteError(f"copying the runner to {name!r} failed: {exc}") from None


@dataclass
class _Run:
    """What timing one job on the device needs."""

    spec: Any
    t: Transport
    info: ProbeResult
    timing: dict[str, Any] | None
    threads: int | None
    device_env: dict[str, Any]
    progress: Progress | None
    exporter: Exporter
    export_dir: str | Path
    precision: str
    input_size: int | None
    batch: int

    def one(self, job: _Job, keep: Callable[[Record], Record], lost: str | None) -> str | None:
        """Export and time ``job``; its record kept whatever happens. Returns
        why the connection is lost (then the rest are ``unreachable``), or None."""
        name = spec_name(self.spec)
        if lost is not None:
            keep(_failed(job.record, "unreachable", lost))
            return lost
        if self.info.runtimes.get(job.runtime) is None:
            why = self.info.runtime_errors.get(job.runtime, "not installed")
            keep(_failed(job.record, "unsupported", f"runtime {job.runtime!r} is missing on device {name!r}: {why}"))
            return None
        _say(self.progress, f"{job.model} / {job.runtime} on {name}: exporting")
        try:
            job.artifact = Path(self.exporter(job.model, job.record.format, self.precision, self.input_size,
                                              self.batch, self.export_dir))
        except EdgeCNNError as exc:
            keep(_failed(job.record, "export_failed", str(exc)))
            return None
        try:
            _say(self.progress, f"{job.model} / {job.runtime} on {name}: timing")
            if self.t.name == "adb":
                from edgecnn.remote.adb_benchmark import run_benchmark_model

                for rec in run_benchmark_model(self.t, self.spec, job.record, job.artifact, self.info, self.timing,
                                               self.threads, self.device_env):
                    keep(rec)
            else:
                keep(_run_on_device(self.t, self.spec, job, self.info, self.timing, self.threads, self.device_env,
                                    self.progress))
        except CommandTimeoutError as exc:
            keep(_failed(job.record, "failed", str(exc)))
        except TransportError as exc:  # the connection is gone: keep what finished
            lost = f"{exc} (the results measured before this were kept; rerun to resume)"
            keep(_failed(job.record, "unreachable", lost))
            return lost
        except EdgeCNNError as exc:  # e.g. the engine build failed: this job only
            keep(_failed(job.record, "failed", str(exc)))
        return None


def companion_files(runtime: str, artifact: Path) -> list[Path]:
    """The files ``artifact`` needs beside it on the device (OpenVINO's .bin, NCNN's weights)."""
    from edgecnn.runtime import RUNNERS

    if runtime not in RUNNERS:
        return []
    return [Path(p) for p in RUNNERS.get(runtime).companion_files(str(artifact)) if Path(p).exists()]


def runtime_settings(artifact: Path, runtime: str) -> dict[str, Any]:
    """The settings the exporter chose for ``runtime`` (from ``<artifact>.json``), for the device runner."""
    from edgecnn.runtime._native import runtime_settings as read

    return read(artifact, runtime)


def _remote_runtimes() -> list[str]:
    from edgecnn.runtime import RUNNERS

    return [rt for rt, cls in RUNNERS.items() if cls.export_format]


def _failed(tmpl: Record, status: str, error: str) -> Record:
    d = tmpl.to_dict()
    d.update(status=status, error=error)
    return Record.from_dict(d)


def _model_identity(model: str, input_size: int | None) -> tuple[str, list[int] | None, dict[str, Any]]:
    """(the name records give ``model``, its per-sample input shape, where it came from)."""
    from edgecnn.models.sources import resolve_source

    src = resolve_source(model, input_size=input_size)
    extra = {"model_source": src.label, **({"model_spec": src.spec} if src.kind != "zoo" else {})} \
        if src.kind != "zoo" else {}
    return src.id, list(src.input_shape), extra


def _device_env(t: Transport, info: ProbeResult) -> dict[str, Any]:
    """The record ``env``: the device's own host/platform/versions, plus where
    it was driven from (local git commit and host) and its clock state."""
    local = environment()
    env = dict(info.env)
    versions = {rt: v for rt, v in info.runtimes.items() if v}
    env.update(versions=versions, transport=t.name, driven_from=local.get("host"),
               git_commit=local.get("git_commit"), edgecnn_version=local.get("versions", {}).get("edgecnn"),
               device_state=info.state)
    return env


def _run_on_device(t: Transport, spec: Any, job: _Job, info: ProbeResult, timing: dict | None, threads: int | None,
                   device_env: dict, progress: Progress | None) -> Record:
    from edgecnn.runtime.workers import artifact_bytes

    assert job.artifact is not None
    artifact = job.artifact
    if job.runtime == "tensorrt":
        artifact = tensorrt_engine(t, spec_name(spec), job.record.model, job.artifact, job.record.precision,
                                   job.record.batch, (job.record.input_shape or [3, 224, 224])[-1],
                                   info.runtimes.get("tensorrt"), info.extra.get("trtexec"), progress)
    else:  # tensorrt_engine leaves the engine on the device already
        t.push([artifact, *companion_files(job.runtime, artifact)], t.remote_path("artifacts"))
    payload = {"id": f"{job.model}-{job.runtime}", "artifact": t.remote_path(f"artifacts/{artifact.name}"),
               "runtime": job.runtime, "batch": job.record.batch, "input_shape": job.record.input_shape,
               "threads": threads, "seed": 0, "settings": runtime_settings(artifact, job.runtime), **(timing or {})}
    # the job goes on stdin, as the probe's runner does: no file to push, one ssh round trip fewer
    out = t.run(f"{shlex.quote(device_python(spec))} device_runner.py run -", input_bytes=json.dumps(payload).encode())
    answer = parse_result(out.stdout)
    if answer is None:
        return _failed(job.record, "failed", f"the device runner gave no result (exit {out.returncode}): "
                                             f"{last_line(out.stderr or out.stdout) or 'no output'}")
    if answer.get("status") == "unsupported" and job.runtime == "tensorrt" and info.extra.get("trtexec"):
        return _time_with_trtexec(t, job, info, artifact, timing, device_env, answer.get("error", ""))
    if answer.get("status") != "ok":
        return _failed(job.record, answer.get("status", "failed") if answer.get("status") in
                       ("unsupported", "failed") else "failed", answer.get("error") or "failed on the device")
    metrics = dict(answer.get("stats", {}))
    metrics.update(measure_fields(metrics, "cuda" if job.runtime == "tensorrt" else "cpu"))
    macs = model_macs(job.model, job.record.input_shape, job.record.precision)
    p50 = metrics.get("latency_ms_p50")
    used_threads = answer.get("threads", threads)
    # the same shape as a local runner's describe(), plus how it ran
    runner = {"runtime": job.runtime, "format": job.record.format, "threads": used_threads,
              "device": "cuda" if job.runtime == "tensorrt" else "cpu", "precision": job.record.precision,
              **(answer.get("settings") or {}), "version": answer.get("runtime_version"),
              "via": "device_runner.py"}
    metrics.update(threads=used_threads, macs=macs,
                   achieved_gmacs_per_s=macs * job.record.batch / (p50 * 1e6) if macs and p50 else None,
                   load_ms=answer.get("load_ms"), input_dtype=answer.get("input_dtype"),
                   runtime_version=answer.get("runtime_version"), artifact=artifact.name, runner=runner,
                   timing_config={k: v for k, v in (timing or {}).items()},
                   artifact_bytes=answer.get("artifact_bytes") or artifact_bytes(artifact, job.runtime),
                   isolation="one process per runtime on the device (device_runner.py), runtimes timed one "
                             "after another", device_peaks=unit_peaks(spec, job.runtime),
                   **_remote_memory(answer.get("memory") or {}))
    env = dict(device_env)
    env.update({k: v for k, v in (answer.get("env") or {}).items() if k not in ("versions",)})
    d = job.record.to_dict()
    d.update(metrics)
    d["env"] = env
    return Record.from_dict(d)


def _time_with_trtexec(t: Transport, job: _Job, info: ProbeResult, engine: Path, timing: dict | None,
                       device_env: dict, why_not_python: str) -> Record:
    cmd = trtexec_time_command(info.extra["trtexec"], t.remote_path(f"artifacts/{engine.name}"), timing)
    out = t.run(cmd)
    try:
        metrics = parse_trtexec_timing(out.stdout)
    except ValueError as exc:
        return _failed(job.record, "failed", str(exc))
    d = job.record.to_dict()
    d.update(metrics, runtime_version=info.runtimes.get("tensorrt"), artifact=engine.name,
             timing_note=f"timed by trtexec, not edgecnn's loop ({why_not_python})")
    d["env"] = {**device_env, "trtexec_command": cmd}
    return Record.from_dict(d)


def _remote_memory(mem: dict[str, Any]) -> dict[str, Any]:
    """The device runner's memory readings as record fields (as local workers report them)."""
    from edgecnn.runtime.workers import memory_figures

    out = memory_figures({"rss_before_mb": mem.get("rss_before_mb"), "rss_loaded_mb": mem.get("rss_loaded_mb")},
                         {"peak_rss_mb": mem.get("peak_rss_mb")})
    out["memory_method"] = "device_runner.py on the device: " + out["memory_method"].split(": ", 1)[1]
    return out


_MACS: dict[tuple, int | None] = {}


def model_macs(model: str, input_shape: list[int] | None, precision: str) -> int | None:
    """Conv + linear MACs of one sample (``edgecnn.cost``) of ``model`` (any model
    source), as local records carry them; None when it cannot be counted here."""
    key = (model, tuple(input_shape or ()), precision)
    if key not in _MACS:
        try:
            from edgecnn.cost.sources import count_source
            from edgecnn.models.sources import resolve_source

            src = resolve_source(model, input_size=input_shape[-1] if input_shape else None)
            cost = count_source(src, precision if precision in ("fp32", "fp16", "int8") else "fp32")
            _MACS[key] = int(cost.totals["conv_linear_macs"])
        except Exception:
            _MACS[key] = None
    return _MACS[key]

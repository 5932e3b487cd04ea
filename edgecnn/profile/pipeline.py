"""The profile pipeline: models x runtimes on a device -> Records.

``profile(models, device, options, store)`` orchestrates named steps:

- **local** (``edgecnn.profile.local``): build and count each model, make each
  runtime's artifact, time the runtimes isolated (one process per runtime,
  rounds alternating), per-layer times joined to the cost rows, the separable
  check;
- **remote** (``edgecnn.remote.profile``): probe the device, export here, time
  there with the same timing loop;
- **predicted** (``edgecnn.profile.predicted``): roofline predictions per
  compute unit, written only when asked (``--predict``).

A device that does not answer is not a prediction: its measurements are
``unreachable`` records and ``DeviceUnreachable`` (one line, exit 2) names
``--predict``; with ``--predict`` the predictions are written as well. Only a
transport error makes a device unreachable; a bug is a failure with its error.

Each record is appended as soon as it exists, so an interrupted run keeps
what finished; a rerun skips (model, runtime, kind) already ``ok`` unless
``force``. Failures are records too (unsupported, export_failed, failed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from edgecnn.devices.spec import DeviceSpec
from edgecnn.errors import EdgeCNNError
from edgecnn.jobs import default_jobs
from edgecnn.profile.local import profile_local, profile_shapes
from edgecnn.profile.predicted import predict_records
from edgecnn.profile.records import input_size_of, measurement_variant, published_accuracy, unreachable_record
from edgecnn.records import Record, RecordStore
from edgecnn.runtime.timing import TimingConfig

# `make report` budget: 5 models x 3 runtimes in < 8 min on 2 shared cores.
DEFAULT_TIMING = TimingConfig(warmup=5, warmup_s=0.2, runs=20, min_time_s=1.0, max_time_s=10.0)

Progress = Callable[..., None]  # progress(message=None, advance=0)


class DeviceUnreachable(EdgeCNNError):
    """The device did not answer; its measurements are ``unreachable`` records."""


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
    compile: Optional[str] = None  # torch runner: a torch.compile mode (compile time recorded)
    timing: TimingConfig = field(default_factory=lambda: DEFAULT_TIMING)
    layers: bool = True
    layer_runs: int = 10
    separable: bool = True
    shapes: list[Any] = field(default_factory=list)  # edgecnn.profile.separable.Shape from --shape
    export_dir: str = "export"
    # missing artifacts of zoo models are made first, this many at a time (this process and N-1 helpers;
    # 1: each in its model's step)
    export_jobs: int = field(default_factory=default_jobs)
    force: bool = False
    predict: bool = False  # also write predicted records (and for an unreachable device: instead)
    isolate: bool = True  # one worker process per runtime (False: one process; fake runners in tests)
    weights: Optional[str] = None  # pretrained weights loaded where each model is built (edgecnn.models.weights)
    clock: Optional[Callable[[], float]] = None  # seconds; injectable for tests (in-process timing only)


def _noop(message: Optional[str] = None, advance: int = 0) -> None:
    pass


# ---------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------
def profile(models: Sequence[str], device: DeviceSpec, opts: ProfileOptions, store: RecordStore,
            progress: Progress = _noop) -> list[Record]:
    """Profile ``models`` on ``device`` (see the module doc); returns the
    records written by this call."""
    if device.is_local:
        out = profile_local(models, device, opts, store, progress)
    else:
        out = profile_remote_step(models, device, opts, store, progress)
    if opts.predict:
        out += predict_records(models, device, opts, store, reason="requested with --predict", progress=progress)
    return out


def profile_remote_step(models: Sequence[str], device: DeviceSpec, opts: ProfileOptions, store: RecordStore,
                        progress: Progress = _noop) -> list[Record]:
    """Measure on a remote device; an unreachable one gets ``unreachable``
    records and, unless predictions were asked for, ``DeviceUnreachable``."""
    from edgecnn.remote import profile as remote

    probed = remote.probe(device, timeout_s=float(device.connection.get("connect_timeout_s", 10)),
                          read_state=False)
    if not probed.reachable:  # the probe's error names the device and the transport already
        reason = probed.error or f"device {device.name!r} is unreachable: no answer"
        out = []
        for m in models:
            for rt in opts.runtimes:
                rec = unreachable_record(device, m, rt, opts, reason)
                store.append(rec)
                out.append(rec)
        progress(None, advance=len(models))
        if not opts.predict:
            raise DeviceUnreachable(f"{reason}; nothing was measured ({len(out)} unreachable records written); "
                                    f"add --predict for roofline predictions of {device.name}")
        return out
    out = remote.profile_remote(device, models, opts.runtimes, precision=opts.precision, batch=opts.batch,
                                input_size=opts.input_size, store=store, force=opts.force,
                                timing=opts.timing.to_dict(), threads=opts.threads, export_dir=opts.export_dir,
                                progress=lambda m: progress(m), probed=probed)
    progress(None, advance=len(models))
    return out


__all__ = ["DEFAULT_TIMING", "DeviceUnreachable", "ProfileOptions", "input_size_of", "measurement_variant",
           "predict_records", "profile", "profile_local", "profile_remote_step", "profile_shapes",
           "published_accuracy"]

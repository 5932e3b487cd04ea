"""Device time apart from host copies, as trtexec reports it.

A runner on a GPU does three things per inference, on its CUDA stream:

- **h2d**: copy the input from a pinned host buffer to the resident device input;
- **compute**: run the model on the resident input, output left on the device;
- **d2h**: copy the output to a pinned host buffer;

and a caller that holds a numpy array pays **end_to_end**: a pageable host
array in, a host array out (``Runner.infer``, timed on the host clock with
the device synchronised). A GPU latency record's headline
(``latency_ms_p50``, ``latency_measure = "device_compute"``) is the compute
step timed with CUDA events around it (input already on the device, as
MLPerf's ``start_from_device`` and trtexec's "GPU Compute Time"); the copies
and the end-to-end figure stand beside it (``h2d_ms_p50``, ``d2h_ms_p50``,
``end_to_end_ms_p50``).

Every sample goes through the one timing loop (``edgecnn.runtime.timing``):
the compute steps of all configurations interleaved with ``config``, then
the copies and end-to-end calls interleaved with ``copy_config``. A runner
exposes its steps with ``Runner.device_phases()`` (None: it has no device
of its own, and only end-to-end is timed). Tests drive this with a fake
timer; the CPU smoke run with the host clock on CPU tensors.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from edgecnn.runtime.timing import Clock, LatencyStats, TimingConfig, interleave

# what the headline of a latency record times (the record's ``latency_measure``)
DEVICE_COMPUTE = "device_compute"  # the model's device work, input resident, events around it
END_TO_END = "end_to_end"  # host array in, host array out: copies included
HOST_CALL = "host_call"  # a CPU runtime's call on the host clock (numpy in, numpy out)

# the copies are cheap and steady: shorter series than the compute step's
COPY_TIMING = TimingConfig(warmup=3, warmup_s=0.05, runs=20, min_time_s=0.25, max_time_s=3.0)


class DevicePhases:
    """A runner's device steps: ``compute``, ``h2d`` and ``d2h`` take no
    argument and leave their work queued or done; ``timer(call, sync) -> ms``
    times one of them on the device (CUDA events) or the host clock;
    ``prepare(x)`` fills the host input buffer from a numpy array and runs
    every step once (untimed); ``sync()`` waits for the device."""

    def __init__(self, *, compute: Callable[[], Any], h2d: Callable[[], Any], d2h: Callable[[], Any],
                 timer: Callable[..., float], prepare: Callable[[Any], Any], sync: Callable[[], Any],
                 h2d_bytes: int, d2h_bytes: int, host_memory: str) -> None:
        self.compute, self.h2d, self.d2h = compute, h2d, d2h
        self.timer, self.prepare, self.sync = timer, prepare, sync
        self.h2d_bytes, self.d2h_bytes, self.host_memory = int(h2d_bytes), int(d2h_bytes), host_memory

    @property
    def timer_name(self) -> str:
        return getattr(self.timer, "name", type(self.timer).__name__)


class CudaEventTimer:
    """CUDA events recorded on ``stream`` (default: the current stream) just
    before and after the call; the sample is ``start.elapsed_time(end)`` after
    the end event completes, so only the device's work between them counts."""

    name = "cuda_events"

    def __init__(self, stream: Any = None) -> None:
        import torch

        self._torch = torch
        self._stream = stream
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def __call__(self, call: Callable[[], Any], sync: Optional[Callable[[], Any]] = None) -> float:
        stream = self._stream if self._stream is not None else self._torch.cuda.current_stream()
        self._start.record(stream)
        call()
        self._end.record(stream)
        self._end.synchronize()
        if sync is not None:
            sync()
        return float(self._start.elapsed_time(self._end))


class SplitStats:
    """The series of one configuration: ``compute`` (the headline) and, when
    timed, ``h2d``, ``d2h`` and ``end_to_end``."""

    def __init__(self, compute: LatencyStats, *, h2d: Optional[LatencyStats] = None,
                 d2h: Optional[LatencyStats] = None, end_to_end: Optional[LatencyStats] = None,
                 phases: Optional[DevicePhases] = None) -> None:
        self.compute, self.h2d, self.d2h, self.end_to_end = compute, h2d, d2h, end_to_end
        self.phases = phases

    @property
    def median_ms(self) -> float:
        return self.compute.median_ms

    def to_metrics(self) -> dict[str, Any]:
        """Record fields: the compute statistics under the latency names, the
        copies and end-to-end beside them, and what was timed how."""
        m = self.compute.to_metrics()
        m["latency_measure"] = DEVICE_COMPUTE if self.phases is not None else END_TO_END
        m["includes_host_copies"] = self.phases is None
        if self.phases is not None:
            m.update(copy_metrics(self.phases, self.h2d, self.d2h, self.end_to_end))
        return m


def copy_metrics(phases: DevicePhases, h2d: Optional[LatencyStats], d2h: Optional[LatencyStats],
                 end_to_end: Optional[LatencyStats]) -> dict[str, Any]:
    m: dict[str, Any] = {"device_timer": phases.timer_name, "host_memory": phases.host_memory,
                         "h2d_bytes": phases.h2d_bytes, "d2h_bytes": phases.d2h_bytes}
    for name, st in (("h2d", h2d), ("d2h", d2h), ("end_to_end", end_to_end)):
        if st is not None:
            m[f"{name}_ms_p50"], m[f"{name}_ms_p90"] = st.median_ms, st.p90_ms
            m[f"{name}_runs"] = st.runs
    if h2d is not None and h2d.median_ms > 0:
        m["h2d_gb_per_s"] = phases.h2d_bytes / (h2d.median_ms * 1e6)
    if d2h is not None and d2h.median_ms > 0:
        m["d2h_gb_per_s"] = phases.d2h_bytes / (d2h.median_ms * 1e6)
    return m


def time_copies(runner: Any, phases: DevicePhases, inputs: list, config: TimingConfig = COPY_TIMING,
                clock: Clock = time.perf_counter) -> dict[str, Any]:
    """h2d, d2h and end-to-end of one runner, interleaved, as record fields
    (the isolated worker's second pass; ``time_split`` does the same in process)."""
    stats = interleave({"h2d": phases.h2d, "d2h": phases.d2h, "end_to_end": runner.infer},
                       inputs={"end_to_end": inputs}, syncs={"end_to_end": runner.sync},
                       timers={"h2d": phases.timer, "d2h": phases.timer}, config=config, clock=clock)
    phases.prepare(inputs[0])  # end-to-end calls used the device buffers' runner too: put the input back
    return copy_metrics(phases, stats["h2d"], stats["d2h"], stats["end_to_end"])


def time_split(runners: dict[str, Any], inputs: dict[str, list], *, config: TimingConfig,
               copy_config: Optional[TimingConfig] = COPY_TIMING,
               clock: Clock = time.perf_counter) -> dict[str, SplitStats]:
    """Time several configurations (``runners``, each loaded, with its input
    pool in ``inputs``): first every compute step interleaved on its device
    timer with ``config``, then (unless ``copy_config`` is None) every h2d,
    d2h and end-to-end call interleaved with ``copy_config``. A runner without
    device phases is timed end to end, and its record says so."""
    phases = {k: r.device_phases() for k, r in runners.items()}
    for k, ph in phases.items():
        if ph is not None:
            ph.prepare(inputs[k][0])
    fns, ins, syncs, timers = {}, {}, {}, {}
    for k, r in runners.items():
        ph = phases[k]
        if ph is None:
            fns[k], ins[k], syncs[k] = r.infer, inputs[k], r.sync
        else:
            fns[k], timers[k] = ph.compute, ph.timer
    main = interleave(fns, inputs=ins, syncs=syncs, timers=timers, config=config, clock=clock)
    out = {k: SplitStats(main[k], phases=phases[k]) for k in runners}
    split = [k for k in runners if phases[k] is not None]
    if copy_config is None or not split:
        return out
    fns, ins, syncs, timers = {}, {}, {}, {}
    for k in split:
        ph = phases[k]
        fns[f"{k}|h2d"], timers[f"{k}|h2d"] = ph.h2d, ph.timer
        fns[f"{k}|d2h"], timers[f"{k}|d2h"] = ph.d2h, ph.timer
        fns[f"{k}|e2e"], ins[f"{k}|e2e"], syncs[f"{k}|e2e"] = runners[k].infer, inputs[k], runners[k].sync
    copies = interleave(fns, inputs=ins, syncs=syncs, timers=timers, config=copy_config, clock=clock)
    for k in split:
        out[k].h2d, out[k].d2h, out[k].end_to_end = copies[f"{k}|h2d"], copies[f"{k}|d2h"], copies[f"{k}|e2e"]
    return out


def measure_fields(fields: dict[str, Any], device: str) -> dict[str, Any]:
    """What the headline measured, said on every record: a CPU runtime's call
    (host clock), a GPU's device time (the fields of the split) or, for a GPU
    runtime that cannot be split, its whole call with the copies."""
    out = {k: v for k, v in fields.items() if not k.startswith("latency_ms_") and k not in (
        "runs", "warmup_runs", "outliers", "spread", "drift", "noisy", "timing_s")}
    if "latency_measure" not in out or out["latency_measure"] == END_TO_END:
        gpu = str(device).startswith("cuda")
        out.update(latency_measure=END_TO_END if gpu else HOST_CALL, includes_host_copies=gpu)
    return out

"""Isolated timing: every runtime in a process of its own, rounds alternating.

Why: runtimes timed in one process disturb each other. On a 2-core machine,
torch's OpenMP workers keep spinning for a while after each call, and every
runtime's thread pool (ONNX Runtime's, XNNPACK's) competes for the same cores;
measured in one process, ONNX Runtime and LiteRT came out 1.5-1.9x slower than
a plain script timing the same file (docs/profile.md has the figures).

How: ``WorkerPool`` starts one ``spawn``-ed worker process per runtime (a
fresh interpreter: nothing of the parent's thread pools or allocator), loads
the artifact there, and times **rounds**: each worker in turn runs a block of
calls of about ``block_s`` seconds (one untimed call first, to bring its
caches back), while the other workers sleep in a blocking read; after each
block the parent pauses ``settle_s`` so spinning threads of the worker that
just ran go idle before the next one starts. The order rotates every round,
so drift on a shared machine hits all runtimes alike. Only one process runs
inference at any moment.

Memory: each worker reports its resident memory before the artifact is
loaded (runtime library imported), after loading, and its peak (VmHWM) after
warm-up and timing, so ``memory_added_mb`` is what loading and running this
model added, and ``memory_peak_mb`` the process's peak (Python and the
runtime library included). A fresh worker is started per model, so one
model's peak never hides in another's.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from edgecnn.errors import EdgeCNNError
from edgecnn.runtime.timing import (MIN_RUNS, Clock, LatencyStats, TimingConfig, compute_stats, timed_block,
                                    warm_up)

BLOCK_S = 0.1  # seconds of calls per runtime per round
SETTLE_S = 0.02  # pause between two runtimes' blocks (spinning threads go idle)
ISOLATION = (f"one process per runtime; rounds of ~{BLOCK_S:g} s per runtime alternate (order rotated, one untimed "
             f"call first), {SETTLE_S * 1e3:g} ms pause between runtimes")


class WorkerError(EdgeCNNError):
    """The runtime failed in its worker (``kind`` is the exception class there)."""

    def __init__(self, message: str, kind: str = "Exception") -> None:
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------------------
# memory of this process (Linux /proc; getrusage elsewhere: peak only)
# ---------------------------------------------------------------------------
def _status_kb(key: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb() -> Optional[float]:
    kb = _status_kb("VmRSS")
    return kb / 1024 if kb is not None else None


def peak_rss_mb() -> Optional[float]:
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb / 1024
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    except (ImportError, OSError):
        return None


# ---------------------------------------------------------------------------
# the worker process
# ---------------------------------------------------------------------------
class _Served:
    """What a worker holds: one loaded runner and its input pool. ``clock``
    (seconds) times its warm-up and blocks: the host clock in a worker
    process, a fake one for an ``InProcessWorker`` in tests."""

    def __init__(self, runtime: str, kwargs: dict[str, Any], clock: Clock = time.perf_counter) -> None:
        from edgecnn.runtime import RUNNERS

        self.cls = RUNNERS.get(runtime)
        self.kwargs = kwargs
        self.clock = clock
        self.runner = None
        self.inputs: list = []
        self.next = 0
        self.phases = None  # device_timing.DevicePhases when the runner's device time is timed apart

    def load(self, artifact: str, batch: int, size: int, pool: int = 4, split: bool = False) -> dict[str, Any]:
        import numpy as np

        from edgecnn.runtime.timing import random_inputs

        _import_runtime(self.cls)
        before = rss_mb()
        t0 = time.perf_counter()
        target: Any = artifact
        if self.cls.format == "pytorch":
            import torch

            target = torch.load(artifact, map_location="cpu", weights_only=False)
        self.runner = self.cls(**self.kwargs).load(target)
        load_ms = (time.perf_counter() - t0) * 1e3
        after = rss_mb()
        shape = self.runner.input_shape or [batch, 3, size, size]
        wanted = [batch, 3, size, size]
        shape = [d if (d is not None and d > 0) else wanted[i] for i, d in enumerate(shape)]
        self.inputs = random_inputs(shape, dtype=self.runner.input_dtype, count=pool)
        out = self.runner.infer(self.inputs[0])  # a runtime that cannot run this model fails here, alone
        if split:
            self.phases = self.runner.device_phases()
            if self.phases is not None:
                self.phases.prepare(self.inputs[0])
        return {"load_ms": load_ms, "split": self.phases is not None, "rss_before_mb": before, "rss_loaded_mb": after,
                "input_shape": [int(v) for v in shape], "input_dtype": str(np.dtype(self.runner.input_dtype)),
                "output_shape": [int(v) for v in np.shape(out)], "threads": self.runner.threads,
                "describe": self.runner.describe(), "device": self.runner.device}

    def _call(self, i: int) -> None:
        self.runner.infer(self.inputs[i % len(self.inputs)])

    def warmup(self, calls: int, seconds: float) -> int:
        n = warm_up(self._call, self.runner.sync, calls=calls, seconds=seconds, clock=self.clock, max_calls=None)
        self.next += n
        return n

    def block(self, calls: int, seconds: float, prewarm: int) -> list[float]:
        """``prewarm`` untimed calls (caches back after another runtime's block),
        then a block of timed calls through ``edgecnn.runtime.timing.timed_block``:
        the device time of the compute step when this runner is split
        (``edgecnn.runtime.device_timing``), else the host clock around each call."""
        if self.phases is not None:
            for _ in range(prewarm):
                self.phases.compute()
            self.phases.sync()
            return timed_block(lambda i: self.phases.compute(), 0, calls=calls, seconds=seconds,
                               timer=self.phases.timer, clock=self.clock)
        for _ in range(prewarm):
            self._call(self.next)
            self.runner.sync()
            self.next += 1
        samples = timed_block(self._call, self.next, calls=calls, seconds=seconds, sync=self.runner.sync,
                              clock=self.clock)
        self.next += len(samples)
        return samples

    def copies(self, config: dict[str, Any]) -> dict[str, Any]:
        """The split runner's host-to-device, device-to-host and end-to-end
        series (``device_timing.time_copies``), as record fields."""
        from edgecnn.runtime.device_timing import time_copies

        if self.phases is None:
            return {}
        return time_copies(self.runner, self.phases, self.inputs, TimingConfig(**config))


def _import_runtime(cls: Any) -> None:
    """Import the runtime's library before the 'before' memory reading, so
    memory figures count the model, not the library."""
    module = {"pytorch": "torch", "onnx": "onnxruntime"}.get(cls.format)
    if module:
        __import__(module)
    elif cls.format == "tflite":
        from edgecnn.runtime.litert_runner import interpreter_module

        interpreter_module()


def _serve(conn: Any, runtime: str, kwargs: dict[str, Any]) -> None:
    """Worker main loop: one request at a time, (op, args) -> ("ok", value) or
    ("error", (exception class, message, traceback))."""
    # the runner is alone in this process: a runner that holds back for others sharing its process (ONNX
    # Runtime stopping its pool's spin after each run) can behave as a plain program of its runtime does
    served = _Served(runtime, {**kwargs, "alone": True})
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):
            return
        if op == "close":
            conn.send(("ok", None))
            return
        try:
            conn.send(("ok", _answer(served, op, args)))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            conn.send(("error", (type(exc).__name__, str(exc), traceback.format_exc()[-3000:])))
            if isinstance(exc, KeyboardInterrupt):
                return


def _answer(served: _Served, op: str, args: dict[str, Any]) -> Any:
    """What a worker answers to one request (both worker kinds)."""
    if op == "load":
        return served.load(**args)
    if op == "warmup":
        return served.warmup(**args)
    if op == "block":
        return served.block(**args)
    if op == "copies":
        return served.copies(**args)
    if op == "memory":
        return {"rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb(), "pid": os.getpid()}
    if op == "layer_times":
        return served.runner.layer_times(served.inputs, runs=args["runs"])
    if op == "call":  # a function the caller names, run in this process (its runner first if asked)
        module, name = args["function"].rsplit(".", 1)
        fn = getattr(importlib.import_module(module), name)
        lead = (served.runner,) if args.get("with_runner") else ()
        return fn(*lead, *args.get("args", ()), **args.get("kwargs", {}))
    raise ValueError(f"unknown worker op {op!r}")


# ---------------------------------------------------------------------------
# the parent side
# ---------------------------------------------------------------------------
@dataclass
class RuntimeWorker:
    """A runtime in its own process. ``kwargs`` go to the Runner's constructor."""

    runtime: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def start(self) -> "RuntimeWorker":
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.runtime, self.kwargs), daemon=True,
                                 name=f"edgecnn-{self.runtime}")
        self._proc.start()
        child.close()
        return self

    def request(self, op: str, **args: Any) -> Any:
        try:
            self._conn.send((op, args))
            status, value = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            code = self._proc.exitcode if hasattr(self, "_proc") else None
            raise WorkerError(f"the {self.runtime} worker process died (exit code {code}) during {op}",
                              "WorkerDied") from exc
        if status == "error":
            kind, message, _tb = value
            raise WorkerError(message, kind)
        return value

    def close(self) -> None:
        if not hasattr(self, "_proc"):
            return
        try:
            if self._proc.is_alive():
                self._conn.send(("close", {}))
                self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._conn.close()


class InProcessWorker:
    """A runtime served in this process, answering ``request`` as a
    ``RuntimeWorker`` does (the same ops, the same ``_Served``): for tests
    that check the rounds exactly with a fake ``clock`` and fake runners. It
    isolates nothing."""

    def __init__(self, runtime: str, kwargs: Optional[dict[str, Any]] = None,
                 clock: Clock = time.perf_counter) -> None:
        self.runtime = runtime
        self.served = _Served(runtime, dict(kwargs or {}), clock)

    def start(self) -> "InProcessWorker":
        return self

    def request(self, op: str, **args: Any) -> Any:
        try:
            return _answer(self.served, op, args)
        except Exception as exc:  # as a worker process reports it: the class name and the message
            raise WorkerError(str(exc), type(exc).__name__) from exc

    def close(self) -> None:
        if self.served.runner is not None:
            self.served.runner.close()


def interleave_workers(workers: dict[str, Any], config: TimingConfig, *, block_s: float = BLOCK_S,
                       settle_s: float = SETTLE_S, prewarm: int = 1, sleep: Callable[[float], None] = time.sleep,
                       clock: Clock = time.perf_counter) -> dict[str, LatencyStats]:
    """Time every worker's loaded model in alternating rounds (see the module
    doc). Each worker warms up alone first (``config.warmup`` calls and
    ``config.warmup_s`` seconds); rounds go on until every worker has
    ``config.runs`` samples and ``config.min_time_s`` seconds of timed calls
    (the sum of its samples), or, after ``MIN_RUNS`` samples each, until the
    rounds have lasted ``config.max_time_s`` per worker by ``clock`` (seconds,
    injectable like ``timing.measure``'s; the samples themselves are taken in
    the workers, through ``timing.timed_block``)."""
    names = list(workers)
    if not names:
        return {}
    warm = {}
    for k in names:
        warm[k] = workers[k].request("warmup", calls=config.warmup, seconds=config.warmup_s)
        sleep(settle_s)
    samples: dict[str, list[float]] = {k: [] for k in names}
    start = clock()
    rnd = 0
    while True:
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for k in order:
            samples[k] += workers[k].request("block", calls=1, seconds=block_s, prewarm=prewarm)
            sleep(settle_s)
        rnd += 1
        if _rounds_done(samples, config, clock() - start, len(names)):
            break
    total = clock() - start
    return {k: compute_stats(samples[k], warmup_runs=warm[k], total_s=total) for k in names}


def _rounds_done(samples: dict[str, list[float]], config: TimingConfig, elapsed_s: float, n: int) -> bool:
    least = min(len(v) for v in samples.values())
    if least >= config.max_runs:
        return True
    if least >= config.runs and min(sum(v) / 1e3 for v in samples.values()) >= config.min_time_s:
        return True
    return least >= MIN_RUNS and elapsed_s >= config.max_time_s * n  # a very slow model: the time cap


def memory_figures(info: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """Record fields from a worker's load info and its memory at the end."""
    out: dict[str, Any] = {"memory_method": "worker process: VmRSS before loading (runtime library imported), "
                                            "after loading, and VmHWM after warm-up and timing"}
    before, loaded, peak = info.get("rss_before_mb"), info.get("rss_loaded_mb"), now.get("peak_rss_mb")
    if peak is not None:
        out["memory_peak_mb"] = round(peak, 2)
        if before is not None:
            out["memory_added_mb"] = round(max(0.0, peak - before), 2)
    if before is not None and loaded is not None:
        out["memory_load_mb"] = round(max(0.0, loaded - before), 2)
    return out


def artifact_bytes(path: Any, runtime: Optional[str] = None) -> Optional[int]:
    """Size on disk of what ``runtime`` loads: the file and the files its runner needs beside it
    (``Runner.companion_files``: OpenVINO's ``.bin`` beside the ``.xml``, NCNN's weights beside the
    ``.param``); a folder: all its files."""
    if path is None or not os.path.exists(path):
        return None
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    from edgecnn.runtime import RUNNERS

    companions = RUNNERS.get(runtime).companion_files(str(path)) if runtime else []
    return os.path.getsize(path) + sum(os.path.getsize(c) for c in companions if os.path.isfile(c))


def start_workers(specs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, RuntimeWorker]:
    """Start one worker per (runtime, runner kwargs); all start at once."""
    return {rt: RuntimeWorker(rt, kw).start() for rt, kw in specs}

"""Where the runners live while a profile step times them.

- ``WorkerSession`` (the default, ``ProfileOptions.isolate``): each runtime in
  a process of its own, rounds alternating between them
  (``edgecnn.runtime.workers``), so no runtime's threads disturb another's
  timing; a runtime on a GPU is timed on the device (its compute step) in the
  rounds, then its copies and end-to-end calls in its worker;
- ``InProcessSession`` (``isolate=False``): every runner in this process,
  timed round-robin through ``edgecnn.runtime.device_timing.time_split``
  (``edgecnn.runtime.timing``'s loop); for fake runners and an injected clock
  in tests.

Both return, per runtime, the headline's statistics and the record fields
that say what was timed (``latency_measure``).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Sequence

from edgecnn.errors import EdgeCNNError
from edgecnn.runtime import RUNNERS, RunnerUnsupported
from edgecnn.runtime.device_timing import measure_fields
from edgecnn.runtime.timing import random_inputs
from edgecnn.runtime.workers import ISOLATION, RuntimeWorker, WorkerError, interleave_workers, memory_figures


def device_of(rt: str, accel: str) -> str:
    """The runner's device argument: torch and ONNX Runtime follow ``--accel``."""
    return accel if rt in ("torch", "onnxruntime") else ("cuda" if rt == "tensorrt" else "cpu")


def runner_kwargs(rt: str, opts: Any, size: int) -> dict[str, Any]:
    """What ``profile`` gives runtime ``rt``'s Runner (in its worker) for ``opts`` at input side ``size``: the
    one place these settings are made (``benchmarks/bench_timing_fidelity.py``, interleaved, starts workers
    with them too)."""
    kwargs: dict[str, Any] = {"threads": opts.threads, "device": device_of(rt, opts.accel)}
    if RUNNERS.get(rt).format == "pytorch":
        kwargs.update(precision=opts.precision, input_shape=[opts.batch, 3, size, size],
                      channels_last=opts.channels_last, cuda_graphs=opts.cuda_graphs, compile=opts.compile)
    return kwargs


# ---------------------------------------------------------------------------
# sessions: where the runners live
# ---------------------------------------------------------------------------
class InProcessSession:
    """Every runner in this process (tests with fake runners and clocks)."""

    isolation = "none: every runtime in one process, timed round-robin in blocks of 3 calls"

    def __init__(self, opts: Any) -> None:
        self.opts = opts
        self.runners: dict[str, Any] = {}
        self.inputs: dict[str, list] = {}

    def load(self, rt: str, cls: Any, kwargs: dict[str, Any], target: Any, batch: int, size: int) -> dict:
        runner = cls(**kwargs).load(target)
        self.runners[rt] = runner
        shape = runner.input_shape or [batch, 3, size, size]
        wanted = [batch, 3, size, size]
        shape = [d if (d is not None and d > 0) else wanted[i] for i, d in enumerate(shape)]
        self.inputs[rt] = random_inputs(shape, dtype=runner.input_dtype, count=4)
        runner.infer(self.inputs[rt][0])  # a runtime that cannot run this model fails here, alone
        return {"threads": runner.threads, "describe": runner.describe()}

    def time(self, rts: Sequence[str]) -> dict[str, tuple[Any, dict[str, Any]]]:
        """rt -> (statistics of the headline, the record fields that go with them)."""
        from edgecnn.runtime.device_timing import time_split

        split = time_split({rt: self.runners[rt] for rt in rts}, {rt: self.inputs[rt] for rt in rts},
                           config=self.opts.timing, clock=self.opts.clock or time.perf_counter)
        return {rt: (st.compute, measure_fields(st.to_metrics(), self.runners[rt].device)) for rt, st in split.items()}

    def memory(self, rt: str) -> dict[str, Any]:
        return {}

    def layer_times(self, rt: str, model_file: Optional[str], input_shape: list[int]) -> list[dict]:
        from edgecnn.profile.isolated import ISOLATED_FORMATS, runner_layer_times

        runner = self.runners[rt]
        if rt in ISOLATED_FORMATS:
            return runner_layer_times(runner, model_file, input_shape, self.opts.layer_runs)
        return runner.layer_times(self.inputs[rt], runs=self.opts.layer_runs)

    def separable(self, rt: str, shapes: list, progress: Callable[[str], None]) -> dict:
        from edgecnn.profile.separable import time_shapes

        return time_shapes(shapes, [rt], threads=self.opts.threads, progress=progress)

    def close(self) -> None:
        for r in self.runners.values():
            r.close()
        self.runners.clear()


class WorkerSession:
    """Each runtime in its own process (``edgecnn.runtime.workers``)."""

    isolation = ISOLATION

    def __init__(self, opts: Any) -> None:
        self.opts = opts
        self.workers: dict[str, RuntimeWorker] = {}
        self.info: dict[str, dict] = {}

    def start(self, specs: dict[str, dict[str, Any]]) -> None:
        for rt, kwargs in specs.items():  # start them all at once: interpreters start in parallel
            self.workers[rt] = RuntimeWorker(rt, kwargs).start()

    def load(self, rt: str, cls: Any, kwargs: dict[str, Any], target: Any, batch: int, size: int) -> dict:
        if rt not in self.workers:
            self.workers[rt] = RuntimeWorker(rt, kwargs).start()
        try:
            info = self.workers[rt].request("load", artifact=str(target), batch=batch, size=size,
                                            split=str(kwargs.get("device", "cpu")).startswith("cuda"))
        except WorkerError as exc:
            raise _as_local_error(exc) from None
        self.info[rt] = info
        return info

    def time(self, rts: Sequence[str]) -> dict[str, tuple[Any, dict[str, Any]]]:
        """rt -> (statistics of the headline, the record fields that go with
        them): a runtime on a GPU is timed on the device in the rounds, then
        its copies and end-to-end calls in its worker."""
        from edgecnn.runtime.device_timing import COPY_TIMING, DEVICE_COMPUTE

        stats = interleave_workers({rt: self.workers[rt] for rt in rts}, self.opts.timing)
        out = {}
        for rt, st in stats.items():
            fields: dict[str, Any] = {}
            if self.info.get(rt, {}).get("split"):
                fields = {"latency_measure": DEVICE_COMPUTE, "includes_host_copies": False,
                          "copy_timing_config": COPY_TIMING.to_dict(),
                          **self.workers[rt].request("copies", config=COPY_TIMING.to_dict())}
            out[rt] = (st, measure_fields(fields, self.info.get(rt, {}).get("device", "cpu")))
        return out

    def memory(self, rt: str) -> dict[str, Any]:
        return memory_figures(self.info.get(rt, {}), self.workers[rt].request("memory"))

    def layer_times(self, rt: str, model_file: Optional[str], input_shape: list[int]) -> list[dict]:
        from edgecnn.profile.isolated import ISOLATED_FORMATS

        try:
            if rt in ISOLATED_FORMATS:  # no op profiler: the layers are timed one by one, in the worker
                return self.workers[rt].request("call", function="edgecnn.profile.isolated.runner_layer_times",
                                                with_runner=True, args=(model_file, input_shape, self.opts.layer_runs))
            return self.workers[rt].request("layer_times", runs=self.opts.layer_runs)
        except WorkerError as exc:
            raise _as_local_error(exc) from None

    def separable(self, rt: str, shapes: list, progress: Callable[[str], None]) -> dict:
        from edgecnn.profile.separable import time_shapes

        if rt == "tensorrt" or RUNNERS.get(rt).unavailable_reason():  # nothing is timed: no worker needed
            return time_shapes(shapes, [rt], threads=self.opts.threads)
        progress(f"separable check on {rt}, {len(set(shapes))} shapes (in its worker)")
        if rt not in self.workers:  # a runtime whose model timing was skipped: a worker for the sweep alone
            self.workers[rt] = RuntimeWorker(rt, {}).start()
        return self.workers[rt].request("call", function="edgecnn.profile.separable.time_shapes",
                                        args=(list(shapes), [rt]), kwargs={"threads": self.opts.threads})

    def close(self) -> None:
        for w in self.workers.values():
            w.close()
        self.workers.clear()


def _as_local_error(exc: WorkerError) -> EdgeCNNError:
    """A worker's error as the exception the caller turns into a record status."""
    if exc.kind == "RunnerUnsupported":
        return RunnerUnsupported(str(exc))
    return exc


def new_session(opts: Any) -> Any:
    return WorkerSession(opts) if opts.isolate else InProcessSession(opts)

"""A fake clock and a fake runner with fixed latencies (imported by the tests)."""

from __future__ import annotations

import numpy as np

from edgecnn.runtime.base import Runner


class FakeClock:
    """Seconds that advance only when a fake runner 'runs'."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def advance_ms(self, ms: float) -> None:
        self.t += ms / 1e3


CLOCK = FakeClock()


class FakeRunner(Runner):
    """Takes a torch module like the torch runner; each ``infer`` advances the
    shared fake clock by the next latency of ``LATENCIES_MS`` (cycled)."""

    name = "fake"
    format = "pytorch"
    LATENCIES_MS = [2.0, 4.0, 6.0, 8.0, 10.0]
    calls = 0

    def _load(self, model) -> None:
        self.input_shape = [1, 3, -1, -1]

    def _infer(self, x: np.ndarray) -> np.ndarray:
        lat = self.LATENCIES_MS[FakeRunner.calls % len(self.LATENCIES_MS)]
        FakeRunner.calls += 1
        CLOCK.advance_ms(lat)
        return np.zeros((x.shape[0], 10), dtype=np.float32)




class StepRunner(Runner):
    """A runner for worker tests (``edgecnn.runtime.workers.InProcessWorker``):
    loads any file, and each ``infer`` advances the shared fake clock by its
    ``latency_ms`` option and logs ``(tag, first input value)`` in ``LOG``."""

    name = "step"
    format = "fake"
    LOG: list = []

    def _load(self, path) -> None:
        self.input_shape = [1, 3, 4, 4]

    def _infer(self, x: np.ndarray) -> np.ndarray:
        StepRunner.LOG.append((self.options["tag"], float(x.flat[0])))
        CLOCK.advance_ms(self.options["latency_ms"])
        return np.zeros((x.shape[0], 10), dtype=np.float32)

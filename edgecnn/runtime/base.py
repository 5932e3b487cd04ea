"""The Runner shape every runtime shares: load / infer / close, input checks.

A runner never times itself: ``edgecnn.runtime.timing`` does. A runner that
cannot work here (package missing, no GPU, a provider not built in) raises
``RunnerUnsupported`` with the reason, and the caller writes an
``unsupported`` record instead of dropping the runtime.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Optional, Sequence

import numpy as np

from edgecnn.errors import EdgeCNNError, InvalidOptionError


class RunnerUnsupported(EdgeCNNError):
    """This runner (or this option of it) cannot run on this machine; says why."""


class RunnerLoadError(EdgeCNNError):
    """The runtime is here but could not load this artifact/model."""


def thread_rule(cores: int) -> int:
    """The threads a runtime gets when none are given: the usable cores, at
    most 4. The one rule, locally, on phones (adb) and, in its self-contained
    copy, in ``remote/device_runner.py`` (a test keeps the two equal)."""
    return max(1, min(4, int(cores)))


def default_threads() -> int:
    """``thread_rule`` of the cores this process may use (recorded with every measurement)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    return thread_rule(n)


class Runner:
    """Base class: ``with Runner(...).load(x) as r: y = r.infer(x)``.

    Subclasses set ``name`` (registry name), ``format`` (artifact format they
    load: pytorch, onnx, tflite, engine) and ``extra`` (the pip extra that
    installs them) and implement ``_load``, ``_infer`` and optionally
    ``_close``, ``sync`` and ``layer_times``.
    """

    name: ClassVar[str] = "base"
    format: ClassVar[str] = ""
    extra: ClassVar[str] = ""
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    layer_method: ClassVar[str] = ""  # how layer_times measures, recorded with per-layer records
    # the `edgecnn export --to` format that makes this runner's artifact (None: it loads the nn.Module itself);
    # a runtime with an export format runs on devices too (remote/device_runner.py has a loader for each)
    export_format: ClassVar[Optional[str]] = None
    # other model-file formats this runner loads as they are (OpenVINO reads .onnx): a user's file of such a
    # format runs here without conversion
    also_loads: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, threads: Optional[int] = None, device: str = "cpu", precision: str = "fp32",
                 **options: Any) -> None:
        if precision not in self.precisions:
            raise RunnerUnsupported(f"{self.name} runs {', '.join(self.precisions)}, not {precision}")
        if threads is not None and int(threads) < 1:
            raise InvalidOptionError(f"threads must be >= 1, got {threads}")
        self.threads = int(threads) if threads else default_threads()
        self.device = device
        self.precision = precision
        self.options = options
        self.input_shape: Optional[list[int]] = None  # fixed dims; None/-1 for dynamic ones
        self.input_dtype: np.dtype = np.dtype(np.float32)
        self.loaded = False

    @classmethod
    def unit(cls, accel: str = "cpu") -> str:
        """The compute unit this runtime runs on (cpu | gpu) for ``accel``."""
        return "gpu" if accel.startswith("cuda") else "cpu"

    # -- availability ------------------------------------------------------------
    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        """None when this runner can work here, else one line saying why."""
        return None

    @classmethod
    def companion_files(cls, path: str) -> list[str]:
        """Files the artifact at ``path`` needs beside it (OpenVINO's .bin, NCNN's
        weights), which a remote run pushes with it."""
        return []

    # -- lifecycle -----------------------------------------------------------------
    def load(self, path_or_model: Any) -> "Runner":
        reason = self.unavailable_reason(self.device)
        if reason:
            raise RunnerUnsupported(reason)
        if isinstance(path_or_model, (str, os.PathLike)):
            if not os.path.exists(path_or_model):
                raise RunnerLoadError(f"{self.name}: no such file {os.fspath(path_or_model)!r}")
        try:
            self._load(path_or_model)
        except EdgeCNNError:
            raise
        except Exception as exc:  # the runtime's own parser/loader error
            raise RunnerLoadError(f"{self.name} could not load {_what(path_or_model)}: "
                                  f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        self.loaded = True
        return self

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Run one batch (NCHW for pytorch/onnx/tflite as exported) and return the
        first output as a numpy array."""
        if not self.loaded:
            raise RuntimeError(f"{self.name} runner: call load() before infer()")
        self.check_input(x)
        return self._infer(x)

    def check_input(self, x: Any) -> None:
        if not isinstance(x, np.ndarray):
            raise InvalidOptionError(f"{self.name}: input must be a numpy array, got {type(x).__name__}")
        if x.dtype != self.input_dtype:
            raise InvalidOptionError(f"{self.name}: input dtype {x.dtype} does not match the model's {self.input_dtype}")
        if self.input_shape is not None:
            want = self.input_shape
            ok = len(want) == x.ndim and all(w is None or w < 0 or w == s for w, s in zip(want, x.shape))
            if not ok:
                raise InvalidOptionError(f"{self.name}: input shape {list(x.shape)} does not match the model's "
                                         f"{['?' if (w is None or w < 0) else w for w in want]}")

    def sync(self) -> None:
        """Wait for queued device work (GPU runners); CPU runners return at once."""

    def device_phases(self) -> Any:
        """The device steps (host-to-device copy, compute on the resident input,
        device-to-host copy) as ``edgecnn.runtime.device_timing.DevicePhases``,
        for timing device time apart from the copies; None for a runner with
        no device of its own (the CPU runtimes), which is timed end to end."""
        return None

    def close(self) -> None:
        if self.loaded:
            self._close()
        self.loaded = False

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """Settings recorded with every measurement (threads, provider, ...)."""
        return {"runtime": self.name, "format": self.format, "threads": self.threads, "device": self.device,
                "precision": self.precision}

    # -- optional per-layer profile ---------------------------------------------------
    def layer_times(self, inputs: Sequence[np.ndarray], runs: int = 10) -> list[dict[str, Any]]:
        """Per-layer times as rows ``{name, op_type, time_ms}`` (median over
        ``runs`` calls), ``name`` being the PyTorch module name where it can be
        recovered. Raises RunnerUnsupported where the runtime cannot tell."""
        raise RunnerUnsupported(f"{self.name} does not report per-layer times")

    # -- to implement ------------------------------------------------------------------
    def _load(self, path_or_model: Any) -> None:
        raise NotImplementedError

    def _infer(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _close(self) -> None:
        pass


def _what(obj: Any) -> str:
    if isinstance(obj, (str, os.PathLike)):
        return os.fspath(obj)
    return type(obj).__name__

"""MNN runner: a ``.mnn`` model through MNN's session API (``MNN.Interpreter``) on the CPU backend.

Session config ``{"backend": "CPU", "precision": P, "numThread": threads}``
with P from the ``precision`` option, else the exporter's choice in the
metadata, else ``high`` (fp32); ``low`` lets MNN use fp16 arithmetic on ARM
CPUs that have it. The session hint WINOGRAD_MEMORY_LEVEL comes from the
``winograd_memory_level`` option or the exporter's settings (MNN's default
when neither names one). MNN prints the CPU features it detected when it is first
imported (``The device supports: ... fp16:0 ...``); the runner keeps that
line (``describe()["cpu_features"]``) and derives ``inference_precision``
from it. Per-layer times use MNN's per-operator callbacks
(``runSessionWithCallBackInfo``), the hook its own profiler uses.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Any, Optional, Sequence

import numpy as np

from edgecnn.runtime.base import Runner, RunnerLoadError, RunnerUnsupported
from edgecnn.runtime.timing import mnn_input_feeder

PRECISIONS = ("high", "normal", "low", "lowBF16")
WINOGRAD_MEMORY_LEVEL = 3  # MNN::Interpreter::HintMode: how many Winograd unit sizes the CPU backend may pick from
_FEATURES: dict[str, Any] = {}


def _mnn():
    """The MNN module (its import-time CPU feature line captured, not printed)."""
    from edgecnn.runtime._native import native_output

    try:
        with native_output() as cap:
            import MNN
    except ImportError:
        raise RunnerUnsupported("MNN is not installed; install it with `pip install 'edgecnn[mnn]'`") from None
    if "line" not in _FEATURES:
        line = next((ln for ln in cap.text.splitlines() if "device supports" in ln), "") or _probe_features()
        _FEATURES["line"] = line.split(":", 1)[1].strip() if line else ""
        _FEATURES["flags"] = {k: int(v) for k, v in re.findall(r"(\w+):\s*(\d+)", _FEATURES["line"])}
    return MNN


def _probe_features() -> str:
    """MNN's CPU feature line from a child Python (MNN prints it once per process,
    at import, so an import elsewhere in this process took it)."""
    try:
        proc = subprocess.run([sys.executable, "-c", "import MNN"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return ""
    return next((ln for ln in (proc.stdout + proc.stderr).splitlines() if "device supports" in ln), "")


def cpu_features() -> dict[str, int]:
    """MNN's view of this CPU (``{"i8sdot": 0, "fp16": 0, ...}``; empty when it printed none)."""
    _mnn()
    return dict(_FEATURES.get("flags") or {})


def cpu_has_fp16() -> bool:
    return bool(cpu_features().get("fp16"))


class MNNRunner(Runner):
    """``MNNRunner(threads=N, mnn_precision=None|"high"|"normal"|"low"|"lowBF16")``:
    ``mnn_precision`` is MNN's session precision (the export precision is what
    the file holds)."""

    name = "mnn"
    format = "mnn"
    export_format = "mnn"
    extra = "mnn"
    precisions = ("fp32", "fp16", "int8")  # whatever the file holds
    layer_method = ("MNN per-operator callbacks (runSessionWithCallBackInfo, time between an operator's begin "
                    "and end callback), median of runs; includes the Python callback cost (~us per operator)")

    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        if device != "cpu":
            return f"mnn runner times the CPU backend only, not {device!r}"
        try:
            _mnn()
        except RunnerUnsupported as exc:
            return str(exc)
        return None

    def _load(self, path: Any) -> None:
        from edgecnn.runtime._native import native_output, runtime_settings, sidecar_metadata

        MNN = _mnn()
        self.path = os.fspath(path)
        meta = sidecar_metadata(self.path)
        settings = runtime_settings(self.path, "mnn")
        mode = self.options.get("mnn_precision") or settings.get("precision") or "high"
        if mode not in PRECISIONS:
            raise RunnerUnsupported(f"mnn: mnn_precision must be one of {', '.join(PRECISIONS)}, not {mode!r}")
        self.mnn_precision = mode
        self.precision = str(meta.get("precision") or self.precision)
        level = self.options.get("winograd_memory_level", settings.get("winograd_memory_level"))
        self.winograd_memory_level = None if level is None else int(level)
        with native_output() as cap:  # "MNN use high precision" on stdout
            self._interp = MNN.Interpreter(self.path)
            if self.winograd_memory_level is not None:
                self._interp.setSessionHint(WINOGRAD_MEMORY_LEVEL, self.winograd_memory_level)
            self._session = self._interp.createSession({"backend": "CPU", "precision": mode,
                                                        "numThread": self.threads})
        if self._session is None:
            raise RunnerLoadError(f"mnn could not create a session for {self.path}: {cap.tail(2)}")
        self._input = self._interp.getSessionInput(self._session)
        self._output = self._interp.getSessionOutput(self._session)
        self.input_shape = [int(d) for d in self._input.getShape()]
        self.input_dtype = np.dtype(np.float32)
        self._out_shape = tuple(int(d) for d in self._output.getShape())
        self._host_out = MNN.Tensor(self._out_shape, MNN.Halide_Type_Float, np.zeros(self._out_shape, np.float32),
                                    MNN.Tensor_DimensionType_Caffe)
        # one host tensor for the input, refilled each call (timing.mnn_input_feeder, as on a device)
        self._feed = mnn_input_feeder(MNN, self._input, self.input_shape)
        self.version = MNN.version()

    def _infer(self, x: np.ndarray) -> np.ndarray:
        self._feed(x)
        self._interp.runSession(self._session)
        self._output.copyToHostTensor(self._host_out)
        return np.array(self._host_out.getNumpyData(), dtype=np.float32).reshape(self._out_shape)

    def _close(self) -> None:
        self._session = None
        self._interp = None

    def describe(self) -> dict[str, Any]:
        d = {**super().describe(), "backend": "CPU", "mnn_precision": getattr(self, "mnn_precision", None),
             "winograd_memory_level": getattr(self, "winograd_memory_level", None)}
        if self.loaded:
            low = self.mnn_precision == "low" and cpu_has_fp16()
            d.update(inference_precision="f16" if low else "f32", cpu_features=_FEATURES.get("line"),
                     version=self.version)
        return d

    def layer_times(self, inputs: Sequence[np.ndarray], runs: int = 10) -> list[dict[str, Any]]:
        """Per-operator times between MNN's begin and end callbacks, two warm-up
        runs, then the median of ``runs``. Names: MNN keeps the ONNX exporter's
        output tensor names (``/layer1/layer1.0/conv1/Conv_output_0``), mapped to
        PyTorch modules; operators MNN adds (``Raster`` layout copies) keep the
        name of the tensor they feed."""
        from edgecnn.runtime._native import sidecar_metadata
        from edgecnn.runtime.onnxruntime_runner import module_of

        labels = sidecar_metadata(self.path).get("layer_labels") or {}

        def module(node: str) -> str:
            if node.startswith("/"):
                return module_of(node)
            tensor = re.split(r"__|_raster_", node)[0]  # "logits__matmul_converted_raster_0" -> "logits"
            return module_of(labels[tensor]) if tensor in labels else node

        order: list[tuple[str, str]] = []
        per: dict[tuple[str, str], list[float]] = {}
        state: dict[str, Any] = {"run": 0}

        def begin(tensors, info) -> bool:
            state["t0"] = time.perf_counter()
            return True

        def end(tensors, info) -> bool:
            dt = (time.perf_counter() - state["t0"]) * 1e3
            key = (info.getName(), info.getType())
            if state["run"] >= 2:
                if key not in per:
                    per[key] = []
                    order.append(key)
                per[key].append(dt)
            return True

        for r in range(2 + runs):
            state["run"] = r
            self._feed(inputs[r % len(inputs)])
            self._interp.runSessionWithCallBackInfo(self._session, begin, end)
        rows = []
        for key in order:
            node, op = key
            calls = len(per[key]) / max(1, runs)
            kind, _, dtype = op.partition("[")  # "Convolution [ DT_INT8 ] " in a quantized model
            rows.append({"name": module(node), "node": node,
                         "op_type": kind.strip(), "dtype": dtype.strip(" ]").replace("DT_", "").lower() or "float",
                         "time_ms": float(np.median(per[key])) * max(1.0, calls)})
        return rows

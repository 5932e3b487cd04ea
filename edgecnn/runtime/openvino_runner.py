"""OpenVINO runner: an IR (``.xml`` + ``.bin``, or an ``.onnx``) on the CPU plugin.

Compiled with ``PERFORMANCE_HINT=LATENCY`` (one stream),
``INFERENCE_NUM_THREADS=threads`` and ``INFERENCE_PRECISION_HINT`` from the
``inference_precision`` option, else from the IR (``rt_info``
``edgecnn/inference_precision_hint``, written by the exporter), else f32:
never OpenVINO's own default, which is bf16 on CPUs that have it. What the
plugin really uses is read back from the compiled model and recorded by
``describe()`` (a bf16 hint on a CPU without bf16 runs f32).
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import numpy as np

from edgecnn.runtime.base import Runner, RunnerUnsupported

_OV_DTYPES = {"f32": np.float32, "f16": np.float16, "u8": np.uint8, "i8": np.int8, "i32": np.int32,
              "i64": np.int64}
HINTS = ("f32", "bf16", "f16")


def _ov():
    try:
        import openvino as ov
    except ImportError:
        raise RunnerUnsupported("openvino is not installed; install it with `pip install 'edgecnn[openvino]'`") \
            from None
    return ov


class OpenVINORunner(Runner):
    """``OpenVINORunner(threads=N, inference_precision=None|"f32"|"bf16"|"f16")``."""

    name = "openvino"
    format = "openvino"
    export_format = "openvino"
    also_loads = ("onnx",)
    extra = "openvino"
    precisions = ("fp32", "fp16", "bf16", "int8")  # whatever the artifact holds
    layer_method = ("OpenVINO performance counters (PERF_COUNT=YES, get_profiling_info real_time of executed "
                    "nodes, median of runs); fused Conv+BN+activation timed as the conv")

    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        if device != "cpu":
            return f"openvino runner times the CPU plugin only, not {device!r}"
        try:
            _ov()
        except RunnerUnsupported as exc:
            return str(exc)
        return None

    @classmethod
    def companion_files(cls, path: str) -> list[str]:
        return [os.path.splitext(path)[0] + ".bin"] if path.endswith(".xml") else []

    def _hint(self, model: Any) -> str:
        hint = self.options.get("inference_precision")
        if not hint and model.has_rt_info(["edgecnn", "inference_precision_hint"]):
            hint = model.get_rt_info(["edgecnn", "inference_precision_hint"]).astype(str)
        hint = str(hint or "f32")
        if hint not in HINTS:
            raise RunnerUnsupported(f"openvino: inference_precision must be one of {', '.join(HINTS)}, not {hint!r}")
        return hint

    def _config(self, profile: bool = False) -> dict[str, Any]:
        cfg = {"INFERENCE_PRECISION_HINT": self.hint, "PERFORMANCE_HINT": "LATENCY",
               "INFERENCE_NUM_THREADS": self.threads}
        if profile:
            cfg["PERF_COUNT"] = True
        return cfg

    def _load(self, path: Any) -> None:
        ov = _ov()
        self.path = os.fspath(path)
        self._core = ov.Core()
        self._model = self._core.read_model(self.path)
        self.hint = self._hint(self._model)
        self._compiled = self._core.compile_model(self._model, "CPU", self._config())
        self._request = self._compiled.create_infer_request()
        inp = self._compiled.input(0)
        shape = inp.get_partial_shape()
        self.input_shape = [d.get_length() if d.is_static else -1 for d in shape]
        self.input_dtype = np.dtype(_OV_DTYPES.get(inp.get_element_type().get_type_name(), np.float32))
        self.ran_precision = self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.version = ov.get_version()

    def _infer(self, x: np.ndarray) -> np.ndarray:
        self._request.infer({0: x})
        return self._request.get_output_tensor(0).data.copy()

    def _close(self) -> None:
        self._request = None
        self._compiled = None
        self._model = None

    def describe(self) -> dict[str, Any]:
        d = {**super().describe(), "plugin": "CPU"}
        if self.loaded:
            c = self._compiled
            d.update(inference_precision=self.ran_precision, inference_precision_hint=self.hint,
                     threads_used=int(c.get_property("INFERENCE_NUM_THREADS")),
                     performance_hint=str(c.get_property("PERFORMANCE_HINT")).split(".")[-1],
                     num_streams=int(c.get_property("NUM_STREAMS")), version=self.version)
        return d

    def layer_times(self, inputs: Sequence[np.ndarray], runs: int = 10) -> list[dict[str, Any]]:
        """Per-node times from OpenVINO's performance counters (a second compiled
        model with ``PERF_COUNT``), median over ``runs`` calls after two warm-ups.
        Nodes fused into another (BN, activations: status NOT_RUN) are not listed;
        nodes OpenVINO adds (reorders) keep their own name."""
        from edgecnn.runtime.layer_names import openvino_module

        compiled = self._core.compile_model(self._model, "CPU", self._config(profile=True))
        request = compiled.create_infer_request()
        per: dict[str, list[float]] = {}
        kinds: dict[str, tuple[str, str]] = {}
        for i in range(2 + runs):
            request.infer({0: inputs[i % len(inputs)]})
            if i < 2:
                continue
            for p in request.get_profiling_info():
                if not str(p.status).endswith("EXECUTED") or str(p.status).endswith("NOT_EXECUTED"):
                    continue
                per.setdefault(p.node_name, []).append(p.real_time.total_seconds() * 1e3)
                kinds[p.node_name] = (p.node_type, p.exec_type)
        rows = []
        for node, times in per.items():
            op, kernel = kinds[node]
            rows.append({"name": openvino_module(node) or node, "node": node, "op_type": op, "kernel": kernel,
                         "time_ms": float(np.median(times))})
        return rows

"""LiteRT (TFLite) runner: ``ai_edge_litert`` with XNNPACK (its default CPU
delegate), falling back to ``tflite_runtime`` where only that is installed
(old Jetsons, Raspberry Pi OS images)."""

from __future__ import annotations

import importlib
import os
from typing import Any, Optional

import numpy as np

from edgecnn.runtime.base import Runner, RunnerUnsupported


def interpreter_module():
    """(module, package name) of the first LiteRT interpreter that imports."""
    errors = []
    for name in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        try:
            return importlib.import_module(name), name.split(".")[0]
        except Exception as exc:  # ImportError, or a numpy ABI error in old tflite_runtime
            errors.append(f"{name}: {type(exc).__name__}")
    raise RunnerUnsupported("no LiteRT interpreter here (" + "; ".join(errors) +
                            "); install it with `pip install 'edgecnn[tflite]'` (ai-edge-litert)")


class LiteRTRunner(Runner):
    """``LiteRTRunner(threads=N, signature=None)``. ``signature`` picks one
    signature of a multi-signature model (used for isolated-layer timing)."""

    name = "litert"
    format = "tflite"
    export_format = "tflite"
    extra = "tflite"
    precisions = ("fp32", "fp16", "int8")  # whatever the artifact holds

    @classmethod
    def unit(cls, accel: str = "cpu") -> str:
        return "cpu"

    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        if device != "cpu":
            return f"litert runner times the CPU (XNNPACK) only, not {device!r}"
        try:
            interpreter_module()
        except RunnerUnsupported as exc:
            return str(exc)
        return None

    def _load(self, path: Any) -> None:
        mod, self.package = interpreter_module()
        self.path = os.fspath(path)
        self._interp = mod.Interpreter(model_path=self.path, num_threads=self.threads)
        sig = self.options.get("signature")
        if sig:
            sigs = self._interp.get_signature_list()
            if sig not in sigs:
                raise RunnerUnsupported(f"{self.path} has no signature {sig!r} (has: {', '.join(sigs)})")
            self._runner = self._interp.get_signature_runner(sig)
            details = self._runner.get_input_details()
            self._in_key, d = next(iter(details.items()))
            self._out_key = None
        else:
            self._interp.allocate_tensors()
            self._runner = None
            d = self._interp.get_input_details()[0]
            self._in_index = d["index"]
            self._out_index = self._interp.get_output_details()[0]["index"]
        self.input_shape = [int(v) for v in d["shape"]]
        self.input_dtype = np.dtype(d["dtype"])

    def _infer(self, x: np.ndarray) -> np.ndarray:
        if self._runner is not None:
            out = self._runner(**{self._in_key: x})
            return next(iter(out.values()))
        self.set_input(x)
        self._interp.invoke()
        return self.get_output()

    # the copies of a call, on their own (a model loaded without a signature): per-layer timing takes them
    # out of each layer's call (edgecnn.profile.isolated)
    def set_input(self, x: np.ndarray) -> None:
        """Copy ``x`` into the interpreter's input tensor, as ``infer`` does first."""
        self._interp.set_tensor(self._in_index, x)

    def get_output(self) -> np.ndarray:
        """A copy of the output tensor, as ``infer`` returns it last."""
        return self._interp.get_tensor(self._out_index)

    def _close(self) -> None:
        self._interp = None
        self._runner = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "interpreter": getattr(self, "package", None), "delegate": "xnnpack"}

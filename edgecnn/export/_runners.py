"""Run an exported artifact on its runtime (parity checks, the benchmark).

Uses the shared runners of ``edgecnn.runtime.RUNNERS`` (onnxruntime, litert,
tensorrt). A full-integer TFLite model takes and returns int8 tensors; the
wrapper here quantises the float input and dequantises the logits with the
tensors' own scale and zero point, so the parity check compares like with like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class _QuantizedIO:
    """Float in / float out around a runner whose boundary tensors are integers."""

    def __init__(self, runner: Any, inp: tuple[float, int, Any] | None, out: tuple[float, int] | None) -> None:
        self.runner, self.inp, self.out = runner, inp, out

    def infer(self, x: np.ndarray) -> np.ndarray:
        if self.inp is not None:
            scale, zero, dtype = self.inp
            info = np.iinfo(dtype)
            x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)
        y = np.asarray(self.runner.infer(x))
        if self.out is not None:
            scale, zero = self.out
            y = (y.astype(np.float32) - zero) * scale
        return y

    def close(self) -> None:
        self.runner.close()


def tflite_io_quantization(path: Path) -> tuple[tuple[float, int, Any] | None, tuple[float, int] | None]:
    """(input (scale, zero_point, dtype), output (scale, zero_point)) for integer
    boundary tensors of a .tflite file; None where the tensor is float."""
    from edgecnn.runtime.litert_runner import interpreter_module

    it = interpreter_module()[0].Interpreter(model_path=str(path))
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    qin = (float(i["quantization"][0]), int(i["quantization"][1]), np.dtype(i["dtype"])) \
        if np.dtype(i["dtype"]).kind in "iu" else None
    qout = (float(o["quantization"][0]), int(o["quantization"][1])) if np.dtype(o["dtype"]).kind in "iu" else None
    return qin, qout


def open_runner(runtime: str, path: Path, input_shape: list[int] | None = None,
                options: dict[str, Any] | None = None) -> Any:
    """A loaded runner (``infer(x) -> logits``, ``close()``) for ``path`` on ``runtime``.

    ``input_shape`` fixes a dynamic TensorRT input (the shape fed at run time);
    ``options`` go to the runner (e.g. the settings an exporter chose for it)."""
    from edgecnn.runtime import RUNNERS

    options = dict(options or {})
    if runtime == "tensorrt" and input_shape:
        options["input_shape"] = list(input_shape)
    runner = RUNNERS.get(runtime)(**options)
    runner.load(str(path))
    if runtime == "litert":
        qin, qout = tflite_io_quantization(Path(path))
        if qin or qout:
            return _QuantizedIO(runner, qin, qout)
    return runner


def run_batches(runner: Any, x: np.ndarray, batch: int | None) -> np.ndarray:
    """Logits for every row of ``x``, fed ``batch`` rows at a time (None: all at once)."""
    step = batch or len(x)
    outs = []
    for i in range(0, len(x), step):
        chunk = np.ascontiguousarray(x[i:i + step], dtype=np.float32)
        if batch and len(chunk) < batch:  # static batch: pad the last chunk, drop the padding
            pad = np.repeat(chunk[-1:], batch - len(chunk), axis=0)
            outs.append(np.asarray(runner.infer(np.concatenate([chunk, pad])))[:len(chunk)])
        else:
            outs.append(np.asarray(runner.infer(chunk)))
    return np.concatenate(outs).reshape(len(x), -1)

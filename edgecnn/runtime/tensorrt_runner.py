"""TensorRT runner (TensorRT 10 API): loads a serialized ``.engine`` or builds
one from an ``.onnx`` file (FP32/FP16), device buffers via torch.cuda.

Runs only where ``tensorrt`` imports and a CUDA GPU is present (a Jetson, a
desktop GPU); elsewhere it is ``unsupported`` with the reason."""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from edgecnn.runtime.base import Runner, RunnerUnsupported


class TensorRTRunner(Runner):
    name = "tensorrt"
    format = "engine"
    export_format = "tensorrt"
    extra = "tensorrt"
    precisions = ("fp32", "fp16", "int8")

    def __init__(self, *, threads: Optional[int] = None, device: str = "cuda", precision: str = "fp32",
                 **options: Any) -> None:
        super().__init__(threads=threads, device="cuda" if device == "cpu" else device, precision=precision,
                         **options)

    @classmethod
    def unit(cls, accel: str = "cpu") -> str:
        return "gpu"

    @classmethod
    def unavailable_reason(cls, device: str = "cuda") -> Optional[str]:
        try:
            import tensorrt  # noqa: F401
        except Exception as exc:
            return (f"tensorrt does not import here ({type(exc).__name__}); install NVIDIA's wheels "
                    "(`pip install 'edgecnn[tensorrt]'`) or use JetPack's package")
        try:
            import torch
        except ImportError:
            return "the tensorrt runner needs torch for CUDA buffers"
        if not torch.cuda.is_available():
            return "tensorrt: no CUDA device here"
        return None

    def _load(self, path: Any) -> None:
        import tensorrt as trt
        import torch

        self._trt = trt
        logger = trt.Logger(trt.Logger.WARNING)
        path = os.fspath(path)
        if path.endswith(".onnx"):
            data = self._build_from_onnx(trt, logger, path)
        else:
            with open(path, "rb") as fh:
                data = fh.read()
        runtime = trt.Runtime(logger)
        self._engine = runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise RunnerUnsupported(f"tensorrt could not deserialize {path} (built for another GPU or version?)")
        self._ctx = self._engine.create_execution_context()
        self._stream = torch.cuda.Stream()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._outputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        inp = self._inputs[0]
        shape = list(self._engine.get_tensor_shape(inp))
        if any(d < 0 for d in shape):
            fixed = self.options.get("input_shape")
            if not fixed:
                raise RunnerUnsupported("dynamic TensorRT input: give input_shape=[N, C, H, W]")
            self._ctx.set_input_shape(inp, tuple(fixed))
            shape = list(fixed)
        self.input_shape = shape
        self.input_dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(inp)))
        self._buffers = {}
        for n in self._inputs + self._outputs:
            shp = tuple(self._ctx.get_tensor_shape(n))
            dt = torch.from_numpy(np.zeros(1, dtype=trt.nptype(self._engine.get_tensor_dtype(n)))).dtype
            self._buffers[n] = torch.empty(shp, dtype=dt, device="cuda")
            self._ctx.set_tensor_address(n, self._buffers[n].data_ptr())

    def _build_from_onnx(self, trt, logger, path: str) -> bytes:
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        with open(path, "rb") as fh:
            if not parser.parse(fh.read()):
                errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
                raise RunnerUnsupported(f"TensorRT cannot parse {path}: {errs}")
        config = builder.create_builder_config()
        if self.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif self.precision == "int8":
            raise RunnerUnsupported("int8 TensorRT engines need calibration: build them with `edgecnn export`")
        data = builder.build_serialized_network(network, config)
        if data is None:
            raise RunnerUnsupported(f"TensorRT failed to build an engine from {path}")
        return bytes(data)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.cuda.stream(self._stream):
            self._buffers[self._inputs[0]].copy_(torch.from_numpy(x), non_blocking=False)
            self._ctx.execute_async_v3(self._stream.cuda_stream)
            out = self._buffers[self._outputs[0]].cpu()
        return out.numpy()

    def sync(self) -> None:
        self._stream.synchronize()

    def _close(self) -> None:
        self._ctx = None
        self._engine = None
        self._buffers = {}

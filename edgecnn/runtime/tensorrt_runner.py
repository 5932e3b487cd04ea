"""TensorRT runner (TensorRT 10 API): loads a serialized ``.engine`` or builds
one from an ``.onnx`` file (FP32, FP16; INT8 from a Q/DQ file, or with
calibration images and TensorRT's entropy calibrator), device buffers via
torch.cuda. ``device_phases()`` times the engine's device work apart from the
copies (``edgecnn.runtime.device_timing``).

Runs only where ``tensorrt`` imports and a CUDA GPU is present (a Jetson, a
desktop GPU); elsewhere it is ``unsupported`` with the reason."""

from __future__ import annotations

import os
import time
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
        self.build_flags = []
        if self.precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)  # INT8: layers left in float run in FP16
            self.build_flags.append("FP16")
        if self.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            self.build_flags.append("INT8")
            images = self.options.get("calibration_images")
            if images is not None:  # implicit quantization: TensorRT's entropy calibrator on these images
                config.int8_calibrator = entropy_calibrator(trt, images, int(self.options.get("calibration_batch", 8)))
                self.build_flags.append(f"entropy calibrator on {len(images)} images")
            elif not _has_qdq(network, trt):
                raise RunnerUnsupported("an int8 TensorRT engine needs a Q/DQ ONNX file (`edgecnn export --to "
                                        "tensorrt --precision int8`) or calibration_images")
        t0 = time.perf_counter()
        data = builder.build_serialized_network(network, config)
        self.build_s = time.perf_counter() - t0
        if data is None:
            raise RunnerUnsupported(f"TensorRT failed to build an engine from {path}")
        return bytes(data)

    def device_phases(self) -> Any:
        """h2d (pinned host buffer -> the engine's input buffer), compute
        (``execute_async_v3``) and d2h (output -> pinned host buffer), timed with
        CUDA events on the runner's stream."""
        import torch

        from edgecnn.runtime.device_timing import CudaEventTimer, DevicePhases

        dev_in, dev_out = self._buffers[self._inputs[0]], self._buffers[self._outputs[0]]
        self._host_in = torch.empty_like(dev_in, device="cpu").pin_memory()
        self._host_out = torch.empty_like(dev_out, device="cpu").pin_memory()
        return DevicePhases(compute=self._compute, h2d=self._h2d, d2h=self._d2h,
                            timer=CudaEventTimer(self._stream), prepare=self._prepare, sync=self.sync,
                            h2d_bytes=dev_in.numel() * dev_in.element_size(),
                            d2h_bytes=dev_out.numel() * dev_out.element_size(), host_memory="pinned")

    def _compute(self) -> None:
        self._ctx.execute_async_v3(self._stream.cuda_stream)

    def _h2d(self) -> None:
        import torch

        with torch.cuda.stream(self._stream):
            self._buffers[self._inputs[0]].copy_(self._host_in, non_blocking=True)

    def _d2h(self) -> None:
        import torch

        with torch.cuda.stream(self._stream):
            self._host_out.copy_(self._buffers[self._outputs[0]], non_blocking=True)

    def _prepare(self, x: np.ndarray) -> None:
        import torch

        self._host_in.copy_(torch.from_numpy(x))
        self._h2d()
        self._compute()
        self._d2h()
        self.sync()

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(build_flags=getattr(self, "build_flags", None), build_s=getattr(self, "build_s", None))
        try:
            import tensorrt

            out["tensorrt_version"] = tensorrt.__version__
        except Exception:  # noqa: BLE001 - describe() never fails for a version string
            pass
        return out

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


def _has_qdq(network: Any, trt: Any) -> bool:
    """Whether the parsed network holds Q/DQ layers (explicit quantization)."""
    kinds = {trt.LayerType.QUANTIZE, trt.LayerType.DEQUANTIZE}
    return any(network.get_layer(i).type in kinds for i in range(network.num_layers))


def entropy_calibrator(trt: Any, images: np.ndarray, batch: int) -> Any:
    """A ``trt.IInt8EntropyCalibrator2`` that feeds ``images`` (N x C x H x W
    float32, preprocessed as the model expects) ``batch`` at a time from a
    device buffer. TensorRT 10 deprecates implicit quantization but still
    builds with it; the Q/DQ path of ``edgecnn export`` is the maintained one."""
    import torch

    class _Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self.data = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
            self.batch, self.next = int(batch), 0
            self.buf = torch.empty((self.batch, *self.data.shape[1:]), dtype=torch.float32, device="cuda")

        def get_batch_size(self) -> int:
            return self.batch

        def get_batch(self, names: Any) -> Any:
            if self.next + self.batch > len(self.data):
                return None
            self.buf.copy_(self.data[self.next:self.next + self.batch])
            self.next += self.batch
            return [int(self.buf.data_ptr())]

        def read_calibration_cache(self) -> Any:
            return None

        def write_calibration_cache(self, cache: Any) -> None:
            return None

    return _Calibrator()

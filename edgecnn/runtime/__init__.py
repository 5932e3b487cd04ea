"""Runtimes: one Runner per runtime (load / infer / close), and ``timing``,
the single timing loop. ``RUNNERS`` maps runtime names to Runner classes.

Runner modules import their runtime inside methods, so importing this
package is cheap and works without any optional runtime installed.
"""

from __future__ import annotations

from edgecnn.registry import Registry
from edgecnn.runtime.base import Runner, RunnerLoadError, RunnerUnsupported, default_threads
from edgecnn.runtime.executorch_runner import ExecuTorchRunner
from edgecnn.runtime.litert_runner import LiteRTRunner
from edgecnn.runtime.mnn_runner import MNNRunner
from edgecnn.runtime.ncnn_runner import NCNNRunner
from edgecnn.runtime.onnxruntime_runner import OnnxRuntimeRunner
from edgecnn.runtime.openvino_runner import OpenVINORunner
from edgecnn.runtime.tensorrt_runner import TensorRTRunner
from edgecnn.runtime.torch_runner import TorchRunner

RUNNERS: Registry[type[Runner]] = Registry("runtime")
RUNNERS.add("torch", TorchRunner)
RUNNERS.add("onnxruntime", OnnxRuntimeRunner)
RUNNERS.add("litert", LiteRTRunner)
RUNNERS.add("tensorrt", TensorRTRunner)
RUNNERS.add("openvino", OpenVINORunner)
RUNNERS.add("executorch", ExecuTorchRunner)
RUNNERS.add("ncnn", NCNNRunner)
RUNNERS.add("mnn", MNNRunner)


def compute_unit(runtime: str, accel: str = "cpu") -> str:
    """The compute unit (cpu | gpu) ``runtime`` runs on, from its Runner's
    ``unit(accel)`` rule: TensorRT on the GPU; torch and ONNX Runtime on the
    GPU when ``accel`` is cuda (ONNX Runtime's CUDA provider), else the CPU;
    LiteRT (XNNPACK) on the CPU. An unknown runtime is assumed to run on the CPU."""
    cls = RUNNERS.get(runtime) if runtime in RUNNERS else None
    return cls.unit(accel) if cls is not None else "cpu"


def get_runner(name: str) -> type[Runner]:
    """The Runner class registered as ``name`` (did-you-mean on a miss)."""
    return RUNNERS.get(name)


__all__ = ["RUNNERS", "Runner", "RunnerLoadError", "RunnerUnsupported", "compute_unit", "default_threads",
           "get_runner", "TorchRunner", "OnnxRuntimeRunner", "LiteRTRunner", "TensorRTRunner", "OpenVINORunner",
           "ExecuTorchRunner", "NCNNRunner", "MNNRunner"]

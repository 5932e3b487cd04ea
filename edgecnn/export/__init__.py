"""Export to ONNX, TFLite, TensorRT, OpenVINO, ExecuTorch, NCNN and MNN, each checked against PyTorch.

    from edgecnn.export import export_model
    res = export_model("resnet18", to="onnx", precision="int8", input_size=32)
    res.path, res.status, res.record.metrics["top1_agreement"]

Formats are data in ``EXPORTERS`` (one module each: ``onnx``, ``tflite``,
``tensorrt``, ``openvino``, ``executorch``, ``ncnn``, ``mnn``); the parity check lives in ``parity``; checkpoints load with
``load_checkpoint``; ``recalibrate_bn`` re-estimates BatchNorm statistics on
real images for random-weight models.
"""

from edgecnn.export._base import EXPORTERS, PRECISIONS, ExportFormat, artifact_stem
from edgecnn.export import onnx as _onnx  # noqa: F401  (registers "onnx")
from edgecnn.export import tflite as _tflite  # noqa: F401  (registers "tflite")
from edgecnn.export import tensorrt as _tensorrt  # noqa: F401  (registers "tensorrt")
from edgecnn.export import openvino as _openvino  # noqa: F401  (registers "openvino")
from edgecnn.export import executorch as _executorch  # noqa: F401  (registers "executorch")
from edgecnn.export import ncnn as _ncnn  # noqa: F401  (registers "ncnn")
from edgecnn.export import mnn as _mnn  # noqa: F401  (registers "mnn")
# The rest loads on first use (PEP 562): it imports torch (seconds), and
# `edgecnn export` checks the model, formats and options before it pays for that.
_LAZY = {"ExportResult": "edgecnn.export.api", "export_model": "edgecnn.export.api",
         "recalibrate_bn": "edgecnn.export.calibration", "load_checkpoint": "edgecnn.models.checkpoint:load_model",
         "TOLERANCES": "edgecnn.export.parity", "ParityResult": "edgecnn.export.parity",
         "compare_logits": "edgecnn.export.parity"}

__all__ = ["EXPORTERS", "PRECISIONS", "TOLERANCES", "ExportFormat", "ExportResult", "ParityResult",
           "artifact_stem", "compare_logits", "export_model", "load_checkpoint", "recalibrate_bn"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, _, attr = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attr or name)
    raise AttributeError(f"module 'edgecnn.export' has no attribute {name!r}")

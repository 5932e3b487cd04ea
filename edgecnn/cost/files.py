"""``count_file``: the cost of a model file, by its suffix (``.onnx``, ``.tflite``)."""

from __future__ import annotations

import os
from typing import Callable, Optional, Union

from edgecnn.cost.engine import CostReport, InputSize
from edgecnn.errors import InvalidOptionError


def _onnx(path, input_size, precision, batch):
    from edgecnn.cost.onnx_graph import count_onnx

    return count_onnx(path, input_size=input_size, precision=precision, batch=batch)


def _tflite(path, input_size, precision, batch):
    from edgecnn.cost.tflite_graph import count_tflite

    return count_tflite(path, input_size=input_size, precision=precision, batch=batch)


COUNTERS: dict[str, Callable[..., CostReport]] = {".onnx": _onnx, ".tflite": _tflite}


def count_file(path: Union[str, os.PathLike], input_size: Optional[InputSize] = None, precision: str = "fp32",
               batch: int = 1) -> CostReport:
    """Per-layer MACs, parameters, bytes and arithmetic intensity of a model
    file, read by ``count_onnx`` (``.onnx``) or ``count_tflite`` (``.tflite``):
    the same ``CostReport`` as ``count_cost`` gives for a PyTorch module.
    ``input_size`` is needed only for an ONNX input with a dynamic spatial size."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in COUNTERS:
        raise InvalidOptionError(f"cannot count the cost of {os.fspath(path)!r}: model files must end in "
                                 f"{' or '.join(COUNTERS)}")
    return COUNTERS[suffix](path, input_size, precision, batch)

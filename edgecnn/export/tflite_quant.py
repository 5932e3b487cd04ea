"""Full-integer TFLite with ai-edge-quantizer: methods, layers kept in float, sensitivity.

Methods (``TFLITE_METHODS``), each an ai-edge-quantizer recipe on the float
flatbuffer (int8 weights per channel, int8 asymmetric activations,
calibrated on real training images): ``min-max`` (the quantizer's
``static_wi8_ai8``: ranges are the min and max seen) and ``mse`` (the same
with weight ranges clipped where the squared error is smallest, ai-edge-quantizer's
MSE algorithm, on the ops with weights).

Layers: a TFLite op is named by its output tensors (litert-torch writes the
PyTorch module path into them:
``...Sequential_features/...Conv2dNormActivation_0/...Conv2d_0``); ``op_layers``
turns that into the module name (``features.0.0``). A layer kept in float
(``keep_float``: module names) gets ai-edge-quantizer's ``NO_QUANTIZE`` for
every op of that module (an exact regex on the op's scope), so it runs in
float between a DEQUANTIZE and a QUANTIZE.

Sensitivity: calibration runs once (its statistics serve every recipe); then
a model with only one layer quantised runs on the images (LiteRT), as for
ONNX (``sensitivity.py``).
"""

from __future__ import annotations

import contextlib
import io
import warnings
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from edgecnn.errors import InvalidOptionError, require

TFLITE_METHODS = ("min-max", "mse")
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
LAYOUT_OPS = ("TRANSPOSE", "RESHAPE", "PAD", "QUANTIZE", "DEQUANTIZE")


def _module_of(segment: str) -> tuple[str, str]:
    """(module name, class) of one litert-torch scope (``a.B_x/c.D_0`` -> (``x.0``, ``D``))."""
    names, cls = [], ""
    for part in segment.split("/")[1:]:  # the first part is the root model's class
        tail = part.rsplit(".", 1)[-1]
        cls, _, attr = tail.partition("_")
        names.append(attr)
    return ".".join(n for n in names if n), cls


def op_layers(flat: bytes) -> list[dict[str, Any]]:
    """Every op of the flatbuffer, graph order: ``index``, ``op``, ``scope`` (its
    output tensor names joined as ai-edge-quantizer does) and ``layer`` (the
    PyTorch module: the Conv/Linear for an op with weights, else its first output's)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=flat)
    names = {t["index"]: t["name"] for t in it.get_tensor_details()}
    rows = []
    for op in it._get_ops_details():
        if op["op_name"] == "DELEGATE":
            continue
        outs = [names.get(i, "") for i in op["outputs"] if i >= 0]
        scope = ";".join(n for n in outs if n) + (";" if any(outs) else "")  # as ai-edge-quantizer's get_op_scope

        def modules(text: str) -> list[tuple[str, str]]:
            return [_module_of(seg) for seg in re.split(r";+\d*", text) if "/" in seg]

        mods = modules(scope)
        if not any(m for m, _ in mods):  # a graph output ("serving_default_output_0"): name it by its inputs
            mods = modules(";".join(names.get(i, "") for i in op["inputs"] if i >= 0))
        layer = next((m for m, c in mods if c in ("Conv2d", "Linear") and m), None) \
            if op["op_name"] in WEIGHTED_OPS else None
        layer = layer or next((m for m, _ in mods if m), None) or f"{op['op_name'].lower()}_{op['index']}"
        rows.append({"index": op["index"], "op": op["op_name"], "scope": scope, "layer": layer})
    return rows


def recipe(method: str, float_scopes: Sequence[str] = (), only: Sequence[str] | None = None) -> Any:
    """The ai-edge-quantizer recipe of ``method``; ops whose scope is in
    ``float_scopes`` stay float; with ``only``, every op but those stays float."""
    from ai_edge_quantizer import recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName as Op

    if method not in TFLITE_METHODS:
        raise InvalidOptionError(f"unknown TFLite quantization method {method!r}; choose {', '.join(TFLITE_METHODS)}")
    rm = recipe_manager.RecipeManager()

    def static(regex: str) -> None:
        rm.add_static_config(regex=regex, operation_name=Op.ALL_SUPPORTED, activation_num_bits=8,
                             weight_num_bits=8, algorithm_key=AlgorithmName.MIN_MAX_UNIFORM_QUANT)
        if method == "mse":
            for op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.FULLY_CONNECTED):
                rm.add_static_config(regex=regex, operation_name=op, activation_num_bits=8, weight_num_bits=8,
                                     algorithm_key=AlgorithmName.MSE)

    if only is None:
        static(".*")
        for scope in float_scopes:
            rm.add_quantization_config(regex=f"^{re.escape(scope)}$", operation_name=Op.ALL_SUPPORTED,
                                       algorithm_key=AlgorithmName.NO_QUANTIZE)
    else:
        rm.add_quantization_config(regex=".*", operation_name=Op.ALL_SUPPORTED,
                                   algorithm_key=AlgorithmName.NO_QUANTIZE)
        for scope in only:
            static(f"^{re.escape(scope)}$")
    return rm.get_quantization_recipe()


@contextlib.contextmanager
def quantizer_output() -> Iterator[None]:
    """Hide ai-edge-quantizer's tqdm bars (written to sys.stderr) and the interpreter's
    debugging warning (``experimental_preserve_all_tensors``) it triggers while calibrating."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
        yield


class Calibrated:
    """A float flatbuffer with its calibration statistics, quantised with any recipe."""

    def __init__(self, flat: bytes, batches: list[np.ndarray], method: str = "min-max") -> None:
        require("ai_edge_quantizer", "tflite", "TFLite quantization")
        from ai_edge_litert.interpreter import Interpreter
        from ai_edge_quantizer import quantizer

        if not batches:
            raise InvalidOptionError("full-integer INT8 needs calibration images; none were given")
        self.flat, self.method = flat, method
        self.layers = op_layers(flat)
        sig = Interpreter(model_content=flat).get_signature_list()
        key = next(iter(sig))
        arg = sig[key]["inputs"][0]
        qt = quantizer.Quantizer(bytearray(flat), recipe(method))
        with quantizer_output():
            self.stats = qt.calibrate({key: [{arg: np.ascontiguousarray(b, np.float32)} for b in batches]},
                                      num_threads=1)

    def scopes(self, layers: Sequence[str]) -> list[str]:
        """Scopes of every op of the given layers (module names); unknown names raise."""
        known = {r["layer"] for r in self.layers}
        bad = [n for n in layers if n not in known]
        if bad:
            sample = ", ".join(sorted(known)[:3])
            raise InvalidOptionError(f"cannot keep {bad[0]!r} in float: no such layer in the TFLite model "
                                     f"(layers are module names, e.g. {sample})")
        return [r["scope"] for r in self.layers if r["layer"] in set(layers)]

    def quantize(self, keep_float: Sequence[str] = (), only: Sequence[str] | None = None) -> bytes:
        from ai_edge_quantizer import quantizer

        rec = recipe(self.method, self.scopes(keep_float), None if only is None else self.scopes(only))
        qt = quantizer.Quantizer(bytearray(self.flat), rec)
        with quantizer_output():
            return bytes(qt.quantize(self.stats, enable_progress_report=False).quantized_model)

    def candidate_layers(self) -> list[str]:
        """Layers worth ranking: every module with an op that is not a layout op, graph order."""
        out: list[str] = []
        for r in self.layers:
            if r["op"] not in LAYOUT_OPS and r["layer"] not in out:
                out.append(r["layer"])
        return out


def tflite_logits(flat: bytes, x: np.ndarray) -> np.ndarray:
    """Float logits of a TFLite model over ``x`` (NCHW float32; int8 boundaries converted)."""
    from edgecnn.export._runners import open_runner, run_batches

    with tempfile.TemporaryDirectory(prefix="edgecnn-tfl-") as tmp:
        path = Path(tmp) / "m.tflite"
        path.write_bytes(flat)
        runner = open_runner("litert", path)
        try:
            batch = int(runner.runner.input_shape[0] if hasattr(runner, "runner") else runner.input_shape[0])
            return run_batches(runner, x, batch or 1)
        finally:
            runner.close()


def tflite_sensitivity(cal: Calibrated, x: np.ndarray, labels: np.ndarray | None,
                       progress: Callable[[int, int, str], None] | None = None) -> list[dict[str, Any]]:
    """Per-layer figures with only that layer INT8 (most sensitive first), as ``sensitivity.layer_sensitivity``."""
    from edgecnn.export.sensitivity import compare

    ref = tflite_logits(cal.flat, x)
    rows = []
    layers = cal.candidate_layers()
    for i, layer in enumerate(layers):
        if progress:
            progress(i, len(layers), layer)
        ops = ",".join(sorted({r["op"] for r in cal.layers if r["layer"] == layer}))
        rows.append({"layer": layer, "op": ops, **compare(ref, tflite_logits(cal.quantize(only=[layer]), x), labels)})
    rows.sort(key=lambda r: -r["logit_error"])
    return rows

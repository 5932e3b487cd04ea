"""TFLite export with litert-torch (PyTorch straight to TFLite, no TensorFlow).

* Input layout: **NCHW** float32 ``[batch, 3, H, W]``, exactly as in PyTorch
  (litert-torch keeps the PyTorch signature; recorded as ``layout`` in the
  metadata). Internally the converter runs convolutions in NHWC and places
  one TRANSPOSE at the input (and one before a flatten); it does not wrap
  each convolution in transposes. Every export counts the TRANSPOSE and
  CONV ops in the flatbuffer (``transpose_ops``, ``conv_ops``) and splits the
  transposes into layout conversions (a 4-D NCHW <-> NHWC permutation,
  ``layout_transpose_ops``) and the model's own (any other permutation,
  such as ShuffleNet's channel shuffle, ``model_transpose_ops``). Validation
  fails on more layout conversions than ``MAX_TRANSPOSES`` plus two per
  transpose of the model's own (the converter runs a permutation written
  in NCHW between a conversion to NCHW and one back).
* Precisions, all with ai-edge-quantizer on the float model:
  ``fp16``: float16 weights (``float_casting``; dequantised at load, float
  compute); ``int8``: full-integer static w8a8 (``static_wi8_ai8``,
  activations calibrated on real training images; the input and output
  tensors are int8 too, their scale and zero point are in the metadata
  ``input_quantization`` / ``output_quantization``); ``int8_dynamic``: dynamic-range (``dynamic_wi8_afp32``,
  int8 weights, activations quantised on the fly).
* Batch: static (the export batch); TFLite has no dynamic batch here.
* Metadata: the sidecar ``<file>.json`` (the flatbuffer itself is left as the
  converter wrote it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgecnn.errors import InvalidOptionError, require
from edgecnn.export.tflite_quant import quantizer_output
from edgecnn.export._base import ExportContext, ExportFormat, ExportOutput, register_format
from edgecnn.records import atomic_write_bytes

MAX_TRANSPOSES = 2  # one at the NCHW input, one before a flatten to NCHW order
LAYOUT_PERMS = ((0, 2, 3, 1), (0, 3, 1, 2))  # NCHW -> NHWC and back
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")


def _quiet() -> None:
    """Converter progress off (set before litert_torch is imported; a user's own setting wins)."""
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def precheck(precision: str, options: dict[str, Any]) -> None:
    """The [tflite] extra must be installed; nothing else to check (no options)."""
    import logging

    _quiet()
    # importing litert_torch makes torch log a deprecation about its own enum registration; not ours to act on
    pytree_log = logging.getLogger("torch.utils._pytree")
    level = pytree_log.level
    pytree_log.setLevel(logging.ERROR)
    try:
        require("litert_torch", "tflite", "TFLite export")
    finally:
        pytree_log.setLevel(level)
    require("ai_edge_litert", "tflite", "TFLite export")
    if precision != "fp32":
        require("ai_edge_quantizer", "tflite", f"TFLite {precision} quantization")
    if precision != "int8" and (options.get("quant_method") or options.get("keep_float")
                                or options.get("max_drop") is not None):
        raise InvalidOptionError("--quant-method, --keep-float and --max-drop apply to --precision int8")
    from edgecnn.export.tflite_quant import TFLITE_METHODS

    if options.get("quant_method") not in (None, *TFLITE_METHODS):
        raise InvalidOptionError(f"unknown TFLite quantization method {options['quant_method']!r}; choose "
                                 f"{', '.join(TFLITE_METHODS)}")


def convert_fp32(model: Any, sample: Any, quant_config: Any = None) -> bytes:
    """The float32 TFLite flatbuffer of ``model`` traced at ``sample``'s shape
    (``quant_config``: a PT2E-quantised graph, see ``edgecnn.export.qat``)."""
    _quiet()
    litert_torch = require("litert_torch", "tflite", "TFLite export")
    edge = litert_torch.convert(model.eval(), (sample,), **({"quant_config": quant_config} if quant_config else {}))
    return bytes(edge.model_content())


def _recipe(precision: str) -> Any:
    from ai_edge_quantizer import recipe

    if precision == "int8":
        return recipe.static_wi8_ai8()
    if precision == "int8_dynamic":
        return recipe.dynamic_wi8_afp32()
    if precision == "fp16":
        return [{
            "regex": ".*", "operation": "*", "algorithm_key": "float_casting",
            "op_config": {"weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT"},
                          "compute_precision": "FLOAT", "explicit_dequantize": True,
                          "skip_checks": False, "min_weight_elements": 0},
        }]
    raise ValueError(precision)


def quantize(float_model: bytes, precision: str, calibration: list[np.ndarray] | None = None) -> bytes:
    """Apply an ai-edge-quantizer recipe to a float flatbuffer (see module doc)."""
    require("ai_edge_quantizer", "tflite", "TFLite quantization")
    from ai_edge_quantizer import quantizer

    qt = quantizer.Quantizer(bytearray(float_model), _recipe(precision))
    result = None
    if qt.need_calibration:
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_content=float_model)
        sig = it.get_signature_list()
        key = next(iter(sig))
        arg = sig[key]["inputs"][0]
        samples = [{arg: np.ascontiguousarray(b, dtype=np.float32)} for b in (calibration or [])]
        if not samples:
            raise InvalidOptionError("full-integer INT8 needs calibration images; none were given")
        with quantizer_output():
            result = qt.calibrate({key: samples}, num_threads=1)
    with quantizer_output():
        return bytes(qt.quantize(result, enable_progress_report=False).quantized_model)


def op_census(tflite: bytes | Path) -> tuple[dict[str, int], int, int]:
    """(operator histogram, layout conversions, the model's own transposes)
    of the flatbuffer, read in one pass of one interpreter. The histogram
    leaves delegate nodes out. A TRANSPOSE is a layout conversion when it
    permutes a 4-D tensor NCHW <-> NHWC (``LAYOUT_PERMS``); any other
    permutation, or one that is not a constant, is the model's own."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite)) if isinstance(tflite, Path) else Interpreter(model_content=tflite)
    counts: dict[str, int] = {}
    layout = own = 0
    for op in it._get_ops_details():  # the only public-enough view of the graph without flatbuffers
        name = op["op_name"]
        if name == "DELEGATE":
            continue
        counts[name] = counts.get(name, 0) + 1
        if name == "TRANSPOSE":
            try:
                perm = tuple(int(v) for v in np.asarray(it.get_tensor(int(op["inputs"][1]))).ravel())
            except (ValueError, IndexError, KeyError):
                perm = ()
            layout, own = (layout + 1, own) if perm in LAYOUT_PERMS else (layout, own + 1)
    return counts, layout, own


def full_integer(ctx: ExportContext, flat: bytes) -> tuple[bytes, dict[str, Any]]:
    """Full-integer INT8 of ``flat`` with the ``quant_method`` option, the
    ``keep_float`` layers in float, or (``max_drop``) the fewest most sensitive
    layers in float that keep the top-1 drop on ``ctx.search`` images within
    budget (see ``tflite_quant.py``)."""
    from edgecnn.export.tflite_quant import Calibrated, tflite_logits, tflite_sensitivity

    opts = ctx.options
    method = opts.get("quant_method") or "min-max"
    batches = ctx.calibration_batches()  # TFLite graphs have a static batch
    cal = Calibrated(flat, batches, method)
    keep = list(opts.get("keep_float") or [])
    figures: dict[str, Any] = {}
    if opts.get("max_drop") is not None:
        from edgecnn.export.sensitivity import SENSITIVITY_IMAGES, mixed_figures, search_prefix

        x, labels = ctx.search_data()
        rows = tflite_sensitivity(cal, x[:SENSITIVITY_IMAGES], labels[:SENSITIVITY_IMAGES])
        ranking = keep + [r["layer"] for r in rows if r["layer"] not in keep]
        ref = 100.0 * float((tflite_logits(flat, x).argmax(1) == labels).mean())
        found = search_prefix(ranking, float(opts["max_drop"]), ref,
                              lambda k: 100.0 * float((tflite_logits(cal.quantize(k), x).argmax(1) == labels).mean()))
        figures = mixed_figures(found, ranking, keep, float(opts["max_drop"]), len(x), f"tflite-{method}")
        keep = figures.pop("float_nodes")
    figures.update({"quant_method": f"tflite-{method}", "quant_tool": "ai-edge-quantizer", "float_nodes": keep,
                    "quant_config": {"weights": "int8 per channel, symmetric", "activations": "int8 asymmetric",
                                     "algorithm": method}, "calibration_images": int(sum(len(b) for b in batches))})
    return cal.quantize(keep), figures


def build(ctx: ExportContext) -> ExportOutput:
    from edgecnn.export.qat import float_of, is_qat

    quant: dict[str, Any] = {}
    if is_qat(ctx.model) and ctx.precision == "int8":  # the trained scales, as they are
        flat = qat_tflite(ctx.model, ctx.sample)
        quant = {"quant_method": "qat", "quant_tool": "torchao pt2e (QAT) + litert-torch", "float_nodes": []}
    else:
        flat = convert_fp32(float_of(ctx.model), ctx.sample)
    if ctx.precision == "int8" and not quant:
        flat, quant = full_integer(ctx, flat)
    elif ctx.precision not in ("fp32", "int8"):
        flat = quantize(flat, ctx.precision, None)
    counts, layout, own = op_census(flat)
    atomic_write_bytes(ctx.out_path, flat)
    from edgecnn.export._runners import tflite_io_quantization

    qin, qout = tflite_io_quantization(ctx.out_path)
    if qin:  # full-integer models take int8: q = round(x / scale) + zero_point on the normalised input
        ctx.metadata["input_dtype"] = str(qin[2])
        ctx.metadata["input_quantization"] = {"scale": qin[0], "zero_point": qin[1]}
    if qout:
        ctx.metadata["output_quantization"] = {"scale": qout[0], "zero_point": qout[1]}
    transposes = counts.get("TRANSPOSE", 0)
    convs = sum(counts.get(k, 0) for k in CONV_OPS)
    # the input stays NCHW ("layout"); convolutions run NHWC inside, behind one input TRANSPOSE
    ctx.metadata.update({"internal_layout": "NHWC", "transpose_ops": transposes, "conv_ops": convs})
    out = ExportOutput(ctx.out_path, "litert", metrics={
        "transpose_ops": transposes, "layout_transpose_ops": layout, "model_transpose_ops": own, "conv_ops": convs,
        "ops": sum(counts.values()), "op_counts": counts, **quant})
    failure = layout_failure(layout, own, convs)
    if failure:
        out.failures.append(failure)
    return out


def layout_failure(layout: int, own: int, convs: int) -> str | None:
    """Why a graph with ``layout`` NCHW/NHWC conversions and ``own`` transposes
    of the model's own fails validation (None: it does not): more conversions
    than ``MAX_TRANSPOSES`` plus two per own transpose."""
    allowed = MAX_TRANSPOSES + 2 * own
    if layout <= allowed:
        return None
    return (f"{layout} NCHW/NHWC TRANSPOSE ops for {convs} convolutions (more than {allowed}: {MAX_TRANSPOSES} "
            f"plus 2 for each of the model's own {own}): layout conversion per layer")


register_format(ExportFormat(
    name="tflite", suffix=".tflite", precisions=("fp32", "fp16", "int8", "int8_dynamic"), runtime="litert",
    extra="tflite", options={"quant_method": None, "keep_float": None, "max_drop": None, "search_images": 2000},
    builder=build, precheck=precheck,
    description="TFLite via litert-torch (NCHW input); FP16 / INT8 with ai-edge-quantizer",
))


def qat_tflite(model: Any, sample: Any) -> bytes:
    """The converted QAT graph as a full-integer TFLite flatbuffer (litert-torch
    translates the quantize/dequantize pairs: its STATIC Q/DQ mode)."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig

    # the quantizer only tells the converter the mode (static int8); the scales are the graph's own
    config = QuantConfig(pt2e_quantizer=PT2EQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True)))
    return convert_fp32(model.converted(fold_quantize=False), sample, quant_config=config)

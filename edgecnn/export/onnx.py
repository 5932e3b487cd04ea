"""ONNX export: ``torch.onnx.export``, graph simplification, metadata, Q/DQ INT8.

* Exporter: the TorchScript exporter (``dynamo=False``) by default: it exports
  every zoo model in about a second and honours the opset asked for; the
  dynamo exporter (``exporter="dynamo"``) is an option (it takes 4-7 s per
  model here and writes opset 18 when 17 is asked for).
* Input ``input``: float32 NCHW ``[batch, 3, H, W]``, normalised with the
  model's mean/std (in the metadata); output ``logits`` ``[batch, classes]``.
  ``dynamic_batch`` makes dimension 0 symbolic (``batch``).
* Simplification: ``onnxscript.optimizer.optimize`` (constant folding, dead
  code and identity removal), then ``onnx.checker.check_model(full_check=True)``.
* Metadata: ``metadata_props`` holds the edgecnn metadata (model, input size,
  mean/std, classes, layout, precision, edgecnn version) as strings, lists
  JSON-encoded; the same dict is written beside the file as ``<file>.json``.
* INT8: onnxruntime ``quantize_static`` in QDQ format, per-channel int8
  weights, activations calibrated (min/max) on real training images. With
  ``symmetric=True`` (what TensorRT needs: int8 activations, zero point 0)
  the model is TensorRT's explicit-quantization input; ONNX Runtime runs both.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgecnn.errors import InvalidOptionError
from edgecnn.export._base import embed_metadata, ExportContext, ExportFormat, ExportOutput, register_format
from edgecnn.records import atomic_write_bytes

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
ONNX_EXPORTERS = ("torchscript", "dynamo")
MIN_QDQ_OPSET = 13  # per-channel QuantizeLinear / DequantizeLinear (axis attribute)


def torch_to_onnx(model: Any, sample: Any, path: Path, *, opset: int = 17, dynamic_batch: bool = False,
                  exporter: str = "torchscript") -> None:
    """Run ``torch.onnx.export`` to ``path`` (not atomic: write to a temp path)."""
    import torch

    if exporter not in ONNX_EXPORTERS:
        raise InvalidOptionError(f"unknown ONNX exporter {exporter!r}; choose {' or '.join(ONNX_EXPORTERS)}")
    model.eval()
    with torch.no_grad():
        if exporter == "torchscript":
            axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
            torch.onnx.export(model, (sample,), str(path), dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_axes=axes,
                              do_constant_folding=True)
        else:
            shapes = ({0: torch.export.Dim("batch", min=1, max=1024)},) if dynamic_batch else None
            prog = torch.onnx.export(model, (sample,), dynamo=True, opset_version=opset,
                                     input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                     dynamic_shapes=shapes, optimize=True, verbose=False)
            prog.save(str(path))


def simplify(model_proto: Any) -> Any:
    """Constant folding and graph clean-up with onnxscript's optimizer."""
    import onnxscript.optimizer

    return onnxscript.optimizer.optimize(model_proto)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The edgecnn metadata embedded in an ONNX file (JSON values decoded)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    out: dict[str, Any] = {}
    for p in model.metadata_props:
        try:
            out[p.key] = json.loads(p.value)
        except ValueError:
            out[p.key] = p.value
    return out


def export_fp32(model: Any, sample: Any, out_path: Path, metadata: dict[str, Any], *, opset: int = 17,
                dynamic_batch: bool = False, exporter: str = "torchscript", do_simplify: bool = True) -> dict:
    """Export, simplify, embed metadata, check, then write ``out_path`` atomically.

    Returns figures: ``opset``, ``nodes``, ``exporter``."""
    import onnx

    with tempfile.TemporaryDirectory(prefix="edgecnn-onnx-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        torch_to_onnx(model, sample, raw, opset=opset, dynamic_batch=dynamic_batch, exporter=exporter)
        proto = onnx.load(str(raw))
    if do_simplify:
        proto = simplify(proto)
    embed_metadata(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    atomic_write_bytes(out_path, proto.SerializeToString())
    written = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=None)
    return {"opset": written, "nodes": len(proto.graph.node), "exporter": exporter, "simplified": do_simplify}


def quantize_qdq(fp32_path: Path, out_path: Path, batches: list[np.ndarray], *, symmetric: bool,
                 metadata: dict[str, Any], method: str | None = None) -> dict:
    """Static INT8 (QDQ) calibrated on ``batches``; atomic write.

    ``symmetric``: int8 activations with zero point 0 (TensorRT's explicit
    quantization); otherwise ``method`` (a name in
    ``edgecnn.export.quantize.QUANT_METHODS``; default ``auto``). Returns
    figures: ``calibration_images``, ``qdq_nodes``, ``quant_method``, ..."""
    from edgecnn.export.quantize import SYMMETRIC, quantize_onnx

    return quantize_onnx(fp32_path, out_path, batches, SYMMETRIC if symmetric else method, metadata=metadata)


def opset_range(exporter: str) -> tuple[int, int]:
    """(lowest, highest) opset ``exporter`` writes as asked (torch's own limits)."""
    from torch.onnx import _constants as c

    if exporter == "dynamo":  # it writes opset 18 when asked for less
        return 18, int(c.ONNX_MAX_OPSET)
    return int(c.ONNX_MIN_OPSET), int(c.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET)


def precheck(precision: str, options: dict[str, Any]) -> None:
    """Refuse an unknown exporter or an opset it cannot write, before any work."""
    exporter = options.get("exporter")
    if exporter not in ONNX_EXPORTERS:
        raise InvalidOptionError(f"unknown ONNX exporter {exporter!r}; choose {' or '.join(ONNX_EXPORTERS)}")
    lo, hi = opset_range(exporter)
    if precision == "int8":
        lo = max(lo, MIN_QDQ_OPSET)
    if precision != "int8" and (options.get("quant_method") not in (None, "auto") or options.get("keep_float")
                                or options.get("max_drop") is not None):
        raise InvalidOptionError("--quant-method, --keep-float and --max-drop apply to --precision int8")
    if precision == "int8" and not options.get("symmetric"):
        from edgecnn.export.quantize import resolve_method

        resolve_method(options.get("quant_method"))  # an unknown name fails here, with the closest names
    if options.get("max_drop") is not None and not 0 <= float(options["max_drop"]) <= 100:
        raise InvalidOptionError(f"--max-drop is in top-1 points (0-100), got {options['max_drop']}")
    opset = options.get("opset")
    if not isinstance(opset, int) or not lo <= opset <= hi:
        why = f" (per-channel Q/DQ INT8 needs >= {MIN_QDQ_OPSET})" if precision == "int8" else ""
        raise InvalidOptionError(f"opset {opset} is out of range for the {exporter} exporter: choose "
                                 f"{lo}..{hi}{why}")


def write_onnx(ctx: ExportContext, path: Path, *, quantize: bool, symmetric: bool) -> dict:
    """Write ``ctx.model`` to ``path``: the FP32 graph, or (``quantize``) its
    static Q/DQ INT8 version calibrated on ``ctx``'s real images with the
    ``quant_method`` option, the ``keep_float`` layers in float, or (option
    ``max_drop``) the fewest most sensitive layers in float that keep the
    top-1 drop on ``ctx.search`` images within the budget."""
    from edgecnn.export.qat import float_of, is_qat
    from edgecnn.export.quantize import SYMMETRIC, quantize_onnx, resolve_method

    opts = ctx.options
    kw = dict(opset=int(opts["opset"]), dynamic_batch=bool(opts["dynamic_batch"]), exporter=opts["exporter"],
              do_simplify=bool(opts["simplify"]))
    if quantize and is_qat(ctx.model):  # the trained scales, as they are
        return qat_onnx(ctx.model, ctx.sample, path, ctx.metadata, kw["opset"], kw["dynamic_batch"])
    if not quantize:
        return export_fp32(float_of(ctx.model), ctx.sample, path, ctx.metadata, **kw)
    method = SYMMETRIC if symmetric else resolve_method(opts.get("quant_method"))
    model, figures = ctx.model, {}
    if method.equalize:
        from edgecnn.export.equalize import equalize

        model, cle = equalize(ctx.model)
        figures.update(cle)
    batches = ctx.calibration_batches()
    keep = list(opts.get("keep_float") or [])
    with tempfile.TemporaryDirectory(prefix="edgecnn-onnx-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        figures.update(export_fp32(model, ctx.sample, fp32, {**ctx.metadata, "precision": "fp32"}, **kw))
        if opts.get("max_drop") is not None:
            from edgecnn.export.sensitivity import mixed_precision

            dyn = Path(tmp) / "dynamic.onnx"
            export_fp32(model, ctx.sample, dyn, {}, **{**kw, "dynamic_batch": True})
            found = mixed_precision(dyn, batches, ctx.search_data(), method, float(opts["max_drop"]), keep)
            keep = found.pop("float_nodes")
            figures.update(found)
        figures.update(quantize_onnx(fp32, path, batches, method, metadata=ctx.metadata, keep_float=keep))
    return figures


def build(ctx: ExportContext) -> ExportOutput:
    figures = write_onnx(ctx, ctx.out_path, quantize=ctx.precision == "int8",
                         symmetric=bool(ctx.options.get("symmetric", False)))
    return ExportOutput(ctx.out_path, "onnxruntime", metrics=figures)


ONNX_OPTIONS = {"opset": 17, "dynamic_batch": False, "simplify": True, "exporter": "torchscript"}
# INT8 options (see edgecnn.export.quantize / sensitivity): method, layers kept in float, top-1 budget (points)
QUANT_OPTIONS = {"quant_method": "auto", "keep_float": None, "max_drop": None, "search_images": 2000}

register_format(ExportFormat(
    name="onnx", suffix=".onnx", precisions=("fp32", "int8"), runtime="onnxruntime", extra=None,
    options={**ONNX_OPTIONS, **QUANT_OPTIONS, "symmetric": False}, builder=build, precheck=precheck,
    description="ONNX (torch.onnx TorchScript exporter; INT8 = onnxruntime static Q/DQ, per-channel)",
))


def qat_onnx(model: Any, sample: Any, path: Any, metadata: dict[str, Any], opset: int,
             dynamic_batch: bool) -> dict[str, Any]:
    """The converted QAT graph as a Q/DQ ONNX file (the dynamo exporter, which
    translates PT2E's quantize/dequantize ops; opset >= 18), written atomically."""
    import onnx

    figures = export_fp32(model.converted(), sample, path, metadata, opset=max(18, opset),
                          dynamic_batch=dynamic_batch, exporter="dynamo")
    proto = onnx.load(str(path), load_external_data=False)
    qdq = sum(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in proto.graph.node)
    return {**figures, "qdq_nodes": int(qdq), "quant_tool": "torchao pt2e (QAT)", "quant_method": "qat",
            "activation_type": "int8 asymmetric", "float_nodes": []}

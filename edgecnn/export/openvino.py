"""OpenVINO IR export (``.xml`` + ``.bin``), run by OpenVINO's CPU plugin.

* Conversion: edgecnn's FP32 ONNX export (TorchScript exporter, simplified)
  read by OpenVINO's ONNX frontend (``ov.convert_model``), then
  ``ov.save_model``. Going through ONNX keeps the exporter's node names
  (``/layer1/layer1.0/conv1/Conv``), so OpenVINO's per-layer counters map to
  PyTorch modules as ONNX Runtime's do; it is also faster here than
  OpenVINO's own PyTorch frontend (2.4 s vs 7.1 s for mobilenet_v3_small).
  Input ``input`` float32 NCHW with a static batch, output ``logits``.
* Precisions and what runs: OpenVINO's CPU plugin picks its own compute
  precision unless told (bf16 on CPUs with AVX512-BF16 / AMX, f16 on ARM),
  so every export sets ``INFERENCE_PRECISION_HINT``: ``fp32`` -> f32;
  ``bf16`` -> bf16; ``fp16`` -> weights stored as f16 in the IR and hint f16;
  ``int8`` -> NNCF post-training quantization (``nncf.quantize``, min/max
  statistics on real training images, symmetric int8 weights per channel),
  float parts at f32; a ``train --qat`` checkpoint instead goes through its
  Q/DQ ONNX (``onnx.qat_onnx``), whose pairs OpenVINO's frontend turns into
  FakeQuantize ops with the trained scales (no calibration, no NNCF). The hint is stored in the IR (``rt_info`` section
  ``edgecnn``) and in the metadata (``runtime_settings``), and the runner
  applies it. A CPU without bf16/f16 units runs f32 instead: the exporter
  compiles the IR here and reads ``INFERENCE_PRECISION_HINT`` back
  (``inference_precision`` in the record), and the parity check judges the
  precision that ran (bf16 on an AVX2 CPU is judged as fp32, with a note;
  fp16 is judged as fp16 whatever runs, its weights being rounded to f16).
* Metadata: the edgecnn metadata dict, JSON-encoded, in ``rt_info``
  (``edgecnn/metadata``) and in the sidecar ``<file>.json``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from edgecnn.errors import require
from edgecnn.export import onnx as onnx_export
from edgecnn.export._base import ExportContext, ExportFormat, ExportOutput, register_format

HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}  # export precision -> INFERENCE_PRECISION_HINT
PRECISION_OF_HINT = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}
EXTRA = "openvino"


def precheck(precision: str, options: dict[str, Any]) -> None:
    require("openvino", EXTRA, "OpenVINO export")
    if precision == "int8":
        require("nncf", EXTRA, "OpenVINO INT8 quantization (NNCF)")


def ran_precision(ov_model: Any, hint: str, threads: int = 1) -> str:
    """The precision OpenVINO's CPU plugin actually uses for ``ov_model`` with
    ``hint`` (f32 | bf16 | f16), read back from a compiled model."""
    import openvino as ov

    compiled = ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                         "INFERENCE_NUM_THREADS": threads})
    return compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()


def quantize(ov_model: Any, batches: list) -> Any:
    """NNCF post-training INT8 of ``ov_model`` calibrated on ``batches`` (NCHW float32)."""
    import logging

    import nncf

    from edgecnn.errors import InvalidOptionError
    from edgecnn.runtime._native import native_output

    if not batches:
        raise InvalidOptionError("INT8 export needs calibration images; none were given")
    nncf.set_log_level(logging.ERROR)
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    from edgecnn.export.quantize import int8_saturates

    # on x86 CPUs without VNNI OpenVINO's u8 x s8 kernels add product pairs in int16 and saturate: NNCF's overflow
    # fix (7-bit weights) on every layer there, on the first layer only elsewhere (NNCF's default)
    advanced = AdvancedQuantizationParameters(
        overflow_fix=OverflowFix.ENABLE if int8_saturates() else OverflowFix.FIRST_LAYER)
    with native_output():  # NNCF's progress bars
        return nncf.quantize(ov_model, nncf.Dataset(batches), subset_size=len(batches),
                             preset=nncf.QuantizationPreset.PERFORMANCE, target_device=nncf.TargetDevice.CPU,
                             advanced_parameters=advanced)


def restore_module_names(ov_model: Any, labels: dict[str, str]) -> None:
    """OpenVINO names a layer after its ONNX node, or after the graph output it
    makes (``logits``); where that name says no module (``node_Conv_3``, renamed
    by the ONNX optimizer), give the layer its label from the ONNX graph
    (``/layer1/layer1.0/conv1/Conv_output_0``; see ``onnx_layer_labels``)."""
    for op in ov_model.get_ops():
        name = op.get_friendly_name()
        head, sep, tail = name.partition("/")
        if head in labels:  # "node_Gemm_19/WithoutBiases" keeps its suffix
            op.set_friendly_name(labels[head] + sep + tail)


def build(ctx: ExportContext) -> ExportOutput:
    import openvino as ov

    from edgecnn.runtime.layer_names import onnx_layer_labels

    from edgecnn.export.qat import float_of, is_qat

    hint = HINTS[ctx.precision]
    qat = ctx.precision == "int8" and is_qat(ctx.model)
    with tempfile.TemporaryDirectory(prefix="edgecnn-ov-") as tmp:
        onnx_path = Path(tmp) / "fp32.onnx"
        if qat:  # the trained scales, as they are: the Q/DQ ONNX, whose pairs OpenVINO reads as FakeQuantize
            figures = onnx_export.qat_onnx(ctx.model, ctx.sample, onnx_path, {**ctx.metadata, "precision": "int8"},
                                           opset=18, dynamic_batch=False)
        else:
            figures = onnx_export.export_fp32(float_of(ctx.model), ctx.sample, onnx_path,
                                              {**ctx.metadata, "precision": "fp32"}, opset=17)
        ov_model = ov.convert_model(str(onnx_path))
        restore_module_names(ov_model, onnx_layer_labels(onnx_path))
    if ctx.precision == "int8" and not qat:
        ov_model = quantize(ov_model, ctx.calibration_batches())
    ran = ran_precision(ov_model, hint)
    settings = {"runtime": "openvino", "INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"}
    ctx.metadata["runtime_settings"] = settings
    ov_model.set_rt_info(hint, ["edgecnn", "inference_precision_hint"])
    ov_model.set_rt_info(json.dumps(ctx.metadata, default=str), ["edgecnn", "metadata"])
    # save_model writes .xml and .bin itself: into a temp name, then renamed (atomic per file)
    bin_path = ctx.out_path.with_suffix(".bin")
    tmp_xml = ctx.out_path.with_name(f".{ctx.out_path.stem}.tmp.xml")
    ov.save_model(ov_model, str(tmp_xml), compress_to_fp16=ctx.precision == "fp16")
    tmp_xml.with_suffix(".bin").replace(bin_path)
    tmp_xml.replace(ctx.out_path)
    fq = sum(op.get_type_name() == "FakeQuantize" for op in ov_model.get_ops())
    metrics = {"onnx_nodes": figures["nodes"], "ov_ops": len(ov_model.get_ops()), "inference_precision_hint": hint,
               "inference_precision": ran, "bin_bytes": bin_path.stat().st_size,
               "file_bytes": ctx.out_path.stat().st_size + bin_path.stat().st_size}  # .xml + .bin
    if qat:
        metrics.update(fake_quantize_ops=fq, quant_tool="torchao pt2e (QAT) -> OpenVINO ONNX frontend",
                       quant_method="qat", qdq_nodes=figures.get("qdq_nodes"))
    elif ctx.precision == "int8":
        metrics.update(fake_quantize_ops=fq, calibration_images=sum(len(b) for b in ctx.calibration_batches()))
    out = ExportOutput(ctx.out_path, "openvino", extra_files=[bin_path], metrics=metrics,
                       runner_options={"inference_precision": hint})
    if ctx.precision in ("fp32", "bf16") and ran != hint:
        out.notes.append(f"this CPU has no {hint} compute: OpenVINO ran {ran}; parity judged as "
                         f"{PRECISION_OF_HINT.get(ran, ran)}")
    if ctx.precision in ("fp32", "bf16"):
        out.validate_as = PRECISION_OF_HINT.get(ran, ctx.precision)
    elif ctx.precision == "fp16" and ran != hint:
        out.notes.append(f"this CPU has no f16 compute: OpenVINO ran {ran} on the f16 weights; parity judged as fp16")
    return out


register_format(ExportFormat(
    name="openvino", suffix=".xml", precisions=("fp32", "fp16", "bf16", "int8"), runtime="openvino", extra=EXTRA,
    options={}, builder=build, builds_on=("onnx",), precheck=precheck,
    description="OpenVINO IR (.xml+.bin) from the ONNX export; INFERENCE_PRECISION_HINT recorded; "
                "INT8 = NNCF post-training quantization",
))

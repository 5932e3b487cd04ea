"""MNN export (``.mnn``) with MNN's own converter and quantization tool.

* Conversion: edgecnn's FP32 ONNX export, then MNN's converter
  (``mnnconvert -f ONNX``). The tools are called through the wheel's native
  module ``_tools`` in a child Python process, not through the ``mnnconvert``
  / ``mnnquant`` console scripts: those scripts import ``MNN.tools.utils.log``,
  which runs ``pip install aliyun-log-python-sdk`` when it is missing and
  then sends usage logs to a remote service, and the 3.6.1 ``mnnquant`` script
  passes its arguments in a form the native tool does not take (it aborts with
  ``std::length_error``). A child process also keeps a converter crash or its
  console output away from edgecnn's process.
* Input ``input`` float32 NCHW with the export's static batch, output
  ``logits`` (the ONNX names; MNN keeps tensor names).
* Precisions: ``fp32``: float32 weights, runtime precision ``high``, at most
  two Winograd unit sizes (``FP32_WINOGRAD_LEVEL``, below);
  ``fp16``: weights stored as float16 (``--fp16``) and runtime precision
  ``low``, which computes in fp16 on ARM CPUs with FP16 arithmetic and in
  fp32 elsewhere (MNN reports the CPU's ``fp16`` support when it loads: that
  is ``inference_precision``); ``int8``: MNN's post-training quantization
  (the quantization tool: KL-divergence activation scales from real training
  images written as PNG files at the input size, symmetric int8 weights by
  their largest magnitude); MNN then runs int8 kernels. Measured here: fine
  for ReLU networks (random resnet18 cosine 0.991, a ReLU LeNet 1.0), poor
  where MNN runs Tanh / HardSwish in int8 (a trained LeNet-5 cosine 0.47,
  random mobilenet_v3_small 0.59; MNN's own per-tensor debug check says 0.9998,
  so its x86 int8 unary kernels are the suspect); the parity check flags it
  (``validation_failed``).
* Metadata: the sidecar ``<file>.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgecnn.errors import InvalidOptionError, require
from edgecnn.export import onnx as onnx_export
from edgecnn.export._base import ExportContext, ExportFormat, ExportOutput, register_format
from edgecnn.records import atomic_write_bytes

EXTRA = "mnn"
TOOL_TIMEOUT_S = 1800
# the native tools, called with argv-style lists (the module is the mnn wheel's own)
_TOOL = "import sys, json, _tools; args = json.loads(sys.argv[1]); ok = getattr(_tools, args[0])(args[1]); " \
        "sys.exit(0 if ok in (True, 0, None) else 1)"


def precheck(precision: str, options: dict[str, Any]) -> None:
    from edgecnn.runtime._native import native_output

    with native_output():  # MNN prints the CPU's features on stdout at import
        require("MNN", EXTRA, "MNN export")
        require("_tools", EXTRA, "MNN's converter (the mnn wheel's _tools module)")


def run_tool(tool: str, argv: list[str]) -> str:
    """Run ``_tools.<tool>(argv)`` in a child Python; returns its output, raises
    RuntimeError with its last lines when it fails or crashes."""
    proc = subprocess.run([sys.executable, "-c", _TOOL, json.dumps([tool, argv])], capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT_S)
    text = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0:
        lines = [ln for ln in text.strip().splitlines() if "device supports" not in ln][-4:]
        raise RuntimeError(f"MNN {tool} failed (exit {proc.returncode}): {' | '.join(lines) or 'no output'}")
    return text


def unsupported_ops(text: str) -> list[str]:
    """Operators the converter's log names as not supported."""
    ops = []
    for line in text.splitlines():
        low = line.lower()
        if "not support" in low or "unsupported" in low:
            ops.append(line.strip())
    return ops


def convert(onnx_path: Path, mnn_path: Path, fp16: bool) -> str:
    argv = ["mnnconvert", "-f", "ONNX", "--modelFile", str(onnx_path), "--MNNModel", str(mnn_path),
            "--bizCode", "edgecnn"]
    if fp16:
        argv.append("--fp16")
    try:
        text = run_tool("mnnconvert", argv)
    except RuntimeError as exc:
        raise RuntimeError(str(exc)) from None
    if not mnn_path.exists() or mnn_path.stat().st_size == 0:
        bad = unsupported_ops(text)
        raise RuntimeError("MNN converter wrote no model" + (f": {'; '.join(bad[:3])}" if bad else ""))
    return text


def write_calibration_images(batches: list[np.ndarray], mean: list[float], std: list[float], folder: Path) -> int:
    """Normalised NCHW calibration batches back to uint8 RGB PNG files (the
    quantization tool reads images and normalises them itself)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    m = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
    n = 0
    for b in batches:
        rgb = np.clip(np.round((b * s + m) * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
        for img in rgb:
            Image.fromarray(img).save(folder / f"{n:05d}.png")
            n += 1
    return n


def quantize(src: Path, dst: Path, ctx: ExportContext, folder: Path) -> dict[str, Any]:
    """MNN post-training INT8 of ``src`` calibrated on ctx's real training images."""
    batches = ctx.calibration_batches()
    if not batches:
        raise InvalidOptionError("INT8 export needs calibration images; none were given")
    images = folder / "calibration"
    n = write_calibration_images(batches, ctx.metadata["mean"], ctx.metadata["std"], images)
    config = {"format": "RGB", "mean": [255.0 * v for v in ctx.metadata["mean"]],
              "normal": [1.0 / (255.0 * v) for v in ctx.metadata["std"]], "width": ctx.input_size,
              "height": ctx.input_size, "path": str(images) + "/", "used_image_num": n,
              "feature_quantize_method": "KL", "weight_quantize_method": "MAX_ABS"}
    cfg = folder / "quant.json"
    cfg.write_text(json.dumps(config))
    run_tool("mnnquant", ["quantized.out", str(src), str(dst), str(cfg)])
    if not dst.exists() or dst.stat().st_size == 0:
        raise RuntimeError("MNN quantization wrote no model")
    if dst.stat().st_size > 0.75 * src.stat().st_size:  # the tool can exit 0 and leave the model in float
        raise RuntimeError(f"MNN quantization left the model in float ({dst.stat().st_size} bytes, float "
                           f"{src.stat().st_size})")
    return {"calibration_images": n, "feature_quantize_method": "KL", "weight_quantize_method": "MAX_ABS"}


# MNN's CPU backend picks a Winograd unit per 3x3 convolution from up to 3 sizes
# (Interpreter hint WINOGRAD_MEMORY_LEVEL, default 3). The largest units round
# enough to miss fp32 parity: random resnet18 at 224x224 gave max|d| 2.6e-4 at
# the default, 3.3e-6 at levels 0-2, and level 2 timed as fast as the default
# (21.1 vs 23.6 ms, level 0 32.5 ms; 2 threads, this CPU). fp32 exports ask for 2.
FP32_WINOGRAD_LEVEL = 2


def build(ctx: ExportContext) -> ExportOutput:
    from edgecnn.runtime.layer_names import onnx_layer_labels
    from edgecnn.runtime.mnn_runner import cpu_has_fp16

    fp16 = ctx.precision == "fp16"
    with tempfile.TemporaryDirectory(prefix="edgecnn-mnn-") as tmp:
        folder = Path(tmp)
        onnx_path = folder / "fp32.onnx"
        figures = onnx_export.export_fp32(ctx.model, ctx.sample, onnx_path, {**ctx.metadata, "precision": "fp32"},
                                          opset=17)
        mnn_path = folder / "model.mnn"
        convert(onnx_path, mnn_path, fp16)
        ctx.metadata["layer_labels"] = onnx_layer_labels(onnx_path)  # MNN names the last layer "logits"
        metrics: dict[str, Any] = {"onnx_nodes": figures["nodes"]}
        if ctx.precision == "int8":
            quantized = folder / "int8.mnn"
            metrics.update(quantize(mnn_path, quantized, ctx, folder))
            mnn_path = quantized
        atomic_write_bytes(ctx.out_path, mnn_path.read_bytes())
    runtime_precision = "low" if fp16 else "high"
    ran = "f16" if fp16 and cpu_has_fp16() else "f32"
    winograd = {"winograd_memory_level": FP32_WINOGRAD_LEVEL} if ctx.precision == "fp32" else {}
    ctx.metadata["runtime_settings"] = {"runtime": "mnn", "precision": runtime_precision, **winograd}
    metrics.update(inference_precision=ran, mnn_precision=runtime_precision,
                   weights_dtype={"fp32": "float32", "fp16": "float16", "int8": "int8"}[ctx.precision],
                   **{f"mnn_{k}": v for k, v in winograd.items()})
    out = ExportOutput(ctx.out_path, "mnn", metrics=metrics,
                       runner_options={"mnn_precision": runtime_precision, **winograd})
    if fp16 and ran == "f32":
        out.notes.append("this CPU has no fp16 arithmetic MNN uses: MNN computes fp32 on the fp16 weights; "
                         "parity judged as fp16")
    return out


register_format(ExportFormat(
    name="mnn", suffix=".mnn", precisions=("fp32", "fp16", "int8"), runtime="mnn", extra=EXTRA,
    options={}, builder=build, builds_on=("onnx",), precheck=precheck,
    description="MNN from the ONNX export (MNN converter); fp16 = fp16 weights + precision low; "
                "INT8 = MNN quantization tool (KL) on real images",
))

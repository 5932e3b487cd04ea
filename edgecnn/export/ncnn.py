"""NCNN export (``.ncnn.param`` + ``.ncnn.bin``) with pnnx, Tencent's PyTorch converter.

* Conversion: ``torch.jit.trace`` of the model at the export shape, then the
  ``pnnx`` tool (from the ``pnnx`` wheel) writes the NCNN graph; its other
  outputs (pnnx graph, Python and ONNX copies) stay in a temp folder. pnnx
  leaves an operator it cannot convert in the graph under its PyTorch name
  (``aten::erfinv``), which NCNN cannot load: the export checks every layer
  type against NCNN's layer registry and fails naming those operators.
* Input ``in0`` (one CHW image: NCNN has no batch dimension; the runner feeds
  a batch image by image), output ``out0``; names and input size are in the
  metadata.
* Precisions: ``fp32``: float32 weights, and the runner turns NCNN's
  fp16/bf16 storage and arithmetic off; ``fp16``: weights stored as float16
  (pnnx ``fp16=1``) and NCNN's fp16 storage, packing and arithmetic on: ARM
  CPUs with FP16 arithmetic (asimdhp) compute in fp16, other CPUs (x86 here)
  compute in fp32 on the fp16-rounded weights; ``inference_precision`` says
  which (from ``ncnn.cpu_support_arm_asimdhp()``). INT8 is not offered: NCNN's
  calibration and conversion tools (``ncnn2table``, ``ncnn2int8``) are not in
  the ``ncnn`` or ``pnnx`` wheels.
* Per-layer names: the Conv/Linear modules in call order go to the metadata
  (``layer_modules``) so the runner can name NCNN's layers (pnnx renames them).
"""

from __future__ import annotations

import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

from edgecnn.errors import require
from edgecnn.export._base import ExportContext, ExportFormat, ExportOutput, register_format

EXTRA = "ncnn"
INPUT, OUTPUT = "in0", "out0"
PNNX_TIMEOUT_S = 1800


def precheck(precision: str, options: dict[str, Any]) -> None:
    require("ncnn", EXTRA, "NCNN export")
    require("pnnx", EXTRA, "NCNN export (the pnnx converter)")


def fp16_arithmetic() -> bool:
    """Does NCNN compute in fp16 on this CPU (ARM with FP16 arithmetic)?"""
    import ncnn

    return bool(ncnn.cpu_support_arm_asimdhp())


def run_pnnx(model: Any, sample: Any, folder: Path, fp16: bool) -> tuple[Path, Path]:
    """Trace ``model`` at ``sample``'s shape and convert it with pnnx in ``folder``;
    returns (param, bin). Raises RuntimeError with pnnx's last lines on failure."""
    import torch
    from pnnx import EXEC_PATH

    pt = folder / "model.pt"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.trace is deprecated; pnnx reads it
        torch.jit.trace(model.eval(), (sample,), check_trace=False).save(str(pt))
    shape = ",".join(str(int(d)) for d in sample.shape)
    out = {k: str(folder / v) for k, v in (("ncnnparam", "model.ncnn.param"), ("ncnnbin", "model.ncnn.bin"),
                                           ("pnnxparam", "model.pnnx.param"), ("pnnxbin", "model.pnnx.bin"),
                                           ("pnnxpy", "model_pnnx.py"), ("pnnxonnx", "model.pnnx.onnx"),
                                           ("ncnnpy", "model_ncnn.py"))}
    cmd = [EXEC_PATH, str(pt), f"inputshape=[{shape}]f32", f"fp16={int(fp16)}",
           *(f"{k}={v}" for k, v in out.items())]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=folder, timeout=PNNX_TIMEOUT_S)
    param, weights = Path(out["ncnnparam"]), Path(out["ncnnbin"])
    if proc.returncode != 0 or not param.exists() or not weights.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"pnnx failed (exit {proc.returncode}): {' | '.join(tail) or 'no output'}")
    return param, weights


def build(ctx: ExportContext) -> ExportOutput:
    import ncnn

    from edgecnn.records import atomic_write_bytes
    from edgecnn.runtime.layer_names import compute_modules
    from edgecnn.runtime.ncnn_runner import param_layers, weights_path

    fp16 = ctx.precision == "fp16"
    modules = compute_modules(ctx.model, ctx.sample[:1])
    with tempfile.TemporaryDirectory(prefix="edgecnn-pnnx-") as tmp:
        param, weights = run_pnnx(ctx.model, ctx.sample[:1], Path(tmp), fp16)  # one image: NCNN has no batch
        layers = param_layers(param)
        unknown = sorted({t for t, _, _ in layers if ncnn.layer_to_index(t) < 0})
        if unknown:
            raise RuntimeError(f"pnnx left operator(s) {', '.join(unknown)} unconverted: NCNN has no layer for "
                               f"them, so it cannot load the model")
        bin_path = Path(weights_path(str(ctx.out_path)))
        atomic_write_bytes(bin_path, weights.read_bytes())
        atomic_write_bytes(ctx.out_path, param.read_bytes())
    arithmetic = "f16" if fp16 and fp16_arithmetic() else "f32"
    settings = {"runtime": "ncnn", "fp16": fp16, "input": INPUT, "output": OUTPUT}
    ctx.metadata.update(input_name=INPUT, output_name=OUTPUT, runtime_settings=settings, layer_modules=modules,
                        input_shape=[1, *ctx.metadata["input_shape"][1:]])
    counts: dict[str, int] = {}
    for t, _, _ in layers:
        counts[t] = counts.get(t, 0) + 1
    metrics = {"ncnn_layers": len(layers), "ncnn_layer_counts": counts, "weights_dtype": "float16" if fp16 else "float32",
               "inference_precision": arithmetic, "bin_bytes": bin_path.stat().st_size,
               "file_bytes": ctx.out_path.stat().st_size + bin_path.stat().st_size}
    out = ExportOutput(ctx.out_path, "ncnn", extra_files=[bin_path], metrics=metrics,
                       runner_options={"fp16": fp16})
    if fp16 and arithmetic == "f32":
        out.notes.append("this CPU has no fp16 arithmetic NCNN uses (ARM asimdhp): NCNN computes fp32 on the "
                         "fp16-rounded weights; parity judged as fp16")
    if ctx.batch != 1:
        out.notes.append(f"NCNN has no batch dimension: the runner feeds the batch of {ctx.batch} image by image")
    return out


register_format(ExportFormat(
    name="ncnn", suffix=".ncnn.param", precisions=("fp32", "fp16"), runtime="ncnn", extra=EXTRA,
    options={}, builder=build, precheck=precheck,
    description="NCNN .ncnn.param/.bin via pnnx (TorchScript trace); fp16 = fp16 weights + NCNN fp16 storage; "
                "no INT8 (ncnn2table/ncnn2int8 are not in the wheels)",
))

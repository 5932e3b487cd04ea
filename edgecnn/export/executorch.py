"""ExecuTorch export (``.pte``) with the XNNPACK delegate, PyTorch's on-device runtime.

* Conversion: ``torch.export.export`` -> ``to_edge_transform_and_lower``
  with ``XnnpackPartitioner`` -> ``to_executorch`` -> the program's bytes.
  Operators XNNPACK does not take stay on ExecuTorch's portable CPU kernels;
  the export counts both (``delegate_calls``, ``portable_ops`` with their
  names), so a model that mostly falls back is visible in the record.
* Input float32 NCHW with the export's static batch, output the logits
  (ExecuTorch methods take positional tensors: no names).
* Precisions: ``fp32`` (XNNPACK f32 kernels); ``fp16``: the model in half
  precision between a cast of the input and of the output, so the program
  keeps float32 I/O and XNNPACK runs f16 operators (f16 tensors; x86 CPUs
  without AVX512-FP16 convert to f32 inside each kernel, ARMv8.2 computes in
  f16); ``int8``: PT2E post-training quantization with
  ``XNNPACKQuantizer`` (symmetric int8, per-channel weights, activations
  calibrated on real training images), ``prepare_pt2e`` / ``convert_pt2e``,
  then lowered: XNNPACK runs the quantized convolutions and linears in int8.
* Per-layer names: the Conv/Linear modules in call order go to the metadata
  (``layer_modules``) for the runner to name XNNPACK's operators (see
  ``edgecnn.runtime.layer_names``).
* Metadata: the sidecar ``<file>.json`` (the .pte is left as written).
"""

from __future__ import annotations

import copy
from typing import Any

from edgecnn.errors import InvalidOptionError, require
from edgecnn.export._base import ExportContext, ExportFormat, ExportOutput, register_format
from edgecnn.records import atomic_write_bytes

EXTRA = "executorch"


def precheck(precision: str, options: dict[str, Any]) -> None:
    """The [executorch] extra must import (its import logs a torch deprecation and
    cpuinfo lines, hidden here)."""
    from edgecnn.runtime._native import native_output
    from edgecnn.runtime.executorch_runner import quiet_imports

    with quiet_imports(), native_output():
        require("executorch.exir", EXTRA, "ExecuTorch export")
        require("executorch.backends.xnnpack.partition.xnnpack_partitioner", EXTRA, "the XNNPACK delegate")
        require("executorch.extension.pybindings.portable_lib", EXTRA, "the ExecuTorch runtime")
        if precision == "int8":
            require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", EXTRA, "XNNPACK INT8 quantization")


def _half(model: Any) -> Any:
    """``model`` in float16 between float32 casts of its input and output."""
    from torch import nn

    class HalfPrecision(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner.half()

        def forward(self, x):
            return self.inner(x.half()).float()

    return HalfPrecision(copy.deepcopy(model)).eval()


def quantize_pt2e(model: Any, sample: Any, batches: list) -> Any:
    """PT2E static INT8 for XNNPACK (symmetric, per-channel weights) calibrated on ``batches``."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if not batches:
        raise InvalidOptionError("INT8 export needs calibration images; none were given")
    graph = torch.export.export(model, (sample,)).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for b in batches:
            prepared(torch.from_numpy(b))
    return convert_pt2e(prepared)


def lower(model: Any, sample: Any) -> tuple[bytes, dict[str, Any]]:
    """(.pte bytes, figures) for ``model`` lowered to XNNPACK."""
    import logging

    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from edgecnn.runtime._native import native_output

    pytree_log = logging.getLogger("torch.utils._pytree")  # torchao's enum registration warns at import
    level = pytree_log.level
    pytree_log.setLevel(logging.ERROR)
    try:
        with torch.no_grad():
            program = torch.export.export(model, (sample,))
        with native_output():  # the lowering's log lines
            edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
            graph = edge.exported_program().graph
            calls = [n for n in graph.nodes if n.op == "call_function"]
            delegates = sum(1 for n in calls if "executorch_call_delegate" in str(n.target))
            portable: dict[str, int] = {}
            for n in calls:
                name = getattr(n.target, "__name__", str(n.target))
                if "executorch_call_delegate" in str(n.target) or name == "getitem":
                    continue
                portable[name] = portable.get(name, 0) + 1
            data = bytes(edge.to_executorch().buffer)
    finally:
        pytree_log.setLevel(level)
    if delegates == 0:
        raise RuntimeError("XNNPACK took no operator of this model (everything would run on portable kernels)")
    return data, {"delegate_calls": delegates, "portable_ops": sum(portable.values()), "portable_op_counts": portable}


def build(ctx: ExportContext) -> ExportOutput:
    from edgecnn.runtime.layer_names import compute_modules

    from edgecnn.export.qat import float_of, is_qat

    qat = is_qat(ctx.model)
    model = float_of(ctx.model)
    modules = compute_modules(model, ctx.sample)
    if ctx.precision == "fp16":
        model = _half(model)
    elif ctx.precision == "int8" and qat:  # the trained scales, as they are
        model = ctx.model.converted()
    elif ctx.precision == "int8":
        model = quantize_pt2e(model, ctx.sample, ctx.calibration_batches())
    data, figures = lower(model, ctx.sample)
    atomic_write_bytes(ctx.out_path, data)
    precision_ran = {"fp32": "f32", "fp16": "f16", "int8": "f32"}[ctx.precision]  # int8: the float parts
    ctx.metadata["layer_modules"] = modules
    ctx.metadata["runtime_settings"] = {"runtime": "executorch", "delegate": "xnnpack"}
    figures["inference_precision"] = precision_ran
    if qat and ctx.precision == "int8":
        figures["quant_method"] = "qat"
    if ctx.precision == "int8" and not qat:
        figures["calibration_images"] = sum(len(b) for b in ctx.calibration_batches())
    return ExportOutput(ctx.out_path, "executorch", metrics=figures)


register_format(ExportFormat(
    name="executorch", suffix=".pte", precisions=("fp32", "fp16", "int8"), runtime="executorch", extra=EXTRA,
    options={}, builder=build, precheck=precheck,
    description="ExecuTorch .pte, XNNPACK delegate (torch.export); INT8 = PT2E XNNPACKQuantizer",
))

"""Post-training INT8 of ONNX models: named methods, each a setting of a maintained quantiser.

A **method** (``QUANT_METHODS``) says which tool quantises and how; nothing
here computes scales by hand:

* ONNX Runtime's quantiser (``quantize_static``, Q/DQ format, uint8
  activations): ``per-tensor`` (min-max, one scale per weight tensor),
  ``per-channel`` (min-max, one scale per output channel: the export's
  original INT8), ``entropy`` and ``percentile`` (per-channel weights,
  activation ranges from KL-divergence or the 99.999th percentile),
  ``reduce-range`` (per-channel, 7-bit weights) and ``u8u8`` (per-channel,
  uint8 weights).
* NNCF (``nncf.quantize`` on the ONNX graph): ``nncf`` (per-channel
  symmetric weights, asymmetric activations, fast bias correction),
  ``nncf-bc`` (the slower, full bias correction), ``cle-nncf-bc``
  (cross-layer equalisation in PyTorch before the ONNX export, see
  ``equalize.py``, then ``nncf-bc``).

``auto`` picks ``reduce-range`` on x86 CPUs without VNNI and ``per-channel``
elsewhere. Why: without VNNI, ONNX Runtime's u8 x s8 kernels sum pairs of
products in int16 (``vpmaddubsw``) and saturate; measured on a trained
mobilenet_v3_small here, that alone cost 1.6 points of top-1 (the same Q/DQ
model computed in float lost 0.2), and 7-bit weights remove it (ONNX
Runtime's own advice for such CPUs). The artifact is portable either way.

``keep_float``: node names left in float (mixed precision, see
``sensitivity.py``). Node names are the exporter's
(``/features/features.3/block/block.0/block.0.0/Conv``); unnamed nodes are
named ``node_<op>_<index>`` first (``name_nodes``) so every node can be kept.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from edgecnn.errors import InvalidOptionError
from edgecnn.registry import Registry

AUTO = "auto"
# op types whose quantisation a user decides about: the ones with weights or arithmetic (ORT also puts Q/DQ
# around Relu, Reshape, pooling to carry the integer tensor through; those follow their neighbours)
LAYER_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "HardSigmoid", "HardSwish", "Sigmoid",
             "GlobalAveragePool", "AveragePool", "Concat")


@dataclass(frozen=True)
class QuantMethod:
    """One way to quantise: the tool and its settings (see module doc)."""

    name: str
    description: str
    tool: str = "onnxruntime"  # onnxruntime | nncf
    per_channel: bool = True
    calibration: str = "minmax"  # minmax | entropy | percentile (activation ranges)
    weight_bits: int = 8  # 7: ONNX Runtime's reduce_range
    weight_type: str = "int8"  # int8 | uint8
    activation_type: str = "uint8"  # uint8 (asymmetric) | int8 (symmetric, TensorRT)
    bias_correction: str = "none"  # none | fast | full (NNCF)
    equalize: bool = False  # cross-layer equalisation in PyTorch before the export

    def settings(self) -> dict[str, Any]:
        """The record's ``quant_config``."""
        out = asdict(self)
        out.pop("description")
        return out


QUANT_METHODS: Registry[QuantMethod] = Registry("quantization method")
for _m in (
    QuantMethod("per-tensor", "ONNX Runtime, min-max, one scale per weight tensor", per_channel=False),
    QuantMethod("per-channel", "ONNX Runtime, min-max, one weight scale per output channel"),
    QuantMethod("entropy", "ONNX Runtime, per-channel weights, activation ranges by KL divergence",
                calibration="entropy"),
    QuantMethod("percentile", "ONNX Runtime, per-channel weights, activation ranges at the 99.999th percentile",
                calibration="percentile"),
    QuantMethod("reduce-range", "ONNX Runtime, per-channel 7-bit weights (no int16 saturation on x86 without "
                "VNNI)", weight_bits=7),
    QuantMethod("u8u8", "ONNX Runtime, per-channel uint8 weights (no saturation, slower kernels on x86)",
                weight_type="uint8"),
    QuantMethod("nncf", "NNCF, per-channel symmetric weights, fast bias correction", tool="nncf",
                bias_correction="fast"),
    QuantMethod("nncf-bc", "NNCF, per-channel symmetric weights, full bias correction", tool="nncf",
                bias_correction="full"),
    QuantMethod("cle-nncf-bc", "cross-layer equalisation (PyTorch), then NNCF with full bias correction",
                tool="nncf", bias_correction="full", equalize=True),
):
    QUANT_METHODS.add(_m.name, _m)
SYMMETRIC = QuantMethod("symmetric", "ONNX Runtime, per-channel, int8 activations with zero point 0 (TensorRT)",
                        activation_type="int8")


def cpu_flags() -> set[str]:
    """This CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def int8_saturates(flags: set[str] | None = None) -> bool:
    """True on an x86 CPU with AVX2 but no VNNI (``avx512_vnni``/``avx_vnni``):
    ONNX Runtime's u8 x s8 kernels there add pairs of products in int16."""
    import platform

    flags = cpu_flags() if flags is None else flags
    if platform.machine().lower() not in ("x86_64", "amd64", "i686"):
        return False
    return "avx2" in flags and not ({"avx512_vnni", "avx_vnni"} & flags)


def resolve_method(name: str | QuantMethod | None) -> QuantMethod:
    """A method by name (``auto``/None: see module doc); unknown names suggest the closest."""
    if isinstance(name, QuantMethod):
        return name
    if name in (None, AUTO):
        return QUANT_METHODS.get("reduce-range" if int8_saturates() else "per-channel")
    return QUANT_METHODS.get(name)


def name_nodes(proto: Any) -> int:
    """Give every unnamed node a unique name (``node_<op>_<k>``, k counting the
    unnamed nodes of that op type, so a dynamic-batch export of the same model,
    which adds Shape/Gather nodes, names its layers alike) so it can be kept in
    float by name; returns how many were named."""
    taken = {n.name for n in proto.graph.node if n.name}
    named = 0
    counts: dict[str, int] = {}
    for node in proto.graph.node:
        if not node.name:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
            name = f"node_{node.op_type}_{counts[node.op_type]}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)
            named += 1
    return named


def layer_nodes(proto: Any) -> list[str]:
    """Names of the nodes whose quantisation matters (``LAYER_OPS``), graph order."""
    return [n.name for n in proto.graph.node if n.op_type in LAYER_OPS]


class _Reader:
    """onnxruntime CalibrationDataReader over NCHW float32 batches."""

    def __init__(self, name: str, batches: Iterable[np.ndarray]) -> None:
        self._batches = [np.ascontiguousarray(b, dtype=np.float32) for b in batches]
        self._name = name
        self.rewind()

    def get_next(self):
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter([{self._name: b} for b in self._batches])


def prepare(fp32_path: Path, out: Path) -> Any:
    """ONNX Runtime's pre-processing (shape inference, graph clean-up), every
    node named; writes ``out`` and returns the model."""
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(fp32_path), str(out), skip_symbolic_shape=True)
    proto = onnx.load(str(out))
    if name_nodes(proto):
        onnx.save(proto, str(out))
    return proto


def ort_quantize(pre: Path, out: Path, batches: list[np.ndarray], method: QuantMethod, keep_float: Sequence[str],
                  cache: Path | None, quantize_only: Sequence[str] | None = None) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    calib = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
             "percentile": CalibrationMethod.Percentile}[method.calibration]
    symmetric = method.activation_type == "int8"
    extra: dict[str, Any] = {"ActivationSymmetric": symmetric, "WeightSymmetric": method.weight_type == "int8"}
    if method.calibration == "percentile":
        extra["CalibPercentile"] = 99.999
    import onnx

    name = onnx.load(str(pre), load_external_data=False).graph.input[0].name
    reader = None if (cache is not None and cache.is_file()) else _Reader(name, batches)
    quantize_static(
        str(pre), str(out), reader, quant_format=QuantFormat.QDQ, per_channel=method.per_channel,
        reduce_range=method.weight_bits == 7,
        activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
        weight_type=QuantType.QInt8 if method.weight_type == "int8" else QuantType.QUInt8,
        calibrate_method=calib, nodes_to_exclude=list(keep_float) or None,
        nodes_to_quantize=list(quantize_only) if quantize_only is not None else None,
        extra_options=extra, calibration_cache_path=str(cache) if cache is not None else None)


def _nncf_quantize(pre: Path, out: Path, batches: list[np.ndarray], method: QuantMethod,
                   keep_float: Sequence[str]) -> None:
    import logging

    import onnx

    from edgecnn.errors import require
    from edgecnn.runtime._native import native_output

    nncf = require("nncf", "openvino", "NNCF quantization")
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    proto = onnx.load(str(pre))
    name = proto.graph.input[0].name
    nncf.set_log_level(logging.ERROR)
    # OverflowFix.ENABLE: 7-bit weight ranges everywhere, NNCF's answer to the same int16 saturation
    advanced = AdvancedQuantizationParameters(
        overflow_fix=OverflowFix.ENABLE if int8_saturates() else OverflowFix.FIRST_LAYER)
    scope = nncf.IgnoredScope(names=list(keep_float)) if keep_float else None
    with native_output():
        q = nncf.quantize(proto, nncf.Dataset([{name: b} for b in batches]), subset_size=len(batches),
                          preset=nncf.QuantizationPreset.MIXED, target_device=nncf.TargetDevice.CPU,
                          fast_bias_correction=method.bias_correction == "fast", ignored_scope=scope,
                          advanced_parameters=advanced)
    onnx.save(q, str(out))


def quantize_onnx(fp32_path: Path, out_path: Path, batches: list[np.ndarray], method: str | QuantMethod | None,
                  *, metadata: dict[str, Any] | None = None, keep_float: Sequence[str] = (),
                  calibration_cache: Path | None = None) -> dict[str, Any]:
    """Static INT8 (Q/DQ) of ``fp32_path`` with ``method``, calibrated on
    ``batches`` (normalised NCHW float32), the nodes in ``keep_float`` left in
    float; written atomically to ``out_path`` with ``metadata`` embedded.
    Returns the record's figures (``quant_method``, ``quant_config``,
    ``float_nodes``, ``calibration_images``, ``qdq_nodes``, ``activation_type``)."""
    import onnx

    from edgecnn.export._base import embed_metadata
    from edgecnn.records import atomic_write_bytes

    m = resolve_method(method)
    if not batches:
        raise InvalidOptionError("INT8 export needs calibration images; none were given")
    with tempfile.TemporaryDirectory(prefix="edgecnn-quant-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        q = Path(tmp) / "q.onnx"
        nodes = layer_nodes(prepare(fp32_path, pre))
        unknown = [n for n in keep_float if n not in nodes]
        if unknown:
            raise InvalidOptionError(f"cannot keep {unknown[0]!r} in float: no such layer in the model "
                                     f"({len(nodes)} layers, e.g. {nodes[0] if nodes else '-'})")
        if m.tool == "nncf":
            _nncf_quantize(pre, q, batches, m, keep_float)
        else:
            ort_quantize(pre, q, batches, m, keep_float, calibration_cache)
        proto = onnx.load(str(q))
    if metadata is not None:
        embed_metadata(proto, {**metadata, "quant_method": m.name, "float_nodes": list(keep_float)})
    onnx.checker.check_model(proto, full_check=True)
    atomic_write_bytes(out_path, proto.SerializeToString())
    qdq = sum(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in proto.graph.node)
    return {"quant_method": m.name, "quant_tool": m.tool, "quant_config": m.settings(),
            "float_nodes": list(keep_float), "calibration_images": int(sum(len(b) for b in batches)),
            "qdq_nodes": int(qdq),
            "activation_type": "int8 symmetric" if m.activation_type == "int8" else "uint8 asymmetric"}

"""The roofline of one layer, and the fusions a runtime makes.

Per layer (a row of ``edgecnn.cost.count_cost``)::

    compute_ms = macs / (peak GMAC/s of the precision)      (x 1e-6)
    memory_ms  = (bytes_read + bytes_written) / (GB/s)      (x 1e-6)
    roof_ms    = max(compute_ms, memory_ms)

The latency model (``edgecnn.predict.latency_model``) puts a slowdown and a
per-kernel cost per op class on top of it. Op classes: ``conv`` (dense),
``depthwise``, ``pointwise`` (1x1 dense), ``linear``, ``elementwise``
(pooling, activations, adds, BN that is not fused).

Runtimes that fold BatchNorm and activations into the convolution
(ONNX Runtime, LiteRT, TensorRT) are predicted with those rows fused: a BN or
activation row that directly follows a conv/linear row costs nothing extra.

Every predicted figure is a prediction: records carry ``source="predicted"``.
"""

from __future__ import annotations

from typing import Any, Sequence

from edgecnn.cost.layer_class import field_of, layer_class

FUSING_RUNTIMES = ("onnxruntime", "litert", "tensorrt")
_FUSABLE_TYPES = ("BatchNorm", "ReLU", "ReLU6", "Hardswish", "Hardtanh", "SiLU", "GELU", "Sigmoid", "Hardsigmoid",
                  "Identity", "Dropout")


def fused_rows(rows: Sequence[Any]) -> set[int]:
    """Indices of BN/activation rows that directly follow a conv/linear row (or
    another fused row), which fusing runtimes fold into that op."""
    out: set[int] = set()
    prev_compute = False
    for i, r in enumerate(rows):
        typ = str(field_of(r, "type", ""))
        cls = layer_class(r)
        if cls != "elementwise":
            prev_compute = True
            continue
        if prev_compute and any(typ.startswith(t) for t in _FUSABLE_TYPES):
            out.add(i)
            continue
        prev_compute = False
    return out


def roofline_ms(macs: float, nbytes: float, peak_gmacs_per_s: float, bandwidth_gb_per_s: float) -> tuple[float, float]:
    """(compute_ms, memory_ms) on the roof."""
    return macs / (peak_gmacs_per_s * 1e6), nbytes / (bandwidth_gb_per_s * 1e6)


def layer_roof(row: Any, peak_gmacs_per_s: float, bandwidth_gb_per_s: float,
               batch: int = 1) -> tuple[float, float, float, float]:
    """(MACs, bytes, compute_ms, memory_ms) of one cost row at ``batch``."""
    macs = float(field_of(row, "macs") or 0) * batch
    nbytes = float((field_of(row, "bytes_read") or 0) + (field_of(row, "bytes_written") or 0)) * batch
    return (macs, nbytes, *roofline_ms(macs, nbytes, peak_gmacs_per_s, bandwidth_gb_per_s))


def predicted_row(row: Any, macs: float, nbytes: float, compute_ms: float, memory_ms: float, *, fused: bool,
                  predicted_ms: float) -> dict[str, Any]:
    """One row of a predicted record's ``layers``: the cost row's name, type
    and op class, its roof and the time predicted for it."""
    return {"name": field_of(row, "name"), "type": field_of(row, "type"), "op_class": layer_class(row),
            "macs": int(macs), "bytes": int(nbytes), "compute_ms": compute_ms, "memory_ms": memory_ms,
            "bound": "compute" if compute_ms >= memory_ms else "memory", "fused": fused,
            "predicted_ms": predicted_ms}

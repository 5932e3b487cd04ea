"""Roofline latency prediction for devices we cannot measure.

Per layer (a row of ``edgecnn.cost.count_cost``)::

    compute_ms = macs / (peak GMAC/s of the precision)      (x 1e-6)
    memory_ms  = (bytes_read + bytes_written) / (GB/s)      (x 1e-6)
    roof_ms    = max(compute_ms, memory_ms)
    time_ms    = max(roof_ms, slowdown[op] * roof_ms + overhead_ms[op])

(never below the roof: no predicted layer runs faster than its unit allows).

``slowdown`` (1 / efficiency: how far from the roof real kernels run) and
``overhead_ms`` (per-op dispatch cost) are fitted per op class on a machine
we can measure (``fit_calibration``: weighted least squares on relative
error), from per-layer times joined to cost rows. Op classes: ``conv``
(dense), ``depthwise``, ``pointwise`` (1x1 dense), ``linear``,
``elementwise`` (pooling, activations, adds, BN that is not fused).

Runtimes that fold BatchNorm and activations into the convolution
(ONNX Runtime, LiteRT, TensorRT) are predicted with those rows fused: a BN or
activation row that directly follows a conv/linear row costs nothing extra.

Every predicted figure is a prediction: records carry ``source="predicted"``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional, Sequence

from edgecnn.cost.layer_class import OP_CLASSES, field_of as _get, layer_class as op_class  # noqa: F401

FUSING_RUNTIMES = ("onnxruntime", "litert", "tensorrt")
_FUSABLE_TYPES = ("BatchNorm", "ReLU", "ReLU6", "Hardswish", "Hardtanh", "SiLU", "GELU", "Sigmoid", "Hardsigmoid",
                  "Identity", "Dropout")


def fused_rows(rows: Sequence[Any]) -> set[int]:
    """Indices of BN/activation rows that directly follow a conv/linear row (or
    another fused row), which fusing runtimes fold into that op."""
    out: set[int] = set()
    prev_compute = False
    for i, r in enumerate(rows):
        typ = str(_get(r, "type", ""))
        cls = op_class(r)
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


@dataclass
class OpFit:
    slowdown: float  # measured / roofline time, the reciprocal of efficiency
    overhead_ms: float
    layers: int = 0  # how many measured layers this class was fitted on (0: borrowed default)
    median_abs_error: Optional[float] = None  # relative, on the fitting layers

    @property
    def efficiency(self) -> float:
        return 1.0 / self.slowdown if self.slowdown > 0 else math.nan


@dataclass
class Calibration:
    """Per op-class fit and where it came from (device, runtime, models)."""

    fits: dict[str, OpFit]
    device: str = "local"
    runtime: Optional[str] = None
    precision: str = "fp32"
    models: list[str] = field(default_factory=list)
    peak_gmacs_per_s: Optional[float] = None
    memory_bandwidth_gb_per_s: Optional[float] = None
    note: str = ""

    @classmethod
    def uncalibrated(cls) -> "Calibration":
        return cls(fits={c: OpFit(1.0, 0.0) for c in OP_CLASSES},
                   note="uncalibrated: pure roofline (no measured layers to fit)")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fits"] = {k: asdict(v) for k, v in self.fits.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Calibration":
        fits = {k: OpFit(**v) for k, v in d.get("fits", {}).items()}
        return cls(**{**d, "fits": fits})


def _fit_one(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Fit t = a*r + c (a > 0, c >= 0) minimising sum(((a*r + c - t)/t)^2)."""
    w = [1.0 / (t * t) for _, t in points]
    s_rr = sum(wi * r * r for wi, (r, _) in zip(w, points))
    s_r = sum(wi * r for wi, (r, _) in zip(w, points))
    s_1 = sum(w)
    s_rt = sum(wi * r * t for wi, (r, t) in zip(w, points))
    s_t = sum(wi * t for wi, (_, t) in zip(w, points))
    det = s_rr * s_1 - s_r * s_r
    if len(points) >= 2 and abs(det) > 1e-30 * max(1.0, s_rr * s_1):
        a = (s_rt * s_1 - s_r * s_t) / det
        c = (s_rr * s_t - s_r * s_rt) / det
        if a > 0 and c >= 0:
            return a, c
    # fall back to one parameter: the better of overhead-free and slope-free fits
    a_only = s_rt / s_rr if s_rr > 0 else 0.0
    c_only = s_t / s_1 if s_1 > 0 else 0.0
    err_a = sum(((a_only * r - t) / t) ** 2 for r, t in points) if a_only > 0 else math.inf
    err_c = sum(((c_only - t) / t) ** 2 for _, t in points)
    return (a_only, 0.0) if err_a <= err_c else (0.0, c_only)


def fit_calibration(rows: Iterable[dict[str, Any]], peak_gmacs_per_s: float, bandwidth_gb_per_s: float, *,
                    device: str = "local", runtime: Optional[str] = None, precision: str = "fp32",
                    models: Sequence[str] = ()) -> Calibration:
    """Fit per op class from joined rows ``{macs, bytes_read, bytes_written,
    time_ms, op_class}`` (rows without a positive time are skipped)."""
    by_class: dict[str, list[tuple[float, float]]] = {c: [] for c in OP_CLASSES}
    for r in rows:
        t = r.get("time_ms")
        if not t or t <= 0 or r.get("macs") is None:
            continue
        cls = r.get("op_class") or op_class(r)
        nbytes = (r.get("bytes_read") or 0) + (r.get("bytes_written") or 0)
        comp, mem = roofline_ms(r["macs"], nbytes, peak_gmacs_per_s, bandwidth_gb_per_s)
        by_class.setdefault(cls, []).append((max(comp, mem), float(t)))
    fits: dict[str, OpFit] = {}
    for cls, pts in by_class.items():
        if not pts:
            continue
        a, c = _fit_one(pts)
        errs = sorted(abs((a * r + c - t) / t) for r, t in pts)
        fits[cls] = OpFit(slowdown=a, overhead_ms=c, layers=len(pts), median_abs_error=errs[len(errs) // 2])
    fitted = [f for f in fits.values() if f.slowdown > 0]
    default = OpFit(slowdown=_median([f.slowdown for f in fitted]) if fitted else 1.0,
                    overhead_ms=_median([f.overhead_ms for f in fits.values()]) if fits else 0.0)
    for cls in OP_CLASSES:
        fits.setdefault(cls, OpFit(default.slowdown, default.overhead_ms, layers=0))
    return Calibration(fits=fits, device=device, runtime=runtime, precision=precision, models=list(models),
                       peak_gmacs_per_s=peak_gmacs_per_s, memory_bandwidth_gb_per_s=bandwidth_gb_per_s)


def _median(v: list[float]) -> float:
    s = sorted(v)
    return s[len(s) // 2] if s else 0.0


def predict_layers(cost_rows: Sequence[Any], peak_gmacs_per_s: float, bandwidth_gb_per_s: float,
                   calibration: Calibration, *, fuse: bool = True, batch: int = 1) -> list[dict[str, Any]]:
    """Predicted time per cost row (``predicted_ms``; 0 for fused rows), with
    the roof it hit (``bound``: compute | memory). Cost rows are per sample
    times ``batch`` unless counted at that batch already (pass batch=1)."""
    if not bandwidth_gb_per_s:
        from edgecnn.errors import InvalidOptionError

        raise InvalidOptionError("a roofline prediction needs the device's memory bandwidth "
                                 "(memory_bandwidth_gb_per_s of its [peak.cpu] / [peak.gpu] in its TOML)")
    skip = fused_rows(cost_rows) if fuse else set()
    out = []
    for i, r in enumerate(cost_rows):
        cls = op_class(r)
        macs = float(_get(r, "macs") or 0) * batch
        nbytes = float((_get(r, "bytes_read") or 0) + (_get(r, "bytes_written") or 0)) * batch
        comp, mem = roofline_ms(macs, nbytes, peak_gmacs_per_s, bandwidth_gb_per_s)
        fit = calibration.fits.get(cls) or OpFit(1.0, 0.0)
        roof = max(comp, mem)
        # a calibration fitted elsewhere (a slowdown below 1 on an underestimated peak) must never make a layer
        # faster than this unit's roofline bound
        t = 0.0 if i in skip else max(roof, fit.slowdown * roof + fit.overhead_ms)
        out.append({"name": _get(r, "name"), "type": _get(r, "type"), "op_class": cls, "macs": int(macs),
                    "bytes": int(nbytes), "compute_ms": comp, "memory_ms": mem,
                    "bound": "compute" if comp >= mem else "memory", "fused": i in skip, "predicted_ms": t})
    return out


def predict_model_ms(cost_rows: Sequence[Any], peak_gmacs_per_s: float, bandwidth_gb_per_s: float,
                     calibration: Calibration, *, fuse: bool = True, batch: int = 1) -> float:
    return sum(r["predicted_ms"] for r in predict_layers(cost_rows, peak_gmacs_per_s, bandwidth_gb_per_s,
                                                           calibration, fuse=fuse, batch=batch))

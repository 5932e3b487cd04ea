"""Kernel-level latency prediction from a device's own per-layer times.

The op-class model (``latency_model``) fits one slowdown per op class to
whole-model latencies. Two models whose depthwise layers differ in shape
(stride, channels, spatial size) then share one efficiency, and a device's
ten calibration measurements leave many shapes unseen: calibrated that way,
about half of the predictions in the leave-one-device-out validation fall
within +-10 % (``benchmarks/bench_predict.py``, docs/profile.md). Here, as in nn-Meter, the unit of prediction is
the kernel:

- **The table.** The per-layer times that ``edgecnn profile`` and
  ``edgecnn calibrate`` measure (``layer_latency`` records: ONNX Runtime's
  profiler, torch's module hooks, LiteRT's isolated layers, ...), each timed
  layer a sample: its op class and op, its shape (MACs, bytes, channels in
  and out, output side, kernel size, stride) and its time.
- **A compute kernel** (conv, depthwise, pointwise, linear) of a new model is
  predicted from its nearest neighbours of the same op class in the table
  (log MACs, log bytes, log channels, log output side, kernel, stride): the
  distance-weighted geometric mean of their slowdown (time over roofline
  time on this unit) times its own roofline time.
- **An elementwise op** (BatchNorm, activation, add, pooling, concatenation)
  is a line per op in its roofline (memory) time: ``a * roof + b``, fitted to
  that op's samples (or the class's, when the op has fewer than three).
- **What the table does not time.** Ops the runtime fuses (BatchNorm and
  activations into the convolution) or its per-layer method does not see
  (LiteRT times convolutions alone) are left out, op by op, as the
  calibration models' records show them; their cost, and the time between
  kernels, is the **ratio** of whole-model latency to the sum of the timed
  layers, the median over the table's models.

A table is one (device, unit, runtime, configuration, precision, batch): it
is never carried to another device or configuration. It needs the per-layer
times of at least ``MIN_MODELS`` models of that situation, each with its
whole-model latency; with fewer, predictions use the op-class model.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from edgecnn.cost.layer_class import field_of, layer_class
from edgecnn.predict.roofline import FUSING_RUNTIMES, fused_rows, layer_roof, predicted_row

MIN_MODELS = 3
NEIGHBOURS = 4
# distance units of the shape features: one e-fold of MACs, bytes, channels or side counts as much as two steps
# of kernel size or stride
FEATURE_SCALE = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5])
COMPUTE_CLASSES = ("conv", "depthwise", "pointwise", "linear")


@dataclass(frozen=True)
class Kernel:
    """One layer as the table sees it; ``ms`` is None for a layer to predict."""

    op_class: str
    op: str
    shape: tuple[float, ...]
    compute_ms: float
    memory_ms: float
    ms: Optional[float] = None

    @property
    def roof_ms(self) -> float:
        return max(self.compute_ms, self.memory_ms)


def _first(v: Any, default: int = 1) -> int:
    if isinstance(v, (list, tuple)):
        return int(v[0]) if v else default
    return int(v) if v else default


def kernel_of(row: Any, peak_gmacs_per_s: float, bandwidth_gb_per_s: float, *, batch: int = 1,
              ms: Optional[float] = None) -> Optional[Kernel]:
    """The kernel of a cost row or a joined layer row (its MACs and bytes
    times ``batch``), None for a view that moves no bytes."""
    return _kernel(row, *layer_roof(row, peak_gmacs_per_s, bandwidth_gb_per_s, batch), ms=ms)


def _kernel(row: Any, macs: float, nbytes: float, comp: float, mem: float, *,
            ms: Optional[float] = None) -> Optional[Kernel]:
    if macs == 0 and nbytes == 0:
        return None
    out = field_of(row, "output_shape") or []
    side = out[-1] if len(out) >= 3 else 1
    shape = (math.log1p(macs), math.log1p(nbytes), math.log(max(1, field_of(row, "in_channels") or 1)),
             math.log(max(1, field_of(row, "out_channels") or 1)), math.log(max(1, side)),
             float(_first(field_of(row, "kernel"))), float(_first(field_of(row, "stride"))))
    op = str(field_of(row, "op") or field_of(row, "type") or "")
    return Kernel(layer_class(row), op, shape, comp, mem, ms)


def _line(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """``ms = a * roof + b`` (a, b >= 0) fitted on relative error."""
    from edgecnn.predict.latency_model import nnls

    a = np.array([[roof, 1.0] for roof, _ in points]) / np.array([ms for _, ms in points])[:, None]
    x = nnls(a, np.ones(len(points)))
    return float(x[0]), float(x[1])


@dataclass
class LayerTimes:
    """One model's joined per-layer rows on one situation, and its whole-model latency."""

    model: str
    rows: list[dict[str, Any]]
    whole_ms: float
    peak_gmacs_per_s: float
    bandwidth_gb_per_s: float
    batch: int = 1


class KernelTable:
    """The timed kernels of some models of one situation (see the module doc)."""

    def __init__(self, runtime: str, models: Sequence[LayerTimes]) -> None:
        self.runtime = runtime
        self.models = sorted(m.model for m in models)
        # the roof the samples were timed on (one situation: one roof), and so the roof of every prediction
        self.peak_gmacs_per_s = models[0].peak_gmacs_per_s
        self.bandwidth_gb_per_s = models[0].bandwidth_gb_per_s
        self.samples: list[Kernel] = []
        seen: dict[str, int] = {}
        timed: dict[str, int] = {}
        ratios = []
        for lt in models:
            layer_sum = 0.0
            for row in lt.rows:
                t = row.get("time_ms")
                if row.get("fused_into") or row.get("matched") is False:
                    continue  # folded into another kernel, or a runtime node no cost row knows
                k = kernel_of(row, lt.peak_gmacs_per_s, lt.bandwidth_gb_per_s, ms=t)  # rows already at the batch
                if k is None:
                    continue
                seen[k.op] = seen.get(k.op, 0) + 1
                if t is not None and t > 0 and k.roof_ms > 0:
                    timed[k.op] = timed.get(k.op, 0) + 1
                    self.samples.append(k)
                    layer_sum += t
            if layer_sum > 0:
                ratios.append(lt.whole_ms / layer_sum)
        # an op counts as timed where the runtime's per-layer method timed at least half of its layers
        self.timed_ops = {op for op, n in seen.items() if timed.get(op, 0) >= 0.5 * n}
        self.ratio = statistics.median(ratios) if ratios else 1.0
        self.timed_models = len(ratios)
        self._lines: dict[str, Optional[tuple[float, float]]] = {}
        self._by_class = {c: [k for k in self.samples if k.op_class == c] for c in {k.op_class for k in self.samples}}

    def _elementwise(self, k: Kernel) -> float:
        if k.op not in self._lines:
            pts = [(s.roof_ms, s.ms) for s in self.samples if s.op == k.op]
            if len(pts) < 3:
                pts = [(s.roof_ms, s.ms) for s in self._by_class.get(k.op_class, [])]
            self._lines[k.op] = _line(pts) if pts else None
        line = self._lines[k.op]
        return line[0] * k.roof_ms + line[1] if line else 0.0

    def _compute(self, k: Kernel) -> float:
        pool = self._by_class.get(k.op_class) or [s for s in self.samples if s.op_class in COMPUTE_CLASSES]
        if not pool:
            return 0.0
        x = np.array([s.shape for s in pool])
        y = np.array([math.log(s.ms / s.roof_ms) for s in pool])
        d = np.sqrt((((x - np.array(k.shape)) / FEATURE_SCALE) ** 2).sum(axis=1))
        near = np.argsort(d)[:NEIGHBOURS]
        w = 1.0 / (d[near] + 0.05)
        return k.roof_ms * math.exp(float((w * y[near]).sum() / w.sum()))

    def kernel_ms(self, k: Kernel) -> float:
        """One kernel's predicted time, as the per-layer method would time it."""
        if k.op_class == "elementwise":
            return self._elementwise(k)
        return self._compute(k)

    def predict_rows(self, cost_rows: Sequence[Any], *, batch: int = 1) -> tuple[float, list[dict[str, Any]]]:
        """(predicted ms, one row per cost row) of a model (cost rows at batch
        1) on this table's situation, on the roof its samples were timed on:
        each kernel's time times the table's ratio; 0 for a fused row, a view,
        or an op the runtime's per-layer method does not time (the ratio
        carries those)."""
        skip = fused_rows(cost_rows) if self.runtime in FUSING_RUNTIMES else set()
        rows, total = [], 0.0
        for i, r in enumerate(cost_rows):
            macs, nbytes, comp, mem = layer_roof(r, self.peak_gmacs_per_s, self.bandwidth_gb_per_s, batch)
            k = _kernel(r, macs, nbytes, comp, mem)
            # a convolution always runs (under an op name the table never saw, too); other ops where it timed them
            runs = i not in skip and k is not None and (k.op_class in COMPUTE_CLASSES or k.op in self.timed_ops)
            t = self.ratio * self.kernel_ms(k) if runs else 0.0
            total += t
            rows.append(predicted_row(r, macs, nbytes, comp, mem, fused=i in skip, predicted_ms=t))
        return total, rows

    def describe(self) -> dict[str, Any]:
        return {"method": "kernels", "models": self.models, "kernels": len(self.samples), "ratio": self.ratio,
                "timed_ops": sorted(self.timed_ops), "peak_gmacs_per_s": self.peak_gmacs_per_s,
                "memory_bandwidth_gb_per_s": self.bandwidth_gb_per_s}


def kernel_table(runtime: str, models: Sequence[LayerTimes]) -> Optional[KernelTable]:
    """The kernel table of these models' per-layer times, or None where fewer
    than ``MIN_MODELS`` of them have timed layers that join the cost table
    (a per-op profile without MACs and bytes, e.g. ``benchmark_model``'s on a
    phone, gives none)."""
    if len(models) < MIN_MODELS:
        return None
    table = KernelTable(runtime, models)
    return table if table.timed_models >= MIN_MODELS else None

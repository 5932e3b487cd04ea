"""A latency model that transfers between devices: the sum of a model's
kernels, each from its op class and its roofline, with per-device,
per-runtime parameters fitted from whole-model measurements.

For one runtime on one compute unit (a CPU at a thread count, a GPU in one
configuration: eager, CUDA graphs, compiled) a model's latency is::

    T = call_ms + sum over op classes c of ( slowdown[c] * roof_ms[c] + overhead_ms[c] * kernels[c] )

- ``roof_ms[c]``: the sum, over the model's layers of class ``c`` (after the
  runtime's fusions: BatchNorm and activations that follow a convolution
  cost nothing on ONNX Runtime, LiteRT, TensorRT), of each layer's roofline
  time ``max(MACs / peak, bytes / bandwidth)`` on that unit, from the cost
  rows (MACs, bytes) and the device's peaks (its TOML file, or this
  machine's detected ones);
- ``kernels[c]``: how many such layers run (on a GPU, kernel launches);
- ``slowdown[c]``: how far that runtime's kernels of class ``c`` run from the
  roof on that unit (1 / efficiency); ``overhead_ms[c]``: a per-kernel cost
  (dispatch, launch: what a CUDA graph removes); ``call_ms``: a per-call cost.

Parameters start from a **prior**: the median of the parameters fitted on
the other devices of the same unit kind (and runtime where there are some),
or the pure roofline with a small per-kernel cost where there are none. A
device's own whole-model measurements (``edgecnn calibrate``: at most 10 zoo
models, chosen to spread over op mixes) then refit them: a least-squares fit
of the relative error, each parameter held near the prior by a penalty that
the data outweighs as measurements accumulate (``fit_params``). Every figure
this produces is a prediction, and is labelled so where it is written.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from edgecnn.cost.layer_class import OP_CLASSES, layer_class
from edgecnn.predict.roofline import FUSING_RUNTIMES, fused_rows, layer_roof, predicted_row

# a kernel's fixed cost before anything is known of a device (ms): a CPU op dispatch of a few microseconds;
# on a GPU what the H200 run of 2026-12-04 showed at batch 1 (docs/gpu-runs/2026-12-04-*): torch eager
# resnet50 fp32 4.22 ms over its 174 kernels (~24 us each, launched one by one from Python), the same replayed
# from a CUDA graph 1.06 ms (~6 us each, the kernels' own floor); both figures included the copies (~0.1 ms)
DEFAULT_OVERHEAD_MS = {"cpu": 0.005, "gpu": 0.02}
GRAPH_OVERHEAD_MS = 0.005
PRIOR_WEIGHT = 0.3  # strength of the pull towards the prior, in relative-error units per parameter


@dataclass(frozen=True)
class Features:
    """What of a model the latency model sees on one unit (see the module doc)."""

    roof_ms: dict[str, float]
    kernels: dict[str, int]
    macs: int = 0

    def vector(self) -> np.ndarray:
        """[roof_ms per class..., kernels per class..., 1] in ``OP_CLASSES`` order."""
        return np.array([self.roof_ms.get(c, 0.0) for c in OP_CLASSES] +
                        [float(self.kernels.get(c, 0)) for c in OP_CLASSES] + [1.0])


def model_features(cost_rows: Sequence[Any], peak_gmacs_per_s: float, bandwidth_gb_per_s: float, *,
                   runtime: str, batch: int = 1) -> Features:
    """The features of one model (its cost rows at batch 1) on a unit with
    these peaks, as ``runtime`` runs it (fusions) at ``batch``."""
    skip = fused_rows(cost_rows) if runtime in FUSING_RUNTIMES else set()
    roof = {c: 0.0 for c in OP_CLASSES}
    kernels = {c: 0 for c in OP_CLASSES}
    macs = 0
    for i, r in enumerate(cost_rows):
        if i in skip:
            continue
        cls = layer_class(r)
        m, nbytes, comp, mem = layer_roof(r, peak_gmacs_per_s, bandwidth_gb_per_s, batch)
        if m == 0 and nbytes == 0:
            continue  # views and no-ops launch nothing
        roof[cls] += max(comp, mem)
        kernels[cls] += 1
        macs += int(m) if cls != "elementwise" else 0
    return Features(roof, kernels, macs)


@dataclass
class LatencyParams:
    """One (device, unit, runtime, configuration)'s parameters and where they came from."""

    slowdown: dict[str, float]
    overhead_ms: dict[str, float]
    call_ms: float = 0.0
    device: str = ""
    unit: str = "cpu"
    runtime: str = ""
    config: str = ""  # threads=2, cuda, cuda+cuda_graphs, ...
    fitted_on: list[str] = field(default_factory=list)  # models measured on this device
    prior_devices: list[str] = field(default_factory=list)
    fit_error: Optional[float] = None  # median relative error on the fitted models

    def vector(self) -> np.ndarray:
        return np.array([self.slowdown[c] for c in OP_CLASSES] + [self.overhead_ms[c] for c in OP_CLASSES] +
                        [self.call_ms])

    @classmethod
    def from_vector(cls, v: Sequence[float], **meta: Any) -> "LatencyParams":
        n = len(OP_CLASSES)
        return cls(slowdown=dict(zip(OP_CLASSES, map(float, v[:n]))),
                   overhead_ms=dict(zip(OP_CLASSES, map(float, v[n:2 * n]))), call_ms=float(v[2 * n]), **meta)

    def predict(self, f: Features) -> float:
        return float(f.vector() @ self.vector())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LatencyParams":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def roofline_prior(unit: str, **meta: Any) -> LatencyParams:
    """No device has records: the roof itself and a small per-kernel cost
    (smaller where a CUDA graph replays the kernels)."""
    meta = {"unit": unit, **meta}
    per_kernel = DEFAULT_OVERHEAD_MS.get(unit, 0.005)
    if unit == "gpu" and "cuda_graphs" in str(meta.get("config", "")):
        per_kernel = GRAPH_OVERHEAD_MS
    return LatencyParams(slowdown={c: 1.0 for c in OP_CLASSES}, overhead_ms={c: per_kernel for c in OP_CLASSES},
                         call_ms=0.0, **meta)


def prior_from(fitted: Iterable[LatencyParams], unit: str, **meta: Any) -> LatencyParams:
    """The median of other devices' parameters (each fitted on its own
    measurements), parameter by parameter; the roofline prior when none."""
    fitted = [p for p in fitted if p.unit == unit]
    if not fitted:
        return roofline_prior(unit, **meta)
    v = np.median(np.stack([p.vector() for p in fitted]), axis=0)
    meta = {"unit": unit, "prior_devices": sorted({f"{p.device}:{p.config}" for p in fitted}), **meta}
    return LatencyParams.from_vector(v, **meta)


def nnls(a: np.ndarray, b: np.ndarray, iters: int = 200) -> np.ndarray:
    """min ||a x - b|| subject to x >= 0 (Lawson-Hanson active set)."""
    m, n = a.shape
    x, passive = np.zeros(n), np.zeros(n, dtype=bool)
    for _ in range(iters):
        w = a.T @ (b - a @ x)
        if passive.all() or w[~passive].max(initial=-np.inf) <= 1e-12:
            break
        passive[np.argmax(np.where(passive, -np.inf, w))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + alpha * (z - x)
            passive &= x > 1e-15
    return x


def rescale(samples: Sequence[tuple[Features, float]], prior: LatencyParams) -> LatencyParams:
    """The prior with its two halves scaled to the samples: every slowdown by
    one factor (kernels run uniformly slower or faster than on the prior's
    devices) and every fixed cost by another (dispatch, launch), the two
    factors fitted on relative error (one factor when there are fewer than
    three samples). Devices differ from each other mostly this way; the
    per-class fit then starts from here."""
    n = len(OP_CLASSES)
    p0 = prior.vector()
    pairs = [(f.vector(), ms) for f, ms in samples if ms > 0]
    if not pairs:
        return prior
    comp = np.array([v[:n] @ p0[:n] / ms for v, ms in pairs])
    fixed = np.array([v[n:] @ p0[n:] / ms for v, ms in pairs])
    if len(pairs) >= 3 and fixed.any() and comp.any():
        a, b = nnls(np.stack([comp, fixed], axis=1), np.ones(len(pairs)))
    else:
        a = b = 1.0 / float(np.median(comp + fixed))
    if a <= 0 or b <= 0:  # one half explains nothing: scale both alike
        a = b = 1.0 / float(np.median(comp + fixed))
    v = np.concatenate([p0[:n] * a, p0[n:] * b])
    return LatencyParams.from_vector(v, **{k: getattr(prior, k) for k in ("device", "unit", "runtime", "config",
                                                                          "fitted_on", "prior_devices")})


def fit_params(samples: Sequence[tuple[Features, float]], prior: LatencyParams, *,
               weight: float = PRIOR_WEIGHT, **meta: Any) -> LatencyParams:
    """Parameters for one device from its measured ``(features, ms)`` pairs:
    the prior rescaled to them (``rescale``), then a least-squares fit of the
    relative error of the predictions plus ``weight``^2 times each parameter's
    squared relative distance from that rescaled prior (a parameter at 0 is
    held near 0 in absolute terms), all parameters >= 0. With no samples this
    is the prior."""
    start = rescale(samples, prior)
    p0 = start.vector()
    scale = np.where(p0 > 0, p0, 1e-3)
    rows, rhs = [], []
    for f, ms in samples:
        if ms > 0:
            rows.append(f.vector() / ms)
            rhs.append(1.0)
    rows += list(np.diag(weight / scale))
    rhs += list(weight * p0 / scale)
    x = nnls(np.array(rows), np.array(rhs))
    meta = {"unit": prior.unit, "prior_devices": list(prior.prior_devices), **meta}
    out = LatencyParams.from_vector(x, **meta)
    errs = [abs(out.predict(f) - ms) / ms for f, ms in samples if ms > 0]
    out.fit_error = statistics.median(errs) if errs else None
    return out


def spread_choice(candidates: dict[str, Features], k: int) -> list[str]:
    """``k`` models spread over op mixes and sizes (greedy farthest point on
    each model's share of roofline time per op class and its log total),
    starting from the median-sized one: the calibration set."""
    def point(f: Features) -> np.ndarray:
        tot = sum(f.roof_ms.values()) or 1.0
        return np.array([f.roof_ms[c] / tot for c in OP_CLASSES] + [math.log10(tot) / 2.0])

    names = sorted(candidates)
    if len(names) <= k:
        return names
    pts = {n: point(candidates[n]) for n in names}
    sizes = sorted(names, key=lambda n: pts[n][-1])
    chosen = [sizes[len(sizes) // 2]]
    while len(chosen) < k:
        far = max((n for n in names if n not in chosen),
                  key=lambda n: (min(float(np.linalg.norm(pts[n] - pts[c])) for c in chosen), n))
        chosen.append(far)
    return chosen


def predict_rows(cost_rows: Sequence[Any], peak_gmacs_per_s: float, bandwidth_gb_per_s: float,
                 params: LatencyParams, *, runtime: str, batch: int = 1) -> tuple[float, list[dict[str, Any]]]:
    """(predicted ms, one row per cost row) of a model on a unit with these
    peaks: each layer ``slowdown[c] * roof + overhead_ms[c]`` (0 for layers
    the runtime fuses, and for views), the model ``call_ms`` plus their sum
    (``predict`` of ``model_features``, layer by layer)."""
    if not bandwidth_gb_per_s or not peak_gmacs_per_s:
        from edgecnn.errors import InvalidOptionError

        raise InvalidOptionError("a latency prediction needs the unit's peak GMAC/s and memory bandwidth "
                                 "([peak.cpu] / [peak.gpu] in the device's TOML)")
    skip = fused_rows(cost_rows) if runtime in FUSING_RUNTIMES else set()
    rows, total = [], params.call_ms
    for i, r in enumerate(cost_rows):
        cls = layer_class(r)
        m, nbytes, comp, mem = layer_roof(r, peak_gmacs_per_s, bandwidth_gb_per_s, batch)
        runs = i not in skip and (m > 0 or nbytes > 0)
        t = params.slowdown[cls] * max(comp, mem) + params.overhead_ms[cls] if runs else 0.0
        total += t
        rows.append(predicted_row(r, m, nbytes, comp, mem, fused=i in skip, predicted_ms=t))
    return total, rows

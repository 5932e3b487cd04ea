"""How well the latency model predicts a device it was not fitted on:
leave-one-device-out over the records (``benchmarks/bench_predict.py`` runs
it; its figures become the error band every prediction carries).

For each held-out device (a machine's CPU at one thread count, a GPU in one
configuration), the prior comes from the *other* devices' fits, then up to
``k`` of the held-out device's own measurements (chosen to spread over op
mixes, as ``edgecnn calibrate`` chooses them) refit it, and the rest of its
models are predicted; with ``k = 0`` the prior alone predicts every model.
A device with too few models for a held-out rest is validated
leave-one-model-out inside it (each model predicted from at most ``k`` of
the others).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from edgecnn.predict.dataset import Measurement, Situation, features, group
from edgecnn.predict.latency_model import (LatencyParams, fit_params, prior_from, roofline_prior, spread_choice)

CALIBRATION_MODELS = 10  # edgecnn calibrate measures at most this many models of a device


@dataclass
class Prediction:
    situation: Situation
    model: str
    measured_ms: float
    predicted_ms: float
    calibrated_on: int  # measurements of the held-out device used (0: the prior alone)
    prior_devices: list[str]

    @property
    def error(self) -> float:
        return (self.predicted_ms - self.measured_ms) / self.measured_ms


def own_fits(by: dict[Situation, list[Measurement]]) -> dict[Situation, LatencyParams]:
    """Each situation fitted on all of its own measurements (the raw material of priors)."""
    out = {}
    for s, ms in by.items():
        samples = [(features(m), m.ms) for m in ms]
        out[s] = fit_params(samples, roofline_prior(s.unit), weight=0.05, device=s.device, unit=s.unit,
                            runtime=s.runtime, config=s.config, fitted_on=sorted(m.model for m in ms))
    return out


def prior_for(s: Situation, fits: dict[Situation, LatencyParams], exclude_machine: Optional[str]) -> LatencyParams:
    """The prior of ``s``: other devices' fits of the same unit, runtime,
    precision and (on a GPU) launch path (CUDA graphs or not); else of the
    same unit, runtime and precision; else of the same unit and runtime; else
    of the same unit."""
    others = {o: p for o, p in fits.items() if o.machine != exclude_machine and o.unit == s.unit}
    graphs = "cuda_graphs" in s.config
    for keep in (lambda o: o.runtime == s.runtime and o.precision == s.precision and
                 ("cuda_graphs" in o.config) == graphs,
                 lambda o: o.runtime == s.runtime and o.precision == s.precision,
                 lambda o: o.runtime == s.runtime, lambda o: True):
        chosen = [p for o, p in others.items() if keep(o)]
        if chosen:
            return prior_from(chosen, s.unit, runtime=s.runtime, config=s.config)
    return roofline_prior(s.unit, runtime=s.runtime, config=s.config)


def calibrate(s: Situation, measured: Sequence[Measurement], prior: LatencyParams) -> LatencyParams:
    """``prior`` refitted on a device's own measurements."""
    return fit_params([(features(m), m.ms) for m in measured], prior, device=s.device, runtime=s.runtime,
                      config=s.config, fitted_on=sorted(m.model for m in measured))


def predict_held_out(s: Situation, ms: list[Measurement], prior: LatencyParams, k: int) -> list[Prediction]:
    """Predictions of ``s``'s models from ``prior`` and at most ``k`` of its own measurements."""
    feats = {m.model: features(m) for m in ms}
    out = []
    if k <= 0:
        return [Prediction(s, m.model, m.ms, prior.predict(feats[m.model]), 0, prior.prior_devices) for m in ms]
    if len(ms) > k + 2:  # a calibration set and a held-out rest
        chosen = set(spread_choice(feats, k))
        params = calibrate(s, [m for m in ms if m.model in chosen], prior)
        return [Prediction(s, m.model, m.ms, params.predict(feats[m.model]), len(chosen), prior.prior_devices)
                for m in ms if m.model not in chosen]
    for m in ms:  # too few: each model from at most k of the others
        rest = {n: f for n, f in feats.items() if n != m.model}
        chosen = set(spread_choice(rest, min(k, len(rest))))
        params = calibrate(s, [x for x in ms if x.model in chosen], prior)
        out.append(Prediction(s, m.model, m.ms, params.predict(feats[m.model]), len(chosen), prior.prior_devices))
    return out


def leave_one_device_out(measured: Iterable[Measurement], ks: Sequence[int] = (0, CALIBRATION_MODELS),
                         min_models: int = 3) -> list[Prediction]:
    """Every situation with at least ``min_models`` models, predicted with
    its device held out, once per ``k`` of ``ks``."""
    by = group(measured)
    fits = own_fits(by)
    out = []
    for s, ms in sorted(by.items(), key=lambda kv: kv[0].label()):
        if len({m.model for m in ms}) < min_models:
            continue
        prior = prior_for(s, fits, exclude_machine=s.machine)
        for k in ks:
            out += predict_held_out(s, ms, prior, k)
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for pos, i in enumerate(order):
            r[i] = float(pos)
        return r

    if len(a) < 3:
        return None
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else None


def summary(preds: Sequence[Prediction]) -> dict[str, Any]:
    """Share within +-10 % and +-25 %, median and p90 |error|, Spearman."""
    errs = sorted(abs(p.error) for p in preds)
    return {"predictions": len(preds), "models": len({p.model for p in preds}),
            "within_10_pct": 100.0 * sum(e <= 0.10 for e in errs) / len(errs),
            "within_25_pct": 100.0 * sum(e <= 0.25 for e in errs) / len(errs),
            "median_abs_error": statistics.median(errs),
            "p90_abs_error": errs[min(len(errs) - 1, int(0.9 * len(errs)))],
            "spearman": spearman([p.measured_ms for p in preds], [p.predicted_ms for p in preds])}

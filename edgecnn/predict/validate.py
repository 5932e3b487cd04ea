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

Where the held-out device also has per-layer times of its calibration
models (``layer_latency`` records, as ``edgecnn calibrate`` measures them),
at least ``kernels.MIN_MODELS`` of them, their kernel table
(``kernels.KernelTable``) is a second candidate, and the one of the two that
predicts the calibration models better leave-one-model-out predicts the rest
(``choose_predictor``; ``Prediction.method`` "kernels" or "classes").
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from edgecnn.predict.dataset import Measurement, Situation, features, group, precision_rows
from edgecnn.predict.kernels import LayerTimes, kernel_table
from edgecnn.predict.latency_model import (LatencyParams, fit_params, prior_from, roofline_prior, spread_choice)

CALIBRATION_MODELS = 10  # edgecnn calibrate measures at most this many models of a device
Layers = dict[tuple[str, int], LayerTimes]  # (model, input side) -> its per-layer times, of one situation


@dataclass
class Prediction:
    situation: Situation
    model: str
    measured_ms: float
    predicted_ms: float
    calibrated_on: int  # measurements of the held-out device used (0: the prior alone)
    prior_devices: list[str]
    method: str = "classes"  # classes: the op-class model; kernels: the calibration models' kernel table
    with_layers: bool = False  # the calibration models' per-layer times were at hand (the kernel table a candidate)

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


def leave_one_out_error(calib: Sequence[Measurement], make: Any) -> Optional[float]:
    """Median |relative error| over the calibration models, each predicted by
    ``make(the others)`` (a predictor, or None where it cannot be built:
    then None)."""
    errs = []
    for m in calib:
        predict = make([x for x in calib if x is not m])
        if predict is None:
            return None
        errs.append(abs(predict(m) - m.ms) / m.ms)
    return statistics.median(errs) if errs else None


def class_predictor(s: Situation, prior: LatencyParams) -> Any:
    """measurements -> a predictor (measurement -> ms): ``prior`` refitted on their whole-model latencies."""
    def make(ms: Sequence[Measurement]) -> Any:
        params = calibrate(s, ms, prior)
        return lambda m: params.predict(features(m))
    return make


def kernel_predictor(s: Situation, layers: Layers) -> Any:
    """measurements -> a predictor from their kernel table, or None where too few have per-layer times."""
    def make(ms: Sequence[Measurement]) -> Any:
        timed = [layers[key] for key in ((m.model, m.input_size) for m in ms) if key in layers]
        table = kernel_table(s.runtime, timed)
        return None if table is None else lambda m: table.predict_rows(precision_rows(m), batch=s.batch)[0]
    return make


def method_errors(s: Situation, calib: Sequence[Measurement], prior: LatencyParams,
                  layers: Layers) -> dict[str, Optional[float]]:
    """Each method's leave-one-model-out error on the calibration models
    (``leave_one_out_error``; kernels None where no table can be built)."""
    return {"kernels": leave_one_out_error(calib, kernel_predictor(s, layers)),
            "classes": leave_one_out_error(calib, class_predictor(s, prior))}


def choose_method(s: Situation, calib: Sequence[Measurement], prior: LatencyParams,
                  layers: Layers) -> tuple[str, bool]:
    """(method, whether per-layer times were at hand) for a device's own
    calibration measurements: "classes", the op-class model refitted on
    their whole-model latencies, or, where enough of them have per-layer
    times, "kernels", their kernel table, when it predicts the calibration
    models better leave-one-model-out (a per-layer method can be off for a
    runtime or a machine: isolated layers of small models, a noisy
    multi-threaded CPU). A table needs ``kernels.MIN_MODELS`` models, so the
    choice needs one more."""
    if kernel_predictor(s, layers)(calib) is None:
        return "classes", False
    return better_method(method_errors(s, calib, prior, layers)), True


def better_method(errors: dict[str, Optional[float]]) -> str:
    """"kernels" where its leave-one-model-out error (``method_errors``) is the smaller, else "classes"."""
    k, c = errors["kernels"], errors["classes"]
    return "kernels" if k is not None and c is not None and k < c else "classes"


def choose_predictor(s: Situation, calib: Sequence[Measurement], prior: LatencyParams,
                     layers: Layers) -> tuple[str, Any, bool]:
    """(method, predict: measurement -> ms, per-layer times at hand) (``choose_method``)."""
    method, timed = choose_method(s, calib, prior, layers)
    make = kernel_predictor(s, layers) if method == "kernels" else class_predictor(s, prior)
    return method, make(calib), timed


def predict_held_out(s: Situation, ms: list[Measurement], prior: LatencyParams, k: int,
                     layers: Optional[Layers] = None) -> list[Prediction]:
    """Predictions of ``s``'s models from ``prior`` and at most ``k`` of its
    own measurements (and their per-layer times, where ``layers`` has them)."""
    feats = {m.model: features(m) for m in ms}
    layers = layers or {}
    if k <= 0:
        return [Prediction(s, m.model, m.ms, prior.predict(feats[m.model]), 0, prior.prior_devices) for m in ms]
    if len(ms) > k + 2:  # a calibration set and a held-out rest
        chosen = set(spread_choice(feats, k))
        method, predict, timed = choose_predictor(s, [m for m in ms if m.model in chosen], prior, layers)
        return [Prediction(s, m.model, m.ms, predict(m), len(chosen), prior.prior_devices, method, timed)
                for m in ms if m.model not in chosen]
    out = []
    for m in ms:  # too few: each model from at most k of the others
        rest = {n: f for n, f in feats.items() if n != m.model}
        chosen = set(spread_choice(rest, min(k, len(rest))))
        method, predict, timed = choose_predictor(s, [x for x in ms if x.model in chosen], prior, layers)
        out.append(Prediction(s, m.model, m.ms, predict(m), len(chosen), prior.prior_devices, method, timed))
    return out


def leave_one_device_out(measured: Iterable[Measurement], ks: Sequence[int] = (0, CALIBRATION_MODELS),
                         min_models: int = 3, layers: Optional[dict[Situation, Layers]] = None) -> list[Prediction]:
    """Every situation with at least ``min_models`` models, predicted with
    its device held out, once per ``k`` of ``ks``; calibrated from kernel
    tables where ``layers`` (``dataset.layer_times``) has the per-layer times."""
    by = group(measured)
    fits = own_fits(by)
    out = []
    for s, ms in sorted(by.items(), key=lambda kv: kv[0].label()):
        if len({m.model for m in ms}) < min_models:
            continue
        prior = prior_for(s, fits, exclude_machine=s.machine)
        for k in ks:
            out += predict_held_out(s, ms, prior, k, (layers or {}).get(s))
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

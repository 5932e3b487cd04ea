"""Parameters and error bands for a prediction, from the records.

- ``kernel_table_for(records, situation)``: where the device has per-layer
  times (``layer_latency`` records) of its measured models in that situation
  (``edgecnn calibrate`` measures them), their kernel table
  (``edgecnn.predict.kernels``) when it predicts those models better than
  the op-class fit, leave-one-model-out (``validate.choose_method``; four
  models or more); it then predicts instead of the parameters below;
- ``params_for(records, situation)``: the device's own ``calibration``
  record (written by ``edgecnn calibrate``) when it has one for that
  runtime; else its own measurements when it has some (a device predicted
  where it was also measured); else the prior from every *other* device of
  the same unit kind with measurements (``validate.prior_for``).
- ``error_band(records, situation, calibrated_on)``: the latest validation
  (``prediction_error`` records of ``benchmarks/bench_predict.py``) of the
  same situation kind: unit (cpu | gpu), runtime where validated, and
  how the device was calibrated (``band_kind``: not at all, from whole-model
  latencies, or with per-layer times too), with the devices that validation
  covered.
- ``calibration_record``: what ``edgecnn calibrate`` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

from edgecnn.predict.dataset import Situation, features, group, layer_times, measurements
from edgecnn.predict.kernels import KernelTable, kernel_table
from edgecnn.predict.latency_model import LatencyParams, fit_params
from edgecnn.predict.validate import choose_method, own_fits, prior_for
from edgecnn.records import Record, environment

# measured latencies that ship with a checkout (quiet machines, each under its own fingerprint): the prior of every
# prediction learns from them beside the records folder's own
_CHECKOUT = Path(__file__).resolve().parents[2]
REFERENCE_RECORDS = (_CHECKOUT / "docs" / "records", _CHECKOUT / "benchmarks" / "data")

METHOD = ("leave-one-device-out (benchmarks/bench_predict.py): prior from the other devices' fits, refitted on at "
          "most 10 of the held-out device's models chosen to spread over op mixes, the rest predicted")
KERNEL_METHOD = ("leave-one-device-out (benchmarks/bench_predict.py): at most 10 of the held-out device's models "
                 "chosen to spread over op mixes, with their per-layer times; their kernel table "
                 "(edgecnn/predict/kernels.py) or the prior refitted on their whole-model latencies, whichever "
                 "predicts them better leave-one-model-out, predicts the rest")


def band_kind(calibrated_on: int, with_layers: bool = False) -> str:
    """The kind of a prediction, as validations are recorded and bands looked
    up: ``uncalibrated`` (the prior of other devices alone), ``calibrated``
    (refitted on the device's whole-model latencies), ``calibrated-layers``
    (the device's measurements include per-layer times: its kernel table or
    the op-class fit, whichever predicts its calibration models better)."""
    if calibrated_on <= 0:
        return "uncalibrated"
    return "calibrated-layers" if with_layers else "calibrated"


class Knowledge:
    """Everything the records say about latency: the measurements grouped by
    situation, and each situation's own fit (computed once, on first use)."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.records = list(records)
        self._by: Optional[dict[Situation, list]] = None
        self._fits: Optional[dict[Situation, LatencyParams]] = None
        self._layers: Optional[dict[Situation, dict]] = None

    @property
    def by(self) -> dict[Situation, list]:
        if self._by is None:
            self._by = group(measurements(self.records))
        return self._by

    @property
    def fits(self) -> dict[Situation, LatencyParams]:
        if self._fits is None:
            self._fits = own_fits(self.by)
        return self._fits

    @property
    def layers(self) -> dict[Situation, dict]:
        if self._layers is None:
            self._layers = layer_times(self.records)
        return self._layers

    @classmethod
    def with_reference(cls, records: Iterable[Record]) -> "Knowledge":
        """``records`` plus the measured latencies of ``REFERENCE_RECORDS``
        (where this is a checkout that has them)."""
        from edgecnn.records import RecordStore

        extra = [r for root in REFERENCE_RECORDS if root.is_dir() for r in RecordStore(root).load(kind="latency")
                 if r.source == "measured"]
        return cls([*records, *extra])

    def calibrations(self, s: Situation) -> list[Record]:
        return [r for r in self.records if r.kind == "calibration" and r.ok and r.device == s.device
                and r.metric("compute_unit") == s.unit and r.runtime == s.runtime]


def params_for(known: Knowledge, s: Situation) -> tuple[LatencyParams, int, str]:
    """(parameters, the device's measurements behind them, where they came
    from) for predicting situation ``s`` (see the module doc)."""
    cals = known.calibrations(s)
    if cals:
        best = max(cals, key=lambda r: (r.precision == s.precision, r.batch == s.batch,
                                        r.variant == s.config, str(r.created_at)))
        p = LatencyParams.from_dict(best.metric("params"))
        return p, len(p.fitted_on), f"calibration of {s.device} ({best.created_at[:10]}, {len(p.fitted_on)} models)"
    by = known.by
    prior = prior_for(s, known.fits, exclude_machine=s.machine)
    own = by.get(s)
    if own:
        p = fit_params([(features(m), m.ms) for m in own], prior, device=s.device, runtime=s.runtime,
                       config=s.config, fitted_on=sorted(m.model for m in own))
        return p, len(own), f"{len(own)} measured models of {s.device}"
    where = ", ".join(prior.prior_devices) or "no device: the roofline with a default kernel cost"
    return prior, 0, f"prior from {where}"


def kernel_table_for(known: Knowledge, s: Situation,
                     leave_out: Optional[tuple[str, int]] = None) -> tuple[Optional[KernelTable], bool]:
    """(the device's kernel table for ``s`` where ``validate.choose_method``
    picks it over the op-class fit on the device's models with per-layer
    times, else None; whether the device has per-layer times for ``s``).
    ``leave_out`` (model, input side): the model being predicted, whose own
    per-layer times, where the device measured it too, stay out of the table
    and of the choice (a prediction beside its measurement is a prediction)."""
    layers = {k: v for k, v in (known.layers.get(s) or {}).items() if k != leave_out}
    timed = [m for m in known.by.get(s, []) if (m.model, m.input_size) in layers]
    if not timed:
        return None, False
    method, with_layers = choose_method(s, timed, prior_for(s, known.fits, exclude_machine=s.machine), layers)
    if method != "kernels":
        return None, with_layers
    return kernel_table(s.runtime, [layers[m.model, m.input_size] for m in timed]), True


def error_band(known: Knowledge, s: Situation, calibrated_on: int, with_layers: bool = False) -> dict[str, Any]:
    """The band of the latest matching validation (see the module doc)."""
    k_kind = band_kind(calibrated_on, with_layers)
    checks = [r for r in known.records if r.kind == "prediction_error" and r.ok and r.metric("compute_unit") == s.unit
              and r.metric("calibration_kind") == k_kind]
    same_rt = [r for r in checks if r.runtime == s.runtime]
    pick = same_rt or [r for r in checks if r.runtime == "all"]
    if not pick:
        return {"validated": False, "note": f"no {k_kind} validation of {s.unit} predictions yet "
                                            f"(benchmarks/bench_predict.py)"}
    last = max(pick, key=lambda r: str(r.created_at))
    band = {k: last.metric(k) for k in ("within_10_pct", "within_25_pct", "median_abs_error", "p90_abs_error",
                                        "spearman", "models")}
    devices = last.metric("devices") or []
    return {"validated": True, **band, "validated_at": last.created_at, "method": last.metric("method"),
            "devices": devices, "calibration_kind": k_kind, "runtime": last.runtime,
            "note": f"{k_kind} {s.unit} predictions validated leave-one-device-out on {', '.join(devices)}"}


def calibration_record(s: Situation, params: LatencyParams, peak: float, bandwidth: float,
                       env: Optional[dict[str, Any]] = None) -> Record:
    """The ``calibration`` record of one situation (``edgecnn calibrate``)."""
    return Record(kind="calibration", model="latency model", source="measured", device=s.device, runtime=s.runtime,
                  precision=s.precision, batch=s.batch, variant=s.config,
                  metrics={"params": params.to_dict(), "compute_unit": s.unit, "fitted_on": params.fitted_on,
                           "prior_devices": params.prior_devices, "fit_error": params.fit_error,
                           "measurements": len(params.fitted_on), "peak_gmacs_per_s": peak,
                           "memory_bandwidth_gb_per_s": bandwidth,
                           "method": "whole-model latencies of this device refit from the prior of the other "
                                     "devices (edgecnn/predict/latency_model.py)"},
                  env=environment(env))

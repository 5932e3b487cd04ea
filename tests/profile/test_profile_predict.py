"""The latency model: op classes, fusion, the fit recovers known parameters,
the prior comes from other devices, leave-one-device-out, predicted records."""

from __future__ import annotations

import math

import pytest

from edgecnn.cost.layer_class import OP_CLASSES
from edgecnn.predict.latency_model import (Features, LatencyParams, fit_params, model_features, predict_rows,
                                           prior_from, roofline_prior, spread_choice)
from edgecnn.predict.roofline import fused_rows, roofline_ms
from edgecnn.cost.layer_class import layer_class

CONV = {"name": "c", "type": "Conv2d", "category": "conv", "kernel": [3, 3], "groups": 1, "in_channels": 16}
DW = {"name": "d", "type": "Conv2d", "category": "conv", "kernel": [3, 3], "groups": 32, "in_channels": 32}
PW = {"name": "p", "type": "Conv2d", "category": "conv", "kernel": [1, 1], "groups": 1, "in_channels": 32}
FC = {"name": "f", "type": "Linear", "category": "linear"}
BN = {"name": "b", "type": "BatchNorm2d", "category": "other"}
RELU = {"name": "r", "type": "ReLU6", "category": "other"}
ADD = {"name": "a", "type": "add", "category": "other"}


def _layer(proto, macs, nbytes):
    return {**proto, "macs": macs, "bytes_read": nbytes, "bytes_written": 0}


def test_op_classes():
    assert [layer_class(r) for r in (CONV, DW, PW, FC, BN, ADD)] == [
        "conv", "depthwise", "pointwise", "linear", "elementwise", "elementwise"]


def test_bn_and_activation_after_a_conv_are_fused_but_adds_are_not():
    rows = [CONV, BN, RELU, DW, BN, PW, ADD, RELU]
    assert fused_rows(rows) == {1, 2, 4}


def test_roofline_is_the_max_of_compute_and_memory():
    comp, mem = roofline_ms(macs=1e9, nbytes=1e6, peak_gmacs_per_s=100, bandwidth_gb_per_s=10)
    assert comp == pytest.approx(10.0) and mem == pytest.approx(0.1)
    f = model_features([_layer(DW, 1e6, 4e7)], 100, 10, runtime="torch")
    assert f.roof_ms["depthwise"] == pytest.approx(4.0) and f.kernels["depthwise"] == 1


def test_features_drop_fused_layers_and_scale_with_batch_and_roof():
    rows = [_layer(CONV, 1e9, 0), _layer(BN, 0, 1e6), _layer(RELU, 0, 1e6), _layer(ADD, 0, 1e6)]
    fused = model_features(rows, 100, 10, runtime="onnxruntime")
    eager = model_features(rows, 100, 10, runtime="torch")
    assert fused.kernels["elementwise"] == 1 and eager.kernels["elementwise"] == 3
    assert fused.roof_ms["conv"] == pytest.approx(10.0)
    assert model_features(rows, 1000, 10, runtime="torch", batch=4).roof_ms["conv"] == pytest.approx(4.0)


def _truth() -> LatencyParams:
    return LatencyParams(slowdown={"conv": 2.0, "depthwise": 8.0, "pointwise": 3.0, "linear": 1.5,
                                   "elementwise": 1.2},
                         overhead_ms={c: 0.01 for c in OP_CLASSES}, call_ms=0.05)


def _models(n: int) -> dict[str, Features]:
    out = {}
    for i in range(n):
        k = i + 1
        rows = [_layer(CONV, 2e6 * k * (i % 3 + 1), 1e5 * k)] * (1 + i % 4) + \
               [_layer(DW, 1e5 * k, 4e5 * k)] * (2 + i % 5) + [_layer(PW, 5e6 * k, 2e5)] * (1 + i % 2) + \
               [_layer(FC, 1e6, 4e6)] + [_layer(ADD, 0, 1e5 * k)] * (i % 3)
        out[f"m{i}"] = model_features(rows, 100.0, 20.0, runtime="torch")
    return out


def test_fit_recovers_known_parameters_from_whole_model_latencies():
    truth, feats = _truth(), _models(14)
    samples = [(f, truth.predict(f)) for f in feats.values()]
    fit = fit_params(samples, roofline_prior("cpu"), weight=1e-4, device="d")
    for f, ms in samples:
        assert fit.predict(f) == pytest.approx(ms, rel=0.02)
    assert fit.fit_error < 0.01 and fit.unit == "cpu" and fit.device == "d"
    back = LatencyParams.from_dict(fit.to_dict())
    assert back.predict(samples[0][0]) == pytest.approx(fit.predict(samples[0][0]))


def test_no_samples_is_the_prior_and_a_few_move_it_towards_the_data():
    truth, feats = _truth(), _models(10)
    prior = roofline_prior("cpu")
    f0 = feats["m3"]
    assert fit_params([], prior).predict(f0) == pytest.approx(prior.predict(f0))
    err = lambda p: abs(p.predict(f0) - truth.predict(f0)) / truth.predict(f0)  # noqa: E731
    few = fit_params([(feats[n], truth.predict(feats[n])) for n in ("m0", "m5", "m9")], prior)
    assert err(few) < err(prior) / 2


def test_prior_is_the_median_of_other_devices_and_falls_back_to_the_roofline():
    a, b, c = (LatencyParams(slowdown={k: s for k in OP_CLASSES}, overhead_ms={k: o for k in OP_CLASSES},
                             call_ms=o, device=d, unit="cpu", config="threads=1")
               for d, s, o in (("x", 1.0, 0.0), ("y", 2.0, 0.1), ("z", 9.0, 0.2)))
    p = prior_from([a, b, c], "cpu")
    assert p.slowdown["conv"] == 2.0 and p.call_ms == 0.1 and p.prior_devices == ["x:threads=1", "y:threads=1",
                                                                                  "z:threads=1"]
    assert prior_from([a], "gpu").prior_devices == [] and prior_from([a], "gpu").slowdown["conv"] == 1.0


def test_spread_choice_takes_k_distinct_models_spread_over_sizes():
    feats = _models(12)
    chosen = spread_choice(feats, 5)
    assert len(chosen) == len(set(chosen)) == 5
    sizes = sorted(math.log10(sum(feats[n].roof_ms.values())) for n in chosen)
    assert sizes[-1] - sizes[0] > 0.5  # not five neighbours
    assert spread_choice(feats, 20) == sorted(feats)


def test_predict_rows_sum_is_the_feature_prediction():
    rows = [_layer(CONV, 1e9, 1e6), _layer(BN, 0, 1e6), _layer(DW, 1e6, 4e7), _layer(FC, 1e6, 4e6)]
    p = _truth()
    total, out = predict_rows(rows, 100.0, 10.0, p, runtime="onnxruntime")
    assert total == pytest.approx(p.predict(model_features(rows, 100.0, 10.0, runtime="onnxruntime")))
    assert out[1]["fused"] and out[1]["predicted_ms"] == 0.0
    assert out[0]["predicted_ms"] == pytest.approx(2.0 * 10.0 + 0.01)


def _measurements(device: str, truth: LatencyParams, scale: float, n: int = 12, runtime: str = "onnxruntime"):
    """Synthetic measured latencies of one device whose kernels are ``scale`` x slower than ``truth``."""
    from edgecnn.predict.dataset import Measurement, Situation

    s = Situation(device, "cpu", runtime, "threads=2", "fp32", 1)
    return [Measurement(s, name, 224, truth.predict(f) * scale, 100.0, 20.0) for name, f in _models(n).items()]


def test_leave_one_device_out_uses_only_other_devices_for_the_prior(monkeypatch):
    from edgecnn.predict import dataset, validate

    feats = _models(14)
    monkeypatch.setattr(dataset, "cost_rows", lambda model, size: ())
    monkeypatch.setattr(validate, "features", lambda m: feats[m.model])
    truth = _truth()
    ms = _measurements("a", truth, 1.0, 14) + _measurements("b", truth, 1.1, 14) + _measurements("c", truth, 3.0, 14)
    preds = validate.leave_one_device_out(ms, ks=(0, 5))
    held_c0 = [p for p in preds if p.situation.device == "c" and p.calibrated_on == 0]
    held_c5 = [p for p in preds if p.situation.device == "c" and p.calibrated_on == 5]
    assert len(held_c0) == 14 and len(held_c5) == 9  # the 5 calibration models are not scored
    assert all(d.startswith(("a:", "b:")) for d in held_c0[0].prior_devices)
    # c is 3x slower than the others: the prior alone is far off, 5 of its own measurements fix it
    s0, s5 = validate.summary(held_c0), validate.summary(held_c5)
    assert s0["median_abs_error"] > 0.5 and s5["median_abs_error"] < 0.1 and s5["spearman"] > 0.95


def test_predicted_records_use_the_runtime_unit_the_prior_and_the_matching_band(tmp_path):
    from edgecnn.devices.spec import load_device
    from edgecnn.profile.pipeline import ProfileOptions
    from edgecnn.profile.predicted import predict_records
    from edgecnn.records import Record, RecordStore

    store = RecordStore(tmp_path)
    # a validation of the predictor, as benchmarks/bench_predict.py writes it (uncalibrated CPU, ONNX Runtime)
    store.append(Record(kind="prediction_error", model="10 zoo models", runtime="onnxruntime", device="local",
                        variant="uncalibrated",
                        metrics={"method": "leave one device out", "models": 10, "within_10_pct": 40.0,
                                 "within_25_pct": 80.0, "median_abs_error": 0.12, "p90_abs_error": 0.3,
                                 "spearman": 0.95, "compute_unit": "cpu", "calibration_kind": "uncalibrated",
                                 "devices": ["local cpu threads=1", "h200-box cpu threads=16"]}))
    opts = ProfileOptions(runtimes=["onnxruntime", "tensorrt", "litert"])
    recs = predict_records(["resnet18", "mobilenet_v2"], load_device("jetson-orin-nano"), opts, store,
                           reason="requested with --predict")
    lat = [r for r in recs if r.kind == "latency"]
    assert {(r.runtime, r.metrics["compute_unit"]) for r in lat} == {
        ("onnxruntime", "cpu"), ("tensorrt", "gpu"), ("litert", "cpu")}
    cpu = next(r for r in lat if r.runtime == "onnxruntime" and r.model == "resnet18")
    gpu = next(r for r in lat if r.runtime == "tensorrt" and r.model == "resnet18")
    assert cpu.metrics["peak_gmacs_per_s"] == 72.0 and gpu.metrics["peak_gmacs_per_s"] == 640.0
    assert cpu.metrics["latency_ms_p50"] != gpu.metrics["latency_ms_p50"]
    # the Jetson has no records: its CPU takes the prior of the CPUs measured in the checkout's reference records
    # (docs/records, benchmarks/data), its GPU the roofline with a launch cost per kernel (no GPU has device-time
    # records yet)
    for r in (cpu, gpu):
        m = r.metrics
        assert m["calibrated_on"] == 0 and m["calibration_device"] is None
        assert not any(d.startswith("jetson") for d in m["prior_devices"])
        assert m["latency_ms_p50"] > m["roofline_ms"] > 0
        assert m["latency_ms_p50"] == pytest.approx(sum(row["predicted_ms"] for row in m["layers"])
                                                    + m["latency_params"]["call_ms"])
    assert cpu.metrics["prior_devices"] and all(":threads=" in d for d in cpu.metrics["prior_devices"])
    assert gpu.metrics["prior_devices"] == []
    band = cpu.metrics["error_band"]
    assert band["validated"] and band["within_25_pct"] == 80.0 and band["calibration_kind"] == "uncalibrated"
    assert band["devices"] == ["local cpu threads=1", "h200-box cpu threads=16"]
    assert not gpu.metrics["error_band"]["validated"] and "gpu" in gpu.metrics["error_band"]["note"]
    assert not next(r for r in lat if r.runtime == "litert").metrics["error_band"]["validated"]


def test_a_device_calibration_record_is_used_for_that_device_only(tmp_path):
    from edgecnn.devices.spec import load_device
    from edgecnn.predict.calibrate import calibration_record
    from edgecnn.predict.dataset import Situation
    from edgecnn.profile.pipeline import ProfileOptions
    from edgecnn.profile.predicted import predict_records
    from edgecnn.records import RecordStore

    store = RecordStore(tmp_path)
    slow = roofline_prior("cpu", device="jetson-orin-nano", runtime="onnxruntime", fitted_on=["a", "b", "c"])
    slow.slowdown = {c: 4.0 for c in OP_CLASSES}
    store.append(calibration_record(Situation("jetson-orin-nano", "cpu", "onnxruntime", "threads=all", "fp32", 1),
                                    slow, 72.0, 51.2))
    opts = ProfileOptions(runtimes=["onnxruntime"])
    (jet,) = [r for r in predict_records(["resnet18"], load_device("jetson-orin-nano"), opts, store, "x")
              if r.kind == "latency"]
    (pi,) = [r for r in predict_records(["resnet18"], load_device("raspberry-pi-5"), opts, store, "x")
             if r.kind == "latency"]
    assert jet.metrics["calibrated_on"] == 3 and jet.metrics["calibration_device"] == "jetson-orin-nano"
    assert "calibration of jetson-orin-nano" in jet.metrics["params_source"]
    assert jet.metrics["latency_ms_p50"] > 3.5 * jet.metrics["roofline_ms"]
    assert pi.metrics["calibrated_on"] == 0 and "calibration of" not in pi.metrics["params_source"]
    assert pi.metrics["latency_params"]["slowdown"]["conv"] != 4.0

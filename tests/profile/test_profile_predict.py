"""The roofline predictor: op classes, fusion, the fit recovers known costs."""

from __future__ import annotations

import pytest

from edgecnn.predict.roofline import (Calibration, OpFit, fit_calibration, fused_rows, op_class, predict_layers,
                                     roofline_ms)

CONV = {"name": "c", "type": "Conv2d", "category": "conv", "kernel": [3, 3], "groups": 1, "in_channels": 16}
DW = {"name": "d", "type": "Conv2d", "category": "conv", "kernel": [3, 3], "groups": 32, "in_channels": 32}
PW = {"name": "p", "type": "Conv2d", "category": "conv", "kernel": [1, 1], "groups": 1, "in_channels": 32}
FC = {"name": "f", "type": "Linear", "category": "linear"}
BN = {"name": "b", "type": "BatchNorm2d", "category": "other"}
RELU = {"name": "r", "type": "ReLU6", "category": "other"}
ADD = {"name": "a", "type": "add", "category": "other"}


def test_op_classes():
    assert [op_class(r) for r in (CONV, DW, PW, FC, BN, ADD)] == [
        "conv", "depthwise", "pointwise", "linear", "elementwise", "elementwise"]


def test_bn_and_activation_after_a_conv_are_fused_but_adds_are_not():
    rows = [CONV, BN, RELU, DW, BN, PW, ADD, RELU]
    assert fused_rows(rows) == {1, 2, 4}


def test_roofline_is_the_max_of_compute_and_memory():
    comp, mem = roofline_ms(macs=1e9, nbytes=1e6, peak_gmacs_per_s=100, bandwidth_gb_per_s=10)
    assert comp == pytest.approx(10.0) and mem == pytest.approx(0.1)
    rows = predict_layers([{**DW, "macs": 1e6, "bytes_read": 4e7, "bytes_written": 0}], 100, 10,
                          Calibration.uncalibrated(), fuse=False)
    assert rows[0]["bound"] == "memory" and rows[0]["predicted_ms"] == pytest.approx(4.0)


def test_fit_recovers_slowdown_and_overhead_per_class():
    peak, bw = 100.0, 20.0
    truth = {"conv": (2.0, 0.01), "depthwise": (8.0, 0.02), "pointwise": (3.0, 0.0)}
    rows = []
    for cls, proto in (("conv", CONV), ("depthwise", DW), ("pointwise", PW)):
        a, c = truth[cls]
        for k in range(1, 6):
            macs, nbytes = 1e6 * k * k, 3e5 * k
            roof = max(*roofline_ms(macs, nbytes, peak, bw))
            rows.append({**proto, "macs": macs, "bytes_read": nbytes, "bytes_written": 0, "time_ms": a * roof + c})
    cal = fit_calibration(rows, peak, bw, runtime="onnxruntime")
    for cls, (a, c) in truth.items():
        assert cal.fits[cls].slowdown == pytest.approx(a, rel=1e-6)
        assert cal.fits[cls].overhead_ms == pytest.approx(c, abs=1e-9)
        assert cal.fits[cls].layers == 5 and cal.fits[cls].median_abs_error < 1e-6
    assert cal.fits["linear"].layers == 0  # no data: borrowed the median fit, and says so
    back = Calibration.from_dict(cal.to_dict())
    assert back.fits["depthwise"].slowdown == pytest.approx(8.0)


def test_prediction_scales_with_the_target_roof():
    cal = Calibration(fits={c: OpFit(2.0, 0.0) for c in ("conv", "depthwise", "pointwise", "linear", "elementwise")})
    layer = [{**CONV, "macs": 1e9, "bytes_read": 0, "bytes_written": 0}]
    slow = predict_layers(layer, 50, 10, cal)[0]["predicted_ms"]
    fast = predict_layers(layer, 500, 10, cal)[0]["predicted_ms"]
    assert slow == pytest.approx(40.0) and fast == pytest.approx(4.0)


def test_no_layer_is_predicted_faster_than_its_roof():
    """A calibration fitted on a CPU whose peak was underestimated (slowdown < 1)
    must not push a layer past the target unit's roofline bound."""
    fast = Calibration(fits={c: OpFit(slowdown=0.2, overhead_ms=0.0) for c in
                             ("conv", "depthwise", "pointwise", "linear", "elementwise")})
    rows = [{**CONV, "macs": 1e9, "bytes_read": 1e6, "bytes_written": 0},
            {**DW, "macs": 1e6, "bytes_read": 4e7, "bytes_written": 0}]
    out = predict_layers(rows, 100.0, 10.0, fast, fuse=False)
    for r in out:
        assert r["predicted_ms"] >= max(r["compute_ms"], r["memory_ms"]) - 1e-12
    assert out[0]["predicted_ms"] == pytest.approx(10.0)  # 1e9 MACs / 100 GMAC/s, not 2 ms


def test_predicted_records_use_the_runtime_unit_and_never_beat_its_peak(tmp_path):
    from edgecnn.devices.spec import load_device
    from edgecnn.profile.pipeline import ProfileOptions
    from edgecnn.profile.predicted import predict_records
    from edgecnn.records import Record, RecordStore

    store = RecordStore(tmp_path)
    # a validation of the predictor, as benchmarks/bench_predict.py writes it
    store.append(Record(kind="prediction_error", model="10 zoo models", runtime="onnxruntime", device="local",
                        metrics={"method": "leave one model out", "models": 10, "within_10_pct": 40.0,
                                 "within_25_pct": 80.0, "median_abs_error": 0.12, "p90_abs_error": 0.3,
                                 "spearman": 0.95, "compute_unit": "cpu"}))
    opts = ProfileOptions(runtimes=["onnxruntime", "tensorrt", "litert"])
    recs = predict_records(["resnet18", "mobilenet_v2"], load_device("jetson-orin-nano"), opts, store,
                           reason="requested with --predict")
    lat = [r for r in recs if r.kind == "latency"]
    assert {(r.runtime, r.metrics["compute_unit"]) for r in lat} == {
        ("onnxruntime", "cpu"), ("tensorrt", "gpu"), ("litert", "cpu")}
    for r in lat:
        m = r.metrics
        assert m["achieved_gmacs_per_s"] <= m["peak_gmacs_per_s"] + 1e-9
        assert all(row["predicted_ms"] >= max(row["compute_ms"], row["memory_ms"]) - 1e-12
                   for row in m["layers"] if not row["fused"])  # a fused BN/activation costs nothing extra
    cpu = next(r for r in lat if r.runtime == "onnxruntime" and r.model == "resnet18")
    gpu = next(r for r in lat if r.runtime == "tensorrt" and r.model == "resnet18")
    assert cpu.metrics["peak_gmacs_per_s"] == 72.0 and gpu.metrics["peak_gmacs_per_s"] == 640.0
    assert cpu.metrics["latency_ms_p50"] != gpu.metrics["latency_ms_p50"]  # TensorRT rows no longer equal ORT's
    assert gpu.metrics["calibration_device"] is None and "pure roofline" in gpu.metrics["calibration"]["note"]
    assert not gpu.metrics["error_band"]["validated"] and "pure roofline" in gpu.metrics["error_band"]["note"]
    # with a calibration of this runtime, the band is the latest validation's
    from edgecnn.predict.roofline import Calibration
    from edgecnn.predict.calibrate import error_band

    band = error_band(store, "onnxruntime", "cpu", Calibration(fits={}, runtime="onnxruntime"))
    assert band["validated"] and band["within_25_pct"] == 80.0 and band["median_abs_error"] == 0.12
    assert not error_band(store, "litert", "cpu", Calibration(fits={}, runtime="litert"))["validated"]

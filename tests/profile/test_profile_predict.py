"""The roofline predictor: op classes, fusion, the fit recovers known costs."""

from __future__ import annotations

import pytest

from edgecnn.devices.predict import (Calibration, OpFit, fit_calibration, fused_rows, op_class, predict_layers,
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

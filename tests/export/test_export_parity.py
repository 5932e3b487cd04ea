"""The parity verdict (no export): figures and tolerances per precision."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgecnn.export import PRECISIONS, TOLERANCES, compare_logits


def _logits(n: int = 200, classes: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 3, size=(n, classes)).astype(np.float32)


def test_identical_logits_pass_every_precision():
    ref = _logits()
    for precision in TOLERANCES:
        res = compare_logits(ref, ref.copy(), precision=precision)
        assert res.passed, res.failures
        m = res.metrics
        assert m["max_abs_diff"] == 0 and m["mean_abs_diff"] == 0
        assert m["cosine"] == pytest.approx(1.0) and m["top1_agreement"] == 100.0 and m["n_images"] == 200


def test_fp32_tolerance_is_1e_4_max_abs_diff_relative_to_the_logit_scale():
    ref = _logits() / 20  # largest |logit| below 1: the bound is 1e-4 itself
    assert np.abs(ref).max() < 1
    ok = compare_logits(ref, ref + 5e-5, precision="fp32")
    assert ok.passed and ok.metrics["max_abs_diff"] == pytest.approx(5e-5, rel=1e-2)
    assert ok.metrics["max_abs_diff_bound"] == pytest.approx(1e-4)
    bad = compare_logits(ref, ref + 3e-4, precision="fp32")
    assert not bad.passed
    assert any(f.startswith("max_abs_diff") and "<= 0.0001" in f for f in bad.failures)
    # logits ten times larger round ten times coarser: 3e-4 on logits of ~10 is rounding, 3e-3 is not
    big = ref * 200
    scale = float(np.abs(big).max())
    assert compare_logits(big, big + 3e-4, precision="fp32").passed
    far = compare_logits(big, big + 2e-4 * scale, precision="fp32")
    assert not far.passed and far.metrics["max_abs_diff_bound"] == pytest.approx(1e-4 * scale)


def test_int8_judged_by_agreement_and_cosine_with_accuracy_from_labels():
    ref = _logits()
    labels = ref.argmax(1).copy()
    labels[:20] = (labels[:20] + 1) % 10  # PyTorch is right on 90 % of the images
    noisy = ref + np.random.default_rng(1).normal(0, 0.05, ref.shape)
    res = compare_logits(ref, noisy, labels, precision="int8")
    assert res.passed, res.failures
    assert res.metrics["top1_reference"] == pytest.approx(90.0)
    assert res.metrics["top1_drop"] == pytest.approx(res.metrics["top1_reference"] - res.metrics["top1"])
    # a broken quantisation (scales wrong): logits unrelated to PyTorch's
    broken = compare_logits(ref, _logits(seed=7), labels, precision="int8")
    assert not broken.passed
    assert broken.metrics["top1_agreement"] < 30
    assert any("top1_agreement" in f for f in broken.failures) and any("cosine" in f for f in broken.failures)


def test_fp16_needs_near_perfect_agreement():
    ref = _logits()
    flipped = ref.copy()
    idx = np.arange(10)  # 5 % of the images change their top-1 class
    flipped[idx, ref[idx].argmin(1)] += 100
    res = compare_logits(ref, flipped, precision="fp16")
    assert not res.passed and res.metrics["top1_agreement"] == pytest.approx(95.0)


def test_degenerate_reference_logits_fail_even_when_equal():
    ref = _logits() * 1e-9  # random weights with untouched BatchNorm statistics
    res = compare_logits(ref, ref.copy(), precision="fp32")
    assert not res.passed and "degenerate" in res.failures[0]


def test_shape_mismatch_and_non_finite_outputs_fail_with_strict_json_metrics():
    ref = _logits()
    shape = compare_logits(ref, ref[:, :5], precision="fp32")
    assert not shape.passed and "output shape" in shape.failures[0]
    bad = ref.copy()
    bad[3, 2] = np.nan
    res = compare_logits(ref, bad, precision="fp32")
    assert not res.passed and any("non-finite" in f for f in res.failures)
    assert res.metrics["max_abs_diff"] is None
    json.dumps(res.metrics, allow_nan=False)  # records are strict JSON


def test_every_precision_has_a_documented_tolerance():
    assert set(TOLERANCES) == set(PRECISIONS.list())
    assert TOLERANCES["fp32"] == {"max_abs_diff": 1e-4}


def test_random_weights_judge_cosine_not_near_tie_flips():
    """A random network's top-1 is a near tie: agreement is reported, cosine decides."""
    from edgecnn.export.parity import RANDOM_WEIGHTS_CRITERIA

    ref = _logits() * 0.01 + 1.0  # near-tie logits around a shared offset
    got = ref + np.random.default_rng(2).normal(0, 0.01, ref.shape)
    strict = compare_logits(ref, got, precision="int8")
    assert not strict.passed and strict.metrics["top1_agreement"] < 90
    lenient = compare_logits(ref, got, precision="int8", criteria=RANDOM_WEIGHTS_CRITERIA)
    assert lenient.passed and lenient.metrics["judged_by"] == ["cosine"]
    assert lenient.metrics["top1_agreement"] == strict.metrics["top1_agreement"]  # still reported
    broken = compare_logits(ref, _logits(seed=9), precision="int8", criteria=RANDOM_WEIGHTS_CRITERIA)
    assert not broken.passed and any("cosine" in f for f in broken.failures)
    fp32 = compare_logits(ref, ref + 1e-3, precision="fp32", criteria=RANDOM_WEIGHTS_CRITERIA)
    assert not fp32.passed and fp32.metrics["judged_by"] == ["max_abs_diff"]

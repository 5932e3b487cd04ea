"""Predictions, accuracy noise and absent weights in ``select``, on records the
real commands wrote (tests/select/conftest.py): ``edgecnn profile --predict``
and ``edgecnn calibrate`` on this machine beside its measurements."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from edgecnn.records import RecordStore
from edgecnn.select import select
from edgecnn.select.rank import top1_margin, trust


def edgecnn(*args, env=None):
    """``edgecnn ARGS`` in a fresh interpreter, as the console script runs it."""
    return subprocess.run([sys.executable, "-m", "edgecnn.cli", *map(str, args)], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def with_predictions(select_records, tmp_path_factory):
    """A copy of the select records plus a calibration of this machine on
    lenet5 (measured there already) and predictions of the configurations
    that were measured."""
    root = tmp_path_factory.mktemp("with-predictions")
    prof = root / "profiles"
    shutil.copytree(select_records.profiles, prof)
    cal = edgecnn("calibrate", "--device", "local", "--models", "lenet5", "--runtimes", "onnxruntime,litert",
                  "--out", prof, "--export-dir", select_records.export, env=select_records.env)
    assert cal.returncode == 0, cal.stderr[-3000:]
    pred = edgecnn("profile", "--models", "lenet5", "--runtimes", "torch,onnxruntime,litert", "--predict",
                   "--out", prof, "--export-dir", select_records.export, "--no-report", "--no-layers",
                   "--no-separable", "--runs", "5", "--min-time", "0.1", "--warmup", "1", env=select_records.env)
    assert pred.returncode == 0, pred.stderr[-3000:]
    return prof, cal


def test_calibrate_writes_a_calibration_the_predictions_then_use(with_predictions):
    prof, cal = with_predictions
    cals = RecordStore(prof).load(kind="calibration", device="local")
    assert {r.runtime for r in cals} == {"onnxruntime", "litert"} and "calibration records written" in cal.stdout
    for r in cals:
        assert r.metrics["fitted_on"] == ["lenet5"] and r.metrics["measurements"] == 1
        (row,) = r.metrics["rows"]
        assert row["measured_ms"] > 0 and row["fitted_ms"] > 0
    preds = [r for r in RecordStore(prof).load(kind="latency", device="local") if r.source == "predicted"]
    by_rt = {r.runtime: r for r in preds}
    assert by_rt["onnxruntime"].metrics["calibrated_on"] == 1
    assert "calibration of local" in by_rt["onnxruntime"].metrics["params_source"]
    # torch was not calibrated: this machine's own measurements refit the prior instead (lenet5's, and on the
    # machine that measured benchmarks/data/ its zoo models too)
    torch_m = by_rt["torch"].metrics
    assert torch_m["calibrated_on"] >= 1 and "measured models of local" in torch_m["params_source"]
    assert "lenet5" in torch_m["latency_params"]["fitted_on"]


def test_a_prediction_never_outranks_a_measurement_of_the_same_configuration(with_predictions):
    prof, _ = with_predictions
    sel = select(prof, device="local", batch=1)
    predicted = [o for o in sel.options if o.source == "predicted"]
    assert predicted and all(o in sel.excluded for o in predicted)
    for o in predicted:
        (why,) = [r for r in o.reasons if r.code == "measured_twin"]
        assert "measured" in why.text
    assert all(o.source == "measured" for o in sel.ranked) and not sel.challengers


def test_accuracy_differences_inside_the_binomial_interval_are_ties(select_records):
    sel = select(select_records.profiles, device="local", rank_by="accuracy", batch=1, dataset="cifar10")
    best = sel.chosen
    assert best is not None
    same = [o for o in sel.ranked if trust(o) == trust(best) and o.top1 is not None]
    top = max(o.top1 for o in same)
    tied = [o for o in same if top - o.top1 <= top1_margin(max(same, key=lambda o: o.top1), o)]
    # the pick is the fastest of the options tied with the most accurate one, not the 0.x-point winner
    assert best in tied and best.rank_latency() == min(o.rank_latency() for o in tied)
    assert all(o.top1_images for o in same)  # every measured top-1 says how many images it counted
    margin = top1_margin(best, best)
    n = best.top1_images
    p = best.top1 / 100
    assert margin == pytest.approx(1.96 * (2 * p * (1 - p) / n) ** 0.5 * 100)


def test_weights_that_are_not_on_this_machine_are_named(select_records, tmp_path):
    prof = tmp_path / "profiles"
    shutil.copytree(select_records.profiles, prof)
    run = select_records.root / "run"
    sel_here = select(prof, device="local", rank_by="accuracy", dataset="cifar10")
    assert sel_here.chosen.weights_here is True and not any("not on this machine" in n for n in sel_here.notes)
    moved = tmp_path / "moved"
    shutil.move(str(run), moved)
    try:
        sel = select(prof, device="local", rank_by="accuracy", dataset="cifar10")
        assert sel.chosen.weights_here is False
        assert any(f"weights {sel.chosen.weights} are not on this machine" in n for n in sel.notes)
        assert sel.to_dict()["chosen"]["weights_on_this_machine"] is False
    finally:
        shutil.move(str(moved), run)

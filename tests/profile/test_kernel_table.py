"""The kernel table (edgecnn/predict/kernels.py) on per-layer times that the
real profile path writes: five small zoo models at 32x32 on ONNX Runtime, one
thread, isolated workers; then the leave-one-out choice between the table
and the op-class fit, predicted records, and bench_predict's table and
records on the same folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edgecnn.predict.kernels import MIN_MODELS, KernelTable, LayerTimes, kernel_table

REPO = Path(__file__).resolve().parents[2]
MODELS = ["mobilenet_v1_025", "mobilenet_v3_small", "shufflenet_v2_x0_5", "mnasnet0_5", "mobilenet_v2_050"]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """(records folder, the records): whole-model and per-layer times of MODELS, as `edgecnn profile` writes them."""
    from edgecnn.devices.spec import load_device
    from edgecnn.profile.pipeline import ProfileOptions, profile
    from edgecnn.records import RecordStore
    from edgecnn.runtime.timing import TimingConfig

    root = tmp_path_factory.mktemp("kernels")
    opts = ProfileOptions(runtimes=["onnxruntime"], input_size=32, threads=1, separable=False, layers=True,
                          layer_runs=3, export_dir=str(root / "export"), export_jobs=1,
                          timing=TimingConfig(warmup=2, warmup_s=0.0, runs=20, min_time_s=0.1, max_time_s=2.0))
    store = RecordStore(root / "profiles")
    profile(MODELS, load_device("local"), opts, store)
    return root / "profiles", store.load()


def _layers(records):
    from edgecnn.predict.dataset import layer_times

    by = layer_times(records)
    (s, models), = by.items()
    return s, models


def test_layer_times_pair_each_models_layers_with_its_whole_latency(measured):
    _, records = measured
    s, models = _layers(records)
    assert (s.device, s.runtime, s.config, s.unit) == ("local", "onnxruntime", "threads=1", "cpu")
    assert sorted(models) == sorted((m, 32) for m in MODELS)
    whole = {r.model: r.metric("latency_ms_p50") for r in records if r.kind == "latency"}
    for (name, _), lt in models.items():
        assert lt.model == name and lt.whole_ms == whole[name] and lt.peak_gmacs_per_s > 0 and lt.bandwidth_gb_per_s > 0
        assert any(r.get("time_ms") for r in lt.rows)


def test_each_model_is_predicted_from_the_others_kernels_within_a_factor_of_two(measured):
    """Leave one model out of the table: a broken join, a lost ratio or a
    wrong roof shows as a factor, not a few per cent."""
    from edgecnn.predict.dataset import cost_rows

    s, models = _layers(measured[1])
    for (name, _), lt in models.items():
        table = kernel_table(s.runtime, [v for (k, _), v in models.items() if k != name])
        assert table is not None and name not in table.models and len(table.models) == len(models) - 1
        ms, rows = table.predict_rows(cost_rows(name, 32))
        assert 0.5 < ms / lt.whole_ms < 2.0, (name, ms, lt.whole_ms)
        assert ms == pytest.approx(sum(r["predicted_ms"] for r in rows))


def test_fused_rows_and_untimed_ops_are_not_predicted(measured):
    from edgecnn.predict.dataset import cost_rows
    from edgecnn.predict.roofline import fused_rows

    s, models = _layers(measured[1])
    table = KernelTable(s.runtime, list(models.values()))
    assert table.timed_models == len(MODELS) and table.samples and 0.5 < table.ratio < 2.0
    # ONNX Runtime folds BatchNorm and activations into the convolution: the table never sees them timed
    assert "batch_norm" not in table.timed_ops
    rows = cost_rows("mobilenet_v2_050", 32)
    _, out = table.predict_rows(rows)
    for i in fused_rows(rows):
        assert out[i]["predicted_ms"] == 0.0 and out[i]["fused"]
    convs = [r for r in out if r["op_class"] in ("conv", "depthwise", "pointwise") and not r["fused"]]
    assert convs and all(r["predicted_ms"] > 0 for r in convs)
    assert table.describe()["models"] == sorted(MODELS) and table.describe()["method"] == "kernels"


def test_no_table_from_too_few_models_or_from_rows_without_macs(measured):
    s, models = _layers(measured[1])
    some = list(models.values())
    assert kernel_table(s.runtime, some[:MIN_MODELS - 1]) is None
    # a per-op profile that names ops but carries no MACs or bytes (benchmark_model over adb) joins nothing
    bare = [LayerTimes(lt.model, [{"name": r.get("name"), "type": r.get("type"), "time_ms": r.get("time_ms")}
                                  for r in lt.rows], lt.whole_ms, lt.peak_gmacs_per_s, lt.bandwidth_gb_per_s)
            for lt in some]
    assert kernel_table(s.runtime, bare) is None


def test_the_method_is_chosen_leave_one_out_and_needs_per_layer_times(measured):
    from edgecnn.predict.dataset import group, measurements
    from edgecnn.predict.latency_model import roofline_prior
    from edgecnn.predict.validate import choose_method, method_errors

    records = measured[1]
    s, layers = _layers(records)
    calib = group(measurements(records))[s]
    prior = roofline_prior("cpu")
    method, timed = choose_method(s, calib, prior, layers)
    err = method_errors(s, calib, prior, layers)
    assert timed and err["kernels"] is not None and err["classes"] is not None
    assert method == ("kernels" if err["kernels"] < err["classes"] else "classes")
    assert choose_method(s, calib, prior, {}) == ("classes", False)
    # three calibration models make a table, but not one per left-out model: the op-class fit is kept
    assert choose_method(s, calib[:3], prior, layers) == ("classes", True)


def _predict_v2_050(folder):
    from edgecnn.devices.spec import load_device
    from edgecnn.profile.pipeline import ProfileOptions
    from edgecnn.profile.predicted import predict_records
    from edgecnn.records import RecordStore

    opts = ProfileOptions(runtimes=["onnxruntime"], input_size=32, threads=1, predict=True)
    (rec,) = [r for r in predict_records(["mobilenet_v2_050"], load_device("local"), opts, RecordStore(folder),
                                         reason="test") if r.kind == "latency"]
    assert rec.source == "predicted" and rec.metrics["latency_ms_p50"] > 0
    return rec.metrics


def test_a_prediction_follows_the_devices_choice_and_leaves_its_own_layers_out(measured):
    from edgecnn.predict.calibrate import Knowledge, kernel_table_for

    folder, records = measured
    s, _ = _layers(records)
    # mobilenet_v2_050 is measured here too: its own per-layer times stay out of its prediction
    table, timed = kernel_table_for(Knowledge.with_reference(records), s, leave_out=("mobilenet_v2_050", 32))
    m = _predict_v2_050(folder)
    assert timed and m["prediction_method"] == ("kernels" if table is not None else "classes")


@pytest.mark.parametrize("method", ["kernels", "classes"])
def test_a_predicted_record_says_which_method_and_carries_the_band_of_its_kind(measured, monkeypatch, method):
    import edgecnn.predict.calibrate as cal

    monkeypatch.setattr(cal, "choose_method", lambda *a, **k: (method, True))
    m = _predict_v2_050(measured[0])
    assert m["prediction_method"] == method and m["calibrated_on"] >= 1
    if method == "kernels":
        others = sorted(set(MODELS) - {"mobilenet_v2_050"})
        assert m["calibrated_on"] == len(others) and m["latency_params"]["models"] == others
        assert "kernel table of local" in m["params_source"] and m["prior_devices"] == []
        assert sum(r["predicted_ms"] for r in m["layers"]) == pytest.approx(m["latency_ms_p50"])
    else:
        assert "slowdown" in m["latency_params"] and "kernel table" not in m["params_source"]
    # no validation of that kind in this folder: the band says so, naming the kind (per-layer times at hand)
    assert m["error_band"]["validated"] is False and "calibrated-layers" in m["error_band"]["note"]


def test_bench_predict_validates_with_and_without_the_layers(measured, tmp_path):
    folder, _ = measured
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_predict.py"), "--reuse", "--no-measured",
                          "--records", str(folder), "--k", "0,4", "--profiles", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "calibrated-layers" in res.stdout and "method" in res.stdout
    from edgecnn.records import RecordStore

    recs = {r.variant: r for r in RecordStore(tmp_path).load(kind="prediction_error") if r.runtime == "onnxruntime"}
    assert set(recs) == {"uncalibrated", "calibrated", "calibrated-layers"}
    layered = recs["calibrated-layers"].metrics
    assert layered["calibration_kind"] == "calibrated-layers" and "kernel table" in layered["method"]
    assert {row["method"] for row in layered["rows"]} <= {"kernels", "classes"}
    assert len(layered["rows"]) == len(MODELS)
    # with --no-kernels the same folder gives no layered kind
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_predict.py"), "--reuse", "--no-measured",
                          "--records", str(folder), "--k", "4", "--no-kernels", "--no-record"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0 and "calibrated-layers" not in res.stdout, res.stderr[-3000:]


def test_calibrate_refit_records_the_method_both_errors_and_a_prior_from_other_devices(measured, tmp_path):
    import shutil

    from edgecnn.profile.calibrate import refit
    from edgecnn.records import RecordStore

    folder, _ = measured
    shutil.copytree(folder, tmp_path / "profiles")
    store = RecordStore(tmp_path / "profiles")
    (rec,) = refit("local", ["onnxruntime"], store)
    m = rec.metrics
    assert m["layer_models"] == sorted(MODELS) and m["measurements"] == len(MODELS)
    err = m["leave_one_out_error"]
    assert err["kernels"] is not None and err["classes"] is not None
    assert m["prediction_method"] == ("kernels" if err["kernels"] < err["classes"] else "classes")
    # the prior is the other devices' (the checkout's reference records), never this configuration's own
    assert m["prior_devices"] and "local:threads=1" not in m["prior_devices"]
    (back,) = store.load(kind="calibration")
    assert back.metrics["leave_one_out_error"] == err

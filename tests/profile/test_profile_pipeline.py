"""The profile pipeline end to end with a fake runner of fixed latencies:
records, statistics, skip/force, failures kept as records."""

from __future__ import annotations

import numpy as np
import pytest

from edgecnn.devices.spec import load_device
from edgecnn.profile.pipeline import ProfileOptions, profile_local
from edgecnn.records import RecordStore
from edgecnn.runtime import RUNNERS
from edgecnn.runtime.timing import TimingConfig
from profile_fakes import CLOCK, FakeRunner

TIMING = TimingConfig(warmup=2, warmup_s=0, runs=10, min_time_s=0, max_time_s=1)


def _opts(**kw):
    base = dict(runtimes=["fake"], timing=TIMING, layers=False, separable=False, clock=CLOCK, isolate=False)
    base.update(kw)
    return ProfileOptions(**base)


def test_fake_runner_latencies_become_exact_records(tmp_path, fake_runtime):
    store = RecordStore(tmp_path / "profiles")
    written = profile_local(["lenet5"], load_device("local"), _opts(), store)
    lat = [r for r in written if r.kind == "latency"]
    assert len(lat) == 1 and lat[0].ok and lat[0].source == "measured" and lat[0].runtime == "fake"
    # call 0 checks the model runs, calls 1-2 warm up, then rounds of 3 until >= 10 samples: 12
    seq = FakeRunner.LATENCIES_MS
    expect = np.array([seq[i % len(seq)] for i in range(3, 15)])
    m = lat[0].metrics
    assert m["runs"] == 12 and m["warmup_runs"] == 2
    assert m["latency_ms_p50"] == pytest.approx(np.median(expect))
    assert m["latency_ms_p90"] == pytest.approx(np.percentile(expect, 90))
    assert m["latency_ms_p99"] == pytest.approx(np.percentile(expect, 99))
    assert m["latency_ms_mean"] == pytest.approx(expect.mean())
    assert m["latency_ms_std"] == pytest.approx(expect.std(ddof=1))
    assert m["latency_ms_min"] == pytest.approx(2.0)
    assert m["threads"] >= 1 and m["macs"] > 0
    assert m["achieved_gmacs_per_s"] == pytest.approx(m["macs"] / (m["latency_ms_p50"] * 1e6))
    # records are on disk where the report reads them, with a cost record beside them
    assert (tmp_path / "profiles" / "local" / "latency.jsonl").exists()
    assert store.load(kind="cost", model="lenet5")[0].metrics["macs"] == m["macs"]


def test_rerun_skips_measured_unless_forced(tmp_path, fake_runtime):
    store = RecordStore(tmp_path)
    profile_local(["lenet5"], load_device("local"), _opts(), store)
    calls = FakeRunner.calls
    again = profile_local(["lenet5"], load_device("local"), _opts(), store)
    assert again == [] and FakeRunner.calls == calls
    forced = profile_local(["lenet5"], load_device("local"), _opts(force=True), store)
    assert [r.kind for r in forced if r.kind == "latency"] == ["latency"] and FakeRunner.calls > calls
    assert len(store.load(kind="latency")) == 2


class _Broken(FakeRunner):
    name = "broken"

    def _infer(self, x):
        raise RuntimeError("op Foo not supported")


def test_failures_are_records_and_the_run_continues(tmp_path, fake_runtime, monkeypatch):
    monkeypatch.setitem(RUNNERS._items, "broken", _Broken)
    store = RecordStore(tmp_path)
    written = profile_local(["lenet5"], load_device("local"), _opts(runtimes=["broken", "tensorrt", "fake"]), store)
    by_rt = {r.runtime: r for r in written if r.kind == "latency"}
    assert by_rt["broken"].status == "failed" and "op Foo not supported" in by_rt["broken"].error
    assert by_rt["tensorrt"].status == "unsupported" and "tensorrt" in by_rt["tensorrt"].error
    assert by_rt["fake"].ok and by_rt["fake"].metrics["latency_ms_p50"] > 0


def test_separable_check_on_a_runtime_that_cannot_run_is_one_record_per_model():
    from edgecnn.cost import separable_pairs
    from edgecnn.models import create_model
    from edgecnn.profile.separable import Shape, separable_records

    pairs = separable_pairs(create_model("mobilenet_v1", input_size=32, num_classes=10), 32)
    assert len(pairs) == 13
    results = {("tensorrt", Shape(p.m, p.n, p.dk, p.df_in, p.stride).key):
               {"status": "unsupported", "error": "tensorrt does not import here"} for p in pairs}
    recs = separable_records("mobilenet_v1", pairs, results, ["tensorrt"], device="local")
    assert len(recs) == 1
    assert recs[0].status == "unsupported" and recs[0].variant == "all 13 blocks"
    assert recs[0].error == "tensorrt does not import here"


def test_profiling_a_model_with_a_published_top1_records_it_once_as_published(tmp_path, fake_runtime):
    store = RecordStore(tmp_path)
    profile_local(["mobilenet_v3_small"], load_device("local"), _opts(), store)
    profile_local(["mobilenet_v3_small"], load_device("local"), _opts(force=True), store)
    [acc] = store.load(kind="accuracy")
    assert acc.source == "published" and acc.metrics["top1"] == 67.668 and acc.dataset == "imagenet"
    # a CIFAR-sized run has no published figure: nothing is invented
    profile_local(["mobilenet_v3_small"], load_device("local"), _opts(input_size=32), store)
    assert len(store.load(kind="accuracy")) == 1


def test_torch_channels_last_is_its_own_measurement(tmp_path):
    store = RecordStore(tmp_path)
    plain = profile_local(["lenet5"], load_device("local"), _opts(runtimes=["torch"], clock=None), store)
    nhwc = profile_local(["lenet5"], load_device("local"), _opts(runtimes=["torch"], clock=None,
                                                                 channels_last=True), store)
    [a] = [r for r in plain if r.kind == "latency"]
    [b] = [r for r in nhwc if r.kind == "latency"]  # not skipped as "already measured"
    assert a.variant is None and b.variant == "channels_last"
    assert a.metrics["runner"]["channels_last"] is False and b.metrics["runner"]["channels_last"] is True
    assert a.ok and b.ok and b.metrics["latency_ms_p50"] > 0


def test_an_unreachable_device_without_peak_figures_says_both_why_not(tmp_path):
    from edgecnn.devices.spec import parse_device
    from edgecnn.errors import EdgeCNNError
    from edgecnn.profile.pipeline import predict_records

    board = parse_device({"name": "board", "connection": {"transport": "ssh", "host": "127.0.0.1"},
                          "runtimes": {"available": ["onnxruntime"]}})
    with pytest.raises(EdgeCNNError, match=r"^device 'board' is unreachable: refused; and it cannot be "
                                           r"predicted: .*no peak compute figure"):
        predict_records(["lenet5"], board, _opts(runtimes=["onnxruntime"]), RecordStore(tmp_path),
                        reason="device 'board' is unreachable: refused")
    assert not any(tmp_path.rglob("*.jsonl"))


def test_missing_artifacts_are_listed_before_anything_is_timed(tmp_path):
    """What `profile` makes up front (several at a time): each zoo model's missing files for the runtimes
    still to measure, the slow converters first; not what export/ holds, not torch, not what is measured."""
    from edgecnn.profile.local import _missing_artifacts
    from edgecnn.profile.records import template, with_metrics

    export = tmp_path / "export"
    export.mkdir()
    (export / "lenet5-32-fp32.onnx").write_bytes(b"already made")
    store = RecordStore(tmp_path / "profiles")
    opts = ProfileOptions(runtimes=["torch", "onnxruntime", "litert"], layers=False, separable=False,
                          input_size=32, export_dir=str(export))
    device = load_device("local")
    jobs = _missing_artifacts(["lenet5", "mobilenet_v3_small"], device, opts, store)
    assert jobs == [("lenet5", "tflite", 32, "fp32", 1, str(export)),
                    ("mobilenet_v3_small", "tflite", 32, "fp32", 1, str(export)),
                    ("mobilenet_v3_small", "onnx", 32, "fp32", 1, str(export))]
    # a measured (model, runtime) needs no artifact, unless --force
    store.append(with_metrics(template("latency", "mobilenet_v3_small", "litert", "local", opts, [3, 32, 32]),
                              {"latency_ms_p50": 1.0}))
    assert ("mobilenet_v3_small", "tflite", 32, "fp32", 1, str(export)) not in \
        _missing_artifacts(["lenet5", "mobilenet_v3_small"], device, opts, store)
    opts.force = True
    assert len(_missing_artifacts(["lenet5", "mobilenet_v3_small"], device, opts, store)) == 3
    # pretrained weights are exported from the module that holds them, in the model's own step
    opts.weights = "DEFAULT"
    assert _missing_artifacts(["mobilenet_v3_small"], device, opts, store) == []


def test_make_artifacts_reports_a_failed_export_and_goes_on(tmp_path):
    """A failed job is reported (the model's own step retries it and records export_failed); the others
    are made, by name, here and in a helper process."""
    from edgecnn.export.artifacts import make_artifacts

    import json

    from edgecnn.export.artifacts import LATENCY_BN_IMAGES

    seen = {}
    jobs = [("mobilenet_v3_small", "onnx", 32, "fp32", 1, str(tmp_path)),
            ("mobilenet_v3_small", "onnx", 32, "fp9", 1, str(tmp_path))]
    make_artifacts(jobs, 2, lambda job, seconds, error: seen.__setitem__(job[3], error))
    assert seen["fp32"] is None and (tmp_path / "mobilenet_v3_small-32-fp32.onnx").stat().st_size > 0
    assert seen["fp9"] and "fp9" in seen["fp9"]
    # random weights: BatchNorm statistics from a small real set (a latency artifact), and the sidecar says so
    meta = json.loads((tmp_path / "mobilenet_v3_small-32-fp32.onnx.json").read_text())
    assert meta["batchnorm_statistics"] == f"re-estimated on cifar10 train ({LATENCY_BN_IMAGES} images)"

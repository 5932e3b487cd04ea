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

"""Isolated timing: each runtime in a worker process of its own, rounds
alternating, memory measured where the runtime runs."""

from __future__ import annotations

import os

import pytest

from edgecnn.runtime.timing import TimingConfig
from edgecnn.runtime.workers import RuntimeWorker, WorkerError, interleave_workers, memory_figures


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    import torch
    from torch import nn

    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(8, 10)).eval()
    torch.onnx.export(net, (torch.randn(1, 3, 16, 16),), str(path), dynamo=False, opset_version=17)
    return path


def test_runtimes_are_timed_in_their_own_processes_and_alternate(tiny_onnx):
    workers = {name: RuntimeWorker("onnxruntime", {"threads": 1}).start() for name in ("a", "b")}
    try:
        infos = {k: w.request("load", artifact=str(tiny_onnx), batch=1, size=16) for k, w in workers.items()}
        cfg = TimingConfig(warmup=2, warmup_s=0.0, runs=20, min_time_s=0.2, max_time_s=2.0)
        slept = []
        stats = interleave_workers(workers, cfg, block_s=0.02, settle_s=0.001, sleep=slept.append)
        pids = {k: w.request("memory")["pid"] for k, w in workers.items()}
        raw = {k: w.request("memory") for k, w in workers.items()}
        mem = {k: memory_figures(infos[k], raw[k]) for k in workers}
    finally:
        for w in workers.values():
            w.close()
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    # alone in its process, ONNX Runtime keeps its own default spin after a run, as a plain program has it
    assert all(info["describe"]["force_spinning_stop"] is False for info in infos.values())
    for k, st in stats.items():
        assert st.runs >= 20 and 0 < st.median_ms < 50 and st.warmup_runs >= 2
        assert infos[k]["input_shape"] == [1, 3, 16, 16] and infos[k]["output_shape"] == [1, 10]
        # the peak (VmHWM) is never below what was resident before loading or after it, so no figure here
        # needs the clamp at 0: what loading and running added is the difference itself
        assert mem[k]["memory_added_mb"] == pytest.approx(raw[k]["peak_rss_mb"] - infos[k]["rss_before_mb"], abs=0.006)
        assert mem[k]["memory_peak_mb"] > mem[k]["memory_added_mb"] >= mem[k]["memory_load_mb"]
    # a settle pause after every block: the rounds alternated between the two processes
    assert len(slept) >= 2 * 2 and set(slept) == {0.001}


def test_a_runtime_that_cannot_load_fails_alone_with_its_error(tmp_path, tiny_onnx):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    w = RuntimeWorker("onnxruntime", {"threads": 1}).start()
    try:
        with pytest.raises(WorkerError, match="could not load") as err:
            w.request("load", artifact=str(bad), batch=1, size=16)
        assert err.value.kind == "RunnerLoadError"
        info = w.request("load", artifact=str(tiny_onnx), batch=1, size=16)  # the worker lives on
        assert info["output_shape"] == [1, 10]
    finally:
        w.close()


def test_a_dead_worker_is_an_error_not_a_hang(tiny_onnx):
    w = RuntimeWorker("onnxruntime", {"threads": 1}).start()
    w._proc.kill()
    w._proc.join(5)
    with pytest.raises(WorkerError, match="worker process died"):
        w.request("load", artifact=str(tiny_onnx), batch=1, size=16)
    w.close()


def test_onnxruntime_stops_its_spin_after_each_run_only_when_it_shares_its_process(tiny_onnx):
    from edgecnn.runtime.onnxruntime_runner import OnnxRuntimeRunner

    shared = OnnxRuntimeRunner(threads=1).load(str(tiny_onnx))
    alone = OnnxRuntimeRunner(threads=1, alone=True).load(str(tiny_onnx))
    try:
        assert shared.describe()["force_spinning_stop"] is True and alone.describe()["force_spinning_stop"] is False
        assert shared._sess.get_session_options().get_session_config_entry("session.force_spinning_stop") == "1"
        assert alone._sess.get_session_options().get_session_config_entry("session.force_spinning_stop") == "0"
    finally:
        shared.close()
        alone.close()

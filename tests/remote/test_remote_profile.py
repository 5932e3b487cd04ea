"""Remote profiling over a real OpenSSH server on 127.0.0.1 (the fixture's
"device" runs the runner with this repo's .venv Python)."""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from edgecnn.remote.profile import RemoteError, probe, profile_remote
from edgecnn.records import RecordStore

pytestmark = pytest.mark.ssh


def _local_latency_record(tmp_path, export_dir):
    """lenet5 / onnxruntime profiled on this machine by `edgecnn profile`'s pipeline."""
    pipeline = pytest.importorskip("edgecnn.profile.pipeline")
    from edgecnn.devices.spec import load_device
    from edgecnn.runtime.timing import TimingConfig

    opts = pipeline.ProfileOptions(runtimes=["onnxruntime"], threads=1, layers=False, separable=False,
                                   export_dir=str(export_dir),
                                   timing=TimingConfig(warmup=2, warmup_s=0, runs=10, min_time_s=0.05, max_time_s=2))
    recs = pipeline.profile(["lenet5"], load_device("local"), opts, RecordStore(tmp_path / "local-profiles"))
    [rec] = [r for r in recs if r.kind == "latency"]
    return rec


def _device_has_litert(spec) -> bool:
    py = spec["connection"]["python"]
    return subprocess.run([py, "-c", "import ai_edge_litert.interpreter"], capture_output=True).returncode == 0


def test_probe_finds_python_runtimes_and_state(sshd_server):
    res = probe(sshd_server.device_dict())
    assert res.reachable and res.error is None
    assert res.runtimes["onnxruntime"] and res.runtimes["litert"]
    assert res.runtimes["tensorrt"] is None and "tensorrt" in res.runtime_errors["tensorrt"]
    assert res.python and res.env["host"]
    assert "clocks_fixed" in res.state


def test_profile_lenet5_remotely_gives_the_same_kind_of_record(sshd_server, tmp_path, exporter, export_dir, fast_timing,
                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything written to ./profiles or ./export lands in tmp
    store = RecordStore(tmp_path / "profiles")
    spec = sshd_server.device_dict("fixture-box")
    can_tflite = exporter.__name__ == "default_exporter" and _device_has_litert(spec)  # else ONNX only
    runtimes = ["onnxruntime", "litert"] if can_tflite else ["onnxruntime"]
    recs = profile_remote(spec, ["lenet5"], runtimes, store=store, timing=fast_timing, exporter=exporter,
                          export_dir=export_dir, threads=1)
    assert [x.runtime for x in recs] == runtimes
    r = recs[0]
    assert (r.kind, r.status, r.source, r.device, r.runtime, r.format) == (
        "latency", "ok", "measured", "fixture-box", "onnxruntime", "onnx")
    assert r.input_shape == [3, 32, 32] and r.batch == 1 and r.error is None
    local = _local_latency_record(tmp_path, export_dir)
    assert local.ok, local.error
    assert (local.kind, local.source, local.format, local.input_shape) == (r.kind, r.source, r.format, r.input_shape)
    only_local = set(local.metrics) - set(r.metrics) - {"interleaved_with"}  # one runtime remote: no interleaving
    assert not only_local, f"metrics local profiling writes but remote does not: {sorted(only_local)}"
    assert r.metrics["macs"] == local.metrics["macs"] > 0 and r.metrics["achieved_gmacs_per_s"] > 0
    # the runner is described as locally (runtime, threads, providers, ...), plus how it ran
    assert set(local.metrics["runner"]) <= set(r.metrics["runner"]) and r.metrics["runner"]["via"] == "device_runner.py"
    assert r.metrics["threads"] == r.metrics["runner"]["threads"] == local.metrics["threads"] == 1
    assert r.metrics["runner"]["providers"] == local.metrics["runner"]["providers"]
    # alone in its process on the device as in a local worker: ONNX Runtime's own spin default
    assert r.metrics["runner"]["force_spinning_stop"] is local.metrics["runner"]["force_spinning_stop"] is False
    for rec in recs[1:]:  # LiteRT on the "device": a real version, not the package name
        assert (rec.status, rec.format) == ("ok", "tflite"), rec.error
        assert re.match(r"^\d+\.\d+", rec.metrics["runtime_version"]) and rec.metrics["latency_ms_p50"] > 0
    assert 0 < r.metrics["latency_ms_p50"] < 1000 and r.metrics["runs"] >= 10
    assert r.env["transport"] == "ssh" and r.env["versions"]["onnxruntime"]
    assert "device_state" in r.env
    # stored under the device's name, and a rerun skips it
    stored = store.load(kind="latency", device="fixture-box")
    assert [s.status for s in stored] == ["ok"] * len(runtimes)
    assert profile_remote(spec, ["lenet5"], runtimes, store=store, timing=fast_timing, exporter=exporter,
                          export_dir=export_dir) == []


def test_unreachable_port_is_a_clear_error_within_the_timeout(sshd_server, closed_port, tmp_path, exporter, export_dir):
    store = RecordStore(tmp_path / "profiles")
    spec = sshd_server.device_dict("gone-box", port=closed_port, connect_timeout_s=3, retries=1)
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match=r"gone-box.*unreachable.*Connection refused"):
        profile_remote(spec, ["lenet5"], ["onnxruntime"], store=store, exporter=exporter, export_dir=export_dir)
    assert time.monotonic() - t0 < 10
    [rec] = store.load(device="gone-box")
    assert rec.status == "unreachable" and "Connection refused" in rec.error


def test_missing_runtime_is_an_unsupported_record_not_a_crash(sshd_server, tmp_path, exporter, export_dir, fast_timing):
    store = RecordStore(tmp_path / "profiles")
    spec = sshd_server.device_dict("fixture-box", runtimes=("onnxruntime", "tensorrt"))
    recs = profile_remote(spec, ["lenet5"], ["onnxruntime", "tensorrt", "litert"], store=store, timing=fast_timing,
                          exporter=exporter, export_dir=export_dir)
    by_rt = {r.runtime: r for r in recs}
    assert by_rt["onnxruntime"].status == "ok"
    # no --threads: edgecnn's default on the device (its cores, at most 4), recorded
    assert by_rt["onnxruntime"].metrics["threads"] == max(1, min(4, len(os.sched_getaffinity(0))))
    assert by_rt["tensorrt"].status == "unsupported"
    assert "tensorrt" in by_rt["tensorrt"].error and "missing on device 'fixture-box'" in by_rt["tensorrt"].error
    assert by_rt["litert"].status == "unsupported" and "does not list runtime 'litert'" in by_rt["litert"].error
    # nothing measurable at all: a clear error (non-zero exit in the CLI)
    with pytest.raises(RemoteError, match="missing on device"):
        profile_remote(spec, ["lenet5"], ["tensorrt"], store=store, exporter=exporter, export_dir=export_dir)


def test_python_without_numpy_is_a_clear_error(sshd_server, tmp_path, exporter, export_dir):
    import shutil

    py = shutil.which("python3", path="/usr/bin:/bin")
    if py is None:
        pytest.skip("no system python3")
    import subprocess

    if subprocess.run([py, "-c", "import numpy"], capture_output=True).returncode == 0:
        pytest.skip("the system python3 has numpy")
    spec = sshd_server.device_dict("fixture-box", python=py)
    with pytest.raises(RemoteError, match="numpy is not installed"):
        profile_remote(spec, ["lenet5"], ["onnxruntime"], store=RecordStore(tmp_path / "p"), exporter=exporter,
                       export_dir=export_dir)


def test_dropped_connection_keeps_finished_records_and_rerun_resumes(sshd_server, tmp_path, exporter, export_dir, fast_timing):
    store = RecordStore(tmp_path / "profiles")
    spec = sshd_server.device_dict("fixture-box", connect_timeout_s=3, retries=1, retry_backoff_s=0.1)
    models = ["lenet5", "mobilenet_v1_025"]

    def drop_before_second(msg: str) -> None:
        if msg.startswith("mobilenet_v1_025") and "exporting" in msg:
            sshd_server.stop()  # the whole sshd process group: listener and sessions

    recs = profile_remote(spec, models, ["onnxruntime"], input_size=32, store=store, timing=fast_timing,
                          exporter=exporter, export_dir=export_dir, progress=drop_before_second)
    assert [(r.model, r.status) for r in recs] == [("lenet5", "ok"), ("mobilenet_v1_025", "unreachable")]
    assert "kept" in recs[1].error and "rerun" in recs[1].error
    sshd_server.restart()
    again = profile_remote(spec, models, ["onnxruntime"], input_size=32, store=store, timing=fast_timing,
                           exporter=exporter, export_dir=export_dir)
    assert [(r.model, r.status) for r in again] == [("mobilenet_v1_025", "ok")]
    latest = store.latest(kind="latency", device="fixture-box")
    assert sorted(r.model for r in latest.values() if r.ok) == models

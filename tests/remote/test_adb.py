"""The adb path without a phone: LiteRT benchmark_model output parsing on
recorded-format outputs (tests/remote/data, see its README for sources) and
command construction through a fake ``adb`` on PATH that logs its argv."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgecnn.remote.adb_benchmark import benchmark_command, parse_benchmark_output
from edgecnn.remote.profile import RemoteError, profile_remote
from edgecnn.remote.transports import AdbTransport, UnreachableError, make_transport
from edgecnn.records import RecordStore
from adb_helpers import PHONE, install_fake_adb, tflite_exporter

DATA = Path(__file__).parent / "data"


def test_parse_xnnpack_output_with_op_profile():
    out = parse_benchmark_output((DATA / "benchmark_model_xnnpack_mobilenet_v2.txt").read_text())
    m = out.metrics()
    # "count=106 first=5874 curr=5733 min=5418 max=7205 avg=5706.3 std=297" (us)
    assert m["latency_ms_mean"] == pytest.approx(5.7063)
    assert (m["latency_ms_min"], m["latency_ms_max"], m["latency_ms_std"]) == pytest.approx((5.418, 7.205, 0.297))
    assert m["runs"] == 106 and m["warmup_runs"] == 51
    assert m["init_ms"] == pytest.approx(41.274) and m["first_inference_ms"] == pytest.approx(14.927)
    assert m["memory_added_mb"] == pytest.approx(45.2109) and m["memory_peak_mb"] == pytest.approx(52.6484)
    assert "latency_ms_p50" not in m, "benchmark_model prints no median; none is invented"
    assert any("XNNPACK" in d for d in m["delegates"])
    # the Run Order table, not the init table nor the Top-by-time repeat
    assert len(out.ops) == 64
    first = out.ops[0]
    assert first["type"] == "Convolution (NHWC, F32) IGEMM" and first["node_index"] == 0
    assert first["time_ms"] == pytest.approx(0.412) and first["percent"] == pytest.approx(7.427)
    assert sum(o["time_ms"] for o in out.ops) == pytest.approx(5.547, abs=0.01)
    types = {t["type"]: t for t in out.op_types}
    assert types["Convolution (NHWC, F32) DWConv"]["count"] == 17
    assert sum(t["percent"] for t in out.op_types) == pytest.approx(100, abs=0.05)


def test_parse_legacy_tab_separated_output():
    out = parse_benchmark_output((DATA / "benchmark_model_legacy_lenet5.txt").read_text())
    assert out.inference["mean_ms"] == pytest.approx(0.12593) and out.inference["count"] == 7901
    assert out.warmup["count"] == 3874
    assert out.peak_memory_mb == pytest.approx(2.05078)
    assert [o["type"] for o in out.ops] == ["CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "RESHAPE",
                                                 "FULLY_CONNECTED", "FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert out.ops[2]["name"] == "[lenet5/conv2/Conv2D;lenet5/relu2]" and out.ops[2]["time_ms"] == pytest.approx(0.038)
    assert {t["type"]: t["count"] for t in out.op_types} == {"CONV_2D": 2, "FULLY_CONNECTED": 3,
                                                                   "MAX_POOL_2D": 2, "RESHAPE": 1}


def test_failed_run_is_a_clear_error():
    with pytest.raises(ValueError, match="no inference timings: ERROR: Could not open"):
        parse_benchmark_output((DATA / "benchmark_model_failed.txt").read_text())


def test_benchmark_command_line():
    cmd = benchmark_command("/data/local/tmp/edgecnn/benchmark_model", "/data/local/tmp/edgecnn/m.tflite",
                            num_threads=4, num_runs=100, warmup_runs=20)
    assert cmd == ("/data/local/tmp/edgecnn/benchmark_model --graph=/data/local/tmp/edgecnn/m.tflite "
                   "--num_threads=4 --num_runs=100 --warmup_runs=20 --enable_op_profiling=true 2>&1")


@pytest.fixture
def fake_adb(tmp_path, monkeypatch):
    return install_fake_adb(tmp_path, monkeypatch)


_tflite = tflite_exporter


def test_profile_over_fake_adb_builds_commands_and_parses_records(fake_adb, tmp_path):
    store = RecordStore(tmp_path / "profiles")
    msgs = []
    recs = profile_remote(PHONE, ["mobilenet_v2"], ["litert", "onnxruntime"], store=store, threads=4,
                          timing={"runs": 100, "warmup": 20}, exporter=_tflite(tmp_path), progress=msgs.append)
    by = {(r.kind, r.runtime): r for r in recs}
    lat = by[("latency", "litert")]
    assert (lat.status, lat.device, lat.format, lat.source) == ("ok", "pixel-7", "tflite", "measured")
    assert lat.metrics["latency_ms_mean"] == pytest.approx(5.7063) and lat.metrics["runs"] == 106
    assert lat.env["transport"] == "adb" and lat.env["model"] == "Pixel 7"
    assert lat.env["device_state"]["clocks_fixed"] is False
    assert any("clocks are not fixed" in m for m in msgs)
    layers = by[("layer_latency", "litert")]
    assert len(layers.metrics["layers"]) == 64 and layers.metrics["layers"][0]["time_ms"] == pytest.approx(0.412)
    assert by[("latency", "onnxruntime")].status == "unsupported"
    calls = fake_adb()
    assert all(c[:2] == ["-s", "28031FDH2000QX"] for c in calls)
    pushes = [c[2:] for c in calls if c[2] == "push"]
    assert pushes == [["push", str(tmp_path / "mobilenet_v2-224-fp32.tflite"),
                       "/data/local/tmp/edgecnn/artifacts/mobilenet_v2-224-fp32.tflite"]]
    bench = [c[3] for c in calls if c[2] == "shell" and "--graph" in c[3]]
    assert len(bench) == 1
    assert ("/data/local/tmp/edgecnn/benchmark_model --graph=/data/local/tmp/edgecnn/artifacts/"
            "mobilenet_v2-224-fp32.tflite --num_threads=4 --num_runs=100 --warmup_runs=20 "
            "--enable_op_profiling=true") in bench[0]
    assert len(store.load(device="pixel-7")) == 3


def test_benchmark_model_gets_edgecnn_timing_and_default_threads(fake_adb, tmp_path):
    """The pipeline's timing options (minimum runs and seconds, warm-up, cap)
    reach benchmark_model; threads default to the phone's cores, at most 4;
    the run is guarded by the phone's own `timeout`."""
    timing = {"warmup": 5, "warmup_s": 0.2, "runs": 20, "min_time_s": 1.0, "max_time_s": 10.0}
    [lat, _] = profile_remote(PHONE, ["mobilenet_v2"], ["litert"], store=RecordStore(tmp_path / "p"),
                              exporter=_tflite(tmp_path), timing=timing)
    [bench] = [c[3] for c in fake_adb() if c[2] == "shell" and "--graph" in c[3]]
    for flag in ("--num_threads=4", "--num_runs=20", "--min_secs=1", "--max_secs=10", "--warmup_runs=5",
                 "--warmup_min_secs=0.2"):
        assert flag in bench
    assert "exec timeout -k 5 600 sh -c" in bench
    assert lat.metrics["threads"] == 4 and lat.env["cpu_count"] == 8


def test_no_phone_is_a_clear_unreachable_error(fake_adb, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_MODE", "nodevice")
    with pytest.raises(UnreachableError, match="device '28031FDH2000QX' not found"):
        make_transport(PHONE).run("true")
    with pytest.raises(RemoteError, match="unreachable: error: device '28031FDH2000QX' not found"):
        profile_remote(PHONE, ["mobilenet_v2"], ["litert"], store=RecordStore(tmp_path / "p"),
                       exporter=_tflite(tmp_path))


def test_adb_argv_without_serial():
    assert AdbTransport("phone").base_argv() == ["adb"]
    assert AdbTransport("phone", serial="abc").base_argv() == ["adb", "-s", "abc"]

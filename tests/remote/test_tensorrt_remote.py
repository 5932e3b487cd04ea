"""TensorRT on a device without a GPU here: the engine is built by the
device's ``trtexec`` and cached by (model, precision, device, TensorRT
version). The "device" is this machine through the local transport with a
fake ``trtexec`` on PATH that logs its argv, writes the engine and timing
cache files, and prints a recorded-format performance summary. The real
TensorRT Python path needs a GPU and is not exercised here."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from edgecnn.remote.profile import parse_trtexec_timing, parse_trtexec_version, profile_remote
from edgecnn.records import RecordStore

DATA = Path(__file__).parent / "data"

FAKE_TRTEXEC = r'''#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_TRTEXEC_LOG"], "a") as fh:
    fh.write(json.dumps(args) + "\n")
print("&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec " + " ".join(args))
opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
if "saveEngine" in opts:
    open(opts["saveEngine"], "wb").write(b"engine built from " + open(opts["onnx"], "rb").read()[:16])
    open(opts["timingCacheFile"], "wb").write(b"timing cache")
    print("&&&& PASSED TensorRT.trtexec [TensorRT v100300]")
elif "loadEngine" in opts:
    sys.stdout.write(open(os.environ["FAKE_TRTEXEC_OUTPUT"]).read())
'''


def test_parse_trtexec_summary():
    m = parse_trtexec_timing((DATA / "trtexec_timing_orin.txt").read_text())
    # the headline is the device time (GPU Compute Time); the copies and trtexec's host latency beside it
    assert m["latency_ms_p50"] == pytest.approx(0.149414) and m["latency_ms_p90"] == pytest.approx(0.156738)
    assert m["latency_ms_p99"] == pytest.approx(0.219727) and m["latency_ms_min"] == pytest.approx(0.144385)
    assert m["latency_measure"] == "device_compute" and m["includes_host_copies"] is False
    assert m["end_to_end_ms_p50"] == pytest.approx(0.205566) and m["end_to_end_ms_p90"] == pytest.approx(0.214355)
    assert m["h2d_ms_p50"] == pytest.approx(0.013916) and m["d2h_ms_p50"] == pytest.approx(0.0419922)
    assert m["throughput_qps"] == pytest.approx(4709.13) and m["timing_method"] == "trtexec"
    with pytest.raises(ValueError, match="no performance summary"):
        parse_trtexec_timing("&&&& FAILED TensorRT.trtexec [TensorRT v100300]")


def test_trtexec_version_strings():
    assert parse_trtexec_version("&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec") == "10.3.0"
    assert parse_trtexec_version("&&&& RUNNING TensorRT.trtexec [TensorRT v8602] # trtexec") == "8.6.2"
    assert parse_trtexec_version("[I] TensorRT version: 8.5.2") == "8.5.2"


def test_engine_built_on_device_cached_and_reused(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "trtexec"
    exe.write_text(FAKE_TRTEXEC.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "trtexec.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TRTEXEC_LOG", str(log))
    monkeypatch.setenv("FAKE_TRTEXEC_OUTPUT", str(DATA / "trtexec_timing_orin.txt"))
    monkeypatch.setenv("EDGECNN_ENGINE_CACHE", str(tmp_path / "engines"))
    spec = {"name": "fake-jetson", "connection": {"transport": "local", "workdir": str(tmp_path / "device"),
                                                   "python": sys.executable},
            "runtimes": {"available": ["tensorrt"]}}
    store = RecordStore(tmp_path / "profiles")
    kw = dict(precision="fp16", store=store, export_dir=tmp_path / "export", timing={"runs": 50, "min_time_s": 1})
    [rec] = profile_remote(spec, ["lenet5"], ["tensorrt"], **kw)
    assert (rec.status, rec.device, rec.runtime, rec.format) == ("ok", "fake-jetson", "tensorrt", "tensorrt")
    assert rec.metrics["latency_ms_p50"] == pytest.approx(0.149414) and rec.metrics["runtime_version"] == "10.3.0"
    assert rec.metrics["latency_measure"] == "device_compute" and rec.metrics["end_to_end_ms_p50"] == \
        pytest.approx(0.205566)
    assert "tensorrt Python package is not importable" in rec.metrics["timing_note"]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    builds = [c for c in calls if any(a.startswith("--saveEngine=") for a in c)]
    assert len(builds) == 1
    b = builds[0]
    assert b[0].startswith("--onnx=") and b[0].endswith("-trt.onnx")
    assert "--fp16" in b and "--skipInference" in b and any(a.startswith("--timingCacheFile=") for a in b)
    engines = sorted((tmp_path / "engines" / "fake-jetson").iterdir())
    names = [p.name for p in engines]
    assert len(names) == 2 and names[0].startswith("lenet5-fp16-b1-trt10.3.0-")
    assert {p.suffix for p in engines} == {".engine", ".cache"}
    assert engines[0].read_bytes().startswith(b"engine built from")
    # a rerun (forced) reuses the cached engine: no second build on the device
    [again] = profile_remote(spec, ["lenet5"], ["tensorrt"], force=True, **kw)
    assert again.status == "ok"
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len([c for c in calls if any(a.startswith("--saveEngine=") for a in c)]) == 1
    assert any(a.startswith("--loadEngine=") for a in calls[-1])

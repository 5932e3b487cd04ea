"""Devices as data: the TOML files, name resolution, local detection."""

from __future__ import annotations

import pytest

from edgecnn.devices import list_devices, load_device
from edgecnn.devices.spec import parse_device, resolve_device_name
from edgecnn.errors import CorruptFileError
from edgecnn.registry import UnknownNameError

REQUIRED = ["local", "desktop-gpu", "jetson-nano", "jetson-orin-nano", "jetson-agx-orin", "raspberry-pi-5", "pixel-7"]


@pytest.mark.parametrize("name", REQUIRED)
def test_every_required_device_loads_with_cited_peaks_per_unit(name):
    spec = load_device(name)
    assert spec.name == name and spec.runtimes and spec.units
    for unit in spec.units.values():
        assert unit.peak("fp32")[0] > 0 and unit.memory_bandwidth_gb_per_s > 0
        assert unit.sources, f"{name} {unit.name} cites no source"
        assert set(unit.kind.values()) <= {"vendor", "derived", "measured"}
        # a derived figure shows its arithmetic
        assert all(unit.how.get(fig) for fig, kind in unit.kind.items() if kind == "derived")
    if name != "local":
        assert spec.transport in ("ssh", "adb")
        assert all(src.startswith("https://") for src in spec.sources)
        assert not any("brojogopalsapui" in src for src in spec.sources)  # vendor sources, no personal blogs
        assert "measured" not in {k for u in spec.units.values() for k in u.kind.values()}
    for rt in spec.runtimes:  # every runtime the file lists runs on a unit the file has figures for
        if rt != "tensorrt" or "gpu" in spec.units:
            assert spec.unit_of(rt) in spec.units, (name, rt)


def test_runtimes_run_on_their_declared_units():
    orin = load_device("jetson-orin-nano")
    assert orin.unit_of("onnxruntime") == "cpu" and orin.unit_of("litert") == "cpu"
    assert orin.unit_of("tensorrt") == "gpu"
    assert orin.peak("fp32", "cpu")[0] == pytest.approx(6 * 1.5 * 8)  # the CPU's peak, not the GPU's 640
    assert load_device("desktop-gpu").unit_of("onnxruntime") == "gpu"  # its [runtimes.units] says so
    assert load_device("local").unit_of("torch", accel="cuda") == "gpu"


def test_local_is_detected_and_says_how():
    spec = load_device("local")
    cpu = spec.unit("cpu")
    assert spec.is_local and spec.detected["cores"] >= 1 and spec.detected["cpu"]
    assert cpu.kind["memory_bandwidth"] == "measured"
    assert cpu.kind["fp32"] in ("derived", "measured") and cpu.how["fp32"]
    assert spec.detected["measured"]["sgemm_gmacs_per_s"] > 0


def test_vendor_figures_relate_as_documented():
    # precision ladders and derived figures from the files' `how`
    pi = load_device("raspberry-pi-5").unit("cpu")
    assert pi.peak_gmacs_per_s["fp32"] == pytest.approx(4 * 2.4 * 8)
    assert pi.memory_bandwidth_gb_per_s == pytest.approx(4.267 * 4, rel=0.01)
    nano = load_device("jetson-nano").unit("gpu")
    assert "int8" not in nano.peak_gmacs_per_s and nano.peak("int8") == (236.0, "fp16")


def test_name_resolution_exact_alias_prefix_ambiguous_unknown():
    assert resolve_device_name("pixel-7") == "pixel-7"
    assert resolve_device_name("jetson") == "jetson-orin-nano"  # alias declared in its TOML
    assert resolve_device_name("jetson-agx") == "jetson-agx-orin"  # unique prefix
    with pytest.raises(UnknownNameError, match="ambiguous: jetson-agx-orin, jetson-nano, jetson-orin-nano"):
        resolve_device_name("jets")
    with pytest.raises(UnknownNameError, match="did you mean: raspberry-pi-5"):
        resolve_device_name("raspbery-pi-5")
    assert set(REQUIRED) <= set(list_devices())


def test_user_device_folder_comes_first(tmp_path, monkeypatch):
    (tmp_path / "my-board.toml").write_text('name = "my-board"\n[connection]\ntransport = "ssh"\nhost = "b"\n'
                                            '[peak.cpu]\nfp32_gmacs_per_s = { value = 10.0, kind = "vendor" }\n'
                                            'memory_bandwidth_gb_per_s = { value = 4.0, kind = "vendor" }\n')
    monkeypatch.setenv("EDGECNN_DEVICES", str(tmp_path))
    spec = load_device("my-board")
    assert spec.peak("int8") == (10.0, "fp32") and spec.connection["host"] == "b"


@pytest.mark.parametrize("data, msg", [
    ({"connection": {}}, "missing `name`"),
    ({"name": "x", "connection": {"transport": "telnet"}}, "transport 'telnet'"),
    ({"name": "x", "peak": {"cpu": {"fp32_gmacs_per_s": {"value": -1, "kind": "vendor"}}}}, "positive number"),
    ({"name": "x", "peak": {"cpu": {"fp32_gmacs_per_s": {"value": 9, "kind": "blog"}}}}, "kind must be one of"),
    ({"name": "x", "peak": {"cpu": {"fp32_gmacs_per_s": {"value": 9, "kind": "derived"}}}}, "write the arithmetic"),
    ({"name": "x", "peak": {"fp32_gmacs_per_s": 9}}, r"belong to a compute unit: \[peak.cpu\]"),
    ({"name": "x", "runtimes": {"available": "onnxruntime"}}, "list of names"),
    ({"name": "x", "runtimes": {"available": [], "units": {"litert": "dsp"}}}, "runtimes.units"),
])
def test_bad_device_files_name_the_field(data, msg):
    with pytest.raises(CorruptFileError, match=msg):
        parse_device(data, "devices/x.toml")

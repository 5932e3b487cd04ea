"""Devices as data: the TOML files, name resolution, local detection."""

from __future__ import annotations

import pytest

from edgecnn.devices import list_devices, load_device
from edgecnn.devices.spec import parse_device, resolve_device_name
from edgecnn.errors import CorruptFileError
from edgecnn.registry import UnknownNameError

REQUIRED = ["local", "desktop-gpu", "jetson-nano", "jetson-orin-nano", "jetson-agx-orin", "raspberry-pi-5", "pixel-7"]


@pytest.mark.parametrize("name", REQUIRED)
def test_every_required_device_loads_with_cited_peaks(name):
    spec = load_device(name)
    assert spec.name == name and spec.runtimes
    assert spec.peak("fp32")[0] > 0 and spec.memory_bandwidth_gb_per_s > 0
    assert spec.sources, f"{name} cites no source"
    if name != "local":
        assert spec.transport in ("ssh", "adb")
        assert all(spec.peak_kind[k] == "vendor" for k in spec.peak_kind)
        assert all(s.startswith("https://") for s in spec.sources)


def test_local_is_detected_and_says_how():
    spec = load_device("local")
    assert spec.is_local and spec.detected["cores"] >= 1 and spec.detected["cpu"]
    assert spec.peak_kind["memory_bandwidth_gb_per_s"] == "measured"
    assert spec.peak_kind["fp32_gmacs_per_s"] in ("estimated", "measured")
    assert spec.detected["measured"]["sgemm_gmacs_per_s"] > 0


def test_vendor_figures_relate_as_documented():
    # precision ladders and derived figures from the files' comments
    pi = load_device("raspberry-pi-5")
    assert pi.peak_gmacs_per_s["fp32"] == pytest.approx(4 * 2.4 * 8)
    assert pi.memory_bandwidth_gb_per_s == pytest.approx(4.267 * 4, rel=0.01)
    nano = load_device("jetson-nano")
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
                                            '[peak]\nfp32_gmacs_per_s = 10.0\nmemory_bandwidth_gb_per_s = 4.0\n')
    monkeypatch.setenv("EDGECNN_DEVICES", str(tmp_path))
    spec = load_device("my-board")
    assert spec.peak("int8") == (10.0, "fp32") and spec.connection["host"] == "b"


@pytest.mark.parametrize("data, msg", [
    ({"connection": {}}, "missing `name`"),
    ({"name": "x", "connection": {"transport": "telnet"}}, "transport 'telnet'"),
    ({"name": "x", "peak": {"fp32_gmacs_per_s": -1}}, "positive number"),
    ({"name": "x", "runtimes": {"available": "onnxruntime"}}, "list of names"),
])
def test_bad_device_files_name_the_field(data, msg):
    with pytest.raises(CorruptFileError, match=msg):
        parse_device(data, "devices/x.toml")

"""`edgecnn devices` and `edgecnn devices --check NAME` against the throw-away sshd.
Only devices written into a tmp folder are probed (all on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.ssh


def test_check_reports_python_runtimes_and_state(sshd_server, tmp_path, cli):
    sshd_server.device_toml(tmp_path / "devices", "fixture-box")
    res = cli("devices", "--devices-dir", str(tmp_path / "devices"), "--check", "fixture-box", "--json", timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["reachable"] is True and out["device"] == "fixture-box" and out["transport"] == "ssh"
    assert out["runtimes"]["onnxruntime"] and out["runtimes"]["litert"] and out["missing_runtimes"] == []
    assert out["python"] and "clocks_fixed" in out["state"]
    table = cli("devices", "--devices-dir", str(tmp_path / "devices"), "--check", "fixture-box", timeout=120)
    assert table.returncode == 0 and "reachable: yes" in table.stdout and "onnxruntime" in table.stdout


def test_check_fails_when_no_listed_runtime_is_installed(sshd_server, tmp_path, cli):
    """A device Python with numpy but none of the runtimes: each missing one is
    named, and the check fails with one error line (nothing could run there)."""
    block = tmp_path / "block"
    for mod in ("onnxruntime", "ai_edge_litert", "tflite_runtime"):
        (block / mod).mkdir(parents=True)
        (block / mod / "__init__.py").write_text(f"raise ImportError('{mod} is not installed on this device')\n")
    py = tmp_path / "python-without-runtimes"
    py.write_text(f"#!/bin/sh\nPYTHONPATH={block} exec {sshd_server.device_dict()['connection']['python']} \"$@\"\n")
    py.chmod(0o755)
    sshd_server.device_toml(tmp_path / "devices", "bare-box", python=str(py))
    res = cli("devices", "--devices-dir", str(tmp_path / "devices"), "--check", "bare-box", timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "reachable: yes" in res.stdout and "onnxruntime is not installed on this device" in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == ["error: device 'bare-box' has none of the runtimes its TOML lists (onnxruntime, litert); "
                      "nothing could be measured there"]


def test_check_unreachable_device_is_one_line_error(sshd_server, closed_port, tmp_path, cli):
    sshd_server.device_toml(tmp_path / "devices", "gone-box", port=closed_port, connect_timeout_s=2)
    res = cli("devices", "--devices-dir", str(tmp_path / "devices"), "--check", "gone-box", "--timeout", "2",
              timeout=60)
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and "Connection refused" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    as_json = cli("devices", "--devices-dir", str(tmp_path / "devices"), "--check", "gone-box", "--json",
                  "--timeout", "2", timeout=60)
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["reachable"] is False  # scripts see the failure
    assert as_json.stderr.startswith("error: ") and "Connection refused" in as_json.stderr


def test_list_probes_reachability(sshd_server, closed_port, tmp_path, cli):
    d = tmp_path / "devices"
    sshd_server.device_toml(d, "fixture-up")
    sshd_server.device_toml(d, "fixture-down", port=closed_port)
    res = cli("devices", "fixture-*", "--devices-dir", str(d), "--json", "--timeout", "2", timeout=60)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["fixture-up"]["reachable"] is True
    assert rows["fixture-down"]["reachable"] is False and "Connection refused" in rows["fixture-down"]["error"]
    assert rows["fixture-up"]["destination"] == f"{sshd_server.user}@127.0.0.1:{sshd_server.port}"


def test_list_without_probe_shows_committed_devices(cli):
    res = cli("devices", "--no-probe", "--json", timeout=120)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["local"]["reachable"] is True
    remote = [r for r in rows.values() if r["transport"] != "local"]
    assert remote and all(r["reachable"] is None for r in remote)
    # figures per compute unit: a Jetson has a CPU and a GPU, each with its own peak and bandwidth
    orin = rows["jetson-orin-nano"]["units"]
    assert {"cpu", "gpu"} <= set(orin)
    assert orin["gpu"]["gmacs_per_s"]["fp16"] > orin["cpu"]["gmacs_per_s"]["fp32"] > 0
    assert all(u["memory_bandwidth_gb_per_s"] > 0 for u in orin.values())


def test_unknown_device_suggests(cli):
    res = cli("devices", "--check", "jetson-orin-nanoo", timeout=60)
    assert res.returncode == 2 and "did you mean" in res.stderr


def test_profile_unreachable_device_with_half_a_peak_table_is_an_error_not_a_traceback(sshd_server, closed_port,
                                                                                       tmp_path, cli):
    """No measurement (unreachable) and, with --predict, no roofline prediction
    possible (no memory bandwidth): exit 2, the reason, one error line each time."""
    toml = sshd_server.device_toml(tmp_path / "devices", "half-box", port=closed_port, connect_timeout_s=2)
    toml.write_text(toml.read_text() + '[peak.cpu]\nfp32_gmacs_per_s = { value = 100.0, kind = "vendor" }\n')
    args = ["profile", "--models", "lenet5", "--runtimes", "onnxruntime", "--device", "half-box", "--out",
            str(tmp_path / "profiles"), "--export-dir", str(tmp_path / "export"), "--no-report"]
    env = {"EDGECNN_DEVICES": str(tmp_path / "devices")}
    res = cli(*args, env=env, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    [error] = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert "unreachable" in error and "Connection refused" in error and "--predict" in error
    res = cli(*args, "--predict", env=env, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == ["error: a latency prediction needs the unit's peak GMAC/s and memory bandwidth "
                      "([peak.cpu] / [peak.gpu] in the device's TOML)"]

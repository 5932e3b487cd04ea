"""--weights through the installed console script, as users call it: a missing
file, a name the architecture has no weights for and options that cannot work
are one ``error:`` line and exit code 2, before any work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "edgecnn"


def edgecnn(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    script = str(SCRIPT) if SCRIPT.exists() else shutil.which("edgecnn")
    if script is None:
        pytest.skip("the edgecnn console script is not installed (pip install -e .)")
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def one_line(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("how", ["offline", "no-network"])
def test_export_without_the_weights_file_names_the_file_and_the_folder(tmp_path, how):
    """`edgecnn export mobilenet_v2 --weights IMAGENET1K_V2 --to onnx` on a machine
    without the file. "no-network": the download is tried through a proxy on a
    closed local port, so it fails the way a machine without network fails."""
    home = tmp_path / "torch"
    env = {"TORCH_HOME": str(home)}
    env.update({"EDGECNN_OFFLINE": "1"} if how == "offline" else
               {"EDGECNN_OFFLINE": "", "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                "no_proxy": "", "NO_PROXY": ""})
    r = edgecnn("export", "mobilenet_v2", "--weights", "IMAGENET1K_V2", "--to", "onnx", "--out", str(tmp_path / "e"),
                cwd=tmp_path, env=env)
    line = one_line(r, "mobilenet_v2-7ebf99e0.pth", "$TORCH_HOME/hub/checkpoints/", str(home / "hub" / "checkpoints"))
    assert ("EDGECNN_OFFLINE" in line) == (how == "offline")
    assert not (tmp_path / "e").exists() and not (home / "hub" / "checkpoints").exists()  # nothing left behind


def test_names_and_options_that_cannot_work(tmp_path, main_cli, monkeypatch, no_network):
    """The same contract through ``edgecnn.cli.main`` in this process (the console
    script's parsing and error handling, without a torch start-up per case)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("EDGECNN_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    cases = [
        (["export", "lenet5", "--weights", "DEFAULT"], ["lenet5 has no torchvision weights"]),
        (["export", "mobilenet_v2", "--weights", "IMAGENET1K_V9"], ["did you mean", "IMAGENET1K_V2"]),
        (["export", "lenet5", "--weights", "w.pth", "--checkpoint", "c.pt"], ["not both"]),
        (["export", "lenet5", "--calibration-dir", "imgs"], ["--calibration-dir is for --precision int8"]),
        (["export", "lenet5", "--precision", "int8", "--calibration-dir", "nope"], ["nope does not exist"]),
        (["export", "lenet5", "--precision", "int8", "--calibration-dir", "imgs"], ["no images"]),
        (["export", "mobilenet_v2", "--weights", "DEFAULT", "--input-size", "32"], ["CIFAR variant"]),
        (["profile", "-m", "resnet18", "--weights", "DEFAULT", "--no-report"], ["resnet18-f37072fd.pth"]),
        (["cost", "alexnet", "--weights", "DEFAULT", "--no-record"], ["alexnet has no torchvision weights"]),
        (["eval", "mobilenet_v2", "--no-records"], ["pass --weights"]),
        (["eval", "mobilenet_v3", "--weights", "DEFAULT", "--no-records"], ["did you mean"]),
        (["eval", "mobilenet_v2", "--weights", "DEFAULT", "--mean", "a,b", "--no-records"], ["--mean"]),
        (["eval", "mobilenet_v2", "--weights", "DEFAULT", "--check-images", "0", "--no-records"], ["--check-images"]),
    ]
    for args, words in cases:
        one_line(main_cli(*args), *words)
    assert not (tmp_path / "export").exists() and not (tmp_path / "profiles").exists()


def test_cost_checks_the_weights_against_the_architecture(main_cli):
    r = main_cli("cost", "mobilenet_v2", "--weights", "DEFAULT", "--no-record", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    w = out["weights"]
    assert (w["name"], w["loads_by"], w["num_params"]) == ("IMAGENET1K_V2", "order", 3_504_872)
    assert out["totals"]["params"] == w["num_params"]  # counted = torchvision's published figure
    b2 = json.loads(main_cli("cost", "efficientnet_b2", "--weights", "DEFAULT", "--no-record", "--json").stdout)
    assert b2["config"]["input_size"] == 288  # counted at the weights' own crop
    assert abs(b2["totals"]["conv_linear_macs"] / b2["weights"]["macs"] - 1) < 0.02


def test_profile_builds_with_the_weights_and_names_the_artifacts_after_them(torch_home, tmp_path):
    """`profile --weights`: the model of profile/local.py gets the weights and
    the ONNX artifact is exported from them (named after them)."""
    from torchvision.models import SqueezeNet1_1_Weights

    from weights_helpers import save_torchvision_weights

    from edgecnn.devices.spec import load_device
    from edgecnn.profile.pipeline import ProfileOptions, profile
    from edgecnn.records import RecordStore
    from edgecnn.runtime.timing import TimingConfig

    save_torchvision_weights(SqueezeNet1_1_Weights.IMAGENET1K_V1, torch_home)
    opts = ProfileOptions(runtimes=["onnxruntime"], timing=TimingConfig(warmup=1, warmup_s=0.0, runs=3,
                                                                         min_time_s=0.0, max_time_s=5.0),
                          layers=False, separable=False, export_dir=str(tmp_path / "export"), isolate=False,
                          weights="DEFAULT")
    written = profile(["squeezenet1_1"], load_device("local"), opts, RecordStore(tmp_path / "p"))
    lat = [r for r in written if r.kind == "latency"]
    assert [r.status for r in lat] == ["ok"], [r.error for r in lat]
    art = tmp_path / "export" / "squeezenet1_1.IMAGENET1K_V1-224-fp32.onnx"
    meta = json.loads(art.with_name(art.name + ".json").read_text())
    assert meta["weights"] == "IMAGENET1K_V1" and meta["preprocessing"]["resize_size"] == 256

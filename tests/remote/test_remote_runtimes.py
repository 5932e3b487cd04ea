"""OpenVINO, NCNN, MNN and ExecuTorch through the SSH device runner on the
throw-away loopback sshd: the artifact and its companion files are pushed, the
exporter's settings travel with the job, the record says what ran."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from edgecnn.remote.profile import profile_remote
from edgecnn.records import RecordStore

pytestmark = pytest.mark.ssh
MODULES = {"openvino": "openvino", "ncnn": "ncnn", "mnn": "MNN", "executorch": "executorch"}


# ExecuTorch's export is the slow one here (~20 s): `make test-all` runs it remotely too
@pytest.mark.parametrize("rt", [pytest.param(rt, marks=pytest.mark.slow) if rt == "executorch" else rt for rt in MODULES])
def test_new_runtime_runs_on_the_loopback_device(rt, sshd_server, tmp_path, exporter, export_dir, fast_timing):
    if importlib.util.find_spec(MODULES[rt]) is None:
        pytest.skip(f"needs the [{rt}] extra")
    if exporter.__name__ != "default_exporter":
        pytest.skip("needs edgecnn's exporter")
    store = RecordStore(tmp_path / "profiles")
    spec = sshd_server.device_dict("fixture-box", runtimes=(rt,))
    [rec] = profile_remote(spec, ["lenet5"], [rt], store=store, timing=fast_timing, exporter=exporter,
                           export_dir=export_dir, threads=1)
    assert (rec.status, rec.runtime, rec.format, rec.device) == ("ok", rt, rt, "fixture-box"), rec.error
    assert rec.metrics["latency_ms_p50"] > 0 and rec.metrics["runs"] >= 10 and rec.metrics["threads"] == 1
    runner = rec.metrics["runner"]
    assert runner["via"] == "device_runner.py" and runner["version"]
    if rt == "openvino":  # the hint from the IR, read back on the device
        assert runner["inference_precision_hint"] == "f32" and runner["inference_precision"] == "f32"
    elif rt == "ncnn":  # the .bin went with the .param; fp16 off as the exporter chose
        assert runner["fp16_storage"] is False and runner["inference_precision"] == "f32"
    elif rt == "mnn":
        assert runner["mnn_precision"] == "high" and runner["winograd_memory_level"] == 2
    else:
        assert runner["delegate"] == "xnnpack"
    pushed = Path(spec["connection"]["workdir"]) / "artifacts"
    suffix = {"openvino": [".xml", ".bin"], "ncnn": [".ncnn.param", ".ncnn.bin"], "mnn": [".mnn"],
              "executorch": [".pte"]}[rt]
    assert {f"lenet5-32-fp32{s}" for s in suffix} <= {p.name for p in pushed.iterdir()}
    # the size the device runner measured: every file it loads
    assert rec.metrics["artifact_bytes"] == sum((pushed / f"lenet5-32-fp32{s}").stat().st_size for s in suffix)


def _python36() -> str | None:
    cands = [shutil.which("python3.6"), *map(str, sorted(Path.home().glob(".pyenv/versions/3.6*/bin/python3.6")))]
    for c in filter(None, cands):
        if subprocess.run([c, "--version"], capture_output=True).returncode == 0:  # a pyenv shim may not run
            return c
    return None


def test_device_runner_is_python36_syntax():
    """The runner is pushed to old boards (JetPack 4 ships Python 3.6): it must compile there."""
    py36 = _python36()
    if not py36:
        pytest.skip("no Python 3.6 interpreter here")
    runner = Path(__file__).resolve().parents[2] / "edgecnn" / "remote" / "device_runner.py"
    res = subprocess.run([py36, "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')",
                          str(runner)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr

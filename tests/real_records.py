"""Records written by the real commands, for the report's and select's tests.

The fixture is registered for the whole test tree by ``tests/conftest.py``.

``real_records`` runs, once per test session, what a user runs (through
``edgecnn.cli``, as the console script does) on small inputs and writes every
kind of record into one folder:

- ``train`` lenet5 on a CIFAR-10 subset, ``eval`` of its checkpoint and of an
  INT8 ONNX export;
- ``export`` from that checkpoint: ``--to all`` at fp32, and ONNX, TFLite and
  a *prepared* TensorRT build at int8 (TensorRT does not import here);
- ``profile`` of lenet5 on torch, ONNX Runtime and LiteRT with per-layer times
  and a ``--shape`` separable check (isolated workers);
- ``profile --predict`` of an unreachable Jetson (predicted and unreachable
  records);
- a remote ``profile`` over a throw-away sshd on 127.0.0.1 (skipped, with the
  reason, where OpenSSH is missing);
- the adb path through a fake ``adb`` that prints a recorded real
  ``benchmark_model`` output.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FAST = ("--runs", "5", "--min-time", "0.1", "--warmup", "1")


@dataclass
class RealRecords:
    root: Path
    profiles: Path
    export: Path
    devices: Path
    checkpoint: Path
    remote: str | None  # the remote device's name, or why there is none


def _ok(proc, what: str, codes: tuple[int, ...] = (0,)) -> None:
    assert proc.returncode in codes, f"{what} failed:\n{proc.stderr[-3000:]}"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def real_records(tmp_path_factory, cifar10_archive) -> RealRecords:
    from shared_fixtures import built_once

    done = built_once(tmp_path_factory, "real-records", lambda root: _build(root, cifar10_archive))
    return RealRecords(*(Path(done[k]) for k in ("root", "profiles", "export", "devices", "checkpoint")),
                       done["remote"])


def start_early(session) -> None:
    """Under xdist, the first worker starts building the records as soon as it has collected a test that
    needs them (tests/shared_fixtures.py: the fixture then waits for that build, or reads it)."""
    if os.environ.get("PYTEST_XDIST_WORKER") != "gw0":
        return
    if not any("real_records" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    from shared_fixtures import build_in_background

    from edgecnn.data import default_cifar10_source

    archive = default_cifar10_source()
    if archive is not None and Path(archive).exists():
        build_in_background(session.config._tmp_path_factory, "real-records", lambda root: _build(root, Path(archive)))


def _build(root: Path, cifar10_archive: Path) -> dict:
    from edgecnn.devices.spec import REPO_DEVICES

    prof, exp, devs = root / "profiles", root / "export", root / "devices"
    devs.mkdir()
    env = {"EDGECNN_DEVICES": str(devs), "EDGECNN_CIFAR10": str(cifar10_archive)}

    def run(*args, env_extra=None):
        """``edgecnn ARGS`` in a fresh interpreter, as the console script runs it."""
        return subprocess.run([sys.executable, "-m", "edgecnn.cli", *map(str, args)], cwd=REPO,
                              env={**os.environ, **env, **(env_extra or {})}, capture_output=True, text=True,
                              timeout=900)

    # the recipe of tests/export/test_export_trained.py: ~50 % top-1 in seconds, so INT8 passes its parity check
    _ok(run("train", "lenet5", "--subset", "10000", "--test-subset", "500", "--epochs", "4", "--batch-size", "64",
            "--recipe", "plain", "--threads", "1", "--out", root / "run", "--profiles", prof), "train")
    ckpt = root / "run" / "best.pt"
    _ok(run("eval", ckpt, "--subset", "300", "--profiles", prof), "eval")
    # fp32 to every format; int8 to ONNX, TFLite and a prepared TensorRT build (the other runtimes' INT8 exports
    # are tested in tests/export: here they would add ~90 s of conversions and no new record field).
    # int8 of a 4-epoch LeNet may miss its agreement bound (a validation_failed record, exit 1): both outcomes
    # are records the report must show
    for precision, to in (("fp32", ["all"]), ("int8", ["onnx,tflite,tensorrt", "--prepare-only"])):
        _ok(run("export", "lenet5", "--checkpoint", ckpt, "--to", *to, "--precision", precision, "--out", exp,
                "--profiles", prof, "--n-images", "300", "--calibration-images", "128"), f"export {precision}",
            (0,) if precision == "fp32" else (0, 1))
    _ok(run("eval", exp / "lenet5-32-int8.onnx", "--subset", "300", "--profiles", prof), "eval int8 onnx")
    _ok(run("profile", "--models", "lenet5", "--runtimes", "torch,onnxruntime,litert", "--shape", "16,16,3,8",
            *FAST, "--out", prof, "--export-dir", exp, "--no-report"), "profile")

    # an unreachable Jetson: its committed file pointed at a closed loopback port
    toml = (REPO_DEVICES / "jetson-orin-nano.toml").read_text()
    (devs / "jetson-orin-nano.toml").write_text(
        toml.replace('host = "jetson"', 'host = "127.0.0.1"').replace("port = 22", f"port = {_closed_port()}")
        .replace("connect_timeout_s = 10", "connect_timeout_s = 3"))
    _ok(run("profile", "--models", "lenet5", "--device", "jetson-orin-nano", "--predict", "--out", prof,
            "--export-dir", exp, "--no-report", *FAST), "profile --predict")

    remote = _remote_profile(root, prof, exp, devs, run)
    _adb_profile(root, prof, exp, devs, run)
    return {"root": str(root), "profiles": str(prof), "export": str(exp), "devices": str(devs),
            "checkpoint": str(ckpt), "remote": remote}


def _remote_profile(root, prof, exp, devs, run) -> str | None:
    from sshd_helpers import missing_openssh, running_sshd

    why = missing_openssh()
    if why:
        return None
    (root / "sshd").mkdir()
    with running_sshd(root / "sshd") as server:
        server.device_toml(devs, "loopback-box", runtimes=("onnxruntime", "litert"))
        _ok(run("profile", "--models", "lenet5", "--device", "loopback-box", "--out", prof, "--export-dir", exp,
                "--no-report", *FAST), "remote profile")
    return "loopback-box"


def _adb_profile(root, prof, exp, devs, run) -> None:
    """The adb path: the committed Pixel 7 file as a phone behind a fake adb."""
    from adb_helpers import DATA, FAKE_ADB, PHONE

    from edgecnn.devices.spec import REPO_DEVICES

    toml = (REPO_DEVICES / "pixel-7.toml").read_text()
    (devs / "fake-phone.toml").write_text(toml.replace('name = "pixel-7"', 'name = "fake-phone"')
                                          .replace('serial = ""', f'serial = "{PHONE["connection"]["serial"]}"'))
    bin_dir = root / "bin"
    bin_dir.mkdir()
    adb = bin_dir / "adb"
    adb.write_text(FAKE_ADB.format(python=sys.executable))
    adb.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_ADB_LOG": str(root / "adb.log"),
           "FAKE_ADB_OUTPUT": str(DATA / "benchmark_model_xnnpack_mobilenet_v2.txt")}
    _ok(run("profile", "--models", "lenet5", "--device", "fake-phone", "--out", prof, "--export-dir", exp,
            "--no-report", *FAST, env_extra=env), "adb profile")

"""A checkpoint knows the input side it was trained at: `edgecnn export` and
`edgecnn eval` at another --input-size are one `error:` line (exit 2) naming it,
unless --force-input-size, and then the record says so. Run as users run them
(the console script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edgecnn.records import RecordStore

EDGECNN = Path(sys.executable).with_name("edgecnn")
REFERENCE = Path(__file__).resolve().parents[1] / "profiles" / "checkpoints" / "mobilenet_v3_small-cifar10.pt"
pytestmark = pytest.mark.skipif(not EDGECNN.exists(), reason="the edgecnn console script is not installed")


def edgecnn(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(EDGECNN), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def lenet_ckpt(tmp_path_factory) -> Path:
    """A full checkpoint of LeNet-5 built (and so 'trained') at 32 px, 10 classes."""
    import torch

    from edgecnn.models import create_model
    from edgecnn.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = create_model("lenet5")
    path = tmp_path_factory.mktemp("ckpt") / "lenet5-32.pt"
    save_checkpoint(path, {"model": "lenet5", "config": dict(model.edgecnn_config), "state_dict": model.state_dict(),
                           "dataset": "cifar10", "epoch": 1})
    return path


def one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    return lines[0]


def test_export_at_another_size_is_an_error(lenet_ckpt, tmp_path):
    r = edgecnn("export", "lenet5", "--checkpoint", lenet_ckpt, "--input-size", "64", "--out", tmp_path / "x",
                "--profiles", tmp_path / "p", cwd=tmp_path)
    line = one_error_line(r)
    assert "trained at 32x32" in line and "--force-input-size" in line
    assert not (tmp_path / "x").exists() and not (tmp_path / "p").exists()


def test_eval_at_another_size_is_an_error(lenet_ckpt, tmp_path):
    r = edgecnn("eval", lenet_ckpt, "--input-size", "48", "--profiles", tmp_path / "p", cwd=tmp_path)
    line = one_error_line(r)
    assert "trained at 32x32" in line and "48x48" in line
    assert not (tmp_path / "p").exists()


def test_the_flag_alone_is_a_usage_error(tmp_path):
    line = one_error_line(edgecnn("export", "lenet5", "--force-input-size", cwd=tmp_path))
    assert "--force-input-size goes with --checkpoint and --input-size" in line
    line = one_error_line(edgecnn("eval", "--force-input-size", cwd=tmp_path))  # the checkpoint is missing
    assert "Missing argument" in line


def test_forced_export_and_eval_are_noted_in_the_records(tmp_path, cifar10_archive):
    """The committed CIFAR-10 reference checkpoint (trained at 32 px; global pooling takes any side) run at 40 px."""
    prof = tmp_path / "p"
    r = edgecnn("export", "mobilenet_v3_small", "--checkpoint", REFERENCE, "--input-size", "40",
                "--force-input-size", "--out", tmp_path / "x", "--profiles", prof, "--n-images", "20",
                "--data-dir", cifar10_archive, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "trained at 32x32" in r.stderr and "warning:" in r.stderr
    (rec,) = RecordStore(prof).load(kind="export")
    assert rec.input_shape == [3, 40, 40]
    assert rec.metrics["input_size_forced"] is True and rec.metrics["trained_input_size"] == 32
    r = edgecnn("eval", REFERENCE, "--input-size", "40", "--force-input-size", "--subset", "50",
                "--data-dir", cifar10_archive, "--profiles", prof, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (acc,) = RecordStore(prof).load(kind="accuracy")
    assert acc.input_shape == [3, 40, 40] and acc.metrics["input_size_forced"] is True
    assert acc.metrics["trained_input_size"] == 32


def test_the_trained_size_needs_no_flag(lenet_ckpt, tmp_path, cifar10_archive):
    prof = tmp_path / "p"
    r = edgecnn("eval", lenet_ckpt, "--input-size", "32", "--subset", "50", "--data-dir", cifar10_archive,
                "--profiles", prof, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (acc,) = RecordStore(prof).load(kind="accuracy")
    assert acc.input_shape == [3, 32, 32] and "input_size_forced" not in acc.metrics

"""Fixtures for the remote-device tests: a throw-away OpenSSH server on 127.0.0.1
(tests/sshd_helpers.py says how it is set up), ports nothing listens on, and
exporters and timing options for the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sshd_helpers import REPO, VENV_PY, SSHServer, free_port, missing_openssh, running_sshd  # noqa: F401


@pytest.fixture
def sshd_server(tmp_path_factory):
    why = missing_openssh()
    if why:
        pytest.skip(why)
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


def _torch_onnx_export(model: str, fmt: str, precision: str, input_size, batch: int, out_dir) -> Path:
    """ONNX export through torch.onnx (used until/unless edgecnn.export is importable)."""
    import torch

    from edgecnn.models import create_model

    if fmt != "onnx" or precision != "fp32":
        pytest.skip(f"this test exporter only writes fp32 ONNX (asked for {fmt}/{precision})")
    torch.set_num_threads(1)
    net = create_model(model, input_size=input_size).eval()
    size = net.edgecnn_config["input_size"]
    out = Path(out_dir) / f"{model}-{size}-{precision}.onnx"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.onnx.export(net, torch.randn(batch, 3, size, size), str(out), dynamo=False, input_names=["input"],
                          output_names=["logits"], opset_version=17)
    return out


@pytest.fixture(scope="session")
def exporter():
    """The real edgecnn exporter when it is there, else a plain torch.onnx export."""
    import edgecnn.export

    if hasattr(edgecnn.export, "export_model"):
        from edgecnn.remote.profile import default_exporter

        return default_exporter
    return _torch_onnx_export


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("export")


@pytest.fixture
def fast_timing() -> dict:
    """Short timing options (the tests check records, not speed)."""
    return {"warmup": 2, "warmup_s": 0.0, "runs": 10, "min_time_s": 0.05, "max_time_s": 2.0}

"""Fixtures of the weights tests: an offline torch hub cache holding weight files
made here, a LeNet-5 trained for seconds on CIFAR-10, and CIFAR-10 test JPEGs laid
out as an ImageNet validation folder (wnid folders).

No test here reaches the network: ``torch_home`` points ``$TORCH_HOME`` at a
temporary folder and makes every socket connection fail, so a test that
loaded from anywhere but that folder would fail loudly.
"""

from __future__ import annotations

import socket
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from weights_helpers import CIFAR_TO_WNID, PER_CLASS


class NetworkTouched(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Any socket connection raises: what loads must come from disk."""
    def refuse(self, address, *a, **k):
        raise NetworkTouched(f"a test tried to connect to {address}")

    def no_lookup(host, *a, **k):
        raise NetworkTouched(f"a test tried to connect to {host} (name lookup)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)


@pytest.fixture
def torch_home(tmp_path, monkeypatch, no_network) -> Path:
    """``$TORCH_HOME`` in a temporary folder (returns its hub/checkpoints/, created)."""
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("EDGECNN_OFFLINE", raising=False)
    ckpts = home / "hub" / "checkpoints"
    ckpts.mkdir(parents=True)
    return ckpts


@dataclass
class Folders:
    imagenet: Path  # <root>/val/<wnid>/<file>.jpg
    cifar: Path  # <root>/test/<cifar class>/<file>.jpg: the same files under CIFAR-10's names
    flat: Path  # every file in one folder, with labels.txt (<file> <wnid>) beside it
    files: int


@pytest.fixture(scope="session")
def cifar_as_imagenet(tmp_path_factory, cifar10_archive) -> Folders:
    """The first PER_CLASS CIFAR-10 test JPEGs of each class, byte for byte, under
    the wnids of matching ImageNet classes, under CIFAR-10's own class names,
    and flat with a labels file."""
    root = tmp_path_factory.mktemp("cifar-as-imagenet")
    inet, cifar, flat = root / "inet", root / "cifar", root / "flat"
    taken: dict[str, int] = {}
    lines = []
    with tarfile.open(cifar10_archive) as tar:
        for m in tar:
            parts = m.name.split("/")
            if not (m.isfile() and len(parts) >= 3 and parts[-3] == "test") or taken.get(parts[-2], 0) >= PER_CLASS:
                continue
            cls, fname = parts[-2], parts[-1]
            taken[cls] = taken.get(cls, 0) + 1
            data = tar.extractfile(m).read()
            unique = f"{cls}_{fname}"
            for folder, name in ((inet / "val" / CIFAR_TO_WNID[cls], fname), (cifar / "test" / cls, fname),
                                 (flat, unique)):
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
            lines.append(f"{unique} {CIFAR_TO_WNID[cls]}")
            if len(taken) == 10 and min(taken.values()) >= PER_CLASS:
                break
    (root / "labels.txt").write_text("\n".join(lines) + "\n")
    return Folders(inet, cifar, flat, sum(taken.values()))


@pytest.fixture
def export_kw(tmp_path, cifar10_archive) -> dict:
    """Keyword arguments of ``export_model`` in these tests: tmp folders, the
    CIFAR-10 archive, small real-image sets; warnings collected in ``warned``."""
    warned: list[str] = []
    return dict(out_dir=tmp_path / "export", profiles=tmp_path / "profiles", data_dir=str(cifar10_archive),
                n_images=50, calibration_images=64, warn=warned.append)

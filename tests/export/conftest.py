"""Fixtures of the export tests: tmp output folders, small checkpoints. Every
artifact and record goes under pytest's tmp_path (``main_cli`` is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def dirs(tmp_path) -> tuple[Path, Path]:
    """(artifact folder, record folder), both under tmp_path."""
    return tmp_path / "export", tmp_path / "profiles"


@pytest.fixture
def warned() -> list[str]:
    """The warnings ``export_model`` gave (through its ``warn`` callback) in this test."""
    return []


@pytest.fixture
def export_kw(dirs, cifar10_archive, warned) -> dict:
    """Keyword arguments every API export in these tests shares: tmp folders, the
    CIFAR-10 archive, small real-image sets (50 test images, 64 training images),
    warnings collected in ``warned``; no INT8 speed-up timing (its own tests ask for it)."""
    out, profiles = dirs
    return dict(out_dir=out, profiles=profiles, data_dir=str(cifar10_archive), n_images=50,
                calibration_images=64, warn=warned.append, speedup=False)

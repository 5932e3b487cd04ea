"""Shared fixtures: real CIFAR-10 data from ../shared/datasets, temp stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist gives its workers COLUMNS=80 / LINES=24: the commands the tests run would wrap their tables at 80
    # columns, unlike a single-process run (160 when piped, edgecnn/console.py). Tests that want a width set it.
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)
    # Each worker's own torch computes on one thread. Left at its default (a thread per core), two workers on a
    # 2-core machine run four OpenMP threads on two cores, and their spin-waits cost more than the work: the zoo-wide
    # tests (test_models.py, cost/test_cost_crosscheck.py) took 113 s that way and 45 s this way. Only this process
    # is set: the commands the tests start, and edgecnn's own runners (which set their --threads), keep theirs.
    import torch

    torch.set_num_threads(1)

from real_records import RealRecords, real_records, start_early  # noqa: F401  (the session fixture: tests/real_records.py)

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_finish(session):
    start_early(session)


@pytest.fixture(scope="session")
def cifar10_archive() -> Path:
    from edgecnn.data import default_cifar10_source

    src = default_cifar10_source()
    if src is None or not Path(src).exists():
        pytest.skip("CIFAR-10 archive not found (expected ../shared/datasets/cifar10-jpeg.tar.gz or $EDGECNN_CIFAR10)")
    return Path(src)


@pytest.fixture(scope="session")
def cifar10_test(cifar10_archive):
    """The 10,000 CIFAR-10 test images as uint8 arrays (decoded once, cached)."""
    from edgecnn.data import load_dataset

    return load_dataset("cifar10", "test", cifar10_archive)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run the installed `edgecnn` CLI as a user would; returns CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgecnn.cli", *args], cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def main_cli(capsys):
    """``edgecnn ARGS`` through ``edgecnn.cli.main`` in this process: the same
    parsing and error handling as the console script, without paying a Python
    and torch start-up (seconds here) per call. Returns code, stdout, stderr."""
    from edgecnn.cli import main

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run


@pytest.fixture(scope="session")
def trained_lenet5(tmp_path_factory, cifar10_archive) -> tuple[Path, float]:
    """(checkpoint, test top-1 %) of a 4-epoch LeNet-5 run on real CIFAR-10 (~50 % in seconds), trained once per
    test run (tests/shared_fixtures.py) for the INT8 export tests (tests/export) and the weights tests
    (tests/weights)."""
    from shared_fixtures import built_once

    ckpt, top1 = built_once(tmp_path_factory, "trained", lambda root: _train_lenet5(root, cifar10_archive))
    return Path(ckpt), top1


def _train_lenet5(root: Path, cifar10_archive: Path) -> list:
    res = subprocess.run([sys.executable, "-m", "edgecnn.cli", "train", "lenet5", "--subset", "10000",
                          "--test-subset", "500", "--batch-size", "64", "--epochs", "4", "--recipe", "plain",
                          "--data-dir", str(cifar10_archive), "--out", str(root / "run"), "--no-records", "--json"],
                         capture_output=True, text=True, cwd=root, timeout=900,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    return [str(root / "run" / "best.pt"), json.loads(res.stdout)["test_top1"]]

"""Records for select's tests: ``real_records`` (tests/real_records.py: train,
eval, export fp32 and int8 with parity, profile, a predicted Jetson, a phone
behind a fake adb) moved to a folder of their own, plus an int8 profile of
the exported artifacts: the int8 options (test_select_records.py re-exports
one with a bound it misses, on a copy, for an export that failed parity)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAST = ("--runs", "5", "--min-time", "0.1", "--warmup", "1")


@dataclass
class SelectRecords:
    root: Path
    profiles: Path
    export: Path
    devices: Path
    env: dict


def edgecnn(*args, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``edgecnn ARGS`` in a fresh interpreter, as the console script runs it."""
    return subprocess.run([sys.executable, "-m", "edgecnn.cli", *map(str, args)], cwd=REPO,
                          env={**os.environ, "COLUMNS": "250", **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def cli_run():
    return edgecnn


@pytest.fixture(scope="session")
def select_records(real_records, tmp_path_factory) -> SelectRecords:
    root = tmp_path_factory.mktemp("select-records")
    for part in ("profiles", "export", "devices"):
        shutil.copytree(real_records.root / part, root / part)
    shutil.copytree(real_records.checkpoint.parent, root / "run")
    # the records name their files by absolute path: move them with the files
    old, new = str(real_records.root), str(root)
    for f in (root / "profiles").rglob("*.jsonl"):
        f.write_text(f.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    env = {"EDGECNN_DEVICES": str(root / "devices")}
    r = edgecnn("profile", "--models", "lenet5", "--runtimes", "onnxruntime,litert", "--precision", "int8",
                "--out", root / "profiles", "--export-dir", root / "export", "--no-report", "--no-layers",
                "--no-separable", *FAST, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return SelectRecords(root, root / "profiles", root / "export", root / "devices", env)

"""What edgecnn pushes to a device must run on old device Pythons: the Jetson
Nano's JetPack 4.6 ships Python 3.6, a device its TOML lists."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgecnn.remote.profile import RUNNER, TIMING

PUSHED = [RUNNER, TIMING]  # the files remote profiling copies to a device


@pytest.mark.parametrize("path", PUSHED, ids=lambda p: p.name)
def test_pushed_files_parse_as_python_3_6(path: Path):
    tree = ast.parse(path.read_text(), feature_version=(3, 6))
    for node in ast.walk(tree):  # constructs the 3.6 grammar check does not see
        if isinstance(node, ast.ImportFrom):
            assert not (node.module == "__future__" and any(a.name == "annotations" for a in node.names)), \
                f"{path.name}: `from __future__ import annotations` is Python 3.7+"
            assert node.module != "dataclasses", f"{path.name}: dataclasses is Python 3.7+"
        if isinstance(node, ast.Import):
            assert "dataclasses" not in {a.name for a in node.names}, f"{path.name}: dataclasses is Python 3.7+"


def test_vermin_finds_nothing_newer_than_3_6():
    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    if not Path(vermin).exists():
        pytest.skip("vermin is not installed (pip install 'edgecnn[dev]')")
    res = subprocess.run([vermin, "-t=3.6-", "--no-tips", "--violations", *map(str, PUSHED)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_check_catches_a_3_7_construct(tmp_path):
    """The checks above can fail: a dataclass is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from dataclasses import dataclass\n@dataclass\nclass A:\n    x: int = 1\n")
    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    if Path(vermin).exists():
        res = subprocess.run([vermin, "-t=3.6-", "--no-tips", "--violations", str(bad)], capture_output=True,
                             text=True, timeout=120)
        assert res.returncode != 0
    with pytest.raises(AssertionError):
        test_pushed_files_parse_as_python_3_6(bad)


def test_the_device_runner_uses_edgecnn_s_thread_rule(monkeypatch):
    """device_runner.py is self-contained (no edgecnn on the device): its copy
    of the default-threads rule must stay equal to edgecnn's."""
    import os

    from edgecnn.remote import device_runner
    from edgecnn.runtime.base import default_threads, thread_rule

    for cores in range(1, 17):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=cores: set(range(n)), raising=False)
        assert device_runner.default_threads() == default_threads() == thread_rule(cores)

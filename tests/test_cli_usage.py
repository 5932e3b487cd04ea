"""Usage errors through the installed console script, as users call it: one
``error:`` line with the command's usage hint, exit code 2, no traceback,
whatever typer/click version is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "edgecnn"


def edgecnn(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    script = str(SCRIPT) if SCRIPT.exists() else shutil.which("edgecnn")
    if script is None:
        pytest.skip("the edgecnn console script is not installed (pip install -e .)")
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.mark.parametrize("args, says", [
    (["export", "lenet5", "--weightz", "x"], "No such option: --weightz"),  # unknown option
    (["export"], "Missing argument"),  # missing argument
    (["profile", "--models"], "requires an argument"),  # option without its value
    (["profile", "--batch", "0"], "'--batch'"),  # value out of range
    (["profile", "--threads", "-2"], "'--threads'"),
    (["profile", "--batch", "two"], "'--batch'"),  # wrong type
    (["report", "--profiles", "missing-folder/"], "records folder missing-folder/ does not exist"),
    (["nosuchcommand"], "No such command"),
    (["report", "--format", "pdf"], "--format must be one of html, json, csv"),
    (["select", "--profiles", "missing-folder/"], "records folder missing-folder/ does not exist"),
    (["select", "--tail"], "--tail checks the latency budget against p90: give --max-latency-ms"),
    (["select", "--max-latency-ms", "-5"], "--max-latency-ms must be a positive number, got -5.0"),
    (["select", "--min-top1", "101"], "--min-top1 is a top-1 in percent, 0 to 100"),
    (["select", "--max-size-mb", "big"], "'--max-size-mb'"),
])
def test_usage_errors_are_one_line_and_exit_2(args, says, tmp_path):
    r = edgecnn(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert says in lines[0] and "Traceback" not in r.stderr + r.stdout
    if args[0] in ("export", "profile") and "requires an argument" not in says:
        assert f"edgecnn {args[0]} --help" in lines[0]  # where to look
    assert not (tmp_path / "reports").exists()  # nothing written


def test_the_click_that_typer_uses_is_the_one_caught():
    """typer >= 0.29 vendors click as typer._click: the handler must catch that one."""
    from edgecnn.cli import _click_types

    import typer

    usage = _click_types("UsageError")
    assert usage, "no click UsageError class found"
    try:
        from typer import _click  # noqa: F401

        assert any(c.__module__.startswith("typer._click") for c in usage)
    except ImportError:  # an older typer on plain click
        assert any(c.__module__.startswith("click") for c in usage)
    assert typer.__version__


def test_help_and_version_still_exit_0():
    assert edgecnn("--version").returncode == 0
    r = edgecnn("profile", "--help")
    assert r.returncode == 0 and "--isolate" in r.stdout

"""Third-party log lines (C++ writes to descriptor 2, Python warnings and logging of
other packages) go to the run's log file; edgecnn's own stderr lines, its helper
processes' included, still reach the console; a usage error stays one line and
imports nothing noisy."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EDGECNN = Path(sys.executable).with_name("edgecnn")

# Runs inside a fresh interpreter whose stderr is a pipe, as on a terminal or in CI.
SCRIPT = textwrap.dedent("""
    import logging, os, subprocess, sys, warnings
    from edgecnn.cli.quiet import third_party_log
    from edgecnn.console import err_console, warn
    from edgecnn.errors import EdgeCNNError

    try:
        with third_party_log("probe") as log:
            os.write(2, b"[cpuinfo_utils.cpp:71] native noise\\n")      # C++ logging
            print("python noise on sys.stderr", file=sys.stderr)        # absl's Python handler, prints
            warnings.warn_explicit("os.fork() was called", RuntimeWarning, "jax/_src/fork.py", 1)
            logging.getLogger("tensorflow").warning("tf noise")
            warn("edgecnn's own warning")
            err_console.print("edgecnn progress line")
            subprocess.run([sys.executable, "-c", "import os, sys; os.write(2, b'child noise\\\\n'); "
                            "from edgecnn.console import err_console; err_console.print('helper line')"])
            raise EdgeCNNError("the run failed")
    except EdgeCNNError as exc:
        print("LOG " + str(getattr(exc, "log_path", None)))
    print("stderr still works after the run", file=sys.stderr)
""")


def test_third_party_lines_go_to_the_log_and_edgecnn_lines_to_the_console(tmp_path):
    env = {**os.environ, "EDGECNN_LOG_DIR": str(tmp_path / "logs")}
    env.pop("EDGECNN_CONSOLE", None)
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    console = res.stderr
    for line in ("edgecnn's own warning", "edgecnn progress line", "helper line",
                 "stderr still works after the run"):
        assert line in console, console
    for noise in ("cpuinfo", "python noise", "os.fork()", "tf noise", "child noise"):
        assert noise not in console, console
    (log,) = (tmp_path / "logs").glob("probe-*.log")
    text = log.read_text()
    for noise in ("[cpuinfo_utils.cpp:71] native noise", "python noise", "os.fork() was called", "tf noise",
                  "child noise"):
        assert noise in text, text
    assert "edgecnn" not in text  # none of edgecnn's own lines
    assert res.stdout.strip() == f"LOG {log}"  # the failure names the log


def test_a_quiet_run_leaves_no_log(tmp_path):
    code = ("from edgecnn.cli.quiet import third_party_log\n"
            "with third_party_log('probe') as log:\n    print(log.path)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "EDGECNN_LOG_DIR": str(tmp_path)})
    assert res.returncode == 0 and res.stdout.strip().startswith(str(tmp_path)), res.stderr
    assert not list(tmp_path.glob("*.log"))


@pytest.mark.skipif(not EDGECNN.exists(), reason="the edgecnn console script is not installed")
@pytest.mark.tflite
def test_export_to_tflite_keeps_tensorflow_lines_off_the_console(tmp_path):
    """The TFLite converter loads TensorFlow's C++ runtime (absl's InitializeLog warning, oneDNN's notice)."""
    pytest.importorskip("litert_torch")
    env = {**os.environ, "EDGECNN_LOG_DIR": str(tmp_path / "logs")}
    res = subprocess.run([str(EDGECNN), "export", "lenet5", "--to", "tflite", "--no-validate", "--out",
                          str(tmp_path / "x"), "--profiles", str(tmp_path / "p")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("warning: lenet5 has random weights") and "wrote " in lines[-1], res.stderr
    assert not any("absl" in line or "I0000" in line or "oneDNN" in line for line in lines), res.stderr
    logs = list((tmp_path / "logs").glob("export-*.log"))
    assert len(logs) == 1 and "absl::InitializeLog" in logs[0].read_text()


@pytest.mark.skipif(not EDGECNN.exists(), reason="the edgecnn console script is not installed")
def test_profile_usage_error_is_one_line_before_anything_noisy(tmp_path):
    env = {**os.environ, "EDGECNN_LOG_DIR": str(tmp_path / "logs")}
    res = subprocess.run([str(EDGECNN), "profile", "--models", "lenet5", "--input-size", "-5"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr == "error: --input-size must be a positive number of pixels, got -5\n"
    assert not (tmp_path / "logs").exists()  # no run started

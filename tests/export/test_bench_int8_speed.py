"""benchmarks/bench_int8_speed.py as a user runs it: the zoo mode (speed only,
the zoo's initial weights) on the smallest model, a wrong name and
bad input, and bench_int8.py with a missing checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgecnn.export.quantize import resolve_method

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_int8_speed.py"


def test_zoo_mode_times_int8_against_fp32_and_writes_the_rows(tmp_path):
    rows_file = tmp_path / "rows.json"
    res = subprocess.run([sys.executable, str(PATH), "--zoo", "lenet5", "--sizes", "32", "--batches", "1",
                          "--runtimes", "onnx", "--calibration-images", "8", "--json", str(rows_file)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "zoo models with their initial weights (speed only)" in res.stdout
    (row,) = json.loads(rows_file.read_text())
    assert row["model"] == "lenet5" and row["checkpoint"] is None and row["status"] == "ok"
    assert row["runtime"] == "onnxruntime" and row["size"] == 32 and row["batch"] == 1
    assert row["fp32_ms"] > 0 and row["int8_ms"] > 0
    assert row["speedup"] > 0
    assert row["method"] == resolve_method("auto").name  # the default method of this CPU (VNNI or not)
    assert "lenet5               onnxruntime    32     1" in res.stdout
    assert "onnxruntime: INT8 " in res.stdout  # the per-runtime break-even line


def test_an_unknown_zoo_name_is_one_error_line_and_exit_2():
    res = subprocess.run([sys.executable, str(PATH), "--zoo", "resnet1", "--sizes", "224"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("error: unknown model 'resnet1'")
    assert "resnet18" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--checkpoint", "{tmp}/missing.pt"], "does not exist"),
    (["--checkpoint", "{tmp}/corrupt.pt"], "cannot read checkpoint"),
    (["--zoo", "lenet5", "--sizes", "x"], "--sizes takes comma-separated whole numbers"),
    (["--zoo", "lenet5", "--batches", "0"], "--batches takes comma-separated whole numbers"),
    (["--zoo", "lenet5", "--runtimes", "onx"], "--runtimes takes export formats"),
    (["--zoo", "lenet5", "--model", "lenet5"], "it takes no --checkpoint or --model"),
])
def test_bad_input_is_one_error_line_and_exit_2(args, message, tmp_path):
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    res = subprocess.run([sys.executable, str(PATH), *[a.format(tmp=tmp_path) for a in args]],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("error: ") and message in res.stderr
    assert res.stdout == ""  # nothing measured


def test_bench_int8_with_a_missing_checkpoint_is_one_error_line_and_exit_2(tmp_path):
    res = subprocess.run([sys.executable, str(PATH.with_name("bench_int8.py")), "--checkpoint",
                          str(tmp_path / "missing.pt"), "--no-speedup"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: checkpoint {tmp_path / 'missing.pt'} does not exist"

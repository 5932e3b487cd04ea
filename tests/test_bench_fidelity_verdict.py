"""The timing-fidelity benchmark's verdict (benchmarks/bench_timing_fidelity.py): a ratio is "within 10 %" only
when its whole 95 % interval is, "outside" when none of it is, and "cannot tell" in between."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_timing_fidelity.py"
spec = importlib.util.spec_from_file_location("bench_timing_fidelity", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_interval_is_the_t_interval_of_the_log_ratios():
    gm, low, high = bench.ratio_interval([1.0, 1.1, 0.9])
    logs = [0.0, math.log(1.1), math.log(0.9)]
    mean = sum(logs) / 3
    sd = (sum((x - mean) ** 2 for x in logs) / 2) ** 0.5
    assert gm == pytest.approx(math.exp(mean))
    assert low == pytest.approx(math.exp(mean - 4.303 * sd / 3 ** 0.5))
    assert high == pytest.approx(math.exp(mean + 4.303 * sd / 3 ** 0.5))
    assert bench.ratio_interval([1.05]) == (pytest.approx(1.05), 0.0, math.inf)  # one round says nothing


@pytest.mark.parametrize("rounds, expected", [
    ([1.02, 0.99, 1.01, 1.00, 1.03], "within 10 %"),
    ([1.30, 1.28, 1.33, 1.31, 1.29], "outside"),
    ([0.80, 0.79, 0.82], "outside"),
    ([0.91, 1.20, 1.02], "cannot tell"),     # the mean is inside, the interval is not
    ([1.08, 1.12, 1.09, 1.13], "cannot tell"),  # straddles 1.10
    ([1.05], "cannot tell"),
])
def test_verdicts(rounds, expected):
    assert bench.verdict(*bench.ratio_interval(rounds)[1:]) == expected


def test_the_header_names_the_cpu_features():
    line = bench.cpu_line()
    assert line.startswith("CPU: ") and "features" in line and "fingerprint" in line


@pytest.fixture(scope="module")
def one_round(tmp_path_factory):
    """A real round of the benchmark, as small as it goes: lenet5, ONNX Runtime on both sides, 0.2 s a side."""
    import subprocess
    import sys

    log = tmp_path_factory.mktemp("fidelity") / "rounds.jsonl"
    args = [sys.executable, str(PATH), "--sandwich", "--models", "lenet5", "--runtimes", "onnxruntime",
            "--edgecnn-runtimes-too", "--rounds", "1", "--max-rounds", "1", "--seconds", "0.2", "--warmup-s", "0.1",
            "--log", str(log)]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    return log, first, again


def test_a_round_is_logged_and_a_rerun_resumes_instead_of_measuring_again(one_round):
    import json

    log, first, again = one_round
    [row] = [json.loads(line) for line in log.read_text().splitlines()]
    assert row["model"] == "lenet5" and row["round"] == 0 and row["config"]["compared"] == ["onnxruntime"]
    t = row["t"]
    assert t["start"] <= t["b1"] <= t["a"] <= t["b2"] <= t["end"]
    v = row["runtimes"]["onnxruntime"]
    assert 0 < min(v["edgecnn_ms"], v["b1_ms"], v["b2_ms"], v["plain_ms"]) and v["b1_n"] > 0 and v["b2_n"] > 0
    assert "round 1 lenet5 done" in first.stderr
    assert "resuming" in again.stderr and "done" not in again.stderr  # nothing measured the second time
    assert again.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]  # the same table, from the log
    [line] = [ln for ln in first.stdout.splitlines() if ln.startswith("lenet5")]
    assert ("1/1" if bench.stable(v, 0.10) else "0/1") in line.split()  # stable rounds / all rounds


def test_a_round_whose_plain_sides_disagree_does_not_judge(one_round):
    import copy
    import json

    log, _, _ = one_round
    row = json.loads(log.read_text().splitlines()[0])
    steady = copy.deepcopy(row)
    steady["runtimes"]["onnxruntime"].update(b1_ms=1.0, b2_ms=1.05, plain_ms=1.02, edgecnn_ms=1.0)
    moved = copy.deepcopy(row)
    moved["runtimes"]["onnxruntime"].update(b1_ms=1.0, b2_ms=1.6, plain_ms=1.3, edgecnn_ms=0.7)
    assert bench.stable(steady["runtimes"]["onnxruntime"], 0.10)
    assert not bench.stable(moved["runtimes"]["onnxruntime"], 0.10)
    assert not bench.stable({**moved["runtimes"]["onnxruntime"], "b1_ms": 1.6, "b2_ms": 1.0}, 0.10)  # both ways
    p = bench.per_pair([steady, moved, steady], 0.10)[("lenet5", "onnxruntime")]
    assert p["ratios"] == [pytest.approx(1 / 1.02)] * 2 and len(p["drift"]) == 3
    assert bench.judged(p["ratios"])[3] == "within 10 %"
    assert bench.judged(bench.per_pair([steady, moved], 0.10)[("lenet5", "onnxruntime")]["ratios"])[3] == \
        "cannot tell"  # one stable round says nothing


def test_table_only_reads_rows_of_another_commit_and_measures_nothing(one_round, tmp_path):
    import json
    import subprocess
    import sys

    log, first, _ = one_round
    row = json.loads(log.read_text().splitlines()[0])
    row["config"]["git_commit"] = "0123456789ab"
    other = tmp_path / "rounds.jsonl"
    other.write_text(json.dumps(row) + "\n" + "{not json\n")
    args = [sys.executable, str(PATH), "--sandwich", "--models", "lenet5", "--runtimes", "onnxruntime",
            "--edgecnn-runtimes-too", "--seconds", "0.2", "--warmup-s", "0.1", "--log", str(other)]
    res = subprocess.run(args + ["--table-only"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "commit 0123456789ab" in res.stderr and f"{other}:2: not a JSON line" in res.stderr
    assert res.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]
    none = subprocess.run(args + ["--table-only", "--commit", "fedcba"], capture_output=True, text=True, timeout=120)
    assert none.returncode == 0 and "0 (round, model) rows" in none.stderr and "lenet5" not in none.stdout


@pytest.mark.parametrize("args, message", [
    (["--commit", "abc"], "--commit picks the rows --table-only prints"),
    (["--max-drift", "-1"], "--max-drift must be 0 or more"),
    (["--log", "."], "is a folder"),
    (["--table-only", "--log", "no-such-folder/rounds.jsonl"], "--table-only: no log at"),
    (["--rounds", "0"], "--rounds must be 1 or more"),
    (["--in-process"], "add --sandwich"),
    (["--models", "mobilenet_v9"], "unknown model 'mobilenet_v9'"),
])
def test_bad_options_are_one_error_line_and_exit_2(args, message, tmp_path):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, str(PATH), *args], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and res.stderr.startswith("error: ")
    assert message in res.stderr


def test_default_interleaved_rounds_give_edgecnn_workers_and_plain_scripts_turns_in_one_rotation(tmp_path):
    """The default, interleaved: edgecnn's worker (started with profile's runner settings) and the plain script
    take turns in edgecnn's own interleave_workers; every such round judges, whatever its plain halves read."""
    import json
    import subprocess
    import sys

    log = tmp_path / "rounds.jsonl"
    res = subprocess.run([sys.executable, str(PATH), "--models", "lenet5", "--runtimes", "onnxruntime",
                          "--rounds", "1", "--max-rounds", "1", "--log", str(log)],  # interleaved: the default
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    [row] = [json.loads(line) for line in log.read_text().splitlines()]
    assert row["config"]["interleaved"] is True and row["config"]["edgecnn_runtimes"] == ["onnxruntime"]
    assert row["t"]["start"] <= row["t"]["a"] <= row["t"]["end"]
    v = row["runtimes"]["onnxruntime"]
    # profile's default timing: at least 20 timed calls on each side (and 1 s of them, which the log does not keep)
    assert v["edgecnn_n"] >= 20 and v["b1_n"] + v["b2_n"] >= 20
    import statistics

    assert v["ratio"] == pytest.approx(statistics.median(v["block_ratios"]), rel=1e-3)  # the per-rotation median
    assert len(v["block_ratios"]) >= 2
    assert "block by block" in res.stdout.splitlines()[0]
    [line] = [ln for ln in res.stdout.splitlines() if ln.startswith("lenet5")]
    assert "1/1" in line.split()  # judged, even with disagreeing halves
    disturbed = {**row, "runtimes": {"onnxruntime": {**v, "b1_ms": 1.0, "b2_ms": 2.0}}}
    assert len(bench.per_pair([disturbed], 0.10)[("lenet5", "onnxruntime")]["ratios"]) == 1


def test_the_paired_ratio_cancels_a_state_change_that_both_sides_of_a_rotation_share():
    fast, slow = [1.0, 1.0, 1.1], [2.0, 2.0, 2.2]
    ratio, per = bench.paired_ratio([fast, slow, fast, slow, fast], [fast, slow, fast, slow, fast])
    assert ratio == pytest.approx(1.0) and per == pytest.approx([1.0] * 5)
    # a switch between the two blocks of one rotation is one outlier, which the median leaves out
    ratio, per = bench.paired_ratio([fast, slow, fast, fast, fast], [fast, fast, fast, fast, fast])
    assert per[1] == pytest.approx(2.0) and ratio == pytest.approx(1.0)
    # a real 20 % difference shows in every rotation, in either state
    ratio, _ = bench.paired_ratio([[1.2], [2.4], [1.2]], [[1.0], [2.0], [1.0]])
    assert ratio == pytest.approx(1.2)

"""benchmarks/bench_predict.py --rounds: each latency is measured once per
round by the real profile path, and the validation reads the record of the
median round, copied unchanged."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from edgecnn.records import RecordStore

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_predict.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_predict", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def three_rounds(tmp_path_factory):
    """lenet5 on ONNX Runtime at one thread, measured in three rounds as --rounds 3 measures them."""
    bench = _bench()
    root = tmp_path_factory.mktemp("predict-rounds")
    rounds = [root / f"round{i}" / "threads1" for i in (1, 2, 3)]
    for dest in rounds:
        bench.measure(["lenet5"], ["onnxruntime"], 1, dest, root / "export")
    return bench, root, rounds


def test_the_median_round_is_copied_unchanged(three_rounds):
    bench, root, rounds = three_rounds
    per_round = [RecordStore(d).load(kind="latency") for d in rounds]
    assert all(len(recs) == 1 and recs[0].ok for recs in per_round)
    out = root / "threads1"
    assert bench.median_of_rounds(rounds, out) == 1
    (chosen,) = RecordStore(out).load(kind="latency")
    p50s = sorted(recs[0].metric("latency_ms_p50") for recs in per_round)
    assert chosen.metric("latency_ms_p50") == p50s[1]
    assert chosen.to_dict() in [recs[0].to_dict() for recs in per_round]
    assert not (root / "threads1.tmp").exists()


def test_the_combined_folder_is_rewritten_not_appended(three_rounds):
    bench, root, rounds = three_rounds
    out = root / "threads1"
    bench.median_of_rounds(rounds, out)
    bench.median_of_rounds(rounds[:2], out)  # two rounds: the lower middle, i.e. the faster one
    (chosen,) = RecordStore(out).load(kind="latency")
    first_two = [RecordStore(d).load(kind="latency")[0].metric("latency_ms_p50") for d in rounds[:2]]
    assert chosen.metric("latency_ms_p50") == min(first_two)


@pytest.mark.parametrize("args, message", [
    (["--rounds", "0"], "error: --rounds must be 1 or more"),
    (["--k", "x"], "error: --k takes comma-separated whole numbers of 0 or more, not 'x'"),
])
def test_bad_rounds_or_k_is_one_error_line_and_exit_2(args, message, tmp_path):
    res = subprocess.run([sys.executable, str(PATH), *args, "--work", str(tmp_path), "--no-record"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip() == message
    assert not any(tmp_path.iterdir())


def test_a_missing_or_empty_records_folder_is_one_error_line_and_exit_2(tmp_path):
    def run(records):
        return subprocess.run([sys.executable, str(PATH), "--reuse", "--no-measured", "--no-record", "--records",
                               records], capture_output=True, text=True, timeout=120)

    res = run(str(tmp_path / "nope"))
    assert res.returncode == 2 and res.stderr.strip() == f"error: --records: no such folder: {tmp_path / 'nope'}"
    (tmp_path / "empty").mkdir()
    res = run(str(tmp_path / "empty"))
    assert res.returncode == 2 and res.stderr.strip() == (f"error: no device with 3 or more measured models in "
                                                          f"{tmp_path / 'empty'}")


def test_the_spread_between_rounds_is_read_from_the_round_records(three_rounds, capsys):
    bench, _root, rounds = three_rounds
    p50s = [RecordStore(d).load(kind="latency")[0].metric("latency_ms_p50") for d in rounds]
    spread = bench.round_spread(rounds)
    assert list(spread) == ["onnxruntime"]
    assert spread["onnxruntime"] == [pytest.approx(max(p50s) / min(p50s) - 1.0)]
    assert bench.round_spread(rounds[:1]) == {}  # one round: nothing to compare
    bench.print_spread(1, spread)
    line = capsys.readouterr().out.strip()
    assert line.startswith("1 thread(s) onnxruntime  round-to-round spread (max/min - 1) over 1 latencies: median ")
    assert line.endswith(f"{int(max(p50s) / min(p50s) - 1.0 <= 0.10)} of 1 within 10 %")

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

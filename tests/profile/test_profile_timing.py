"""The timing loop and its statistics, checked exactly with a fake clock."""

from __future__ import annotations

import numpy as np
import pytest

from edgecnn.runtime.timing import TimingConfig, compute_stats, interleave, measure, random_inputs

from profile_fakes import FakeClock


def _fixed(clock: FakeClock, seq):
    state = {"i": 0}

    def fn(*args):
        clock.advance_ms(seq[state["i"] % len(seq)])
        state["i"] += 1

    return fn, state


def test_stats_match_numpy_on_known_samples():
    samples = [5.0, 1.0, 2.0, 3.0, 4.0, 100.0, 2.5, 3.5, 1.5, 2.0]
    st = compute_stats(samples, warmup_runs=3)
    a = np.array(samples)
    assert st.median_ms == pytest.approx(np.median(a))
    assert st.p90_ms == pytest.approx(np.percentile(a, 90))
    assert st.p99_ms == pytest.approx(np.percentile(a, 99))
    assert st.min_ms == 1.0 and st.max_ms == 100.0 and st.runs == 10 and st.warmup_runs == 3
    # 100 ms is beyond Q3 + 3 IQR: mean/std leave it out and count it
    kept = a[a < 100]
    assert st.outliers == 1
    assert st.mean_ms == pytest.approx(kept.mean())
    assert st.std_ms == pytest.approx(kept.std(ddof=1))
    m = st.to_metrics()
    assert m["latency_ms_p50"] == st.median_ms and m["runs"] == 10 and "latency_ms_p99" in m


def test_spread_and_drift_flag_noise():
    steady = compute_stats([10.0] * 30)
    assert steady.spread == 0 and steady.drift == 0 and not steady.noisy
    drifting = compute_stats([10.0] * 10 + [10.5] * 10 + [12.0] * 10)  # last third 20 % slower
    assert drifting.drift == pytest.approx(0.2)
    assert drifting.noisy


def test_measure_warms_up_then_repeats_until_count_and_time():
    clock = FakeClock()
    fn, state = _fixed(clock, [10.0])
    st = measure(fn, clock=clock, warmup=3, warmup_s=0.045, runs=5, min_time_s=0.195, max_time_s=1.0)
    # warm-up: 3 calls would be 30 ms < 45 ms, so it goes on to 5 calls (50 ms)
    assert st.warmup_runs == 5
    # timed: 5 runs would be 50 ms < 195 ms: runs until 200 ms = 20 calls
    assert st.runs == 20 and st.median_ms == pytest.approx(10.0) and st.std_ms == pytest.approx(0.0, abs=1e-9)
    assert state["i"] == 25


def test_measure_stops_slow_models_at_the_time_cap():
    clock = FakeClock()
    fn, _ = _fixed(clock, [1000.0])  # 1 s per call
    st = measure(fn, clock=clock, warmup=1, warmup_s=0, runs=50, min_time_s=1.0, max_time_s=3.5)
    assert st.runs == 4  # time cap after >= 3 samples, not 50 runs


def test_measure_passes_fresh_inputs_in_turn():
    seen = []
    xs = random_inputs([2, 3], count=3, seed=1)
    measure(lambda x: seen.append(id(x)), inputs=xs, warmup=0, warmup_s=0, runs=6, min_time_s=0)
    assert seen[:6] == [id(xs[0]), id(xs[1]), id(xs[2])] * 2
    assert all(np.all(x != 0) for x in xs) and not np.array_equal(xs[0], xs[1])


def test_random_integer_inputs_are_never_zero():
    xs = random_inputs([64, 64], dtype="int8", count=2)
    assert xs[0].dtype == np.int8 and np.all(xs[0] != 0)


def test_interleave_alternates_and_gives_each_its_own_stats():
    clock = FakeClock()
    order = []
    a, _ = _fixed(clock, [1.0])
    b, _ = _fixed(clock, [3.0])
    st = interleave({"a": lambda: (order.append("a"), a()), "b": lambda: (order.append("b"), b())},
                    clock=clock, block=2, warmup=1, warmup_s=0, runs=4, min_time_s=0)
    assert st["a"].median_ms == pytest.approx(1.0) and st["b"].median_ms == pytest.approx(3.0)
    assert st["a"].runs == 4 and st["b"].runs == 4
    timed = order[2:]  # after one warm-up call each
    # round 1: a a b b; round 2 rotates: b b a a
    assert timed == ["a", "a", "b", "b", "b", "b", "a", "a"]


def test_bad_timing_options_are_refused():
    with pytest.raises(ValueError):
        TimingConfig(runs=0)
    with pytest.raises(TypeError):
        measure(lambda: None, repeats=3)
    with pytest.raises(ValueError):
        compute_stats([])


def test_timing_module_imports_only_stdlib_and_numpy():
    """It is pushed to remote devices beside the runner script."""
    import ast
    import sys
    from pathlib import Path

    import edgecnn.runtime.timing as timing

    tree = ast.parse(Path(timing.__file__).read_text())
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    assert mods <= allowed, mods - allowed

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


# ---------------------------------------------------------------------------
# the default path of `edgecnn profile`: isolated workers timed in rounds
# (edgecnn.runtime.workers), here served in this process on the fake clock
# ---------------------------------------------------------------------------
A_MS, B_MS, SETTLE_S = 7.8125, 31.25, 2.0 ** -8  # powers of two: every sum on the fake clock is exact


def _workers(clock, tmp_path, **latencies):
    from edgecnn.runtime.workers import InProcessWorker

    art = tmp_path / "model.fake"
    art.write_bytes(b"x")
    workers = {tag: InProcessWorker("step", {"tag": tag, "latency_ms": ms}, clock=clock) for tag, ms in latencies.items()}
    for w in workers.values():
        assert w.request("load", artifact=str(art), batch=1, size=4)["input_shape"] == [1, 3, 4, 4]
    return workers


def test_rounds_warm_up_then_alternate_blocks_until_count_and_time(step_runtime, tmp_path):
    from edgecnn.runtime.workers import interleave_workers

    from profile_fakes import StepRunner

    clock = step_runtime
    workers = _workers(clock, tmp_path, a=A_MS, b=B_MS)
    cfg = TimingConfig(warmup=2, warmup_s=2.0 ** -5, runs=3, min_time_s=2.0 ** -4, max_time_s=10.0)
    start = clock()
    st = interleave_workers(workers, cfg, block_s=2.0 ** -5, settle_s=SETTLE_S,
                            sleep=lambda s: clock.advance_ms(s * 1e3), clock=clock)
    # warm-up by count and time: a needs 4 calls of 7.8125 ms for 31.25 ms, b its 2 calls (62.5 ms)
    assert (st["a"].warmup_runs, st["b"].warmup_runs) == (4, 2)
    # a block is one untimed call, then calls until 31.25 ms: 4 samples of a, 1 of b per round; rounds stop
    # once each has 3 samples and 62.5 ms of samples: after 3 rounds (b: 3 samples, 93.75 ms)
    assert (st["a"].runs, st["b"].runs) == (12, 3)
    assert st["a"].median_ms == A_MS and st["b"].median_ms == B_MS and st["a"].samples_ms == [A_MS] * 12
    # the rounds by the injected clock: per round a (7.8125 + 31.25) and b (31.25 + 31.25) ms, a pause after each
    round_ms = (A_MS + 4 * A_MS) + (B_MS + B_MS) + 2 * SETTLE_S * 1e3
    assert st["a"].total_s == st["b"].total_s == 3 * round_ms / 1e3
    warm_ms = 4 * A_MS + 2 * B_MS + 2 * SETTLE_S * 1e3
    assert clock() - start == (warm_ms + 3 * round_ms) / 1e3
    # who ran when: load, warm-up each alone, then the rounds with the order rotated every round
    tags = "".join(tag for tag, _ in StepRunner.LOG)
    assert tags == "ab" + "aaaa" + "bb" + "aaaaa" + "bb" + "bb" + "aaaaa" + "aaaaa" + "bb"
    # fresh inputs: each worker walks its pool of 4 in turn from the warm-up on (the load call used the first)
    pool = [float(x.flat[0]) for x in random_inputs([1, 3, 4, 4], count=4)]
    seen_a = [v for tag, v in StepRunner.LOG if tag == "a"]
    assert seen_a == [pool[0]] + [pool[i % 4] for i in range(len(seen_a) - 1)]


def test_rounds_of_a_very_slow_model_stop_at_the_time_cap(step_runtime, tmp_path):
    from edgecnn.runtime.workers import interleave_workers

    clock = step_runtime
    workers = _workers(clock, tmp_path, slow=1000.0)  # 1 s a call
    cfg = TimingConfig(warmup=1, warmup_s=0.0, runs=50, min_time_s=1.0, max_time_s=2.5)
    st = interleave_workers(workers, cfg, block_s=0.0, settle_s=SETTLE_S, sleep=lambda s: clock.advance_ms(s * 1e3),
                            clock=clock)["slow"]
    # a round lasts 2 s (the untimed call and one sample) and a pause: the cap of 2.5 s passes in round 2,
    # but a series is never shorter than 3 samples
    assert st.runs == 3 and st.samples_ms == [1000.0] * 3
    assert st.total_s == 3 * (2.0 + SETTLE_S)


def test_an_in_process_worker_reports_errors_as_a_worker_process_does(step_runtime, tmp_path):
    from edgecnn.runtime.workers import InProcessWorker, WorkerError

    w = InProcessWorker("step", {"tag": "a", "latency_ms": 1.0}, clock=step_runtime)
    with pytest.raises(WorkerError, match="no such file") as err:
        w.request("load", artifact=str(tmp_path / "missing"), batch=1, size=4)
    assert err.value.kind == "RunnerLoadError"
    with pytest.raises(WorkerError, match="unknown worker op"):
        w.request("fly")

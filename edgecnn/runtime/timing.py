"""The one timing loop: warm-up, repeats, device sync, statistics.

This module imports only the standard library and numpy: it is pushed to
remote devices (a Jetson, a Pi, a phone) beside ``device_runner.py``, so it
must parse and run under Python 3.6 (JetPack 4.6) with an old numpy: no
dataclasses, no postponed annotations, no ``np.random.default_rng``
(``tests/remote/test_device_python.py`` checks it with vermin).

Method (every latency edgecnn reports goes through here):

- **warm-up** by count *and* time: at least ``warmup`` calls and at least
  ``warmup_s`` seconds (whichever ends later), so caches, lazy allocations,
  JIT/autotuning and CPU frequency settle first;
- **repeats** until both ``runs`` calls *and* ``min_time_s`` seconds are done
  so a fast model gets many samples; ``max_time_s`` stops a very slow model
  early (after at least 3 samples; ``runs`` in the record says how many);
- **sync**: ``sync()`` (e.g. ``torch.cuda.synchronize``) is called after each
  call, inside the timed region, so asynchronous GPU work is counted;
- **fresh inputs**: when ``inputs`` is given, each call takes the next of a
  pool of pre-made random inputs (made outside the timed region);
- **outliers**: the median and percentiles use every sample; ``mean`` and
  ``std`` drop far-out samples (beyond Q3 + 3 IQR, Tukey's fence) and
  ``outliers`` counts them;
- **spread**: ``spread`` = (p90 - p10) / median, and ``drift`` = the largest
  relative difference between the medians of the first and last third of the
  samples. A measurement is ``noisy`` when spread > 0.25 or drift > 0.10.

Times are milliseconds. ``interleave`` times several callables round-robin
(blocks of a few calls each, order rotated every round) so drift on a shared
machine affects them all alike.
"""

import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

NOISY_SPREAD = 0.25
NOISY_DRIFT = 0.10
MIN_RUNS = 3  # the time cap never stops a series shorter than this

Clock = Callable[[], float]


class TimingConfig:
    """How long to warm up and how many repeats (seconds, counts)."""

    FIELDS = ("warmup", "warmup_s", "runs", "min_time_s", "max_time_s", "max_runs")

    def __init__(self, warmup: int = 5, warmup_s: float = 0.2, runs: int = 20, min_time_s: float = 1.0,
                 max_time_s: float = 30.0, max_runs: int = 100000) -> None:
        self.warmup = warmup  # at least this many warm-up calls
        self.warmup_s = warmup_s  # and at least this long warming up
        self.runs = runs  # at least this many timed calls
        self.min_time_s = min_time_s  # and at least this long timing
        self.max_time_s = max_time_s  # stop here once `runs` is reached
        self.max_runs = max_runs  # hard cap on timed calls
        if self.runs < 1:
            raise ValueError("runs must be >= 1, got {}".format(self.runs))
        if self.warmup < 0 or self.warmup_s < 0 or self.min_time_s < 0:
            raise ValueError("warm-up and minimum time must be >= 0")
        if self.max_time_s < self.min_time_s:
            raise ValueError("max_time_s ({}) < min_time_s ({})".format(self.max_time_s, self.min_time_s))

    def to_dict(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimingConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "TimingConfig({})".format(", ".join("{}={!r}".format(k, v) for k, v in self.to_dict().items()))


class LatencyStats:
    """Statistics of one timed series (milliseconds)."""

    FIELDS = ("median_ms", "p10_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms", "runs",
              "warmup_runs", "outliers", "spread", "drift", "noisy", "total_s", "samples_ms")

    def __init__(self, median_ms: float, p10_ms: float, p90_ms: float, p99_ms: float, mean_ms: float,
                 std_ms: float, min_ms: float, max_ms: float, runs: int, warmup_runs: int, outliers: int,
                 spread: float, drift: float, noisy: bool, total_s: float = 0.0,
                 samples_ms: Optional[List[float]] = None) -> None:
        self.median_ms, self.p10_ms, self.p90_ms, self.p99_ms = median_ms, p10_ms, p90_ms, p99_ms
        self.mean_ms, self.std_ms, self.min_ms, self.max_ms = mean_ms, std_ms, min_ms, max_ms
        self.runs, self.warmup_runs, self.outliers = runs, warmup_runs, outliers
        self.spread, self.drift, self.noisy, self.total_s = spread, drift, noisy, total_s
        self.samples_ms = list(samples_ms or [])

    def to_metrics(self, keep_samples: bool = False) -> Dict[str, Any]:
        """Record metric names (``latency_ms_p50`` is the median)."""
        out = {
            "latency_ms_p50": self.median_ms,
            "latency_ms_p10": self.p10_ms,
            "latency_ms_p90": self.p90_ms,
            "latency_ms_p99": self.p99_ms,
            "latency_ms_mean": self.mean_ms,
            "latency_ms_std": self.std_ms,
            "latency_ms_min": self.min_ms,
            "latency_ms_max": self.max_ms,
            "runs": self.runs,
            "warmup_runs": self.warmup_runs,
            "outliers": self.outliers,
            "spread": self.spread,
            "drift": self.drift,
            "noisy": self.noisy,
            "timing_s": self.total_s,
        }  # type: Dict[str, Any]
        if keep_samples:
            out["samples_ms"] = list(self.samples_ms)
        return out

    def to_dict(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in self.FIELDS}

    def __repr__(self) -> str:
        return "LatencyStats(median_ms={:.4g}, runs={})".format(self.median_ms, self.runs)


def compute_stats(samples_ms: Sequence[float], warmup_runs: int = 0, total_s: float = 0.0) -> LatencyStats:
    """Statistics of a series of latencies in milliseconds (in time order)."""
    a = np.asarray(list(samples_ms), dtype=np.float64)
    if a.size == 0:
        raise ValueError("no samples to compute statistics from")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError("latency samples must be finite and >= 0")
    med = float(np.median(a))
    q1, q3 = np.percentile(a, [25, 75])
    fence = q3 + 3.0 * (q3 - q1)
    kept = a[a <= fence] if q3 > q1 else a
    p10, p90, p99 = (float(v) for v in np.percentile(a, [10, 90, 99]))
    spread = (p90 - p10) / med if med > 0 else 0.0
    drift = 0.0
    if a.size >= 9 and med > 0:
        third = a.size // 3
        first, last = float(np.median(a[:third])), float(np.median(a[-third:]))
        drift = abs(last - first) / min(first, last) if min(first, last) > 0 else 0.0
    return LatencyStats(
        median_ms=med, p10_ms=p10, p90_ms=p90, p99_ms=p99,
        mean_ms=float(kept.mean()), std_ms=float(kept.std(ddof=1)) if kept.size > 1 else 0.0,
        min_ms=float(a.min()), max_ms=float(a.max()), runs=int(a.size), warmup_runs=int(warmup_runs),
        outliers=int(a.size - kept.size), spread=float(spread), drift=float(drift),
        noisy=bool(spread > NOISY_SPREAD or drift > NOISY_DRIFT), total_s=float(total_s),
        samples_ms=[float(v) for v in a],
    )


def _caller(fn: Callable, inputs: Optional[Sequence[Any]]) -> Callable[[int], Any]:
    if inputs is None:
        return lambda i: fn()
    if len(inputs) == 0:
        raise ValueError("inputs must not be empty")
    pool = list(inputs)
    return lambda i: fn(pool[i % len(pool)])


def _warm_up(call: Callable[[int], Any], sync: Optional[Callable[[], Any]], cfg: TimingConfig,
             clock: Clock) -> int:
    """Call until both ``warmup`` calls and ``warmup_s`` seconds are done (at
    most ``max_runs``); returns the number of calls (the next input index)."""
    i = 0
    start = clock()
    while i < cfg.warmup or clock() - start < cfg.warmup_s:
        call(i)
        if sync is not None:
            sync()
        i += 1
        if i >= cfg.max_runs:
            break
    return i


def measure(
    fn: Callable,
    *,
    inputs: Optional[Sequence[Any]] = None,
    sync: Optional[Callable[[], Any]] = None,
    config: Optional[TimingConfig] = None,
    clock: Clock = time.perf_counter,
    **overrides: Any,
) -> LatencyStats:
    """Time ``fn`` (``fn()``, or ``fn(x)`` for each ``x`` of ``inputs`` in turn).

    ``overrides`` are TimingConfig fields (``warmup``, ``runs``, ``min_time_s``,
    ``max_time_s``, ...). ``sync`` is called after every call inside the timed
    region. ``clock`` returns seconds (injectable for tests).
    """
    cfg = _config(config, overrides)
    call = _caller(fn, inputs)
    done = lambda: sync() if sync is not None else None  # noqa: E731
    i = warm = _warm_up(call, sync, cfg, clock)
    samples: List[float] = []
    t_begin = clock()
    while True:
        t0 = clock()
        call(i)
        done()
        t1 = clock()
        samples.append((t1 - t0) * 1e3)
        i += 1
        elapsed = t1 - t_begin
        n = len(samples)
        if n >= cfg.max_runs:
            break
        if n >= cfg.runs and elapsed >= cfg.min_time_s:
            break
        if n >= MIN_RUNS and elapsed >= cfg.max_time_s:  # a very slow model: stop at the time cap
            break
    return compute_stats(samples, warmup_runs=warm, total_s=clock() - t_begin)


def interleave(
    fns: Dict[str, Callable],
    *,
    inputs: Optional[Dict[str, Sequence[Any]]] = None,
    syncs: Optional[Dict[str, Callable[[], Any]]] = None,
    config: Optional[TimingConfig] = None,
    block: int = 3,
    clock: Clock = time.perf_counter,
    **overrides: Any,
) -> Dict[str, LatencyStats]:
    """Time several callables round-robin so machine drift hits all alike.

    Each round runs every callable ``block`` times (first round: the warm-up,
    by count and time, for each); the order rotates each round. Rounds go on
    until every callable has ``runs`` samples and the timed part has lasted
    ``min_time_s`` *per callable* (capped at ``max_time_s`` per callable).
    """
    if not fns:
        return {}
    cfg = _config(config, overrides)
    names = list(fns)
    calls = {k: _caller(fns[k], (inputs or {}).get(k)) for k in names}
    sync_of = {k: (syncs or {}).get(k) for k in names}
    samples: Dict[str, List[float]] = {k: [] for k in names}
    warm = {k: _warm_up(calls[k], sync_of[k], cfg, clock) for k in names}  # each, by count and time
    counter = dict(warm)

    t_begin = clock()
    rnd = 0
    n_fns = len(names)
    while True:
        order = names[rnd % n_fns:] + names[:rnd % n_fns]
        for k in order:
            for _ in range(max(1, block)):
                t0 = clock()
                calls[k](counter[k])
                if sync_of[k]:
                    sync_of[k]()
                t1 = clock()
                samples[k].append((t1 - t0) * 1e3)
                counter[k] += 1
        rnd += 1
        elapsed = clock() - t_begin
        least = min(len(s) for s in samples.values())
        if least >= cfg.max_runs:
            break
        if least >= cfg.runs and elapsed >= cfg.min_time_s * n_fns:
            break
        if least >= MIN_RUNS and elapsed >= cfg.max_time_s * n_fns:
            break
    total = clock() - t_begin
    return {k: compute_stats(samples[k], warmup_runs=warm[k], total_s=total) for k in names}


def _config(config: Optional[TimingConfig], overrides: Dict[str, Any]) -> TimingConfig:
    base = config.to_dict() if config is not None else {}
    unknown = set(overrides) - set(TimingConfig.FIELDS)
    if unknown:
        raise TypeError("unknown timing option(s): {}".format(sorted(unknown)))
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TimingConfig(**base)


def random_inputs(shape: Sequence[int], dtype: Any = "float32", count: int = 4, seed: int = 0) -> List[np.ndarray]:
    """``count`` fresh random inputs, never all-zero: normal floats (zeros
    replaced by 0.5) or integers over the whole dtype range excluding 0."""
    rng = np.random.RandomState(seed)  # not default_rng: numpy 1.13 on a Jetson Nano has none
    dt = np.dtype(dtype)
    out = []
    for _ in range(max(1, count)):
        if np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            high = int(info.max) + 1 if dt.itemsize < 8 else int(info.max)  # randint's high is exclusive
            x = rng.randint(int(info.min), high, size=tuple(shape), dtype=np.int64).astype(dt)
            x[x == 0] = 1
        elif dt == np.bool_:
            x = np.ones(tuple(shape), dtype=dt)
        else:
            x = rng.standard_normal(tuple(shape)).astype(dt)
            x[x == 0] = 0.5
        out.append(x)
    return out


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
- **timer**: a sample is the host clock around the call and its sync
  (``HostTimer``, the default: what a caller waits for), or what a device
  timer says (``timer(call, sync) -> ms``; CUDA events around the kernels,
  ``edgecnn.runtime.device_timing``), while the loop's own bookkeeping
  (warm-up, minimum time) stays on the host clock;
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


class HostTimer:
    """A sample by the host clock: the call and its sync, in milliseconds."""

    name = "host_clock"

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self.clock = clock

    def __call__(self, call: Callable[[], Any], sync: Optional[Callable[[], Any]] = None) -> float:
        t0 = self.clock()
        call()
        if sync is not None:
            sync()
        return (self.clock() - t0) * 1e3


Timer = Callable[[Callable[[], Any], Optional[Callable[[], Any]]], float]


def timed_block(call: Callable[[int], Any], start: int, *, calls: int, seconds: float,
                sync: Optional[Callable[[], Any]] = None, timer: Optional[Timer] = None,
                clock: Clock = time.perf_counter, max_calls: Optional[int] = None) -> List[float]:
    """Samples (ms) of ``call(start)``, ``call(start + 1)``, ... until both
    ``calls`` calls and ``seconds`` seconds (host clock) are done, or
    ``max_calls``. The one place a sample is taken: ``measure``, ``interleave``
    and the isolated workers (``edgecnn.runtime.workers``) all time through it."""
    stamp = timer if timer is not None else HostTimer(clock)
    samples = []  # type: List[float]
    begin = clock()
    i = start
    while len(samples) < calls or clock() - begin < seconds:
        samples.append(stamp(_bind(call, i), sync))
        i += 1
        if max_calls is not None and len(samples) >= max_calls:
            break
    return samples


def _bind(call: Callable[[int], Any], i: int) -> Callable[[], Any]:
    return lambda: call(i)


def _caller(fn: Callable, inputs: Optional[Sequence[Any]]) -> Callable[[int], Any]:
    if inputs is None:
        return lambda i: fn()
    if len(inputs) == 0:
        raise ValueError("inputs must not be empty")
    pool = list(inputs)
    return lambda i: fn(pool[i % len(pool)])


def warm_up(call: Callable[[int], Any], sync: Optional[Callable[[], Any]] = None, *, calls: int,
            seconds: float, clock: Clock = time.perf_counter, max_calls: Optional[int] = None) -> int:
    """Call ``call(0)``, ``call(1)``, ... until both ``calls`` calls and
    ``seconds`` seconds are done (at most ``max_calls``); returns the number
    of calls (the next input index)."""
    i = 0
    start = clock()
    while i < calls or clock() - start < seconds:
        call(i)
        if sync is not None:
            sync()
        i += 1
        if max_calls is not None and i >= max_calls:
            break
    return i


def _warm_up(call: Callable[[int], Any], sync: Optional[Callable[[], Any]], cfg: TimingConfig,
             clock: Clock) -> int:
    return warm_up(call, sync, calls=cfg.warmup, seconds=cfg.warmup_s, clock=clock, max_calls=cfg.max_runs)


def measure(
    fn: Callable,
    *,
    inputs: Optional[Sequence[Any]] = None,
    sync: Optional[Callable[[], Any]] = None,
    config: Optional[TimingConfig] = None,
    clock: Clock = time.perf_counter,
    timer: Optional[Timer] = None,
    **overrides: Any,
) -> LatencyStats:
    """Time ``fn`` (``fn()``, or ``fn(x)`` for each ``x`` of ``inputs`` in turn).

    ``overrides`` are TimingConfig fields (``warmup``, ``runs``, ``min_time_s``,
    ``max_time_s``, ...). ``sync`` is called after every call inside the timed
    region. ``clock`` returns seconds (injectable for tests); ``timer`` takes
    each sample instead of the host clock (a device timer).
    """
    cfg = _config(config, overrides)
    call = _caller(fn, inputs)
    i = warm = _warm_up(call, sync, cfg, clock)
    samples = []  # type: List[float]
    t_begin = clock()
    while True:
        samples += timed_block(call, i, calls=1, seconds=0.0, sync=sync, timer=timer, clock=clock)
        i += 1
        elapsed = clock() - t_begin
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
    timers: Optional[Dict[str, Timer]] = None,
    **overrides: Any,
) -> Dict[str, LatencyStats]:
    """Time several callables round-robin so machine drift hits all alike.

    Each round runs every callable ``block`` times (first round: the warm-up,
    by count and time, for each); the order rotates each round. Rounds go on
    until every callable has ``runs`` samples and the timed part has lasted
    ``min_time_s`` *per callable* (capped at ``max_time_s`` per callable).
    ``timers`` give a callable its own sample timer (a device timer).
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
            n = max(1, block)
            samples[k] += timed_block(calls[k], counter[k], calls=n, seconds=0.0, sync=sync_of[k],
                                      timer=(timers or {}).get(k), clock=clock, max_calls=n)
            counter[k] += n
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


def ratio_interval(ratios: Sequence[float], confidence: float = 0.95, resamples: int = 2000,
                   seed: int = 0) -> List[float]:
    """``[low, high]``: a bootstrap interval (percentile method) of the median
    of ``ratios``, one ratio per round of an alternating comparison. With one
    round the interval is that ratio alone (nothing says how sure it is)."""
    a = np.asarray(list(ratios), dtype=np.float64)
    if a.size == 0:
        raise ValueError("no ratios to bound")
    if a.size == 1:
        return [float(a[0]), float(a[0])]
    rng = np.random.RandomState(seed)
    meds = np.median(a[rng.randint(0, a.size, size=(int(resamples), a.size))], axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(meds, [tail, 100.0 - tail])
    return [float(lo), float(hi)]


OUTSIDE, CANNOT_TELL = "outside", "cannot tell"


def ratio_verdict(interval: Sequence[float], tolerance: float = 0.10) -> str:
    """"within 10 %" (the tolerance in the words) when the whole interval
    lies in 1 +- ``tolerance``, "outside" when all of it lies beyond, else
    "cannot tell" (more rounds may settle it)."""
    lo, hi = float(interval[0]), float(interval[1])
    if lo >= 1.0 - tolerance and hi <= 1.0 + tolerance:
        return "within {:g} %".format(round(tolerance * 100, 6))
    if hi < 1.0 - tolerance or lo > 1.0 + tolerance:
        return OUTSIDE
    return CANNOT_TELL


# ---------------------------------------------------------------------------
# MNN's input, fed the same way here (runtime/mnn_runner.py) and on a device
# (remote/device_runner.py, which imports this file pushed beside it)
# ---------------------------------------------------------------------------
def mnn_input_feeder(mnn: Any, session_input: Any, shape: Sequence[int]) -> Callable[[np.ndarray], None]:
    """``feed(x)``: a float32 NCHW array into an MNN session's input through
    ONE host tensor made here and refilled on every call through its host
    pointer (the capsule ``getHost()`` returns; MNN's ``fromNumpy`` compares
    bytes with elements and refuses). A new ``MNN.Tensor`` per call allocates
    and copies into fresh memory: 12 % of mobilenet_v3_small's time at 224
    (docs/profile.md). Another shape, or a pointer that cannot be read
    (``feed.host_address`` None), gets a tensor of its own."""
    import ctypes

    shape = [int(d) for d in shape]
    host = mnn.Tensor(tuple(shape), mnn.Halide_Type_Float, np.zeros(shape, np.float32), mnn.Tensor_DimensionType_Caffe)
    try:
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        address = get(host.getHost(), None) or None
    except (AttributeError, TypeError, ValueError):
        address = None

    def feed(x: np.ndarray) -> None:
        data = np.ascontiguousarray(x, dtype=np.float32)  # alive until the copy into the session is done
        if address is not None and list(data.shape) == shape:
            ctypes.memmove(address, data.ctypes.data, data.nbytes)
            session_input.copyFrom(host)
            return
        session_input.copyFrom(mnn.Tensor(tuple(data.shape), mnn.Halide_Type_Float, data,
                                          mnn.Tensor_DimensionType_Caffe))

    feed.host_address = address  # type: ignore[attr-defined]
    return feed


# ---------------------------------------------------------------------------
# device time apart from the copies on a device reached over SSH, where the
# TensorRT engine is fed through cuda-python's cudart (remote/device_runner.py;
# locally edgecnn.runtime.device_timing does the same with torch)
# ---------------------------------------------------------------------------
COPY_TIMING = {"warmup": 3, "warmup_s": 0.05, "runs": 20, "min_time_s": 0.25, "max_time_s": 3.0}


class CudartTimer:
    """CUDA events (cuda-python's ``cudart`` module) recorded on ``stream``
    around a call: the device time between them, in milliseconds."""

    name = "cuda_events"

    def __init__(self, cudart: Any, stream: Any) -> None:
        self.cudart, self.stream = cudart, stream
        self.start, self.end = cudart.cudaEventCreate()[1], cudart.cudaEventCreate()[1]

    def __call__(self, call: Callable[[], Any], sync: Optional[Callable[[], Any]] = None) -> float:
        self.cudart.cudaEventRecord(self.start, self.stream)
        call()
        self.cudart.cudaEventRecord(self.end, self.stream)
        self.cudart.cudaEventSynchronize(self.end)
        ms = float(self.cudart.cudaEventElapsedTime(self.start, self.end)[1])
        if sync is not None:
            sync()
        return ms


def cudart_phases(cudart: Any, stream: Any, compute: Callable[[], Any], dev_in: Sequence[Any],
                  dev_out: Sequence[Any]) -> Dict[str, Any]:
    """The device steps of one engine: ``dev_in`` / ``dev_out`` are (device
    pointer, bytes); pinned host buffers of the same sizes are allocated here.
    Returns ``prepare(x)``, ``h2d``, ``compute``, ``d2h``, the event timer and
    the bytes each copy moves (what ``measure_split`` takes)."""
    import ctypes

    (in_ptr, in_bytes), (out_ptr, out_bytes) = dev_in, dev_out
    h_in, h_out = cudart.cudaMallocHost(in_bytes)[1], cudart.cudaMallocHost(out_bytes)[1]
    kind = cudart.cudaMemcpyKind

    def h2d() -> None:
        cudart.cudaMemcpyAsync(in_ptr, h_in, in_bytes, kind.cudaMemcpyHostToDevice, stream)

    def d2h() -> None:
        cudart.cudaMemcpyAsync(h_out, out_ptr, out_bytes, kind.cudaMemcpyDeviceToHost, stream)

    def prepare(x: np.ndarray) -> None:
        x = np.ascontiguousarray(x)
        ctypes.memmove(h_in, x.ctypes.data, min(x.nbytes, in_bytes))
        for step in (h2d, compute, d2h):
            step()
        cudart.cudaStreamSynchronize(stream)

    return {"prepare": prepare, "h2d": h2d, "compute": compute, "d2h": d2h, "timer": CudartTimer(cudart, stream),
            "h2d_bytes": in_bytes, "d2h_bytes": out_bytes}


def measure_split(phases: Dict[str, Any], infer: Callable, inputs: Sequence[Any],
                  sync: Optional[Callable[[], Any]] = None, **overrides: Any) -> Dict[str, Any]:
    """Record fields of one engine timed on its device: the compute step's
    statistics as the headline (``overrides``: TimingConfig fields), the
    copies and the end-to-end call (numpy in, numpy out) beside them."""
    phases["prepare"](inputs[0])
    timer = phases["timer"]
    stats = measure(phases["compute"], timer=timer, **overrides).to_metrics()
    series = (("h2d", measure(phases["h2d"], timer=timer, **COPY_TIMING)),
              ("d2h", measure(phases["d2h"], timer=timer, **COPY_TIMING)),
              ("end_to_end", measure(infer, inputs=inputs, sync=sync, **COPY_TIMING)))
    stats.update(latency_measure="device_compute", includes_host_copies=False, device_timer=timer.name,
                 host_memory="pinned", h2d_bytes=int(phases["h2d_bytes"]), d2h_bytes=int(phases["d2h_bytes"]),
                 copy_timing_config=dict(COPY_TIMING))
    for name, st in series:
        stats.update({name + "_ms_p50": st.median_ms, name + "_ms_p90": st.p90_ms, name + "_runs": st.runs})
    return stats


def measure_call(infer: Callable, inputs: Sequence[Any], sync: Optional[Callable[[], Any]] = None,
                 **overrides: Any) -> Dict[str, Any]:
    """Record fields of a device runner's job: ``measure_split`` when the
    loader gave ``infer`` its ``device_phases`` (a GPU engine), else the plain
    call's statistics."""
    phases = getattr(infer, "device_phases", None)
    if phases:
        return measure_split(phases, infer, inputs, sync, **overrides)
    return measure(infer, inputs=inputs, sync=sync, **overrides).to_metrics()

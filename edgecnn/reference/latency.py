"""Time the default models with the torch runner in several configurations
(precision, memory format, CUDA graphs, torch.compile) at several batch
sizes, interleaved per (model, batch), plus per-layer times for a few
configurations, a fidelity check against a plain CUDA-event script, and the
separable sweep. Records have the shapes ``edgecnn profile`` writes (kinds
``latency``, ``layer_latency``, ``separable``).

On a GPU each configuration's headline is its **device time** (CUDA events
around the compute step, input already on the device: ``latency_measure =
"device_compute"``), with the host-to-device and device-to-host copies
(pinned buffers) and the end-to-end call (numpy in, numpy out) beside it
(``edgecnn.runtime.device_timing``). On the host CPU it is the plain call.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable, Optional, Sequence

from edgecnn.errors import EdgeCNNError
from edgecnn.records import Record
from edgecnn.reference.config import LatencyConfig
from edgecnn.runtime.timing import TimingConfig, random_inputs

LAYER_METHOD = "forward pre/post hooks on leaf modules, synchronised on CUDA (median of runs)"


def _record(kind: str, model: str, cfg: LatencyConfig, batch: int, size: int, *, device_name: str, accel: str,
            env: dict[str, Any], status: str = "ok", error: Optional[str] = None,
            metrics: Optional[dict[str, Any]] = None) -> Record:
    return Record(kind=kind, model=model, status=status, device=device_name, runtime="torch", format="pytorch",
                  precision=cfg.precision, batch=batch, input_shape=[3, size, size], variant=cfg.variant(accel),
                  error=error, metrics=dict(metrics or {}), env=dict(env))


def _key(cfg: LatencyConfig, accel: str) -> str:
    return f"{cfg.precision}|{cfg.variant(accel) or 'eager'}"


def load_configs(model: Any, name: str, configs: Sequence[LatencyConfig], shape: list[int], inputs: list, *,
                 accel: str, threads: Optional[int], split: bool, keep: Callable[[LatencyConfig, str, str], None],
                 compile_backend: str = "inductor") -> dict[str, tuple[Any, LatencyConfig]]:
    """One loaded TorchRunner per configuration that runs here (a copy of
    ``model`` each); one that cannot is reported through ``keep(cfg, status,
    error)`` and left out."""
    from edgecnn.runtime import RunnerUnsupported, TorchRunner

    out: dict[str, tuple[Any, LatencyConfig]] = {}
    for cfg in configs:
        r = None
        try:
            r = TorchRunner(device=accel, precision=cfg.precision, channels_last=cfg.channels_last,
                            cuda_graphs=cfg.cuda_graphs, compile=cfg.compile, compile_backend=compile_backend,
                            input_shape=shape, threads=threads, split=split)
            r.load(copy.deepcopy(model))  # the runner converts the module in place
            r.infer(inputs[0])  # a configuration that cannot run this model fails alone
        except RunnerUnsupported as exc:
            keep(cfg, "unsupported", str(exc))
        except (EdgeCNNError, RuntimeError, ValueError, AssertionError) as exc:  # dynamo/inductor raise widely
            keep(cfg, "failed", f"{type(exc).__name__}: {str(exc)[:2000]}")
        else:
            out[_key(cfg, accel)] = (r, cfg)
            continue
        if r is not None:
            r.close()
    return out


def time_model(name: str, *, accel: str, configs: Sequence[LatencyConfig], batches: Sequence[int],
               layer_configs: Sequence[tuple[LatencyConfig, int]], timing: TimingConfig, layer_runs: int,
               device_name: str, env: dict[str, Any], threads: Optional[int] = None,
               input_size: Optional[int] = None, keep: Callable[[Record], None], split: bool = True,
               copy_timing: Optional[TimingConfig] = None,
               fidelity_configs: Sequence[LatencyConfig] = (), fidelity_batch: Optional[int] = None,
               fidelity_block_s: float = 0.3, fidelity_rounds: tuple[int, int] = (5, 15),
               compile_batches: Optional[Sequence[int]] = None,
               compile_backend: str = "inductor", log: Callable[[str], None] = print) -> None:
    """Every configuration of ``configs`` at every batch of ``batches`` for one
    model (ImageNet classes, ``input_size`` or its card's), interleaved per
    batch (device time apart from the copies when ``split``); a configuration
    that cannot run here is an ``unsupported`` or ``failed`` record. At
    ``fidelity_batch`` the ``fidelity_configs`` are also checked against the
    plain script (their records carry the ratio). torch.compile
    configurations are timed at ``compile_batches`` only (each batch is a new
    compilation). ``keep`` receives each record as soon as it exists."""
    import torch

    from edgecnn.cost.engine import count_model
    from edgecnn.models import create_model
    from edgecnn.runtime.device_timing import COPY_TIMING, time_split

    torch.manual_seed(0)
    model = create_model(name, input_size=input_size)
    size = int(model.edgecnn_config["input_size"])
    macs = int(count_model(name, size, "fp32").totals["conv_linear_macs"])
    base_env = dict(env, threads=threads, accel=accel)
    copies = copy_timing or COPY_TIMING
    for batch in batches:
        shape = [batch, 3, size, size]
        inputs = random_inputs(shape, count=4)

        def refused(cfg: LatencyConfig, status: str, error: str, batch: int = batch) -> None:
            keep(_record("latency", name, cfg, batch, size, device_name=device_name, accel=accel, env=base_env,
                         status=status, error=error))

        here = [c for c in configs if c.compile is None or compile_batches is None or batch in compile_batches]
        loaded = load_configs(model, name, here, shape, inputs, accel=accel, threads=threads, split=split,
                              keep=refused, compile_backend=compile_backend)
        try:
            if not loaded:
                continue
            runners = {k: r for k, (r, _) in loaded.items()}
            log(f"latency {name} batch {batch} on {accel}: {len(runners)} configurations interleaved")
            stats = time_split(runners, {k: inputs for k in runners}, config=timing,
                               copy_config=copies if split else None)
            checked = {_key(c, accel) for c in fidelity_configs} if batch == fidelity_batch else set()
            for key, st in stats.items():
                r, cfg = loaded[key]
                m = _latency_metrics(st, r, macs, batch, sorted(runners), timing, copies if split else None)
                if key in checked and st.phases is not None:
                    from edgecnn.reference.fidelity import fidelity

                    m.update(fidelity(r, block_s=fidelity_block_s, min_rounds=fidelity_rounds[0],
                                      max_rounds=fidelity_rounds[1]))
                    log(f"fidelity {name} {key} batch {batch}: edgecnn / plain = {m['fidelity_ratio']:.3f} "
                        f"{m['fidelity_interval']} ({m['fidelity_verdict']})")
                keep(_record("latency", name, cfg, batch, size, device_name=device_name, accel=accel,
                             env=base_env, metrics=m))
            for cfg, b in layer_configs:
                key = _key(cfg, accel)
                if b == batch and key in runners:
                    keep(_layer_record(name, runners[key], cfg, batch, size, stats[key].median_ms, layer_runs,
                                       inputs, device_name=device_name, accel=accel, env=base_env))
        finally:
            for r, _ in loaded.values():
                r.close()


def _latency_metrics(st: Any, runner: Any, macs: int, batch: int, interleaved: list[str], timing: TimingConfig,
                     copies: Optional[TimingConfig]) -> dict[str, Any]:
    m = st.to_metrics()
    if st.phases is None and not runner.device.startswith("cuda"):
        m.update(latency_measure="host_call", includes_host_copies=False)
    m.update({"threads": runner.threads, "macs": macs,
              "achieved_gmacs_per_s": macs * batch / (st.median_ms * 1e6) if st.median_ms > 0 else None,
              "interleaved_with": interleaved, "runner": runner.describe(), "timing_config": timing.to_dict()})
    if copies is not None and st.phases is not None:
        m["copy_timing_config"] = copies.to_dict()
    if runner.compile_mode is not None:
        m.update(compile_mode=runner.compile_mode, compile_s=runner.compile_s)
    return m


def _layer_record(name: str, runner: Any, cfg: LatencyConfig, batch: int, size: int, total_ms: float,
                  runs: int, inputs: list, *, device_name: str, accel: str, env: dict[str, Any]) -> Record:
    from edgecnn.cost.engine import count_model
    from edgecnn.profile.layers import join_layer_times, summarize_layers

    try:
        rows = runner.layer_times(inputs, runs=runs)
    except EdgeCNNError as exc:
        return _record("layer_latency", name, cfg, batch, size, device_name=device_name, accel=accel, env=env,
                       status="unsupported", error=str(exc))
    cost = count_model(name, size, cfg.precision, batch=batch)
    joined = join_layer_times(cost.layers, rows, runtime="torch", batch=batch)
    metrics = {"layers": joined, "summary": summarize_layers(joined, total_ms=total_ms),
               "macs": int(cost.totals["conv_linear_macs"]), "layer_runs": runs, "threads": runner.threads,
               "method": LAYER_METHOD}
    return _record("layer_latency", name, cfg, batch, size, device_name=device_name, accel=accel, env=env,
                   metrics=metrics)


def separable_sweep(ns: Sequence[int], dks: Sequence[int], df: int, runs: Sequence[tuple[str, int]], *,
                    accel: str, timing: TimingConfig, device_name: str, env: dict[str, Any],
                    log: Callable[[str], None] = print) -> list[Record]:
    """Depthwise + pointwise against the standard convolution, M = N, for every
    N of ``ns`` and Dk of ``dks`` at input side ``df``, once per (precision,
    batch) of ``runs``; model "layer", as ``edgecnn profile --shape`` writes.
    Each side is timed on the device alone (its input resident, CUDA events;
    the host clock in the CPU smoke run), with the GMAC/s it reached."""
    from edgecnn.profile.separable import Shape, separable_records, time_shapes

    shapes = [Shape(n, n, dk, df) for dk in dks for n in ns]
    out: list[Record] = []
    for precision, batch in runs:
        t0 = time.perf_counter()
        results = time_shapes(shapes, ["torch"], config=timing, device=accel, precision=precision, batch=batch,
                              split=True)
        recs = separable_records("layer", shapes, results, ["torch"], device=device_name, precision=precision,
                                 batch=batch, accel=accel)
        for rec in recs:
            rec.env = dict(env, **{k: v for k, v in rec.env.items() if k == "threads"}, accel=accel)
        out += recs
        log(f"separable sweep {precision} batch {batch} on {accel}: {len(shapes)} shapes in "
            f"{time.perf_counter() - t0:.1f} s")
    return out

"""Time the default models with the torch runner in several configurations
(precision, memory format, CUDA graphs) at several batch sizes, interleaved
per (model, batch), plus per-layer times for a few configurations; and the
separable sweep. Records have the shapes ``edgecnn profile`` writes (kinds
``latency``, ``layer_latency``, ``separable``).

The torch runner copies the numpy input to the device and the logits back
inside each timed call (as every runner does, so runtimes compare like with
like); on a GPU that copy is part of the figure, noted in each record.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable, Optional, Sequence

from edgecnn.errors import EdgeCNNError
from edgecnn.records import Record
from edgecnn.reference.config import LatencyConfig
from edgecnn.runtime.timing import TimingConfig, interleave, random_inputs

LAYER_METHOD = "forward pre/post hooks on leaf modules, synchronised on CUDA (median of runs)"


def _record(kind: str, model: str, cfg: LatencyConfig, batch: int, size: int, *, device_name: str, accel: str,
            env: dict[str, Any], status: str = "ok", error: Optional[str] = None,
            metrics: Optional[dict[str, Any]] = None) -> Record:
    return Record(kind=kind, model=model, status=status, device=device_name, runtime="torch", format="pytorch",
                  precision=cfg.precision, batch=batch, input_shape=[3, size, size], variant=cfg.variant(accel),
                  error=error, metrics=dict(metrics or {}), env=dict(env))


def time_model(name: str, *, accel: str, configs: Sequence[LatencyConfig], batches: Sequence[int],
               layer_configs: Sequence[tuple[LatencyConfig, int]], timing: TimingConfig, layer_runs: int,
               device_name: str, env: dict[str, Any], threads: Optional[int] = None,
               input_size: Optional[int] = None, keep: Callable[[Record], None],
               log: Callable[[str], None] = print) -> None:
    """Every configuration of ``configs`` at every batch of ``batches`` for one
    model (ImageNet classes, ``input_size`` or its card's), interleaved per batch; a
    configuration that cannot run here is an ``unsupported`` or ``failed``
    record. ``keep`` receives each record as soon as it exists."""
    import torch

    from edgecnn.cost.engine import count_model
    from edgecnn.models import create_model
    from edgecnn.runtime import RunnerUnsupported, TorchRunner

    torch.manual_seed(0)
    model = create_model(name, input_size=input_size)
    size = int(model.edgecnn_config["input_size"])
    macs = int(count_model(name, size, "fp32").totals["conv_linear_macs"])
    base_env = dict(env, threads=threads, accel=accel)
    for batch in batches:
        shape = [batch, 3, size, size]
        inputs = random_inputs(shape, count=4)
        runners: dict[str, Any] = {}
        by_key: dict[str, LatencyConfig] = {}
        try:
            for cfg in configs:
                key = f"{cfg.precision}|{cfg.variant(accel) or 'eager'}"
                r = None
                try:
                    r = TorchRunner(device=accel, precision=cfg.precision, channels_last=cfg.channels_last,
                                    cuda_graphs=cfg.cuda_graphs, input_shape=shape, threads=threads)
                    r.load(copy.deepcopy(model))  # the runner converts the module in place
                    r.infer(inputs[0])  # a configuration that cannot run this model fails alone
                except RunnerUnsupported as exc:
                    if r is not None:
                        r.close()
                    keep(_record("latency", name, cfg, batch, size, device_name=device_name, accel=accel,
                                 env=base_env, status="unsupported", error=str(exc)))
                    continue
                except (EdgeCNNError, RuntimeError, ValueError) as exc:
                    if r is not None:
                        r.close()
                    keep(_record("latency", name, cfg, batch, size, device_name=device_name, accel=accel,
                                 env=base_env, status="failed", error=f"{type(exc).__name__}: {exc}"))
                    continue
                runners[key], by_key[key] = r, cfg
            if not runners:
                continue
            log(f"latency {name} batch {batch} on {accel}: {len(runners)} configurations interleaved")
            stats = interleave({k: r.infer for k, r in runners.items()}, inputs={k: inputs for k in runners},
                               syncs={k: r.sync for k, r in runners.items()}, config=timing)
            for key, st in stats.items():
                m = st.to_metrics()
                m.update({"threads": runners[key].threads, "macs": macs,
                          "achieved_gmacs_per_s": macs * batch / (st.median_ms * 1e6) if st.median_ms > 0 else None,
                          "interleaved_with": sorted(runners), "runner": runners[key].describe(),
                          "timing_config": timing.to_dict(), "includes_host_copies": True})
                keep(_record("latency", name, by_key[key], batch, size, device_name=device_name, accel=accel,
                             env=base_env, metrics=m))
            for cfg, b in layer_configs:
                key = f"{cfg.precision}|{cfg.variant(accel) or 'eager'}"
                if b == batch and key in runners:
                    keep(_layer_record(name, runners[key], cfg, batch, size, stats[key].median_ms, layer_runs,
                                       inputs, device_name=device_name, accel=accel, env=base_env))
        finally:
            for r in runners.values():
                r.close()


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
    batch) of ``runs``; model "layer", as ``edgecnn profile --shape`` writes."""
    from edgecnn.profile.separable import Shape, separable_records, time_shapes

    shapes = [Shape(n, n, dk, df) for dk in dks for n in ns]
    out: list[Record] = []
    for precision, batch in runs:
        t0 = time.perf_counter()
        results = time_shapes(shapes, ["torch"], config=timing, device=accel, precision=precision, batch=batch)
        recs = separable_records("layer", shapes, results, ["torch"], device=device_name, precision=precision,
                                 batch=batch, accel=accel)
        for rec in recs:
            rec.env = dict(env, **{k: v for k, v in rec.env.items() if k == "threads"}, accel=accel)
        out += recs
        log(f"separable sweep {precision} batch {batch} on {accel}: {len(shapes)} shapes in "
            f"{time.perf_counter() - t0:.1f} s")
    return out

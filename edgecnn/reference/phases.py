"""The phases of the reference run, in order, and its summary (see ``run``)."""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from edgecnn.errors import EdgeCNNError
from edgecnn.reference.config import LatencyConfig, TrainJob

if TYPE_CHECKING:
    from edgecnn.reference.context import Context

SETUP_ALLOWANCE_S = 15.0  # data from the cache, model build, copy to the GPU: before the trainer's clock starts


def run_all(ctx: "Context") -> None:
    """The phases of ``ctx.cfg.phases``, in the order of ``config.PHASES``."""
    cfg = ctx.cfg
    on = set(cfg.phases)
    if "machine" in on:
        ctx.guard("machine", "latency", "all", lambda: _machine(ctx))
    if "predict" in on:
        ctx.guard("predict", "latency", "all", lambda: _predict(ctx))
    if "data" in on:
        ctx.guard("data", "train", "all", lambda: _load_data(ctx))
    if "ceiling" in on:
        ctx.guard("ceiling", "accuracy", "airbench", lambda: _ceiling(ctx))
    if "train" in on:
        for job in cfg.first_jobs:
            _train(ctx, job, job.budget_s)
    if "latency" in on:
        for name in cfg.models:
            ctx.guard(f"latency:{name}", "latency", name, lambda n=name: _gpu_latency(ctx, n), need_s=4.0)
    if "separable" in on:
        ctx.guard("separable", "separable", "layer", lambda: _separable(ctx), need_s=4.0)
    if "host-cpu" in on:
        host_threads = cfg.host_threads or _host_cores()
        for name in cfg.models:
            ctx.guard(f"latency-host-cpu:{name}", "latency", name,
                      lambda n=name: _latency(ctx, n, "cpu", (LatencyConfig("fp32"),), cfg.cpu_batches, (),
                                              host_threads, split=False), need_s=2.0)
    if "tensorrt" in on:
        ctx.guard("tensorrt", "latency", "all", lambda: _tensorrt(ctx))
    if "leftover" in on:
        _leftover(ctx)


def _leftover(ctx: "Context") -> None:
    """The leftover jobs share what is left; one with too little is not started."""
    cfg = ctx.cfg
    jobs = list(cfg.leftover_jobs)
    for i, job in enumerate(jobs):
        share = (ctx.left() - _setup_allowance(ctx) * (len(jobs) - i)) / (len(jobs) - i)
        if share < cfg.leftover_min_s:
            msg = f"not started: {max(0.0, share):.0f} s would be left for it (at least {cfg.leftover_min_s:.0f} s)"
            ctx.log(f"train:{job.model}: {msg}")
            ctx.failed("train", job.model, f"train:{job.model}", msg)
            ctx.phases.append({"phase": f"train:{job.model}", "status": "not started", "seconds": 0.0,
                               "error": msg})
            continue
        _train(ctx, job, min(share, job.budget_s) if job.budget_s else share)


def _ceiling(ctx: "Context") -> None:
    """airbench94/95 on the archive (edgecnn.reference.ceiling): the data set's handicap."""
    from edgecnn.reference.ceiling import airbench_ceiling

    cfg = ctx.cfg
    stop = time.perf_counter() + cfg.ceiling_budget_s
    recs = airbench_ceiling(cfg.airbench_variants, cfg.airbench_seeds, work=ctx.work / "ceiling", data=ctx.data,
                            time_left=lambda: min(ctx.left(), stop - time.perf_counter()), log=ctx.log,
                            device_name=cfg.device_name, env=ctx.env, subset=cfg.subset,
                            test_subset=cfg.test_subset)
    ctx.store.extend(recs)
    ctx.results["ceiling"] = [{"variant": r.variant, "source": r.source, "status": r.status,
                               "top1": r.metrics.get("top1"), "handicap_points": r.metrics.get("handicap_points"),
                               "measured_top1_mean": r.metrics.get("measured_top1_mean"), "error": r.error}
                              for r in recs]
    for r in recs:
        if r.metrics.get("handicap_points") is not None:
            ctx.log(f"ceiling {r.variant}: published {r.metrics['top1']:.2f} %, measured mean "
                    f"{r.metrics['measured_top1_mean']:.2f} % -> handicap {r.metrics['handicap_points']:+.2f} points")



def _machine(ctx: "Context") -> None:
    from edgecnn.reference.machine import describe, machine_facts, probe_record

    facts = machine_facts()
    ctx.results["machine"] = facts
    for line in describe(facts):
        ctx.log(line)
    if not facts["tensorrt"]["module"]["imports"] and "tensorrt" in ctx.cfg.phases:
        ctx.keep(probe_record(facts["tensorrt"], device_name=ctx.cfg.device_name, env=ctx.env))


def _gpu_latency(ctx: "Context", name: str) -> None:
    cfg = ctx.cfg
    _latency(ctx, name, cfg.accel, cfg.gpu_configs, cfg.gpu_batches, cfg.layer_configs, cfg.threads, split=True,
             fidelity=True)


def _tensorrt(ctx: "Context") -> None:
    from edgecnn.reference.machine import probe_tensorrt
    from edgecnn.reference.tensorrt import engine_records

    cfg = ctx.cfg
    probe = ctx.results.get("machine", {}).get("tensorrt") or probe_tensorrt()
    if not probe["module"]["imports"]:
        ctx.log("tensorrt: no engines (the module does not import; the probe record says what was looked for)")
        return
    if cfg.accel != "cuda":
        ctx.log("tensorrt: no engines on the CPU")
        return
    for name in cfg.models:
        recs = engine_records(name, cfg.tensorrt_runs, work=ctx.work / "trt", data=ctx.data,
                              device_name=cfg.device_name, env=ctx.env, probe=probe, timing=cfg.timing,
                              copy_timing=cfg.copy_timing, left=ctx.left, need_s=cfg.tensorrt_need_s,
                              input_size=cfg.input_size, log=ctx.log)
        ctx.store.extend(recs)


def _host_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _setup_allowance(ctx: "Context") -> float:
    seen = [r["setup_s"] for r in ctx.results.get("train", {}).values() if r.get("setup_s") is not None]
    return max(seen) if seen else (2.0 if ctx.cfg.smoke else SETUP_ALLOWANCE_S)


def _predict(ctx: "Context") -> None:
    from edgecnn.devices.spec import load_device
    from edgecnn.reference.predict import host_cpu_spec, predict_all, reference_knowledge

    cfg = ctx.cfg
    gpu = load_device(cfg.device_name)
    host = host_cpu_spec()
    known = reference_knowledge(cfg.prior_records, leave_out=cfg.device_name)
    recs = predict_all(cfg.models, gpu, host, known, gpu_runs=cfg.predict_gpu, cpu_runs=cfg.predict_cpu,
                       device_name=cfg.device_name, env=ctx.env, host_threads=cfg.host_threads or _host_cores(),
                       input_size=cfg.input_size)
    ctx.store.extend(recs)
    cpu = host.unit("cpu")
    ctx.results["host_cpu"] = {"description": host.description, "peak_gmacs_per_s": cpu.peak_gmacs_per_s,
                               "memory_bandwidth_gb_per_s": cpu.memory_bandwidth_gb_per_s, "kind": cpu.kind,
                               "how": cpu.how}
    ctx.results["prior"] = {"devices": sorted({p for r in recs for p in r.metrics.get("prior_devices") or []}),
                            "sources": sorted({r.metrics["params_source"] for r in recs})}
    ctx.log(f"predicted {len(recs)} latencies (GPU from {gpu.path}, host CPU: {host.description})")


def _load_data(ctx: "Context") -> None:
    from edgecnn.data import load_dataset

    t = time.perf_counter()
    sizes = {split: len(load_dataset("cifar10", split, ctx.data)) for split in ("train", "test")}
    ctx.results["data"] = {"source": str(ctx.data), "images": sizes, "load_s": time.perf_counter() - t}
    ctx.log(f"CIFAR-10 from {ctx.data}: {sizes['train']} training, {sizes['test']} test images")


def _train(ctx: "Context", job: TrainJob, budget_s: float) -> None:
    from edgecnn.reference import training
    from edgecnn.reference.context import DeadlineReached

    cfg = ctx.cfg
    budget = min(budget_s, ctx.left() - _setup_allowance(ctx))
    need = min(budget_s, cfg.leftover_min_s)

    def attempt(compile_: Optional[bool], seconds: float, suffix: str = "") -> dict[str, Any]:
        return training.train_reference(job.model, seconds, data=ctx.data, work=ctx.work, accel=cfg.accel,
                               device_name=cfg.device_name, env=ctx.env, compile_=compile_, amp=cfg.amp,
                               channels_last=cfg.channels_last, subset=cfg.subset, test_subset=cfg.test_subset,
                               batch_size=cfg.batch_size, threads=cfg.threads,
                               max_checkpoint_params=cfg.max_checkpoint_params, recipe=job.recipe,
                               recipe_set=job.recipe_set, keep=ctx.keep, log=ctx.log,
                               run_suffix=job.label + suffix)

    def go() -> dict[str, Any]:
        compiled = job.compile is not False and cfg.accel == "cuda"  # the trainer compiles on CUDA by default
        try:
            return attempt(job.compile, budget)
        except (EdgeCNNError, DeadlineReached):
            raise
        except Exception as exc:
            again = min(budget, ctx.left() - _setup_allowance(ctx))
            if not compiled or again < cfg.leftover_min_s:
                raise
            # torch.compile (dynamo, inductor, Triton) is the likeliest thing to break on a new
            # machine: one eager try with the time left, in its own run folder
            err = f"{type(exc).__name__}: {exc}"
            ctx.log(f"train:{job.model}: FAILED with torch.compile ({err}); training it eagerly in {again:.0f} s\n"
                    f"{traceback.format_exc()}")
            ctx.failed("train", job.model, f"train:{job.model}:compiled", err, traceback=traceback.format_exc()[-4000:])
            _reset_compiler()
            res = attempt(False, again, "-eager")
            res["compile_failed"] = err
            return res

    name = job.model + job.label
    res = ctx.guard(f"train:{name}", "train", job.model, go, need_s=need + _setup_allowance(ctx))
    if res is None:
        return
    res.update(recipe=job.recipe, recipe_set=list(job.recipe_set))
    if job.target_top1 is not None:
        res["target_top1"], res["target_s"] = job.target_top1, job.target_s
        res["target_met"] = bool(res["test_top1"] >= job.target_top1 and res["wall_s"] <= job.target_s)
    ctx.results.setdefault("train", {})[name] = res


def _reset_compiler() -> None:
    try:
        import torch._dynamo

        torch._dynamo.reset()
    except Exception:  # noqa: BLE001  (only a clean-up before the eager try)
        pass


def _latency(ctx: "Context", name: str, accel: str, configs, batches, layer_configs, threads=None, *,
             split: bool, fidelity: bool = False) -> None:
    from edgecnn.reference.latency import time_model

    cfg = ctx.cfg
    time_model(name, accel=accel, configs=configs, batches=batches, layer_configs=layer_configs, timing=cfg.timing,
               layer_runs=cfg.layer_runs, device_name=cfg.device_name, env=ctx.env, threads=threads,
               input_size=cfg.input_size, keep=ctx.keep, split=split, copy_timing=cfg.copy_timing,
               fidelity_configs=cfg.fidelity_configs if fidelity else (), fidelity_batch=cfg.fidelity_batch,
               fidelity_block_s=cfg.fidelity_block_s, fidelity_rounds=cfg.fidelity_rounds,
               compile_batches=cfg.compile_batches,
               compile_backend=cfg.compile_backend, log=ctx.log)


def _separable(ctx: "Context") -> None:
    from edgecnn.reference.latency import separable_sweep

    cfg = ctx.cfg
    recs = separable_sweep(cfg.separable_n, cfg.separable_dk, cfg.separable_df, cfg.separable_runs,
                           accel=cfg.accel, timing=cfg.separable_timing, device_name=cfg.device_name,
                           env=ctx.env, log=ctx.log)
    ctx.store.extend(recs)


# ---------------------------------------------------------------------------
# summary and pack
# ---------------------------------------------------------------------------
def prediction_table(ctx: "Context") -> list[dict[str, Any]]:
    """Predicted against measured latency, pairing ``predicted[+accel]`` with the
    measured eager NCHW record of the same model, precision and batch."""
    recs = [r for r in ctx.store.load(kind="latency", device=ctx.cfg.device_name) if r.ok]
    measured = {(r.model, r.precision, r.batch, r.variant): r for r in recs if r.source == "measured"}
    rows = []
    for p in (r for r in recs if r.source == "predicted"):
        want = None if p.variant == "predicted" else p.variant.removeprefix("predicted+")
        m = measured.get((p.model, p.precision, p.batch, want))
        pred, roof = p.metrics["latency_ms_p50"], p.metrics.get("roofline_ms")
        meas = m.metrics.get("latency_ms_p50") if m else None
        rows.append({"model": p.model, "unit": p.metrics.get("compute_unit"), "precision": p.precision,
                     "batch": p.batch, "predicted_ms": pred, "roofline_ms": roof, "measured_ms": meas,
                     "error": (pred - meas) / meas if meas else None,
                     "roofline_error": (roof - meas) / meas if meas and roof else None})
    return rows


def fidelity_table(ctx: "Context") -> list[dict[str, Any]]:
    """edgecnn's device time against the plain script, per checked configuration."""
    recs = [r for r in ctx.store.load(kind="latency", device=ctx.cfg.device_name)
            if r.ok and r.metrics.get("fidelity_ratio") is not None]
    return [{"model": r.model, "precision": r.precision, "variant": r.variant, "batch": r.batch,
             "edgecnn_ms": r.metrics["latency_ms_p50"], "plain_ms": r.metrics["plain_ms_p50"],
             "ratio": r.metrics["fidelity_ratio"], "interval": r.metrics["fidelity_interval"],
             "verdict": r.metrics["fidelity_verdict"]} for r in recs]


def separable_table(ctx: "Context") -> list[dict[str, Any]]:
    recs = [r for r in ctx.store.load(kind="separable", device=ctx.cfg.device_name) if r.ok]
    return [{"n": r.metrics["n"], "dk": r.metrics["dk"], "precision": r.precision, "batch": r.batch,
             "analytic_ratio": r.metrics["analytic_ratio"], "measured_ratio": r.metrics.get("measured_ratio")}
            for r in recs]


def finish(ctx: "Context", pack_dir: Path) -> dict[str, Any]:
    """Write summary.json, pack the run, print the table; returns the summary."""
    from edgecnn.records import read_jsonl_records
    from edgecnn.reference.pack import PackError, members, pack
    from edgecnn.reference.context import PACK_PATTERNS, write_json

    kinds: dict[str, int] = {}
    for f in ctx.store.files():
        for rec in read_jsonl_records(f):
            kinds[f"{rec.kind}:{rec.status}"] = kinds.get(f"{rec.kind}:{rec.status}", 0) + 1
    summary = {"smoke": ctx.cfg.smoke, "part": ctx.cfg.part, "started": ctx.started, "accel": ctx.cfg.accel,
               "device": ctx.cfg.device_name,
               "env": ctx.env, "wall_s": time.perf_counter() - ctx.t0, "total_budget_s": ctx.cfg.total_s,
               "phases": ctx.phases, "records": kinds, **ctx.results,
               "predictions": prediction_table(ctx), "separable": separable_table(ctx),
               "fidelity": fidelity_table(ctx)}
    write_json(ctx.work / "summary.json", summary)
    try:
        files = members(ctx.work, PACK_PATTERNS)
        summary["pack"] = {"folder": str(pack_dir), "members": len(files),
                           "files": pack(ctx.work, files, pack_dir)}
    except (PackError, OSError) as exc:
        summary["pack"] = {"folder": str(pack_dir), "error": f"{type(exc).__name__}: {exc}"}
        ctx.log(f"pack: FAILED {exc}")
    summary["wall_s"] = time.perf_counter() - ctx.t0
    write_json(ctx.work / "summary.json", summary)
    if pack_dir.is_dir():
        write_json(pack_dir / "summary.json", summary)
    print_table(summary)
    return summary


def _f(v: Any, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def print_table(s: dict[str, Any]) -> None:
    print("\n== gpu reference run: summary ==")
    print(f"{'phase':34} {'status':12} {'s':>7}")
    for p in s["phases"]:
        print(f"{p['phase']:34} {p['status']:12} {p['seconds']:7.1f}  {p['error'] or ''}"[:160])
    train = s.get("train", {})
    if train:
        print(f"\n{'model':20} {'top-1 %':>8} {'epochs':>6} {'wall s':>7} {'budget s':>8} {'img/s':>8} "
              f"{'target':>8} {'fp16 ckpt top-1':>15}")
        for m, r in train.items():
            target = "-" if r.get("target_top1") is None else ("met" if r["target_met"] else "MISSED")
            print(f"{m:20} {r['test_top1']:8.2f} {r['epochs']:6d} {r['wall_s']:7.1f} {r['time_budget_s']:8.1f} "
                  f"{_f(r['images_per_s'], '{:.0f}'):>8} {target:>8} {_f(r.get('checkpoint_top1')):>15}")
    preds = [p for p in s.get("predictions", []) if p["measured_ms"] is not None]
    if preds:
        print(f"\n{'model':20} {'unit':4} {'prec':5} {'batch':>5} {'pred ms':>9} {'meas ms':>9} {'error':>8} "
              f"{'roof err':>8}")
        for p in preds:
            print(f"{p['model']:20} {p['unit']:4} {p['precision']:5} {p['batch']:5d} {p['predicted_ms']:9.3f} "
                  f"{p['measured_ms']:9.3f} {_f(p['error'], '{:+.0%}'):>8} {_f(p['roofline_error'], '{:+.0%}'):>8}")
    for f in s.get("fidelity", []):
        print(f"fidelity {f['model']} {f['precision']} {f['variant'] or 'eager'} b{f['batch']}: edgecnn "
              f"{f['edgecnn_ms']:.3f} ms / plain {f['plain_ms']:.3f} ms = {f['ratio']:.3f} "
              f"[{f['interval'][0]:.3f}, {f['interval'][1]:.3f}] {f['verdict']}")
    for c in s.get("ceiling", []):
        if c.get("handicap_points") is not None:
            print(f"ceiling {c['variant']}: published {c['top1']:.2f} %, measured mean {c['measured_top1_mean']:.2f} "
                  f"%, handicap {c['handicap_points']:+.2f} points")
        elif c["status"] != "ok":
            print(f"ceiling {c['variant'] or 'airbench'}: {c['status']}: {c['error']}")
    pk = s.get("pack", {})
    print(f"\nrecords: {s['records']}")
    print(f"pack: {pk.get('error') or ', '.join(f['file'] + ' ' + str(f['bytes']) for f in pk.get('files', []))}")
    print(f"wall {s['wall_s']:.1f} s of {s['total_budget_s']:.0f} s")

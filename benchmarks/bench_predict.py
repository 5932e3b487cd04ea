"""How wrong are the latency predictions? Validated where ground truth exists: this machine.

The predictor (``edgecnn.predict.roofline``) is fitted per op class on
measured per-layer times and predicts a model's latency from its cost rows and
a compute unit's peaks. Here both sides are measured on this machine, in two
configurations per runtime (1 and 2 threads, or the usable cores): every model
is predicted in one configuration from a fit on the *other* configuration's
layers of the *other* models (leave-one-model-out), with the unit's peak
scaled to the predicted configuration's threads. So each prediction is out of
sample twice: another model, another thread count.

Printed per runtime and overall: the share of models within +-10 % and
+-25 %, the median and p90 |error|, and the rank correlation (Spearman) of
predicted and measured latency. With ``--record`` (default) a
``prediction_error`` record per runtime goes to ``--profiles``/local, and
predicted records carry its figures as their error band.

    .venv/bin/python benchmarks/bench_predict.py                  # 10 models, measures first (~20-30 min here)
    .venv/bin/python benchmarks/bench_predict.py --reuse          # the measurements of the last run
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "mnasnet1_0",
          "shufflenet_v2_x1_0", "squeezenet1_1", "efficientnet_b0", "resnet18", "googlenet"]
RUNTIMES = ["torch", "onnxruntime", "litert"]
METHOD = ("leave-one-model-out across thread configurations: each model predicted at one thread count from a fit "
          "on the other models' per-layer times at the other thread count, peaks scaled by threads")


def measure(models: list[str], runtimes: list[str], threads: int, root: Path, force: bool) -> None:
    from edgecnn.devices.spec import load_device
    from edgecnn.profile.pipeline import ProfileOptions, profile_local
    from edgecnn.records import RecordStore

    opts = ProfileOptions(runtimes=runtimes, threads=threads, separable=False, layers=True, force=force,
                          export_dir=str(root / "export"))
    profile_local(models, load_device("local"), opts, RecordStore(root / f"threads{threads}"),
                  progress=lambda message=None, advance=0: message and print(f"  {message}", file=sys.stderr))


def scaled_local(threads: int):
    """This machine's spec with its CPU peaks scaled to ``threads`` of its cores."""
    from edgecnn.devices.spec import load_device

    spec = copy.deepcopy(load_device("local"))
    cpu = spec.unit("cpu")
    scale = threads / max(1, spec.detected.get("cores") or threads)
    cpu.peak_gmacs_per_s = {k: v * scale for k, v in cpu.peak_gmacs_per_s.items()}
    return spec


def spearman(a: list[float], b: list[float]) -> float | None:
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for pos, i in enumerate(order):
            r[i] = float(pos)
        return r

    if len(a) < 3:
        return None
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else None


def validate(root: Path, runtimes: list[str], configs: tuple[int, int]) -> list[dict]:
    from edgecnn.predict.roofline import FUSING_RUNTIMES, predict_model_ms
    from edgecnn.predict.calibrate import calibration_for
    from edgecnn.records import RecordStore

    rows = []
    for fit_t, pred_t in (configs, configs[::-1]):
        fit_store, pred_store = RecordStore(root / f"threads{fit_t}"), RecordStore(root / f"threads{pred_t}")
        fit_spec, pred_spec = scaled_local(fit_t), scaled_local(pred_t)
        peak, _ = pred_spec.peak("fp32", "cpu")
        bw = pred_spec.unit("cpu").memory_bandwidth_gb_per_s
        costs = {r.model: r.metric("layers") for r in pred_store.load(kind="cost", device="local") if r.ok}
        for rt in runtimes:
            measured = {r.model: r.metric("latency_ms_p50") for r in pred_store.load(kind="latency", device="local")
                        if r.ok and r.runtime == rt}
            for model, ms in sorted(measured.items()):
                cal = calibration_for(fit_store, rt, exclude_model=model, local=fit_spec)
                if cal.runtime != rt or model not in costs:
                    continue  # no layers of this runtime to fit on
                pred = predict_model_ms(costs[model], peak, bw, cal, fuse=rt in FUSING_RUNTIMES)
                rows.append({"model": model, "runtime": rt, "fit_threads": fit_t, "threads": pred_t,
                             "measured_ms": ms, "predicted_ms": pred, "error": (pred - ms) / ms})
    return rows


def summary(rows: list[dict]) -> dict:
    errs = [abs(r["error"]) for r in rows]
    errs_sorted = sorted(errs)
    return {"models": len({r["model"] for r in rows}), "predictions": len(rows),
            "within_10_pct": 100.0 * sum(e <= 0.10 for e in errs) / len(errs),
            "within_25_pct": 100.0 * sum(e <= 0.25 for e in errs) / len(errs),
            "median_abs_error": statistics.median(errs),
            "p90_abs_error": errs_sorted[min(len(errs) - 1, int(0.9 * len(errs)))],
            "spearman": spearman([r["measured_ms"] for r in rows], [r["predicted_ms"] for r in rows])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--runtimes", default=",".join(RUNTIMES))
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "results" / "predict"),
                    help="where the ground-truth measurements go (one records folder per thread count)")
    ap.add_argument("--reuse", action="store_true", help="validate the measurements already in --work")
    ap.add_argument("--profiles", default="profiles", help="where the prediction_error records go")
    ap.add_argument("--no-record", dest="record", action="store_false")
    args = ap.parse_args()
    from edgecnn.runtime import default_threads

    models = [m for m in args.models.split(",") if m]
    runtimes = [r for r in args.runtimes.split(",") if r]
    cores = default_threads()
    configs = (1, cores) if cores > 1 else (1, 1)
    root = Path(args.work)
    if not args.reuse:
        for t in configs:
            print(f"measuring {len(models)} models on {', '.join(runtimes)} at {t} thread(s) ...", file=sys.stderr)
            measure(models, runtimes, t, root, force=True)
    rows = validate(root, runtimes, configs)
    if not rows:
        raise SystemExit(f"no measurements to validate under {root} (run without --reuse)")
    print(f"prediction error on this machine ({METHOD})")
    print(f"{'model':<20} {'runtime':<12} {'fit thr':>7} {'thr':>4} {'measured ms':>11} {'predicted ms':>12} "
          f"{'error':>7}")
    for r in sorted(rows, key=lambda r: (r["runtime"], r["threads"], r["model"])):
        print(f"{r['model']:<20} {r['runtime']:<12} {r['fit_threads']:>7} {r['threads']:>4} {r['measured_ms']:>11.3f} "
              f"{r['predicted_ms']:>12.3f} {r['error'] * 100:>+6.0f}%")
    print()
    print(f"{'runtime':<12} {'models':>6} {'preds':>5} {'<=10%':>6} {'<=25%':>6} {'median |err|':>12} "
          f"{'p90 |err|':>9} {'Spearman':>8}")
    by_rt = {rt: [r for r in rows if r["runtime"] == rt] for rt in runtimes}
    for name, sub in [*by_rt.items(), ("all", rows)]:
        if not sub:
            continue
        s = summary(sub)
        rho = f"{s['spearman']:.3f}" if s["spearman"] is not None else "-"
        print(f"{name:<12} {s['models']:>6} {s['predictions']:>5} {s['within_10_pct']:>5.0f}% {s['within_25_pct']:>5.0f}% "
              f"{s['median_abs_error'] * 100:>11.0f}% {s['p90_abs_error'] * 100:>8.0f}% {rho:>8}")
        if args.record and name != "all":
            from edgecnn.records import Record, RecordStore, environment

            RecordStore(args.profiles).append(Record(
                kind="prediction_error", model=f"{s['models']} zoo models", runtime=name, device="local",
                source="measured", metrics={"method": METHOD, "models": s["models"],
                                            "configs": [f"threads={t}" for t in configs],
                                            "within_10_pct": s["within_10_pct"], "within_25_pct": s["within_25_pct"],
                                            "median_abs_error": s["median_abs_error"],
                                            "p90_abs_error": s["p90_abs_error"], "spearman": s["spearman"],
                                            "compute_unit": "cpu", "rows": sub},
                env=environment()))
    if args.record:
        print(f"prediction_error records appended to {args.profiles}/local/prediction_error.jsonl")


if __name__ == "__main__":
    main()

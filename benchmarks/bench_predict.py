"""How well does the latency model predict a device it was not fitted on? Leave one device out.

Every measured whole-model latency in the records folders given (the
repository's: ``docs/records``, ``profiles``; and this machine's zoo
measurements at 1 and at all usable threads, which this script makes first
unless ``--reuse``) is a device, compute unit, configuration and runtime
(``edgecnn.predict.dataset``). For each device held out in turn (a machine's
CPU at one thread count, a GPU in one configuration on device time), the
latency model (``edgecnn.predict.latency_model``) takes its prior from the
*other* devices' fits, is refitted on at most K of the held-out device's own
models (chosen to spread over op mixes and sizes, as ``edgecnn calibrate``
chooses them) and predicts the rest; K = 0 is the prior alone
(``edgecnn.predict.validate``).

Calibrated twice where the held-out device has per-layer times of its
calibration models (``layer_latency`` records: this script measures them, as
``edgecnn calibrate`` does): from their whole-model latencies (the op-class
model, kind ``calibrated``), and with their per-layer times too (kind
``calibrated-layers``: their kernel table, ``edgecnn.predict.kernels``, or the
op-class fit, whichever predicts the calibration models better
leave-one-model-out; the method column says which), so the two are compared
on the same models. ``--no-kernels`` leaves the second out.

Printed per held-out device and runtime, for each K: the share of predictions
within +-10 % and +-25 %, the median and p90 |error|, and Spearman's rank
correlation of predicted and measured latency. With ``--record`` (default)
one ``prediction_error`` record per (compute unit, runtime, kind)
goes to ``--profiles``/local: it says which devices the validation covered,
and predicted records carry it as their error band.

    .venv/bin/python benchmarks/bench_predict.py                 # measures this machine first (~20-30 min here)
    .venv/bin/python benchmarks/bench_predict.py --reuse         # the measurements of the last run
    .venv/bin/python benchmarks/bench_predict.py --reuse --no-measured   # the repository's records only
    .venv/bin/python benchmarks/bench_predict.py --rounds 3      # three rounds; each latency its median round

With ``--rounds N`` every latency is measured N times, a round after the
other (the models' order rotated, each runtime's worker a new process), and
the validation reads, per latency, the record of its median round (see
``median_of_rounds``). It first prints, per thread count and runtime, how far
the rounds of one latency lie apart (``round_spread``): the measurements' own
noise, which no prediction of them can beat.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "mnasnet1_0",
          "shufflenet_v2_x1_0", "squeezenet1_1", "efficientnet_b0", "resnet18", "resnet34", "resnet50", "googlenet",
          "mobilenet_v1_050", "mnasnet0_5", "shufflenet_v2_x0_5", "densenet121"]
RUNTIMES = ["torch", "onnxruntime", "litert"]
KS = (0, 5, 10)


def measure(models: list[str], runtimes: list[str], threads: int, store: Path, export_dir: Path) -> None:
    """This machine's zoo latencies and per-layer times at ``threads`` into the records folder ``store`` (resumes)."""
    from edgecnn.devices.spec import load_device
    from edgecnn.profile.pipeline import ProfileOptions, profile_local
    from edgecnn.records import RecordStore

    opts = ProfileOptions(runtimes=runtimes, threads=threads, separable=False, layers=True,
                          export_dir=str(export_dir))
    profile_local(models, load_device("local"), opts, RecordStore(store),
                  progress=lambda message=None, advance=0: message and print(f"  {message}", file=sys.stderr))


def _by_latency(rounds: list[Path]) -> dict[tuple, list]:
    """(record key, threads) -> that latency's ok measured records, one per round that has it."""
    from edgecnn.records import RecordStore

    by: dict[tuple, list] = {}
    for folder in rounds:
        for r in RecordStore(folder).load(kind="latency") if folder.is_dir() else []:
            if r.ok and r.source == "measured" and r.metric("latency_ms_p50"):
                by.setdefault((r.key(), r.metric("threads")), []).append(r)
    return by


def round_spread(rounds: list[Path]) -> dict[str, list[float]]:
    """Per runtime, each latency's spread between the rounds: its largest p50
    over its smallest, minus 1 (latencies measured in at least two rounds).
    The noise floor a prediction of these measurements is judged against."""
    out: dict[str, list[float]] = {}
    for recs in _by_latency(rounds).values():
        p50 = [r.metric("latency_ms_p50") for r in recs]
        if len(p50) >= 2:
            out.setdefault(recs[0].runtime, []).append(max(p50) / min(p50) - 1.0)
    return out


def print_spread(threads: int, spread: dict[str, list[float]]) -> None:
    import statistics

    for rt, v in sorted(spread.items()):
        v = sorted(v)
        print(f"{threads} thread(s) {rt:<12} round-to-round spread (max/min - 1) over {len(v)} latencies: "
              f"median {100 * statistics.median(v):.1f} %, p90 {100 * v[min(len(v) - 1, int(0.9 * len(v)))]:.1f} %, "
              f"max {100 * v[-1]:.1f} %; {sum(x <= 0.10 for x in v)} of {len(v)} within 10 %")


def median_of_rounds(rounds: list[Path], out: Path) -> int:
    """Per measured latency (model, runtime, precision, batch, threads), the
    record of the round whose p50 is the median of the rounds' (the lower
    middle one for an even count), copied unchanged into the records folder
    ``out``, which is rewritten whole (via a temporary folder). A machine that
    switches between a fast and a slow state for minutes, or a process that
    keeps one of two speeds for its life (torch), moves one round, not the
    median of three. Returns how many records were written."""
    import shutil

    from edgecnn.records import RecordStore

    chosen = []
    for recs in _by_latency(rounds).values():
        recs.sort(key=lambda r: r.metric("latency_ms_p50"))
        chosen.append(recs[(len(recs) - 1) // 2])
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    RecordStore(tmp).extend(chosen)
    shutil.rmtree(out, ignore_errors=True)
    if tmp.exists():
        tmp.rename(out)
    return len(chosen)


def load(folders: list[Path]) -> list:
    from edgecnn.records import RecordStore

    out = []
    for f in folders:
        if f.is_dir():
            out += RecordStore(f).load()
    return out


def fmt(s: dict) -> str:
    rho = f"{s['spearman']:.3f}" if s["spearman"] is not None else "-"
    return (f"{s['models']:>6} {s['within_10_pct']:>5.0f}% {s['within_25_pct']:>5.0f}% "
            f"{s['median_abs_error'] * 100:>7.1f}% {s['p90_abs_error'] * 100:>7.1f}% {rho:>8}")


def table(preds: list) -> dict:
    """Print the per-device table; returns {(unit, runtime, kind): [predictions]} for the records."""
    from edgecnn.predict.validate import summary

    print(f"{'held-out device':<44} {'runtime':<12} {'K':>3} {'method':<8} {'models':>6} {'<=10%':>6} {'<=25%':>6} "
          f"{'med|e|':>8} {'p90|e|':>8} {'Spearman':>8}")
    groups: dict = {}
    keys = sorted({(p.situation, p.calibrated_on, p.with_layers) for p in preds},
                  key=lambda t: (t[0].label(), t[1], t[2]))
    for s, k, timed in keys:
        sub = [p for p in preds if p.situation == s and p.calibrated_on == k and p.with_layers == timed]
        methods = sorted({p.method for p in sub})
        method = methods[0] if len(methods) == 1 else "mixed"
        where = f"{s.device} {s.unit} {s.config} {s.precision} b{s.batch}"
        print(f"{where:<44} {s.runtime:<12} {k:>3} {method:<8} {fmt(summary(sub))}")
        kind = kind_of(k, timed)
        groups.setdefault((s.unit, s.runtime, kind), []).extend(sub)
        groups.setdefault((s.unit, "all", kind), []).extend(sub)
    print()
    print(f"{'unit':<5} {'runtime':<12} {'kind':<18} {'devices':>7} {'models':>6} {'<=10%':>6} {'<=25%':>6} "
          f"{'med|e|':>8} {'p90|e|':>8} {'Spearman':>8}")
    for (unit, rt, kind), sub in sorted(groups.items()):
        n_dev = len({p.situation.machine for p in sub})
        print(f"{unit:<5} {rt:<12} {kind:<18} {n_dev:>7} {fmt(summary(sub))}")
    return groups


def kind_of(k: int, with_layers: bool) -> str:
    """A validation's kind, as error bands look it up (``predict.calibrate.band_kind``)."""
    from edgecnn.predict.calibrate import band_kind

    return band_kind(k, with_layers)


def record(groups: dict, profiles: str) -> None:
    from edgecnn.predict.calibrate import KERNEL_METHOD, METHOD
    from edgecnn.predict.validate import summary
    from edgecnn.records import Record, RecordStore, environment

    store = RecordStore(profiles)
    for (unit, rt, kind), sub in sorted(groups.items()):
        s = summary(sub)
        devices = sorted({f"{p.situation.device} {p.situation.unit} {p.situation.config}" for p in sub})
        rows = [{"model": p.model, "device": p.situation.device, "config": p.situation.config,
                 "runtime": p.situation.runtime, "precision": p.situation.precision, "batch": p.situation.batch,
                 "measured_ms": p.measured_ms, "predicted_ms": p.predicted_ms, "error": p.error,
                 "calibrated_on": p.calibrated_on, "method": p.method} for p in sub]
        store.append(Record(
            kind="prediction_error", model=f"{s['models']} zoo models", runtime=rt, device="local",
            source="measured", variant=kind,
            metrics={"method": KERNEL_METHOD if kind == "calibrated-layers" else METHOD, "models": s["models"],
                     "within_10_pct": s["within_10_pct"],
                     "within_25_pct": s["within_25_pct"], "median_abs_error": s["median_abs_error"],
                     "p90_abs_error": s["p90_abs_error"], "spearman": s["spearman"], "compute_unit": unit,
                     "calibration_kind": kind, "devices": devices,
                     "calibration_measurements": sorted({p.calibrated_on for p in sub}),
                     "configs": sorted({p.situation.config for p in sub}), "rows": rows},
            env=environment()))
    print(f"prediction_error records appended to {profiles}/local/prediction_error.jsonl")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help="the zoo models this machine measures")
    ap.add_argument("--runtimes", default=",".join(RUNTIMES))
    ap.add_argument("--records", default="docs/records,profiles,benchmarks/data",
                    help="records folders whose measurements join the validation (comma-separated)")
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "results" / "predict"),
                    help="where this machine's measurements go (one records folder per thread count)")
    ap.add_argument("--reuse", action="store_true", help="measure nothing; validate what --work holds")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure this many times (--work/round<i>/, models rotated) and validate each latency's "
                         "median round (--work/threads<N>/)")
    ap.add_argument("--no-measured", dest="measured", action="store_false",
                    help="leave --work out: the --records folders only")
    ap.add_argument("--k", default=",".join(map(str, KS)), help="calibration measurements of the held-out device")
    ap.add_argument("--profiles", default="profiles", help="where the prediction_error records go")
    ap.add_argument("--no-record", dest="record", action="store_false")
    ap.add_argument("--no-kernels", dest="kernels", action="store_false",
                    help="calibrate from whole-model latencies only (leave out the kernel-table predictions)")
    args = ap.parse_args()
    from edgecnn.predict.dataset import layer_times, measurements
    from edgecnn.predict.validate import leave_one_device_out
    from edgecnn.runtime import default_threads

    models = [m for m in args.models.split(",") if m]
    runtimes = [r for r in args.runtimes.split(",") if r]
    cores = default_threads()
    root = Path(args.work)
    thread_counts = sorted({1, cores})
    if args.rounds < 1:
        print("error: --rounds must be 1 or more", file=sys.stderr)
        sys.exit(2)
    try:
        ks = [int(k) for k in args.k.split(",") if k.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 0:
        print(f"error: --k takes comma-separated whole numbers of 0 or more, not {args.k!r}", file=sys.stderr)
        sys.exit(2)
    missing = [f for f in args.records.split(",") if f and not Path(f).is_dir()]
    if missing:
        print(f"error: --records: no such folder: {', '.join(missing)}", file=sys.stderr)
        sys.exit(2)
    if args.measured and not args.reuse:
        for i in range(args.rounds):  # round-major, the models' order rotated each round
            order = models[i % len(models):] + models[:i % len(models)]
            for t in thread_counts:
                print(f"measuring {len(models)} models on {', '.join(runtimes)} at {t} thread(s)"
                      + (f", round {i + 1} of {args.rounds}" if args.rounds > 1 else "") + " ...", file=sys.stderr)
                dest = root / f"threads{t}" if args.rounds == 1 else root / f"round{i + 1}" / f"threads{t}"
                measure(order, runtimes, t, dest, root / "export")
    if args.measured and args.rounds > 1:
        for t in thread_counts:
            rounds = [root / f"round{i + 1}" / f"threads{t}" for i in range(args.rounds)]
            n = median_of_rounds(rounds, root / f"threads{t}")
            print(f"{t} thread(s): {n} median-of-{args.rounds}-rounds records in {root / f'threads{t}'}",
                  file=sys.stderr)
            print_spread(t, round_spread(rounds))
    folders = [Path(f) for f in args.records.split(",") if f]
    if args.measured:
        folders += sorted(root.glob("threads*"))
    recs = load(folders)
    ms = measurements(recs)
    preds = leave_one_device_out(ms, ks=ks)
    if args.kernels:  # the same calibration models again, now with their per-layer times where they have some
        preds += [p for p in leave_one_device_out(ms, ks=[k for k in ks if k > 0], layers=layer_times(recs))
                  if p.with_layers]
    if not preds:
        print(f"error: no device with 3 or more measured models in {', '.join(map(str, folders))}", file=sys.stderr)
        sys.exit(2)
    print(f"leave-one-device-out over {len({m.situation.machine for m in ms})} devices, {len(ms)} measurements "
          f"({', '.join(map(str, folders))})")
    groups = table(preds)
    if args.record:
        record(groups, args.profiles)


if __name__ == "__main__":
    main()

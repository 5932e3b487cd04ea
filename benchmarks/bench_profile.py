"""The profile benchmark: the default model set on this machine, the
roofline prediction error, and a check of edgecnn's timing against a plain
script.

    .venv/bin/python benchmarks/bench_profile.py [--profiles DIR] [--models ...] [--runtimes ...]

1. Latency table (model x runtime): median and p90 ms, spread, MACs and the
   achieved GMAC/s, measured by ``edgecnn.profile`` (runtimes interleaved per
   model, per-layer times recorded for the predictor). With ``--profiles
   profiles`` it reuses the records the main job (``make report``) wrote and
   measures only what is missing; by default it measures into a fresh folder.
2. Prediction error per model: the roofline predictor fitted on the *other*
   models' per-layer times (leave-one-model-out) against the measured median.
3. Timing sanity check (mobilenet_v2 by default): edgecnn's runner + timing
   loop against a plain script that loads the same artifact with the
   runtime's own API and times ``run``/``invoke`` in a bare loop, both in
   this process, alternated over several rounds; the two medians must agree
   within 15 %.

CPU timings on a shared VM drift (up to 1.6x between runs here): compare
figures from one run, and read the spread column.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

AGREE = 0.15  # edgecnn vs plain script, relative


def measure_set(profiles: Path, models: list[str], runtimes: list[str], export_dir: str) -> None:
    from edgecnn.devices.spec import load_device
    from edgecnn.profile.pipeline import ProfileOptions, profile_local
    from edgecnn.records import RecordStore

    opts = ProfileOptions(runtimes=runtimes, separable=False, export_dir=export_dir)
    t0 = time.perf_counter()
    profile_local(models, load_device("local"), opts, RecordStore(profiles),
                  progress=lambda message=None, advance=0: message and print(f"  .. {message}", flush=True))
    print(f"measured in {time.perf_counter() - t0:.0f} s\n")


def latency_table(profiles: Path, models: list[str], runtimes: list[str]) -> None:
    from edgecnn.records import RecordStore

    latest = RecordStore(profiles).latest(kind="latency", device="local")
    print("1. latency on local, fp32, batch 1 (median of interleaved runs; spread = (p90 - p10) / median)")
    print(f"{'model':<20} {'runtime':<12} {'median ms':>10} {'p90 ms':>8} {'spread':>7} {'runs':>5} "
          f"{'thr':>4} {'MACs':>9} {'GMAC/s':>7}  status")
    for m in models:
        for rt in runtimes:
            recs = [r for r in latest.values() if r.model == m and r.runtime == rt and r.batch == 1
                    and r.precision == "fp32" and r.source == "measured" and r.variant is None]
            if not recs:
                print(f"{m:<20} {rt:<12} {'-':>10}  (no record)")
                continue
            r = recs[-1]
            x = r.metrics
            if not r.ok:
                print(f"{m:<20} {rt:<12} {'-':>10} {'':>8} {'':>7} {'':>5} {'':>4} {'':>9} {'':>7}  "
                      f"{r.status}: {(r.error or '')[:60]}")
                continue
            print(f"{m:<20} {rt:<12} {x['latency_ms_p50']:>10.2f} {x['latency_ms_p90']:>8.2f} "
                  f"{x['spread']:>7.2f} {x['runs']:>5} {x['threads']:>4} {x['macs'] / 1e6:>8.1f}M "
                  f"{x['achieved_gmacs_per_s']:>7.1f}  ok{' (noisy)' if x.get('noisy') else ''}")
    print()


def prediction_table(profiles: Path, runtimes: list[str]) -> None:
    from edgecnn.predict.dataset import group, measurements
    from edgecnn.predict.latency_model import roofline_prior
    from edgecnn.predict.validate import predict_held_out
    from edgecnn.records import RecordStore

    print("2. latency model vs measurement on local (each model predicted from the other models' latencies)")
    print(f"{'model':<20} {'runtime':<12} {'measured ms':>12} {'predicted ms':>13} {'error':>8}")
    by = group(m for m in measurements(RecordStore(profiles).load()) if m.situation.runtime in runtimes)
    for s, ms in sorted(by.items(), key=lambda kv: kv[0].label()):
        if len(ms) < 2:
            continue
        preds = predict_held_out(s, ms, roofline_prior(s.unit, runtime=s.runtime), k=len(ms) - 1)
        for p in preds:
            print(f"{p.model:<20} {s.runtime:<12} {p.measured_ms:>12.2f} {p.predicted_ms:>13.2f} "
                  f"{p.error * 100:>+7.0f}%")
        errs = [abs(p.error) for p in preds]
        print(f"{'':<20} {s.runtime:<12} median |error| {statistics.median(errs) * 100:.0f}% over {len(preds)} models")
    print()


def _plain_onnxruntime(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})


def _plain_litert(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def run(x):
        it.set_tensor(i, x)
        it.invoke()
        return it.get_tensor(o)

    return run


def plain_check(model: str, export_dir: str, rounds: int, seconds: float) -> None:
    """edgecnn runner + timing loop vs a bare loop over the runtime's own API."""
    from edgecnn.models import get_card
    from edgecnn.export.artifacts import get_artifact
    from edgecnn.runtime import RUNNERS
    from edgecnn.runtime.timing import TimingConfig, measure

    size = get_card(model).input_size
    print(f"3. {model}: edgecnn vs a plain script on the same artifact, {rounds} alternated rounds "
          f"of ~{seconds:g} s each")
    print(f"{'runtime':<12} {'edgecnn ms':>11} {'plain ms':>9} {'diff':>7}  within {AGREE:.0%}?")
    for rt, plain in (("onnxruntime", _plain_onnxruntime), ("litert", _plain_litert)):
        cls = RUNNERS.get(rt)
        path = get_artifact(model, None, cls.format, input_size=size, export_dir=export_dir)
        runner = cls().load(path)
        fn = plain(Path(path), runner.threads)
        x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
        fn(x)
        ours, theirs = [], []
        cfg = TimingConfig(warmup=5, warmup_s=0.2, runs=20, min_time_s=seconds, max_time_s=seconds * 4)
        for _ in range(rounds):
            ours.append(measure(runner.infer, inputs=[x], config=cfg).median_ms)
            samples = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end or len(samples) < 20:
                t0 = time.perf_counter()
                fn(x)
                samples.append((time.perf_counter() - t0) * 1e3)
            theirs.append(statistics.median(samples))
        runner.close()
        a, b = statistics.median(ours), statistics.median(theirs)
        diff = (a - b) / b
        print(f"{rt:<12} {a:>11.2f} {b:>9.2f} {diff * 100:>+6.1f}%  {'yes' if abs(diff) <= AGREE else 'NO'}")
    print()


def main() -> None:
    from edgecnn.profile import DEFAULT_MODELS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=Path, default=None,
                    help="records folder to reuse and extend (default: a fresh temporary folder)")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--runtimes", default="torch,onnxruntime,litert")
    ap.add_argument("--export-dir", default="export")
    ap.add_argument("--check-model", default="mobilenet_v2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    with tempfile.TemporaryDirectory(prefix="edgecnn-bench-") as tmp:
        profiles = args.profiles or Path(tmp) / "profiles"
        measure_set(profiles, models, runtimes, args.export_dir)
        latency_table(profiles, models, runtimes)
        prediction_table(profiles, runtimes)
    if args.check_model:
        plain_check(args.check_model, args.export_dir, args.rounds, args.seconds)


if __name__ == "__main__":
    main()

"""Making artifacts N at a time: what `edgecnn profile --export-jobs` saves.

Before anything is timed, `edgecnn profile` makes the zoo models' missing
artifacts ``--export-jobs`` at a time (default 2: this process and one helper). This times
``edgecnn.export.artifacts.make_artifacts`` on the default models' ONNX and
TFLite files (what `make report`'s first step makes), with each worker count
in turn, into an empty folder each time, alternating for ``--rounds`` rounds.
Printed: seconds per run, the median per worker count and the ratio to one
worker.

    .venv/bin/python benchmarks/bench_export_jobs.py                    # 5 models, 1 and 2 workers, 1 round
    .venv/bin/python benchmarks/bench_export_jobs.py --models mobilenet_v3_small --size 32 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def main() -> None:
    from edgecnn.export.artifacts import make_artifacts

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mobilenet_v1,mobilenet_v2,mobilenet_v3_small,resnet18,resnet50")
    ap.add_argument("--formats", default="tflite,onnx")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--workers", default="2,1", help="worker counts compared, in the order of the first round")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    formats = [f for f in args.formats.split(",") if f]
    counts = [int(w) for w in args.workers.split(",")]
    seconds: dict[int, list[float]] = {w: [] for w in counts}
    for rnd in range(args.rounds):
        for w in counts[rnd % len(counts):] + counts[:rnd % len(counts)]:  # alternate which goes first
            with tempfile.TemporaryDirectory(prefix="edgecnn-export-jobs-") as out:
                jobs = [(m, f, args.size, "fp32", 1, out) for f in formats for m in models]
                errors: list[str] = []
                t0 = time.perf_counter()
                make_artifacts(jobs, w, lambda job, s, error: errors.append(f"{job[0]} {job[1]}: {error}")
                               if error else None)
                seconds[w].append(time.perf_counter() - t0)
            if errors:
                raise SystemExit("exports failed:\n" + "\n".join(errors))
            print(f"round {rnd + 1}: {w} worker(s) {seconds[w][-1]:.1f} s", flush=True)
    base = statistics.median(seconds[min(counts)])
    print(f"{len(models)} models x {','.join(formats)} at {args.size}, {args.rounds} round(s), each run into an "
          f"empty folder")
    print(f"{'workers':>7} {'median s':>9} {'runs s':>24} {'ratio':>6}")
    for w in counts:
        med = statistics.median(seconds[w])
        print(f"{w:>7} {med:>9.1f} {', '.join(f'{s:.1f}' for s in seconds[w]):>24} {med / base:>6.2f}")


if __name__ == "__main__":
    main()

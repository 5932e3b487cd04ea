"""Training speed and accuracy of `edgecnn train` on the full CIFAR-10 archive.
Target: LeNet-5, 2 epochs, default recipe, CPU: test top-1 >= 40 %.

    .venv/bin/python benchmarks/bench_train.py [--models lenet5] [--epochs 2] [--threads N]
                                               [--data-dir PATH] [--repeats 1] [--check 40]

Each run is a fresh run folder in a temporary directory (no records written),
default recipe unless --recipe, seed 0, on the CPU. ``wall s`` is the whole
``Trainer.run()`` (training, the test pass after every epoch, checkpoints);
dataset decoding is excluded (the decoded arrays are cached after the first
load, which this script does before timing). ``img/s`` is training images
per second over the epochs (the per-epoch figures, min-max, beside it). The
load average is printed because on a shared machine other processes change
these figures a lot. With --check X the script exits 1 if a run's final test
top-1 is below X %.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def run_once(model: str, epochs: int, recipe: str, data_dir: str | None, seed: int, out: str) -> dict:
    from edgecnn.train.trainer import Trainer, TrainOptions

    opts = TrainOptions(model=model, dataset="cifar10", data_dir=data_dir, recipe=recipe, epochs=epochs,
                        out=out, seed=seed, device="cpu", profiles=None)
    trainer = Trainer(opts, log=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    summary = trainer.run()
    summary["wall_s_measured"] = time.perf_counter() - t0
    summary["rates"] = [row["images_per_s"] for row in trainer.history]
    summary["n_train"] = trainer.n_train
    summary["images_trained"] = trainer.steps_per_epoch * trainer.recipe.batch_size * len(trainer.history)
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet5")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--recipe", default="default")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--data-dir", default=None, help="default: ../shared/datasets/cifar10-jpeg.tar.gz")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", type=float, default=None, help="exit 1 if a final test top-1 is below this")
    args = ap.parse_args()

    import torch

    from edgecnn.data import load_dataset

    if args.threads:
        torch.set_num_threads(args.threads)
    for split in ("train", "test"):  # decode (or read the cache) before any timing
        ds = load_dataset("cifar10", split, args.data_dir)
    source = ds.source
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_train-") as tmp:
        for name in [n.strip() for n in args.models.split(",") if n.strip()]:
            for rep in range(args.repeats):
                load = os.getloadavg()[0]
                s = run_once(name, args.epochs, args.recipe, args.data_dir, args.seed,
                             os.path.join(tmp, f"{name}-{rep}"))
                rows.append((name, s, load, os.getloadavg()[0]))
    print(f"edgecnn train, CIFAR-10 from {source} ({rows[0][1]['n_train'] if rows else 0} training images), "
          f"recipe {args.recipe}, CPU, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    print(f"{'model':<12} {'epochs':>6} {'test top-1 %':>12} {'wall s':>8} {'img/s':>8} {'img/s per epoch':>18} "
          f"{'load avg before/after':>22}")
    failed = False
    for name, s, before, after in rows:
        rates = s["rates"]
        overall = s["images_trained"] / s["train_s_total"]
        print(f"{name:<12} {s['epochs']:>6} {s['test_top1']:>12.2f} {s['wall_s_measured']:>8.1f} {overall:>8.0f} "
              f"{min(rates):>8.0f}-{max(rates):<9.0f} {before:>10.2f} / {after:<9.2f}")
        if args.check is not None and s["test_top1"] < args.check:
            failed = True
    if args.check is not None:
        print(f"check: every final test top-1 >= {args.check} %: {'FAILED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The GPU reference run in one command (see docs/gpu.md).

On the lent H200 (at most 9 minutes of wall time), one part per lend::

    PYTHONPATH=. python3 scripts/gpu_reference.py --part timing --data .gpu_data/cifar10-jpeg.tar.gz \\
        --out /tmp/gpuref --pack-dir "$OUT"

Here, every phase on the CPU in about a minute (the default tests run it)::

    PYTHONPATH=. python3 scripts/gpu_reference.py --smoke --out /tmp/gpuref-smoke

Parts: ``timing`` prints what the machine has (GPU, driver, CUDA, cuDNN,
Triton, TensorRT, trtexec), predicts the default models' latency on the
H200 and its host CPU (before timing them), times them on the GPU (device
time with the copies and end to end beside it; FP32, FP16, BF16,
channels-last, CUDA graphs, torch.compile; batch 1 and 64; per layer), checks
edgecnn's device time against a plain CUDA-event script, runs the separable
sweep on device time, times the host CPU, and builds and times TensorRT
engines where TensorRT imports (else records a probe); ``train`` trains
resnet18 against its bar and the small mobile models with what is left;
``train-mobilenet_v2`` trains mobilenet_v2 against its bar. Each packs
records and fp16 checkpoints into at most 8 files under 16 MB. Exit code 0
when the run finished (phases that failed are failed records, listed in the
summary), 1 when packing failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python3 scripts/gpu_reference.py` from anywhere
    sys.path.insert(0, str(REPO))


def default_data() -> Path:
    """$EDGECNN_CIFAR10, else ../shared/datasets/cifar10-jpeg.tar.gz beside the
    checkout, else the copy scripts/gpu_carry.sh puts in .gpu_data/."""
    env = os.environ.get("EDGECNN_CIFAR10")
    if env:
        return Path(env)
    shared = REPO.parent / "shared" / "datasets" / "cifar10-jpeg.tar.gz"
    return shared if shared.exists() else REPO / ".gpu_data" / "cifar10-jpeg.tar.gz"


def git_commit(given: str | None) -> str | None:
    """--git-commit, $EDGECNN_GIT_COMMIT, the checkout's own, or the one gpu_carry.sh wrote."""
    if given:
        return given
    if os.environ.get("EDGECNN_GIT_COMMIT"):
        return os.environ["EDGECNN_GIT_COMMIT"]
    from edgecnn.records import git_commit as from_git

    commit = from_git()
    stamp = REPO / ".gpu_data" / "COMMIT"
    if commit is None and stamp.is_file():
        commit = stamp.read_text().strip() or None
    return commit


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="every phase on the CPU in about a minute")
    ap.add_argument("--part", default="timing", help="which part of the GPU work (each fits 9 minutes): timing "
                    "(GPU latency, fidelity, separable, TensorRT; default), train (airbench ceiling, resnet18, "
                    "the small models), train-mobilenet_v2")
    ap.add_argument("--out", type=Path, default=Path("gpuref-run"), help="work folder (records, runs, log)")
    ap.add_argument("--pack-dir", type=Path, default=None, help="where the packed files go (default OUT/pack)")
    ap.add_argument("--data", type=Path, default=None, help="CIFAR-10 archive or folder (default: "
                    "$EDGECNN_CIFAR10, ../shared/datasets/cifar10-jpeg.tar.gz, .gpu_data/cifar10-jpeg.tar.gz)")
    ap.add_argument("--budget-scale", type=float, default=1.0, help="multiply every time budget (tests)")
    ap.add_argument("--total", type=float, default=None, help="the whole run's seconds (default 540; smoke 240)")
    ap.add_argument("--git-commit", default=None, help="commit to record (default: found)")
    ap.add_argument("--recipe", default=None, help="the train parts' recipe for their first job (default: default)")
    ap.add_argument("--recipe-set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a recipe override for the train parts' first job (repeatable; edgecnn train --recipe-set)")
    ap.add_argument("--eager", action="store_true", help="train every job without torch.compile (compiling "
                    "costs part of each time budget; see docs/gpu.md)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import dataclasses

    from edgecnn.errors import EdgeCNNError, InvalidOptionError

    args = parse_args(argv)
    try:
        from edgecnn.reference.config import full_config, smoke_config
        from edgecnn.reference.run import run_reference

        if not args.budget_scale > 0:
            raise InvalidOptionError(f"--budget-scale must be > 0, got {args.budget_scale}")
        data = args.data or default_data()
        if not data.exists():
            raise InvalidOptionError(f"no CIFAR-10 data at {data} (give --data, set $EDGECNN_CIFAR10, or run "
                                     f"scripts/gpu_carry.sh)")
        from edgecnn.reference.config import PARTS

        if args.part not in PARTS:
            raise InvalidOptionError(f"--part must be one of {', '.join(PARTS)}, got {args.part!r}")
        cfg = (smoke_config() if args.smoke else full_config(args.part)).scaled(args.budget_scale)
        if args.recipe or args.recipe_set:
            if not args.part.startswith("train"):
                raise InvalidOptionError("--recipe and --recipe-set apply to the train parts")
            from edgecnn.train.options import options_from, resolve_recipe

            for job in cfg.first_jobs:  # checked here, before the run: a wrong field is one line
                resolve_recipe(options_from(model=job.model, recipe=args.recipe or job.recipe,
                                            recipe_set=list(args.recipe_set) or None))
            cfg = dataclasses.replace(cfg, first_jobs=tuple(dataclasses.replace(
                j, recipe=args.recipe or j.recipe, recipe_set=tuple(args.recipe_set)) for j in cfg.first_jobs))
        if args.eager:
            def eager(jobs):
                return tuple(dataclasses.replace(j, compile=False) for j in jobs)

            cfg = dataclasses.replace(cfg, first_jobs=eager(cfg.first_jobs), leftover_jobs=eager(cfg.leftover_jobs))
        if args.total is not None:
            if args.total <= 0:
                raise InvalidOptionError(f"--total must be > 0, got {args.total}")
            cfg = dataclasses.replace(cfg, total_s=args.total)
        out = args.out.resolve()
        command = shlex.join([sys.executable, *([sys.argv[0]] if argv is None else ["gpu_reference.py"]),
                              *(sys.argv[1:] if argv is None else argv)])
        summary = run_reference(cfg, work=out, data=data.resolve(), pack_dir=(args.pack_dir or out / "pack").resolve(),
                                command=command, git_commit=git_commit(args.git_commit))
    except EdgeCNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0 if "error" not in summary.get("pack", {}) else 1


if __name__ == "__main__":
    sys.exit(main())

"""How far the CIFAR-10 data set allows: its ceiling, measured with airbench.

The reference run trains on a JPEG (quality 75) re-encode of CIFAR-10, whose
best reachable accuracy is below the original's by an amount nobody has
measured. airbench (Keller Jordan, "94% on CIFAR-10 in 3.29 seconds on a
single GPU", arXiv:2404.00498; PyPI ``airbench`` 0.1.8) trains small
networks whose mean test top-1 on the original CIFAR-10 is published:
94.01 % (``train94``, mean of 1000 runs) and 95.01 % (``train95``, 200 runs),
on an A100 in 3.83 s and 10.4 s. Run unchanged (its own network, recipe and
test-time augmentation) on this data set, the shortfall of its mean is the
data set's **handicap**: ``published - measured mean`` in points, what any
recipe loses to the data alone (plus run-to-run noise: the standard error
of the mean is ``measured_top1_std / sqrt(runs)``).

airbench needs CUDA (``net.half().cuda()``, ``torch.cuda.Event``) and reads
``cifar10/train.pt`` and ``cifar10/test.pt`` relative to the working
directory, so ``airbench_ceiling`` writes those from edgecnn's own loader
(``write_airbench_data``) and runs inside that folder. Without airbench or
without CUDA it returns one ``unsupported`` record that says which.

Command (a GPU machine; nothing here has run on one yet)::

    python -m edgecnn.reference.ceiling --work /tmp/ceiling --seeds 5 --profiles profiles --device-name h200-box
"""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from edgecnn.errors import InvalidOptionError
from edgecnn.records import Record

README = "airbench 0.1.8 README (github.com/KellerJordan/cifar10-airbench; Jordan, arXiv:2404.00498)"
EVAL_BATCH = 2000  # what airbench's own train() evaluates with


@dataclass(frozen=True)
class AirbenchVariant:
    name: str
    train: str  # the package's training function
    warmup: str  # its warm-up (one step, compiling and tuning cuDNN)
    module: str  # the submodule holding ``hyp`` (tta_level)
    published_top1: float  # %, original CIFAR-10
    published_runs: int
    published_train_s: float  # on an NVIDIA A100

    @property
    def reference(self) -> str:
        return (f"{README}: {self.name}.py, mean test top-1 of {self.published_runs} runs on the original "
                f"CIFAR-10, {self.published_train_s:g} s each on an NVIDIA A100")


VARIANTS = {v.name: v for v in (
    AirbenchVariant("airbench94", "train94", "warmup94", "lib_airbench94", 94.01, 1000, 3.83),
    AirbenchVariant("airbench95", "train95", "warmup95", "lib_airbench95", 95.01, 200, 10.4),
)}


def variant_spec(name: str) -> AirbenchVariant:
    if name not in VARIANTS:
        raise InvalidOptionError(f"unknown airbench variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]


def write_airbench_data(source: Optional[str | Path], folder: str | Path, *, subset: Optional[int] = None,
                        test_subset: Optional[int] = None, seed: int = 0) -> dict[str, Any]:
    """Write ``folder/cifar10/train.pt`` and ``test.pt`` as airbench's ``CifarLoader``
    reads them (``{"images": uint8 N x 32 x 32 x 3, "labels": int64 N, "classes":
    [...]}``) from ``edgecnn.data.load_dataset("cifar10", split, source)``, in its
    order (``subset``/``test_subset``: the same class-balanced subsets as ``edgecnn
    train --subset``). Each file is written to a temporary name and renamed.
    Returns ``{"folder", "source", "train_images", "test_images", "classes"}``."""
    import numpy as np
    import torch

    from edgecnn.data import load_dataset
    from edgecnn.records import atomic_output

    out = Path(folder) / "cifar10"
    out.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {"folder": str(out)}
    for split, n in (("train", subset), ("test", test_subset)):
        ds = load_dataset("cifar10", split, source).subset(n, seed)
        if ds.images.shape[1:] != (32, 32, 3):
            raise InvalidOptionError(f"airbench needs 32 x 32 RGB images; {ds.source} holds {ds.images.shape[1:]}")
        data = {"images": torch.from_numpy(np.ascontiguousarray(ds.images, dtype=np.uint8)),
                "labels": torch.from_numpy(np.asarray(ds.labels, dtype=np.int64)), "classes": list(ds.classes)}
        with atomic_output(out / f"{split}.pt") as tmp:
            torch.save(data, tmp)
        info.update({f"{split}_images": len(ds), "source": str(ds.source), "classes": list(ds.classes)})
    return info


def airbench_missing() -> list[str]:
    """What the measurement lacks here (empty: airbench imports and CUDA is present)."""
    missing = []
    try:
        import airbench  # noqa: F401
    except ImportError as exc:
        missing.append(f"airbench does not import ({exc}); pip install 'airbench>=0.1.8,<0.2' (edgecnn's dev "
                       f"extra; a pure-Python sdist that can be carried to a machine without internet)")
    import torch

    if not torch.cuda.is_available():
        missing.append("airbench's train94/train95 need a CUDA GPU (net.half().cuda(), torch.cuda.Event); "
                       "torch sees none")
    return missing


def airbench_ceiling(variants: Iterable[str] = ("airbench94", "airbench95"), seeds: Iterable[int] = (0, 1, 2, 3, 4),
                     *, work: str | Path, data: Optional[str | Path] = None,
                     time_left: Optional[Callable[[], float]] = None, log: Callable[[str], None] = print,
                     device_name: str = "local", env: Optional[dict[str, Any]] = None,
                     subset: Optional[int] = None, test_subset: Optional[int] = None) -> list[Record]:
    """Train each airbench variant once per seed on this CIFAR-10 and return its
    records: one measured ``accuracy`` record per run (variant ``<name>-seed<N>``)
    and one ``published`` summary per variant (variant ``<name>-ceiling``: the
    published top-1 with ``measured_top1_mean``, ``measured_top1_std``,
    ``measured_runs``, ``skipped_runs`` and ``handicap_points`` = published -
    measured mean). Without airbench or CUDA: one ``unsupported`` record.

    ``data``: the dataset root or archive (``None``: the default CIFAR-10 source);
    ``work``: the folder airbench runs in (``work/cifar10/*.pt`` are written);
    ``time_left()``: seconds left to the caller, checked before each run (a run
    is not started when fewer are left than ``run_needs_s`` says)."""
    specs = [variant_spec(v) for v in variants]
    seeds = [int(s) for s in seeds]
    common = dict(kind="accuracy", device=device_name, runtime="torch", format="pytorch", precision="fp16",
                  batch=EVAL_BATCH, input_shape=[3, 32, 32], dataset="cifar10")
    missing = airbench_missing()
    if missing:
        from edgecnn.records import environment

        log(f"airbench ceiling: not measured: {'; '.join(missing)}")
        return [Record(model="airbench", variant="ceiling", status="unsupported", error="; ".join(missing),
                       env=environment(env), **common)]
    import airbench

    info = write_airbench_data(data, work, subset=subset, test_subset=test_subset)
    log(f"airbench ceiling: {info['train_images']} training and {info['test_images']} test images from "
        f"{info['source']} written to {info['folder']}")
    common["env"] = _environment(env)
    left = time_left or (lambda: math.inf)
    out: list[Record] = []
    with contextlib.chdir(work):  # airbench opens cifar10/*.pt relative to the working directory
        for spec in specs:
            out.extend(_measure_variant(airbench, spec, seeds, left, log, info, common))
    return out


def run_needs_s(spec: AirbenchVariant, measured_s: list[float]) -> float:
    """Seconds one more run is assumed to need: 1.5 x the slowest run of the variant
    measured so far (training + evaluation), or before any, 3 x its published A100
    time + 30 s (the warm-up, loading the data, the evaluation)."""
    if measured_s:
        return 1.5 * max(measured_s)
    return 3.0 * spec.published_train_s + 30.0


def _measure_variant(ab: Any, spec: AirbenchVariant, seeds: list[int], time_left: Callable[[], float],
                     log: Callable[[str], None], info: dict[str, Any], common: dict[str, Any]) -> list[Record]:
    tta = int(getattr(ab, spec.module).hyp["net"]["tta_level"])
    runs: list[Record] = []
    measured_s: list[float] = []
    warmup_s: Optional[float] = None
    skipped = 0
    for seed in seeds:
        need = run_needs_s(spec, measured_s)
        if time_left() < need:
            skipped += 1
            log(f"{spec.name} seed {seed}: not started, {time_left():.0f} s left and a run needs about {need:.0f} s")
            continue
        if warmup_s is None:
            warmup_s, failed = _warm_up(ab, spec, common)
            if failed is not None:
                runs.append(failed)
                skipped += len(seeds) - seeds.index(seed)
                log(f"{spec.name}: warm-up failed: {failed.error}")
                break
        rec = _one_run(ab, spec, seed, tta, info, common)
        runs.append(rec)
        if rec.ok:
            measured_s.append(rec.metrics["train_s"] + rec.metrics["eval_s"])
            log(f"{spec.name} seed {seed}: top-1 {rec.metrics['top1']:.2f}% (train {rec.metrics['train_s']:.1f} s)")
        else:
            log(f"{spec.name} seed {seed}: failed: {rec.error}")
    runs.append(ceiling_record(spec, runs, skipped, warmup_s, tta, info, common))
    return runs


def _sync() -> None:
    import torch

    torch.cuda.synchronize()


def _warm_up(ab: Any, spec: AirbenchVariant, common: dict[str, Any]) -> tuple[Optional[float], Optional[Record]]:
    """(seconds, None) after the package's warm-up call, or (None, a failed record)."""
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a table header and one row
            getattr(ab, spec.warmup)()
        _sync()
    except Exception as exc:
        return None, _failed(spec, f"{spec.name}-warmup", exc, common)
    return time.perf_counter() - t0, None


def _one_run(ab: Any, spec: AirbenchVariant, seed: int, tta: int, info: dict[str, Any],
             common: dict[str, Any]) -> Record:
    """One seeded training run, timed (synchronised), then airbench's own evaluation."""
    import torch

    variant = f"{spec.name}-seed{seed}"
    try:
        torch.manual_seed(seed)
        _sync()
        t0 = time.perf_counter()
        net = getattr(ab, spec.train)(verbose=False)
        _sync()
        t1 = time.perf_counter()
        loader = ab.CifarLoader("cifar10", train=False, batch_size=EVAL_BATCH)
        top1 = 100.0 * float(ab.evaluate(net, loader, tta_level=tta))
        _sync()
        t2 = time.perf_counter()
    except Exception as exc:
        return _failed(spec, variant, exc, common)
    return Record(model=spec.name, variant=variant, source="measured",
                  metrics={"top1": top1, "n_images": info["test_images"], "seed": seed, "train_s": t1 - t0,
                           "eval_s": t2 - t1, "tta_level": tta, "split": "test", "num_classes": 10,
                           "data_source": info["source"]}, **common)


def _failed(spec: AirbenchVariant, variant: str, exc: Exception, common: dict[str, Any]) -> Record:
    return Record(model=spec.name, variant=variant, status="failed", error=f"{type(exc).__name__}: {exc}"[:500],
                  metrics={"traceback": traceback.format_exc()[-2000:]}, **common)


def ceiling_record(spec: AirbenchVariant, runs: list[Record], skipped: int, warmup_s: Optional[float], tta: int,
                   info: dict[str, Any], common: dict[str, Any]) -> Record:
    """The variant's published top-1 beside the mean of its runs here, and the
    handicap ``published - mean`` (points); without a measured run, the published
    figure alone."""
    tops = [r.metrics["top1"] for r in runs if r.ok and r.source == "measured"]
    m: dict[str, Any] = {"top1": spec.published_top1, "reference": spec.reference, "measured_runs": len(tops),
                         "skipped_runs": skipped, "tta_level": tta, "published_train_s": spec.published_train_s,
                         "data_source": info["source"], "warmup_s": warmup_s, "n_images": info["test_images"]}
    if tops:
        mean = statistics.fmean(tops)
        m.update(measured_top1_mean=mean, handicap_points=spec.published_top1 - mean,
                 measured_top1_std=statistics.stdev(tops) if len(tops) > 1 else None)
    return Record(model=spec.name, variant=f"{spec.name}-ceiling", source="published",
                  metrics={k: v for k, v in m.items() if v is not None}, **common)


def _environment(extra: Optional[dict[str, Any]]) -> dict[str, Any]:
    from importlib import metadata

    import torch

    from edgecnn.records import environment

    try:
        version = metadata.version("airbench")
    except metadata.PackageNotFoundError:
        version = None
    return environment({"gpu": torch.cuda.get_device_name(0), "airbench": version, **(extra or {})})


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m edgecnn.reference.ceiling``: measure, append the records, print them."""
    import sys

    from edgecnn.errors import EdgeCNNError

    try:
        args = _parse(argv)
        recs = airbench_ceiling(args.variants.split(","), range(args.seeds), work=args.work, data=args.data_dir,
                                time_left=args.time_left, log=lambda m: print(m, file=sys.stderr, flush=True),
                                device_name=args.device_name, subset=args.subset, test_subset=args.test_subset)
    except EdgeCNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.profiles:
        from edgecnn.records import RecordStore

        RecordStore(args.profiles).extend(recs)
    for r in recs:
        figure = f"top-1 {r.metrics['top1']:.2f}%" if r.ok else f"{r.status}: {r.error}"
        extra = (f" (measured mean {r.metrics['measured_top1_mean']:.2f}% of {r.metrics['measured_runs']} runs, "
                 f"handicap {r.metrics['handicap_points']:+.2f} points)" if "handicap_points" in r.metrics else "")
        print(f"{r.variant} [{r.source}]: {figure}{extra}")
    return 0


def _parse(argv: Optional[list[str]]):
    import argparse

    from edgecnn.train.budget import parse_duration

    class Parser(argparse.ArgumentParser):
        def error(self, message: str):  # one error line, exit 2, like every edgecnn command
            raise InvalidOptionError(message)

    p = Parser(prog="python -m edgecnn.reference.ceiling", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", required=True, help="folder airbench runs in (cifar10/*.pt are written there)")
    p.add_argument("--variants", default="airbench94,airbench95")
    p.add_argument("--seeds", type=int, default=5, help="runs per variant, seeds 0..N-1")
    p.add_argument("--data-dir", default=None, help="CIFAR-10 root or archive (default: edgecnn's)")
    p.add_argument("--time-budget", default=None, help="stop starting runs when this is spent (90s, 10m, ...)")
    p.add_argument("--profiles", default="profiles", help="records folder ('' writes none)")
    p.add_argument("--device-name", default="local")
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--test-subset", type=int, default=None)
    args = p.parse_args(argv)
    for v in args.variants.split(","):
        variant_spec(v)
    if args.seeds < 1:
        raise InvalidOptionError(f"--seeds must be >= 1, got {args.seeds}")
    t0, budget = time.perf_counter(), parse_duration(args.time_budget) if args.time_budget else math.inf
    args.time_left = lambda: budget - (time.perf_counter() - t0)
    return args


if __name__ == "__main__":
    raise SystemExit(main())

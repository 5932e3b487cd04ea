"""Train one reference model against a time budget (``edgecnn train
--time-budget``), keep its fp16 weights when it has fewer than 8 M
parameters, and evaluate that fp16 file in FP32 with TF32 off, the figure
``edgecnn eval`` on a CPU must reproduce (within 0.1 point)."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from edgecnn.records import Record


@contextlib.contextmanager
def exact_fp32() -> Iterator[None]:
    """FP32 convolutions and matrix products without TF32 (CUDA's default for
    cuDNN convolutions), so a GPU evaluation is comparable with a CPU one."""
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def train_reference(model: str, budget_s: float, *, data: Path, work: Path, accel: str, device_name: str,
                    env: dict[str, Any], compile_: Optional[bool], amp: str, channels_last: Optional[bool],
                    subset: Optional[int], test_subset: Optional[int], batch_size: Optional[int],
                    threads: Optional[int], max_checkpoint_params: int, keep: Callable[[Record], None],
                    log: Callable[[str], None] = print, run_suffix: str = "", recipe: str = "default",
                    recipe_set: Sequence[str] = ()) -> dict[str, Any]:
    """Train ``model`` on CIFAR-10 within ``budget_s`` seconds (the trainer's
    run; data loading and model building come before it) and return its
    summary figures. The trainer writes its own train, train_epoch and
    accuracy records under ``work/profiles``; ``keep`` gets the accuracy record
    of the fp16 checkpoint."""
    import torch

    from edgecnn.train.trainer import TrainOptions, train

    run_dir = work / "runs" / f"{model}-cifar10-{device_name}{run_suffix}"
    opts = TrainOptions(model=model, dataset="cifar10", data_dir=str(data), time_budget=budget_s,
                        out=str(run_dir), profiles=str(work / "profiles"), device=accel, device_name=device_name,
                        save_fp16=True, compile=compile_, amp=amp, channels_last=channels_last, subset=subset,
                        test_subset=test_subset, batch_size=batch_size, threads=threads, record_env=env, seed=0,
                        recipe=recipe, recipe_set=list(recipe_set) or None)
    t0 = time.perf_counter()
    summary = train(opts, log=lambda m: log(f"[{model}] {m}"))
    total_s = time.perf_counter() - t0
    plan = summary.get("budget_plan") or {}
    out = {"model": model, "test_top1": summary["test_top1"], "best_test_top1": summary["best_test_top1"],
           "epochs": summary["epochs"], "time_budget_s": budget_s, "wall_s": summary["wall_s"],
           "within_budget": summary.get("within_budget"), "setup_s": total_s - summary["wall_s"],
           "total_s": total_s, "compile_and_measure_s": plan.get("setup_s"),
           "planned_images_per_s": plan.get("images_per_s"), "images_per_s": summary["images_per_s"],
           "replans": summary.get("budget_replans"), "run_dir": str(run_dir)}
    fp16 = Path(summary["fp16_path"])
    sd = torch.load(fp16, map_location="cpu", weights_only=False)["state_dict"]
    params = sum(v.numel() for k, v in sd.items() if v.is_floating_point() and not k.endswith(("running_mean",
                                                                                                "running_var")))
    out["params"] = params
    if params >= max_checkpoint_params:
        out["checkpoint"] = None
        log(f"[{model}] {params / 1e6:.1f} M parameters: fp16 weights not kept (limit "
            f"{max_checkpoint_params / 1e6:.0f} M)")
        return out
    kept = work / "profiles" / "checkpoints" / f"{model}-cifar10-{device_name}{run_suffix}-fp16.pt"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fp16, kept)
    out["checkpoint"] = str(kept.relative_to(work))
    out["checkpoint_bytes"] = kept.stat().st_size
    rec = evaluate_checkpoint(kept, data=data, accel=accel, device_name=device_name, env=env,
                              test_subset=test_subset)
    keep(rec)
    out["checkpoint_top1"] = rec.metrics.get("top1")
    return out


def evaluate_checkpoint(path: Path, *, data: Path, accel: str, device_name: str, env: dict[str, Any],
                        test_subset: Optional[int]) -> Record:
    """An ``accuracy`` record of a checkpoint file run in FP32 (TF32 off) on ``accel``."""
    from edgecnn.train.evaluate import evaluate_target

    with exact_fp32():
        res = evaluate_target(path, "cifar10", str(data), batch_size=1024, subset=test_subset, device=accel)
    rec = res.record(device_name)
    rec.variant = "fp16-checkpoint"
    rec.metrics["target"] = path.name  # the folder differs on the machine that reproduces it
    rec.env = dict(env, accel=accel, tf32=False)
    return rec

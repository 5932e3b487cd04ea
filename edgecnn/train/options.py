"""What ``edgecnn train`` takes (``TrainOptions``) and how each option is
checked and resolved: recipe overrides, device, AMP, time budget."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.train.recipes import Recipe, get_recipe

# options that must match when resuming (anything else may change, e.g. the device)
RESUME_KEYS = ("model", "dataset", "seed", "subset", "test_subset", "input_size", "num_classes", "recipe",
               "world_size")


@dataclass
class TrainOptions:
    """What ``edgecnn train`` takes; ``None`` means "from the recipe" or "automatic"."""

    model: str
    dataset: str = "cifar10"
    data_dir: str | None = None
    recipe: str = "default"
    epochs: int | None = None
    batch_size: int | None = None  # global batch (split over ranks)
    lr: float | None = None
    weight_decay: float | None = None
    label_smoothing: float | None = None
    cutout: int | None = None
    random_erasing: float | None = None
    mixup: float | None = None
    stochastic_depth: float | None = None
    shake_shake: bool = False
    input_size: int | None = None
    num_classes: int | None = None
    out: str | None = None
    resume: bool = False
    seed: int = 0
    subset: int | None = None  # training images (stratified, deterministic)
    test_subset: int | None = None
    device: str = "auto"  # auto | cpu | cuda
    threads: int | None = None  # torch intra-op CPU threads; None: torch's default
    amp: str = "auto"  # auto (bf16 or fp16 on CUDA, off on CPU) | bf16 | fp16 | off
    channels_last: bool | None = None  # default: on for CUDA
    compile: bool | None = None  # default: on for CUDA
    checkpoint_every: int = 0  # optimizer steps between mid-epoch checkpoints; 0 = epoch ends only
    save_fp16: bool = False
    eval_batch_size: int = 1024
    profiles: str | None = "profiles"  # None: write no records
    device_name: str = "local"
    time_budget: str | float | None = None  # "90s", "3m", "1h" or seconds: the run's wall-clock budget
    record_env: dict[str, Any] | None = None  # extra fields for the env of every record written


def resolve_recipe(opts: TrainOptions) -> Recipe:
    """The recipe with command-line overrides; lr scales with the batch size
    when only the batch size changes."""
    base = get_recipe(opts.recipe)
    if opts.time_budget is not None and opts.epochs is not None:
        raise InvalidOptionError("--time-budget chooses the number of epochs; give --time-budget or --epochs, "
                                 "not both")
    changes = {k: getattr(opts, k) for k in ("epochs", "batch_size", "lr", "weight_decay", "label_smoothing",
                                             "cutout", "random_erasing", "mixup", "stochastic_depth")
               if getattr(opts, k) is not None}
    if opts.batch_size is not None and opts.lr is None:
        changes["lr"] = base.lr * opts.batch_size / base.batch_size
    r = base.replace(**changes)
    if r.epochs < 1:
        raise InvalidOptionError(f"--epochs must be >= 1, got {r.epochs}")
    if r.batch_size < 1:
        raise InvalidOptionError(f"--batch-size must be >= 1, got {r.batch_size}")
    if r.lr <= 0:
        raise InvalidOptionError(f"--lr must be > 0, got {r.lr}")
    return r


def time_budget_s(opts: TrainOptions) -> float | None:
    """``--time-budget`` in seconds, or None."""
    if opts.time_budget is None:
        return None
    from edgecnn.train.budget import parse_duration

    return parse_duration(opts.time_budget)


def resolve_device(want: str) -> torch.device:
    """``--device`` auto | cpu | cuda as a torch device; a clear error for anything else."""
    if want not in ("auto", "cpu", "cuda"):
        raise InvalidOptionError(f"--device must be auto, cpu or cuda, got {want!r}")
    if want == "cuda" and not torch.cuda.is_available():
        raise InvalidOptionError("--device cuda asked for, but torch sees no CUDA GPU")
    return torch.device("cuda" if want == "cuda" or (want == "auto" and torch.cuda.is_available()) else "cpu")


def amp_dtype(opts: TrainOptions, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``--amp`` on ``device`` (None: no autocast)."""
    if opts.amp not in ("auto", "bf16", "fp16", "off"):
        raise InvalidOptionError(f"--amp must be auto, bf16, fp16 or off, got {opts.amp!r}")
    if opts.amp == "off" or (opts.amp == "auto" and device.type != "cuda"):
        return None
    if opts.amp == "fp16" or (opts.amp == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def check_writable(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InvalidOptionError(f"cannot write to {what} {folder}: {exc.strerror or exc}") from None


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on conv/linear weights only; biases and norm layers get none."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def options_from(**kwargs: Any) -> TrainOptions:
    names = {f.name for f in dataclasses.fields(TrainOptions)}
    return TrainOptions(**{k: v for k, v in kwargs.items() if k in names})

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

from edgecnn.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from edgecnn.errors import InvalidOptionError
from edgecnn.models._registry import CIFAR10_MEAN, CIFAR10_STD
from edgecnn.train.recipes import Recipe, check_recipe, get_recipe

# options that must match when resuming (anything else may change, e.g. the device)
RESUME_KEYS = ("model", "dataset", "seed", "subset", "test_subset", "input_size", "num_classes", "recipe",
               "world_size", "qat")


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
    ema: float | None = None
    tta_flip: bool | None = None
    norm: str | None = None
    wd_on: str | None = None
    recipe_set: list[str] | None = None  # "FIELD=VALUE" overrides of any recipe field (--recipe-set)
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
    qat: bool = False  # quantisation-aware fine-tune of --checkpoint's float weights (edgecnn/train/qat.py)
    checkpoint: str | None = None  # the float weights a --qat run starts from


# the recipe fields that have their own command-line option
OPTION_FIELDS = ("epochs", "batch_size", "lr", "weight_decay", "label_smoothing", "cutout", "random_erasing", "mixup",
                 "stochastic_depth", "ema", "tta_flip", "norm", "wd_on")


def resolve_recipe(opts: TrainOptions) -> Recipe:
    """The recipe with command-line overrides (``--recipe-set FIELD=VALUE`` and the
    options named after fields); lr scales with the batch size when only the
    batch size changes."""
    base = get_recipe(opts.recipe)
    if opts.time_budget is not None and opts.epochs is not None:
        raise InvalidOptionError("--time-budget chooses the number of epochs; give --time-budget or --epochs, "
                                 "not both")
    changes = parse_recipe_sets(opts.recipe_set or [])
    for k in OPTION_FIELDS:
        value = getattr(opts, k)
        if value is None:
            continue
        if k in changes:
            raise InvalidOptionError(f"--{k.replace('_', '-')} and --recipe-set {k}=... both given; give one")
        changes[k] = value
    if "batch_size" in changes and "lr" not in changes:
        changes["lr"] = base.lr * changes["batch_size"] / base.batch_size
    r = check_recipe(base.replace(**changes))
    check_norm(r.norm, opts.dataset)
    return r


def parse_recipe_sets(items: list[str]) -> dict[str, Any]:
    """``["ema=0.999", "tta_flip=true"]`` -> typed recipe changes; a name that is no
    recipe field or a value of the wrong type is one ``InvalidOptionError`` line."""
    import difflib

    fields = {f.name: f.type for f in dataclasses.fields(Recipe) if f.name not in ("name", "description")}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InvalidOptionError(f"--recipe-set takes FIELD=VALUE, got {item!r}")
        if key not in fields:
            near = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean {near[0]}?" if near else f"; fields: {', '.join(fields)}"
            raise InvalidOptionError(f"--recipe-set: the recipe has no field {key!r}{hint}")
        if key in out:
            raise InvalidOptionError(f"--recipe-set {key} given twice")
        out[key] = _typed(key, fields[key], text.strip())
    return out


def _typed(key: str, typ: str, text: str) -> Any:
    """``text`` as the recipe field's type (the annotation is a string: ``from __future__ import annotations``)."""
    try:
        if typ == "bool":
            flags = {"true": True, "1": True, "yes": True, "on": True,
                     "false": False, "0": False, "no": False, "off": False}
            return flags[text.lower()]
        if typ == "int":
            return int(text)
        if typ == "float":
            return float(text)
    except (KeyError, ValueError):
        raise InvalidOptionError(f"--recipe-set {key}={text}: {key} takes a {typ}") from None
    return text


# the data sets' own normalisation statistics (RGB on [0, 1]): CIFAR-10's are the models' CIFAR10_MEAN/STD
# (airbench and cifar10-fast use the same), CIFAR-100's those of weiaicunzai/pytorch-cifar100
DATASET_NORMS = {
    "cifar10": (CIFAR10_MEAN, CIFAR10_STD),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def norm_stats(norm: str, dataset: str, card_mean, card_std) -> tuple[tuple, tuple]:
    """(mean, std) for ``Recipe.norm``: ``card`` the model card's (the default,
    ImageNet's for most zoo models), ``imagenet``, or ``cifar`` (the CIFAR-10 /
    CIFAR-100 training set's own, by ``dataset``)."""
    if norm == "card":
        return tuple(card_mean), tuple(card_std)
    if norm == "imagenet":
        return IMAGENET_MEAN, IMAGENET_STD
    check_norm(norm, dataset)
    return DATASET_NORMS[dataset]


def check_norm(norm: str, dataset: str) -> None:
    """``--norm cifar`` needs a CIFAR data set (before any data loads)."""
    if norm == "cifar" and dataset not in DATASET_NORMS:
        raise InvalidOptionError(f"--norm cifar uses the CIFAR data sets' own statistics; {dataset} is not one "
                                 f"(use --norm card or imagenet)")


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


def param_groups(model: nn.Module, weight_decay: float, wd_on: str = "weights") -> list[dict]:
    """Two groups: conv/linear weights (decayed), then biases and norm-layer
    parameters (decayed only when ``wd_on`` is ``all``)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    rest = weight_decay if wd_on == "all" else 0.0
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": rest}]


def options_from(**kwargs: Any) -> TrainOptions:
    names = {f.name for f in dataclasses.fields(TrainOptions)}
    return TrainOptions(**{k: v for k, v in kwargs.items() if k in names})

"""Training recipes: named sets of hyper-parameters, as data.

``default`` is the CIFAR recipe meant to reach the published accuracies on one
GPU in minutes (ResNet18 ~95 %, MobileNetV2 ~94 % on CIFAR-10; NOT verified on
a GPU by this project yet, see docs/train.md): SGD with Nesterov momentum 0.9,
weight decay 5e-4 on conv/linear weights only, batch 512, one-cycle learning
rate (linear warm-up to 0.4 over 15 % of the steps, then linear decay to 0),
label smoothing 0.1, pad-crop-flip plus a 16 px cutout, 40 epochs, bf16
autocast + channels-last + torch.compile on CUDA.

The peak ``lr`` is for ``batch_size``; a different ``--batch-size`` without
``--lr`` scales it linearly (Goyal et al., 2017).

``ema``, ``tta_flip``, ``norm`` and ``wd_on`` are off (or as before) in every
recipe but ``dawnbench``, whose description names the published recipe each of
its values comes from; none of them has been measured on a GPU here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from edgecnn.errors import InvalidOptionError
from edgecnn.registry import Registry

SCHEDULES = ("onecycle", "cosine", "constant")
NORMS = ("card", "imagenet", "cifar")  # card: the model card's mean/std; cifar: the CIFAR data set's own
WD_ON = ("weights", "all")  # weights: conv/linear weights only; all: every trainable parameter


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    epochs: int = 40
    batch_size: int = 512
    lr: float = 0.4  # peak learning rate at ``batch_size``
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4  # on conv/linear weights; biases and norm layers get 0
    schedule: str = "onecycle"
    warmup_frac: float = 0.15  # fraction of all steps spent warming up
    label_smoothing: float = 0.1
    pad: int = 4  # CIFAR pad-and-crop, pixels
    flip: bool = True
    cutout: int = 16  # square side in pixels, 0 = off
    random_erasing: float = 0.0  # probability per image
    mixup: float = 0.0  # Beta(alpha, alpha); 0 = off
    stochastic_depth: float = 0.0  # drop probability of the last residual block
    rrc_scale_min: float = 0.08  # RandomResizedCrop for >= 64 px models
    eval_crop: float = 0.875  # centre-crop fraction for >= 64 px models
    grad_clip: float = 0.0  # max gradient norm, 0 = off
    ema: float = 0.0  # decay per optimizer step of the weights' moving average (evaluated, saved); 0 = off
    tta_flip: bool = False  # the trainer's evaluation averages the logits of each image and its mirror
    norm: str = "card"  # NORMS: the normalisation statistics (card = the model card's, as before)
    wd_on: str = "weights"  # WD_ON: which parameters get weight decay

    def replace(self, **changes) -> "Recipe":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise InvalidOptionError(f"recipe has no field(s) {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, stored: dict) -> "Recipe":
        """A recipe as a run folder or checkpoint stored it; fields it predates
        take their defaults (what such a run did)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in stored.items() if k in names})


def check_recipe(r: Recipe) -> Recipe:
    """``r`` when every field is in its range, else one ``InvalidOptionError`` line."""
    bad = {"epochs": r.epochs < 1, "batch_size": r.batch_size < 1, "lr": r.lr <= 0,
           "ema": not 0.0 <= r.ema < 1.0, "weight_decay": r.weight_decay < 0,
           "label_smoothing": not 0.0 <= r.label_smoothing < 1.0, "warmup_frac": not 0.0 <= r.warmup_frac <= 1.0}
    rule = {"epochs": ">= 1", "batch_size": ">= 1", "lr": "> 0", "ema": "in [0, 1) (0 = off)", "weight_decay": ">= 0",
            "label_smoothing": "in [0, 1)", "warmup_frac": "in [0, 1]"}
    for name, wrong in bad.items():
        if wrong:
            what = "--" + name.replace("_", "-") if name != "warmup_frac" else "recipe field warmup_frac"
            raise InvalidOptionError(f"{what} must be {rule[name]}, got {getattr(r, name)}")
    for name, allowed in (("schedule", SCHEDULES), ("norm", NORMS), ("wd_on", WD_ON)):
        if getattr(r, name) not in allowed:
            raise InvalidOptionError(f"recipe field {name} must be one of {', '.join(allowed)}, got "
                                     f"{getattr(r, name)!r}")
    return r


RECIPES: Registry[Recipe] = Registry("recipe")
for _r in (
    Recipe("default", "CIFAR one-cycle SGD recipe (GPU: ~95% ResNet18 / ~94% MobileNetV2 target)"),
    Recipe("cosine", "default with a cosine schedule, 5% warm-up", schedule="cosine", warmup_frac=0.05),
    Recipe("long", "200-epoch cosine recipe of the classic CIFAR ports (kuangliu), batch 128, lr 0.1",
           epochs=200, batch_size=128, lr=0.1, schedule="cosine", warmup_frac=0.0, label_smoothing=0.0,
           cutout=0),
    Recipe("imagenet", "ImageNet-style: RandomResizedCrop + flip, cosine, lr 0.1 per 256, label smoothing 0.1",
           epochs=90, batch_size=256, lr=0.1, weight_decay=1e-4, schedule="cosine", warmup_frac=0.05,
           cutout=0, pad=0),
    Recipe("plain", "no augmentation, no smoothing, constant lr (debugging, overfitting checks)",
           epochs=10, batch_size=128, lr=0.05, schedule="constant", warmup_frac=0.0, label_smoothing=0.0,
           pad=0, flip=False, cutout=0),
    Recipe("dawnbench", "published fast-CIFAR settings, NOT measured here: 24 epochs, batch 512, lr 0.4 peaking at "
           "5/24 of the run, Nesterov 0.9, wd 5e-4 on every parameter, pad-4 crop + flip + 8 px cutout "
           "(Page, Myrtle cifar10-fast dawn.py); label smoothing 0.2, EMA 0.99 every 5 steps = 0.998 per step, "
           "flip TTA (Page, bag_of_tricks.ipynb; smoothing 0.2 and flip TTA also airbench94); CIFAR-10 mean/std "
           "(cifar10-fast utils.py, airbench utils.py)",
           epochs=24, batch_size=512, lr=0.4, warmup_frac=5 / 24, label_smoothing=0.2, cutout=8, ema=0.998,
           tta_flip=True, norm="cifar", wd_on="all"),
    Recipe("qat", "quantisation-aware fine-tune (--qat): 1 epoch, batch 128, cosine from lr 0.005 without warm-up, "
           "pad-crop-flip, no cutout", epochs=1, batch_size=128, lr=0.005, schedule="cosine", warmup_frac=0.0,
           cutout=0),
):
    RECIPES.add(_r.name, _r)


def get_recipe(name: str) -> Recipe:
    return RECIPES.get(name)


def lr_factor(step: int, total_steps: int, schedule: str, warmup_frac: float) -> float:
    """Multiplier of the peak lr at optimizer step ``step`` (0-based) of ``total_steps``.

    onecycle: linear from 0.1 to 1 over the warm-up, then linear to 0 at the end;
    cosine: linear warm-up from 0, then half a cosine to 0; constant: 1."""
    if schedule not in SCHEDULES:
        raise InvalidOptionError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if schedule == "constant":
        return 1.0
    total = max(1, total_steps)
    warm = int(round(warmup_frac * total))
    t = step + 1  # the lr used for the (step+1)-th update
    if warm and t <= warm:
        return (0.1 + 0.9 * t / warm) if schedule == "onecycle" else t / warm
    rest = max(1, total - warm)
    frac = min(1.0, (t - warm) / rest)
    if schedule == "onecycle":
        return max(0.0, 1.0 - frac)
    return 0.5 * (1.0 + math.cos(math.pi * frac))


class LrSchedule:
    """The lr multiplier per optimizer step, as a callable object so that
    ``LambdaLR`` saves and restores its state (the total and any re-plans) with
    the scheduler.

    Without re-plans it is ``lr_factor(step, total, ...)``. ``replan(at, total)``
    (a time-budgeted run that turned out slower) keeps every step before ``at``
    as it was and, from ``at`` on, goes from the multiplier reached there to
    the schedule's end at the new ``total``: still warming up (at the new
    total's warm-up length), it rises linearly to 1 first; then it decays
    linearly (onecycle) or along half a cosine (cosine) to 0. A constant
    schedule stays at 1."""

    def __init__(self, schedule: str, warmup_frac: float, total_steps: int) -> None:
        if schedule not in SCHEDULES:
            raise InvalidOptionError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        self.schedule, self.warmup_frac = schedule, warmup_frac
        self.first_total = int(total_steps)
        self.replans: list[dict] = []  # {"at", "total", "from_factor"}, in step order

    @property
    def total_steps(self) -> int:
        return self.replans[-1]["total"] if self.replans else self.first_total

    def set_total(self, total_steps: int) -> None:
        """Set the total before any step is taken (the budget's first plan)."""
        if self.replans:
            raise RuntimeError("set_total after a re-plan; use replan()")
        self.first_total = int(total_steps)

    def replan(self, at: int, total_steps: int) -> None:
        """From optimizer step ``at`` on, end the schedule at ``total_steps`` (> at)."""
        if total_steps <= at:
            raise ValueError(f"a re-plan at step {at} needs a later end, got {total_steps}")
        self.replans.append({"at": int(at), "total": int(total_steps), "from_factor": float(self(at))})

    def __call__(self, step: int) -> float:
        for rp in reversed(self.replans):
            if step >= rp["at"]:
                return self._continue(step, rp)
        return lr_factor(step, self.first_total, self.schedule, self.warmup_frac)

    def _continue(self, step: int, rp: dict) -> float:
        if self.schedule == "constant":
            return 1.0
        at, total, f0 = rp["at"], rp["total"], rp["from_factor"]
        t = step + 1
        warm = int(round(self.warmup_frac * total))
        if t <= warm and at < warm:  # still warming up under the new plan
            return f0 + (1.0 - f0) * (t - at) / (warm - at)
        start, peak = (warm, 1.0) if at < warm else (at, f0)
        frac = min(1.0, max(0.0, (t - start) / max(1, total - start)))
        if self.schedule == "onecycle":
            return peak * max(0.0, 1.0 - frac)
        return peak * 0.5 * (1.0 + math.cos(math.pi * frac))

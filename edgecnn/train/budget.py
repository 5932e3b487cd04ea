"""Time-budgeted training: fit the schedule to a wall-clock budget.

``edgecnn train MODEL --time-budget 3m`` measures the speed of the first
optimizer steps (after compilation and warm-up, which are excluded from the
speed but not from the budget), then chooses the number of epochs whose
training, evaluations and checkpoints fit in what is left, and sets the
recipe's schedule (one-cycle or cosine) over exactly those steps.

If the machine turns out slower, the run is **re-planned**, not cut: a
shorter total is chosen and the learning rate continues from where it is
down to the schedule's final value at the new end (``LrSchedule.replan``),
so a budgeted run always ends at its final learning rate. Re-plans only ever
shorten a run.

Every figure here is in seconds (wall clock, ``time.perf_counter``).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from edgecnn.errors import InvalidOptionError

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|min|m|sec|s)")

# The planner leaves this share of the remaining budget unused, for timing noise.
SAFETY = 0.97


def parse_duration(text: str | float | int) -> float:
    """``"90s"``, ``"3m"``, ``"1h"``, ``"1m30s"`` or plain seconds (``"45"``) -> seconds (> 0).

    Anything else (``"3x"``, ``"0s"``, ``"-1m"``) raises InvalidOptionError."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        s = str(text).strip().lower()
        try:
            seconds = float(s)
        except ValueError:
            parts = _PART.findall(s)
            if not parts or _PART.sub("", s).strip():
                raise InvalidOptionError(f"--time-budget takes a duration such as 90s, 3m, 1h or plain seconds, "
                                         f"got {text!r}") from None
            seconds = sum(float(v) * _UNITS[u] for v, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidOptionError(f"--time-budget must be a positive duration, got {text!r}")
    return seconds


class BudgetTooShort(InvalidOptionError):
    """Not even one optimizer step and one evaluation fit in the budget."""


@dataclass
class BudgetPlan:
    """What a budgeted run measured and chose. Seconds unless named otherwise."""

    budget_s: float
    steps_per_epoch: int
    batch_size: int
    step_s: float = 0.0  # measured seconds per optimizer step, after warm-up
    eval_s: float = 0.0  # estimated seconds per evaluation of the test set
    save_s: float = 0.0  # seconds per epoch-end checkpoint
    reserve_s: float = 0.0  # kept for the end of the run (summary, fp16 file, records)
    setup_s: float = 0.0  # budget spent before the plan: compile, warm-up, measurement
    warmup_steps: int = 0
    timed_steps: int = 0
    epochs: int = 0  # epochs in the plan (the last may be partial after a re-plan)
    total_steps: int = 0
    replans: list[dict[str, Any]] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return self.batch_size / self.step_s if self.step_s > 0 else 0.0

    @property
    def epoch_overhead_s(self) -> float:
        return self.eval_s + self.save_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_s": self.images_per_s}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BudgetPlan":
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


def reserve_for(budget_s: float) -> float:
    """Seconds kept for the end of a run: 1 % of the budget, between 0.5 and 10."""
    return min(10.0, max(0.5, 0.01 * budget_s))


def steps_that_fit(seconds: float, step_s: float, overhead_s: float, steps_per_epoch: int,
                   start_step: int = 0) -> int:
    """How many more optimizer steps, from ``start_step``, fit in ``seconds``
    when each step takes ``step_s`` and every epoch end (each crossed boundary
    of ``steps_per_epoch``, and the final one) costs ``overhead_s``."""
    if seconds <= 0 or step_s <= 0:
        return 0
    spe = max(1, steps_per_epoch)
    lo, hi = 0, int(seconds / step_s) + 1
    while lo < hi:  # largest n with cost(n) <= seconds; cost grows with n
        mid = (lo + hi + 1) // 2
        ends = math.ceil((start_step + mid) / spe) - start_step // spe  # epoch ends crossed by these steps
        if mid * step_s + ends * overhead_s <= seconds:
            lo = mid
        else:
            hi = mid - 1
    return lo


def plan_run(plan: BudgetPlan, elapsed_s: float) -> BudgetPlan:
    """Fill ``epochs`` and ``total_steps`` of a measured plan: whole epochs when
    at least one fits, else a single partial epoch. Raises BudgetTooShort when
    not even one step and one evaluation fit."""
    plan.setup_s = elapsed_s
    available = (plan.budget_s - elapsed_s - plan.reserve_s) * SAFETY
    spe = plan.steps_per_epoch
    epoch_cost = spe * plan.step_s + plan.epoch_overhead_s
    epochs = int(available // epoch_cost) if epoch_cost > 0 else 0
    if epochs >= 1:
        plan.epochs, plan.total_steps = epochs, epochs * spe
        return plan
    steps = steps_that_fit(available, plan.step_s, plan.epoch_overhead_s, spe)
    if steps < 1:
        need = plan.step_s + plan.epoch_overhead_s + plan.reserve_s
        raise BudgetTooShort(f"--time-budget {plan.budget_s:g}s is too short: {elapsed_s:.1f} s went on "
                             f"compiling and measuring, and one step plus one evaluation needs {need:.2f} s more")
    plan.epochs, plan.total_steps = 1, steps
    return plan


def replan_total(plan: BudgetPlan, elapsed_s: float, done_steps: int, step_s: float,
                 overhead_s: float) -> int | None:
    """A shorter total step count when the rest of the plan, at the speeds seen
    so far, would overrun the budget; None when it still fits. Never returns
    fewer than ``done_steps + 1`` (the schedule needs a step to reach its end)."""
    remaining_steps = plan.total_steps - done_steps
    if remaining_steps <= 0:
        return None
    spe = plan.steps_per_epoch
    ends = math.ceil(plan.total_steps / spe) - done_steps // spe  # epoch ends still to come
    left = plan.budget_s - elapsed_s - plan.reserve_s
    if remaining_steps * step_s + ends * overhead_s <= left:
        return None
    fit = steps_that_fit(left * SAFETY, step_s, overhead_s, spe, start_step=done_steps)
    return done_steps + max(1, min(fit, remaining_steps - 1))

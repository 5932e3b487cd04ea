"""The trainer's side of ``--time-budget`` (the arithmetic is in ``budget.py``).

``BudgetKeeper.plan_now`` runs before the first epoch: a few warm-up steps
(``torch.compile`` compiles on the first; synchronised, excluded from the
speed), then a timed block of steps with one synchronisation at its end, an
evaluation on part of the test set, and a checkpoint written to a probe file.
Model, optimizer and GradScaler are then put back exactly as they were, so
the measured steps leave no trace in the training. The plan sets the
schedule's total; ``check_epoch_end`` (and, in one process,
``check_mid_epoch`` on the host clock, without waiting for the GPU) re-plans
when the run would overrun.
"""

from __future__ import annotations

import copy
import math
import os
import time
from typing import TYPE_CHECKING, Any

import torch

from edgecnn.train.budget import BudgetPlan, plan_run, replan_total, reserve_for
from edgecnn.models.checkpoint import save_checkpoint, unwrap

if TYPE_CHECKING:
    from edgecnn.train.trainer import Trainer

WARMUP_STEPS = 3  # untimed steps first: compilation, autotuning, allocator growth
MAX_TIMED_STEPS = 50


class BudgetKeeper:
    """Plans and re-plans one trainer's run to fit ``budget_s`` seconds."""

    def __init__(self, trainer: "Trainer", budget_s: float) -> None:
        self.t = trainer
        self.plan = BudgetPlan(budget_s=float(budget_s), steps_per_epoch=trainer.steps_per_epoch,
                               batch_size=trainer.recipe.batch_size, reserve_s=reserve_for(budget_s))
        self.elapsed_before = 0.0  # seconds spent by the run before a resume
        self.train_s = 0.0  # synchronised training seconds of finished epochs (this process)
        self.steps = 0
        self.evals: list[float] = []
        self.saves: list[float] = []
        # mid-epoch checks in epochs of 8 steps or more, 8 times an epoch (epoch ends are checked anyway)
        self.check_every = trainer.steps_per_epoch // 8 if trainer.steps_per_epoch >= 8 else 0

    @classmethod
    def restore(cls, trainer: "Trainer", stored: dict[str, Any]) -> "BudgetKeeper":
        keeper = cls(trainer, stored["plan"]["budget_s"])
        keeper.plan = BudgetPlan.from_dict(stored["plan"])
        keeper.elapsed_before = float(stored.get("elapsed_s", 0.0))
        keeper.evals, keeper.saves = list(stored.get("evals_s", [])), list(stored.get("saves_s", []))
        return keeper

    @property
    def planned(self) -> bool:
        return self.plan.total_steps > 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t.t_start

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps, so that a resumed run keeps its plan and its clock."""
        return {"plan": self.plan.to_dict(), "elapsed_s": self.elapsed(), "evals_s": list(self.evals),
                "saves_s": list(self.saves)}

    # -- the first plan ------------------------------------------------------------
    def plan_now(self, net: torch.nn.Module, order: torch.Tensor) -> None:
        t, plan = self.t, self.plan
        spe = t.steps_per_epoch
        snap = self._snapshot()
        i = 0
        for _ in range(WARMUP_STEPS):
            t.train_step(net, order, 0, i % spe)
            t.sync()
            i += 1
            self._check_time("compiling and warming up")
        t0 = time.perf_counter()
        t.train_step(net, order, 0, i % spe)
        t.sync()
        i += 1
        (first_s,) = self._max_over_ranks([time.perf_counter() - t0])  # every rank must take as many steps
        left = self._check_time("compiling and warming up")
        target_s = min(10.0, max(0.2, 0.02 * plan.budget_s), 0.1 * left)  # a slow machine: fewer timed steps
        k = int(min(MAX_TIMED_STEPS, max(1, math.ceil(target_s / max(first_s, 1e-6)))))
        t0 = time.perf_counter()
        for _ in range(k):
            t.train_step(net, order, 0, i % spe)
            i += 1
        t.sync()  # the one wait of the timed block
        step_s = (time.perf_counter() - t0) / k
        eval_s = self._estimate_eval()
        self._put_back(snap)
        save_s = self._probe_save()
        plan.step_s, plan.eval_s, plan.save_s = self._max_over_ranks([step_s, eval_s, save_s])
        plan.warmup_steps, plan.timed_steps = WARMUP_STEPS + 1, k
        (elapsed,) = self._max_over_ranks([self.elapsed()])
        plan_run(plan, elapsed)
        t.schedule.set_total(plan.total_steps)
        t.refresh_lr()
        self._update_config()
        t.log(f"time budget {plan.budget_s:g} s: {plan.setup_s:.1f} s went on compiling and measuring; "
              f"{plan.step_s * 1e3:.1f} ms per step ({plan.images_per_s:.0f} img/s), {plan.eval_s:.2f} s per "
              f"evaluation -> {plan.epochs} epochs, {plan.total_steps} steps")

    def _check_time(self, what: str) -> float:
        """Seconds of the budget left; BudgetTooShort when none are."""
        from edgecnn.train.budget import BudgetTooShort

        (elapsed,) = self._max_over_ranks([self.elapsed()])
        left = self.plan.budget_s - self.plan.reserve_s - elapsed
        if left <= 0:
            raise BudgetTooShort(f"--time-budget {self.plan.budget_s:g}s is too short: {what} alone took "
                                 f"{elapsed:.1f} s")
        return left

    def _snapshot(self) -> dict[str, Any]:
        t = self.t
        return {"model": {k: v.detach().clone() for k, v in unwrap(t.model).state_dict().items()},
                "optimizer": copy.deepcopy(t.optimizer.state_dict()),
                "scaler": t.scaler.state_dict() if t.scaler.is_enabled() else None,
                "ema": t.ema.snapshot() if t.ema is not None else None}

    def _put_back(self, snap: dict[str, Any]) -> None:
        t = self.t
        unwrap(t.model).load_state_dict(snap["model"])  # in place: the compiled module keeps its tensors
        t.optimizer.load_state_dict(snap["optimizer"])
        if snap["scaler"] is not None:
            t.scaler.load_state_dict(snap["scaler"])
        if snap["ema"] is not None:
            t.ema.put_back(snap["ema"])
        t.optimizer.zero_grad(set_to_none=True)

    def _estimate_eval(self) -> float:
        """Seconds for one evaluation (the trainer's: averaged weights, flip TTA) of
        this rank's share of the test set, from up to two eval batches after a warm-up batch."""
        t = self.t
        idx = torch.arange(t.dist.rank, t.test_x.shape[0], t.dist.world_size, device=t.device)
        bs = t.opts.eval_batch_size

        def run(sel: torch.Tensor) -> None:
            t.evaluate_on(sel)
            t.sync()

        run(idx[:min(bs, idx.numel())])
        m = min(idx.numel(), 2 * bs)
        t0 = time.perf_counter()
        run(idx[:m])
        return (time.perf_counter() - t0) * idx.numel() / max(1, m)

    def _probe_save(self) -> float:
        """Seconds to write one checkpoint (rank 0 writes them; a probe file, removed)."""
        t = self.t
        if not t.dist.is_main:
            return 0.0
        probe = t.run_dir / f".budget-probe-{os.getpid()}.pt"
        t0 = time.perf_counter()
        try:
            save_checkpoint(probe, t._payload({}))
        finally:
            probe.unlink(missing_ok=True)
        return time.perf_counter() - t0

    def _max_over_ranks(self, values: list[float]) -> list[float]:
        t = self.t
        if not t.dist.enabled:
            return values
        import torch.distributed as dist

        v = torch.tensor(values, dtype=torch.float64, device=t.device)
        dist.all_reduce(v, op=dist.ReduceOp.MAX)
        return v.tolist()

    # -- re-plans --------------------------------------------------------------------
    def check_mid_epoch(self, epoch: int, steps_done: int, host_s: float) -> None:
        """Every ``check_every`` steps, in one process only (ranks would decide
        apart): the host clock's step rate, no GPU wait."""
        if self.t.dist.enabled or not self.check_every or steps_done % self.check_every:
            return
        self._maybe_replan(self._step_s(host_s, steps_done))

    def check_epoch_end(self, train_s: float, steps: int, eval_s: float) -> None:
        self.train_s += train_s
        self.steps += steps
        self.evals.append(eval_s)
        step_s, elapsed = self._max_over_ranks([self._step_s(), self.elapsed()])
        self._maybe_replan(step_s, elapsed)

    def _step_s(self, extra_s: float = 0.0, extra_steps: int = 0) -> float:
        """Seconds per step over every step timed so far, the plan's timed block
        included (so a few noisy steps early in the run do not swing the estimate)."""
        plan = self.plan
        seconds = self.train_s + extra_s + plan.step_s * plan.timed_steps
        return seconds / max(1, self.steps + extra_steps + plan.timed_steps)

    def saved(self, seconds: float) -> None:
        self.saves.append(seconds)

    def _maybe_replan(self, step_s: float, elapsed: float | None = None) -> None:
        t, plan = self.t, self.plan
        overhead = (_mean(self.evals) if self.evals else plan.eval_s) + (_mean(self.saves) if self.saves
                                                                          else plan.save_s)
        elapsed = self.elapsed() if elapsed is None else elapsed
        new = replan_total(plan, elapsed, t.global_step, step_s, overhead)
        if new is None:
            return
        old = plan.total_steps
        t.schedule.replan(t.global_step, new)
        t.refresh_lr()
        plan.replans.append({"at_step": t.global_step, "total_steps": new, "previous_total_steps": old,
                             "elapsed_s": elapsed, "step_s": step_s, "epoch_overhead_s": overhead})
        plan.total_steps, plan.epochs = new, math.ceil(new / plan.steps_per_epoch)
        self._update_config()
        t.log(f"time budget: slower than planned ({step_s * 1e3:.1f} ms per step at {elapsed:.1f} s); "
              f"re-planned from {old} to {new} steps, the learning rate decays to its end from step "
              f"{t.global_step}")

    def _update_config(self) -> None:
        t = self.t
        t.recipe = t.recipe.replace(epochs=self.plan.epochs)
        t.config["recipe"] = t.recipe.to_dict()
        t.config["budget_plan"] = self.plan.to_dict()
        if t.dist.is_main:
            t.write_config()

    def summary(self, wall_s: float) -> dict[str, Any]:
        """Figures for the run summary and the train record (seconds)."""
        self.t.config["budget_result"] = {"wall_s": wall_s, "within_budget": wall_s <= self.plan.budget_s}
        if self.t.dist.is_main:
            self.t.write_config()
        return {"time_budget_s": self.plan.budget_s, "budget_plan": self.plan.to_dict(), "budget_wall_s": wall_s,
                "within_budget": wall_s <= self.plan.budget_s, "budget_replans": len(self.plan.replans)}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0

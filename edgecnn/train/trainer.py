"""The trainer: one loop for CPU, one GPU and several GPUs under torchrun.

Exact resume. Every step's randomness comes from generators seeded by
(seed, epoch, step, rank) and the epoch order from ``DistributedSampler``
seeded by (seed, epoch), so a run restarted from any checkpoint (including
the mid-epoch ones written every ``checkpoint_every`` steps, with the
running loss/accuracy sums) replays exactly the steps an uninterrupted run
would have taken. The process RNG states are saved too, for completeness.

GPU fast path: the whole data set sits on the device as uint8 and is
augmented there; channels-last, bf16 autocast and one ``torch.compile`` are
on by default on CUDA; nothing in a step waits for the GPU (losses and
accuracy are summed on the device and read once per epoch), except the
GradScaler's inf check under fp16 AMP.

``--time-budget``: ``edgecnn.train.budget_run.BudgetKeeper`` times the first
steps, sets the schedule's total to what fits, and re-plans when slower.

Run folder (written by rank 0 only)::

    config.json     the resolved options, recipe, seed, world size, environment
    metrics.jsonl   one row per finished epoch (rewritten atomically each epoch)
    last.pt         the newest checkpoint (epoch end or mid-epoch)
    best.pt         the epoch-end checkpoint with the best test top-1
    <model>-fp16.pt half-precision weights of the final model (--save-fp16)
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.records import atomic_write_text
from edgecnn.train import distributed as D
from edgecnn.models.checkpoint import load_weights, read_checkpoint, save_checkpoint, save_fp16_state_dict, unwrap
from edgecnn.train.state import rng_state
from edgecnn.train.metrics import ClassificationMeter, evaluate_model
from edgecnn.train.options import (RESUME_KEYS, TrainOptions, amp_dtype, check_writable, norm_stats, options_from,
                                   param_groups, resolve_device, resolve_recipe, time_budget_s)
from edgecnn.train.recipes import LrSchedule, Recipe
from edgecnn.train.qat import qat_entry, qat_options
from edgecnn.train.run_records import param_checksum, run_config, run_summary

__all__ = ["Trainer", "TrainOptions", "options_from", "resolve_device", "resolve_recipe", "train"]


class Trainer:
    """Build everything from ``TrainOptions``; ``run()`` trains and returns the summary."""

    def __init__(self, opts: TrainOptions, log: Callable[[str], None] = print) -> None:
        from edgecnn.models import get_card

        opts = qat_options(opts)  # --qat: checked, and its recipe and float32 settings resolved
        self.opts, self.log = opts, log
        self.recipe = resolve_recipe(opts)
        self.budget_s = time_budget_s(opts)  # a bad --time-budget fails before any data loads
        card = get_card(opts.model)  # unknown model: one line with suggestions, before any data loads
        self.device = resolve_device(opts.device)
        self.dist = D.setup(self.device.type)
        if self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if self.recipe.batch_size % self.dist.world_size:
            raise InvalidOptionError(f"--batch-size {self.recipe.batch_size} does not split over "
                                     f"{self.dist.world_size} processes")
        self.amp_dtype = amp_dtype(opts, self.device)
        if opts.threads is not None:
            if opts.threads < 1:
                raise InvalidOptionError(f"--threads must be >= 1, got {opts.threads}")
            torch.set_num_threads(opts.threads)
        cuda = self.device.type == "cuda"
        self.channels_last = cuda if opts.channels_last is None else opts.channels_last
        self.use_compile = cuda if opts.compile is None else opts.compile

        self.run_dir = Path(opts.out or f"runs/{opts.model}-{opts.dataset}-seed{opts.seed}")
        self.last_path, self.best_path = self.run_dir / "last.pt", self.run_dir / "best.pt"
        if opts.resume and not self.last_path.exists():
            raise InvalidOptionError(f"--resume: no checkpoint {self.last_path} to resume from")
        if not opts.resume and (self.last_path.exists() or self.best_path.exists()):
            raise InvalidOptionError(f"run folder {self.run_dir} already holds checkpoints; pass --resume to "
                                     f"continue it or --out NEW_FOLDER for a new run")
        for name in ("subset", "test_subset"):
            n = getattr(opts, name)
            if n is not None and n < 1:
                raise InvalidOptionError(f"--{name.replace('_', '-')} must be >= 1, got {n}")
        created = not self.run_dir.exists()
        try:
            if self.dist.is_main:
                check_writable(self.run_dir, "run folder")
                if opts.profiles:
                    check_writable(Path(opts.profiles), "profiles folder")
            train, test = self._load_data(card)
            self._build(train)
        except BaseException:
            # a run that never started leaves no empty folder behind (an existing one is never touched)
            if created and self.dist.is_main and self.run_dir.is_dir() and not any(self.run_dir.iterdir()):
                self.run_dir.rmdir()
            raise

        from edgecnn.train.pipeline import to_device_images, to_device_labels, transforms

        r = self.recipe
        self.train_x, self.train_y = to_device_images(train.images, self.device), to_device_labels(train.labels,
                                                                                                    self.device)
        self.test_x, self.test_y = to_device_images(test.images, self.device), to_device_labels(test.labels,
                                                                                                 self.device)
        self.n_train = len(train)
        self.train_tf, self.eval_tf = transforms(r, self.input_size, self.mean, self.std, self.channels_last)
        self.config = run_config(self)
        self.position = {"epoch": 0, "step_in_epoch": 0}
        self.global_step, self.history, self.best_top1 = 0, [], -1.0
        self.partial: dict[str, float] = {}
        self.budget = None
        if self.budget_s is not None:
            from edgecnn.train.budget_run import BudgetKeeper

            self.budget = BudgetKeeper(self, self.budget_s)
        if opts.resume:
            self._restore()

    # -- setup helpers ------------------------------------------------------------
    def _build(self, train) -> None:
        """Model (seeded), regularizers, optimizer, schedule, scaler and loss."""
        from edgecnn.models import create_model

        opts = self.opts
        torch.manual_seed(opts.seed)  # weight initialisation
        model = create_model(opts.model, num_classes=self.num_classes, input_size=self.input_size)
        self._apply_regularizers(model)
        if opts.qat:  # --checkpoint's weights, as a fake-quantised graph
            from edgecnn.train.qat import qat_model

            model = qat_model(self, model)
        self.model = model.to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        r = self.recipe
        self.ema = None
        if r.ema > 0:
            from edgecnn.train.ema import WeightEma

            self.ema = WeightEma(self.model, r.ema)
        self.optimizer = torch.optim.SGD(param_groups(self.model, r.weight_decay, r.wd_on), lr=r.lr,
                                         momentum=r.momentum, nesterov=r.nesterov and r.momentum > 0)
        self.per_rank_batch = r.batch_size // self.dist.world_size
        self.steps_per_epoch = (len(train) // self.dist.world_size) // self.per_rank_batch
        if self.steps_per_epoch < 1:
            raise InvalidOptionError(f"{len(train)} training images are fewer than one batch of {r.batch_size}; "
                                     f"lower --batch-size")
        # a callable object, so the scheduler's state_dict keeps its total and any budget re-plans
        self.schedule = LrSchedule(r.schedule, r.warmup_frac, self.steps_per_epoch * r.epochs)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.schedule)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=r.label_smoothing)

    def _load_data(self, card):
        """(train, test) arrays after --subset / --test-subset; sets the classes,
        input size, mean/std and the resolved data source."""
        from edgecnn.data import load_dataset
        from edgecnn.train.eval_base import cache_side

        opts = self.opts
        # ImageFolder images are stored at a fixed side only for an explicit ImageNet-size input
        self.image_size = cache_side(opts.dataset, opts.input_size) if opts.input_size else None
        train = load_dataset(opts.dataset, "train", opts.data_dir, image_size=self.image_size)
        test = load_dataset(opts.dataset, "test", opts.data_dir, image_size=self.image_size)
        if train.classes != test.classes:
            raise InvalidOptionError(f"train and test splits of {opts.dataset} have different classes "
                                     f"({train.num_classes} vs {test.num_classes})")
        if opts.num_classes is not None and opts.num_classes != train.num_classes:
            raise InvalidOptionError(f"--num-classes {opts.num_classes} does not match {opts.dataset}, which "
                                     f"has {train.num_classes} classes")
        self.data_source = str(Path(train.source).resolve()) if Path(train.source).exists() else train.source
        self.classes, self.num_classes = list(train.classes), train.num_classes
        side = int(train.images.shape[1])
        self.input_size = int(opts.input_size or (side if side < 64 else card.input_size))
        self.mean, self.std = norm_stats(self.recipe.norm, opts.dataset, card.mean, card.std)
        return train.subset(opts.subset, opts.seed), test.subset(opts.test_subset, opts.seed)

    def _apply_regularizers(self, model: nn.Module) -> None:
        from edgecnn.train.regularizers import apply_shake_shake, apply_stochastic_depth

        if self.recipe.stochastic_depth:
            n = apply_stochastic_depth(model, self.recipe.stochastic_depth)
            self.log(f"stochastic depth: {n} residual blocks, drop probability up to {self.recipe.stochastic_depth}")
        if self.opts.shake_shake:
            apply_shake_shake(model)

    def _restore(self) -> None:
        ckpt = read_checkpoint(self.last_path, map_location=self.device)
        stored = ckpt.get("train_config") or {}
        if ckpt.get("budget") or self.budget_s is not None:
            self._resume_budget(ckpt, stored)
        if "recipe" in stored:  # a run from before a recipe field existed ran with its default
            stored = {**stored, "recipe": Recipe.from_dict(stored["recipe"]).to_dict()}
        for key in RESUME_KEYS:
            if key in stored and stored[key] != self.config[key]:
                what = "recipe settings" if key == "recipe" else f"{key} {stored[key]!r}"
                raise InvalidOptionError(f"{self.run_dir} was started with other {what}; resume with the same "
                                         f"options or use --out NEW_FOLDER")
        for key in ("threads", "device"):
            if key in stored and stored[key] != self.config[key]:
                self.log(f"note: the run used {key} {stored[key]}, this resume {self.config[key]}; the figures will "
                         f"match an uninterrupted run within float noise, not bit for bit")
        if ckpt.get("model") != self.opts.model:
            raise InvalidOptionError(f"{self.last_path} is a {ckpt.get('model')} checkpoint, not {self.opts.model}")
        if self.opts.qat:
            from edgecnn.train.qat import load_state

            load_state(self, ckpt["state_dict"], str(self.last_path))
        else:
            load_weights(self.model, ckpt.get("train_state_dict") or ckpt["state_dict"], str(self.last_path))
        if self.ema is not None:  # the checkpoint's state_dict is the average (what eval and export load)
            self.ema.restore(ckpt["state_dict"], ckpt.get("ema"), str(self.last_path))
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.position = dict(ckpt["position"])
        self.global_step = int(ckpt["step"])
        self.history = list(ckpt.get("history", []))
        self.best_top1 = float(ckpt.get("best_top1", -1.0))
        self.partial = dict(ckpt.get("partial") or {})
        if self.position["epoch"] >= self.n_epochs():
            self.log(f"{self.run_dir} already finished its {self.n_epochs()} epochs; nothing to train")
        else:
            self.log(f"resuming {self.run_dir} at epoch {self.position['epoch'] + 1}, "
                     f"step {self.position['step_in_epoch']} of {self.steps_per_epoch}")

    def _resume_budget(self, ckpt: dict[str, Any], stored: dict[str, Any]) -> None:
        """A budgeted run resumes with its own plan and clock (the budget covers the
        whole run, the interrupted part included); --time-budget may be repeated, not changed."""
        from edgecnn.train.budget_run import BudgetKeeper

        saved = ckpt.get("budget")
        if not saved:
            raise InvalidOptionError(f"{self.run_dir} was not started with --time-budget; resume it without one")
        if self.opts.epochs is not None:
            raise InvalidOptionError(f"{self.run_dir} was planned by --time-budget; resume it without --epochs")
        budget = float(saved["plan"]["budget_s"])
        if self.budget_s is not None and abs(self.budget_s - budget) > 1e-6:
            raise InvalidOptionError(f"{self.run_dir} was started with --time-budget {budget:g}s; resume with "
                                     f"the same budget or without --time-budget")
        self.budget_s, self.budget = budget, BudgetKeeper.restore(self, saved)
        epochs = int((stored.get("recipe") or {}).get("epochs") or self.budget.plan.epochs)
        self.recipe = self.recipe.replace(epochs=epochs)
        self.config.update(recipe=self.recipe.to_dict(), time_budget_s=budget, budget_plan=self.budget.plan.to_dict())

    def write_config(self) -> None:
        atomic_write_text(self.run_dir / "config.json", json.dumps(self.config, indent=2, default=str))

    def eval_module(self) -> nn.Module:
        """The weights evaluated, saved as the checkpoint's ``state_dict`` and in
        the fp16 file: the moving average under ``--ema``, else the trained ones."""
        return self.ema.module if self.ema is not None else unwrap(self.model)

    def _payload(self, metrics: dict[str, Any]) -> dict[str, Any]:
        m = unwrap(self.model)
        ema = {"train_state_dict": m.state_dict(), "ema": self.ema.state()} if self.ema is not None else {}
        return {"model": self.opts.model, "config": dict(m.edgecnn_config), **ema,
                "state_dict": self.eval_module().state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
                "epoch": len(self.history), "step": self.global_step, "position": dict(self.position),
                "partial": dict(self.partial), "rng_state": rng_state(), "metrics": metrics,
                "history": list(self.history), "best_top1": self.best_top1, "dataset": self.opts.dataset,
                "budget": self.budget.state() if self.budget else None,
                "classes": self.classes, "mean": list(self.mean), "std": list(self.std),
                "train_config": {k: v for k, v in self.config.items() if k != "env"},
                **({"qat": qat_entry(self)} if self.opts.qat else {})}

    # -- the loop -----------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        return self.schedule.total_steps

    def epoch_steps(self, epoch: int) -> int:
        """Optimizer steps in ``epoch`` (0-based): all of them, except in the last
        epoch of a budgeted run that was re-planned to end mid-epoch."""
        return max(0, min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch))

    def n_epochs(self) -> int:
        return math.ceil(self.total_steps / self.steps_per_epoch)

    def epoch_order(self, sampler, epoch: int) -> torch.Tensor:
        sampler.set_epoch(epoch)
        return torch.tensor(list(iter(sampler)), dtype=torch.int64, device=self.device)

    def train_step(self, net: nn.Module, order: torch.Tensor, epoch: int, step: int):
        """One optimizer step on batch ``step`` of ``epoch``'s order; returns the
        (loss, logits, labels) tensors, still on the device (nothing here waits
        for the GPU)."""
        from edgecnn.data.augment import mix_seed, mixup, step_generator

        r, o = self.recipe, self.opts
        sel = order[step * self.per_rank_batch:(step + 1) * self.per_rank_batch]
        g = step_generator(self.device, o.seed, epoch, step, self.dist.rank)
        torch.manual_seed(mix_seed(o.seed, epoch, step, self.dist.rank, 1))  # dropout / drop-path
        x = self.train_tf(self.train_x[sel], g)
        y = self.train_y[sel]
        x, ya, yb, lam = mixup(x, y, r.mixup, g)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            out = net(x)
            loss = self.criterion(out, ya)
            if lam < 1.0:
                loss = lam * loss + (1.0 - lam) * self.criterion(out, yb)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if r.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(net.parameters(), r.grad_clip)
        self.scaler.step(self.optimizer)  # with fp16 AMP the GradScaler reads its inf check: a sync per step
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.model)
        return loss, out, y

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def refresh_lr(self) -> None:
        """Set each group's lr from the schedule at the scheduler's position (after a (re-)plan)."""
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * self.schedule(self.scheduler.last_epoch)

    def run(self) -> dict[str, Any]:
        from torch.utils.data.distributed import DistributedSampler

        o, dist, budget = self.opts, self.dist, self.budget
        self.t_start = time.perf_counter() - (budget.elapsed_before if budget else 0.0)
        if dist.is_main:
            self.write_config()
            self._write_metrics_jsonl()
        net = self._train_net()
        sampler = DistributedSampler(range(self.n_train), num_replicas=dist.world_size, rank=dist.rank,
                                     shuffle=True, seed=o.seed, drop_last=True)
        if budget and not budget.planned:
            budget.plan_now(net, self.epoch_order(sampler, 0))
        test = None
        epoch = self.position["epoch"]
        while epoch < self.n_epochs():
            test = self._epoch(net, sampler, epoch)
            epoch += 1
        wall_s = time.perf_counter() - self.t_start
        if test is None:  # the run was already complete
            test = self.evaluate()
        return self._finish(test, wall_s)

    def _train_net(self) -> nn.Module:
        """The module the steps run: DDP-wrapped and compiled where asked."""
        net: nn.Module = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if self.use_compile:
            net = torch.compile(net)  # once: batch shapes never change (drop_last), eval runs the plain module
        return net

    def _epoch(self, net: nn.Module, sampler: Any, epoch: int) -> dict[str, Any]:
        """One epoch from where the run stands (a resumed one from its step):
        train, evaluate, checkpoint, log; returns the test metrics."""
        order = self.epoch_order(sampler, epoch)
        first = self.position["step_in_epoch"] if epoch == self.position["epoch"] else 0
        acc = torch.tensor([self.partial.get("loss_sum", 0.0), self.partial.get("correct", 0.0),
                            self.partial.get("seen", 0.0)] if first else [0.0, 0.0, 0.0],
                           dtype=torch.float64, device=self.device)
        if first and not self.dist.is_main:
            acc.zero_()
        net.train()
        t0 = time.perf_counter()
        step = self._steps(net, order, epoch, first, acc, t0)
        self.sync()
        train_s = time.perf_counter() - t0
        D.all_reduce_sum(acc, self.dist)
        loss_sum, correct, seen = acc.tolist()
        t1 = time.perf_counter()
        test = self.evaluate()
        eval_s = time.perf_counter() - t1
        done_steps = step - first
        row = {"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1),
               "train_top1": 100.0 * correct / max(seen, 1), "test_loss": test["loss"],
               "test_top1": test["top1"], "test_top5": test["top5"],
               "lr": self.optimizer.param_groups[0]["lr"], "epoch_s": train_s + eval_s, "train_s": train_s,
               "eval_s": eval_s, "images_per_s": done_steps * self.recipe.batch_size / max(train_s, 1e-9),
               "step": self.global_step, "resumed": bool(first)}
        if step < self.steps_per_epoch:
            row["steps"] = done_steps  # a partial last epoch (budget re-plan)
        self.history.append(row)
        self.position, self.partial = {"epoch": epoch + 1, "step_in_epoch": 0}, {}
        if self.budget:
            self.budget.check_epoch_end(train_s, done_steps, eval_s)  # may re-plan the rest of the run
        self._end_epoch(row, test)
        return test

    def _steps(self, net: nn.Module, order: Any, epoch: int, first: int, acc: torch.Tensor, t0: float) -> int:
        """The epoch's optimizer steps from ``first``, summing loss, correct and
        seen into ``acc``; checkpoints mid-epoch where asked. Returns the step reached."""
        o, budget = self.opts, self.budget
        step = first
        while step < self.epoch_steps(epoch):  # a re-plan may end this epoch early
            loss, out, y = self.train_step(net, order, epoch, step)
            self.scheduler.step()
            self.global_step += 1
            step += 1
            # torch.full is a fill kernel; torch.tensor(n, device=cuda) would copy from the host and sync
            acc += torch.stack([loss.detach().double() * y.numel(),
                                (out.detach().argmax(1) == y).sum().double(),
                                torch.full((), float(y.numel()), dtype=torch.float64, device=self.device)])
            if o.checkpoint_every and step % o.checkpoint_every == 0 and step < self.epoch_steps(epoch):
                self.position = {"epoch": epoch, "step_in_epoch": step}
                # sums over all ranks; restored on rank 0 only (the epoch-end all_reduce adds the rest)
                sums = D.all_reduce_sum(acc.clone(), self.dist).tolist()
                self.partial = dict(zip(("loss_sum", "correct", "seen"), sums))
                if self.dist.is_main:
                    save_checkpoint(self.last_path, self._payload({}))
            if budget:
                budget.check_mid_epoch(epoch, step - first, time.perf_counter() - t0)
        return step

    def _end_epoch(self, row: dict[str, Any], test: dict[str, Any]) -> None:
        """Best top-1 so far; on rank 0 the checkpoints (best when improved), metrics and the log line."""
        improved = test["top1"] > self.best_top1
        self.best_top1 = max(self.best_top1, test["top1"])
        if not self.dist.is_main:
            return
        t2 = time.perf_counter()
        payload = self._payload(test)
        save_checkpoint(self.last_path, payload)
        if improved:
            save_checkpoint(self.best_path, payload)
        self._write_metrics_jsonl()
        if self.budget:
            self.budget.saved(time.perf_counter() - t2)
        self.log(f"epoch {row['epoch']}/{self.n_epochs()}  train loss {row['train_loss']:.4f}  "
                 f"top1 {row['train_top1']:.2f}%  test loss {row['test_loss']:.4f}  "
                 f"top1 {row['test_top1']:.2f}%  lr {row['lr']:.4g}  {row['epoch_s']:.1f} s  "
                 f"{row['images_per_s']:.0f} img/s")

    def _finish(self, test: dict[str, Any], wall_s: float) -> dict[str, Any]:
        """The run's summary (ranks checked in sync under DDP), the fp16 copy and the records."""
        o, dist = self.opts, self.dist
        summary = run_summary(self, test, wall_s)
        summary["rank"], summary["param_checksum"] = dist.rank, param_checksum(unwrap(self.model))
        if dist.enabled:  # DDP keeps replicas equal; check it rather than assume it
            sums = [None] * dist.world_size
            import torch.distributed as tdist

            tdist.all_gather_object(sums, summary["param_checksum"])
            summary["ranks_in_sync"] = len(set(sums)) == 1
        if dist.is_main:
            if o.save_fp16:
                summary["fp16_path"] = str(save_fp16_state_dict(
                    self.eval_module(), self.run_dir / f"{o.model}-fp16.pt",
                    extra={"dataset": o.dataset, "classes": self.classes, "mean": list(self.mean),
                           "std": list(self.std), "metrics": test}))
            if self.budget:
                summary.update(self.budget.summary(time.perf_counter() - self.t_start))
            if o.profiles:
                from edgecnn.records import RecordStore
                from edgecnn.train.run_records import run_records

                RecordStore(o.profiles).extend(run_records(self, test, summary))
        D.barrier(dist)
        D.teardown(dist)
        return summary

    def evaluate(self) -> dict[str, Any]:
        """Test-set metrics of ``eval_module()`` (flip-averaged logits under
        ``tta_flip``); under torchrun each rank takes a shard and the counts are summed."""
        idx = torch.arange(self.dist.rank, self.test_x.shape[0], self.dist.world_size, device=self.device)
        meter = self.evaluate_on(idx)
        meter.all_reduce()
        return meter.result()

    def evaluate_on(self, indices: torch.Tensor) -> ClassificationMeter:
        """This rank's meter over the test images ``indices`` (not reduced over ranks)."""
        return evaluate_model(self.eval_module(), self.test_x, self.test_y, self.eval_tf, self.num_classes,
                              self.opts.eval_batch_size, self.amp_dtype, indices=indices,
                              tta_flip=self.recipe.tta_flip)

    def _write_metrics_jsonl(self) -> None:
        atomic_write_text(self.run_dir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in self.history))


def train(opts: TrainOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train as ``opts`` says (see ``TrainOptions``) and return the run summary."""
    return Trainer(opts, log).run()

"""What a finished training run reports: its summary dict and its records
(one ``train_epoch`` per epoch, one ``train``, one ``accuracy``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from edgecnn.records import Record, environment
from edgecnn.train.qat import qat_entry

if TYPE_CHECKING:
    from edgecnn.train.trainer import Trainer


def run_summary(t: "Trainer", test: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """The figures ``train()`` returns (and the ``train`` record holds)."""
    h = t.history
    return {"run_dir": str(t.run_dir), "run_id": t.run_dir.name, "model": t.opts.model,
            "dataset": t.opts.dataset, "epochs": len(h), "test_top1": test["top1"],
            "test_top5": test["top5"], "test_loss": test["loss"], "best_test_top1": t.best_top1,
            "train_loss": h[-1]["train_loss"] if h else None, "train_top1": h[-1]["train_top1"] if h else None,
            "wall_s": wall_s, "train_s_total": sum(x["train_s"] for x in h),
            "images_per_s": (float(np.mean([x["images_per_s"] for x in h])) if h else None),
            "seed": t.opts.seed, "recipe": t.opts.recipe, "world_size": t.dist.world_size,
            "last": str(t.last_path), "best": str(t.best_path)}


def run_config(t: "Trainer") -> dict[str, Any]:
    """The run's ``config.json``: what it was asked, what it resolved, where it ran."""
    o = t.opts
    return {"model": o.model, "dataset": o.dataset, "data_dir": o.data_dir, "data_source": t.data_source,
            "image_size": t.image_size, "seed": o.seed, "subset": o.subset,
            "test_subset": o.test_subset, "input_size": t.input_size, "num_classes": t.num_classes,
            "recipe": t.recipe.to_dict(), "world_size": t.dist.world_size,
            "device": str(t.device), "amp": str(t.amp_dtype).replace("torch.", "") if t.amp_dtype
            else "off", "channels_last": t.channels_last, "compile": t.use_compile,
            "checkpoint_every": o.checkpoint_every, "steps_per_epoch": t.steps_per_epoch,
            "threads": torch.get_num_threads(), "time_budget_s": t.budget_s, "budget_plan": None,
            "classes": t.classes, "mean": list(t.mean), "std": list(t.std),
            "run_id": t.run_dir.name, "env": environment(),
            "qat": {"checkpoint": t.qat_source["source_checkpoint"]} if o.qat else None}


def param_checksum(model: torch.nn.Module) -> str:
    """A short hash of every parameter and buffer (DDP ranks compare theirs)."""
    import hashlib

    h = hashlib.sha1()
    for v in model.state_dict().values():
        h.update(v.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def precision_of(amp_dtype: torch.dtype | None) -> str:
    return {torch.bfloat16: "bf16-mixed", torch.float16: "fp16-mixed"}.get(amp_dtype, "fp32")


def run_records(t: "Trainer", test: dict[str, Any], summary: dict[str, Any]) -> list[Record]:
    """The run's records. The accuracy record says how its figure was taken:
    ``ema_decay`` (the averaged weights were evaluated; 0 = the trained ones)
    and ``tta_flip`` (logits averaged with the mirrored image's)."""
    env = environment({"device_torch": str(t.device), "gpu": torch.cuda.get_device_name(t.device)
                       if t.device.type == "cuda" else None, "threads": torch.get_num_threads(),
                       **(t.opts.record_env or {})})
    qat = {"qat": qat_entry(t)} if t.opts.qat else {}
    common = dict(model=t.opts.model, device=t.opts.device_name, runtime="torch", format="pytorch",
                  input_shape=[3, t.input_size, t.input_size], dataset=t.opts.dataset, env=env,
                  variant=t.run_dir.name, precision="int8-qat" if qat else precision_of(t.amp_dtype))
    recs = [Record(kind="train_epoch", batch=t.recipe.batch_size, metrics=dict(row), **common) for row in t.history]
    recs.append(Record(kind="train", batch=t.recipe.batch_size,
                       metrics={**{k: v for k, v in summary.items() if k not in ("model", "dataset")},
                                "recipe_settings": t.recipe.to_dict(),
                                "subset": t.opts.subset, "test_subset": t.opts.test_subset, **qat}, **common))
    recs.append(Record(kind="accuracy", batch=t.opts.eval_batch_size,
                       metrics={**test, "checkpoint": str(t.last_path), "ema_decay": t.recipe.ema,
                                "tta_flip": t.recipe.tta_flip, **qat}, **common))
    return recs

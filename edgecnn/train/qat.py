"""Quantisation-aware fine-tuning: ``edgecnn train MODEL --qat --checkpoint FP32.pt``.

The trainer's own loop, data pipeline, run folder, resume and records, with
three differences set here:

* the model starts from the float weights of ``--checkpoint`` (a checkpoint
  of the same architecture; a QAT checkpoint is refused) and is trained as a
  PT2E fake-quantised graph (``edgecnn.export.qat.prepare_qat``: the XNNPACK
  INT8 scheme the ONNX, TFLite, OpenVINO and ExecuTorch exports run);
* the images are normalised with the checkpoint's mean/std (what its export
  will use), whatever the recipe's ``norm`` says;
* the recipe is ``qat`` (a short, low learning-rate fine-tune) unless
  ``--recipe`` names another, and the GPU speed-ups that do not apply to an
  exported graph (autocast, channels-last, ``torch.compile``), the weights'
  moving average and ``--save-fp16`` are off or refused.

Checkpoints (``last.pt``, ``best.pt``) hold the QAT graph's state (weights and
fake quantisers) and a ``qat`` entry (``edgecnn.models.checkpoint.QAT_KEY``):
quantizer, scheme, source checkpoint and its top-1, epochs and images
fine-tuned so far. ``edgecnn export MODEL --checkpoint best.pt --precision
int8`` takes the trained scales as they are.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgecnn.errors import InvalidOptionError

if TYPE_CHECKING:
    from edgecnn.train.options import TrainOptions
    from edgecnn.train.trainer import Trainer

QAT_RECIPE = "qat"


def qat_options(opts: "TrainOptions") -> "TrainOptions":
    """``opts`` checked and resolved for a QAT run (unchanged without ``--qat``);
    a combination that cannot work is one ``InvalidOptionError`` line, before any data loads."""
    if not opts.qat:
        if opts.checkpoint is not None:
            raise InvalidOptionError("--checkpoint gives the float weights a --qat fine-tune starts from; add --qat "
                                     "(a plain run trains from scratch)")
        return opts
    if opts.checkpoint is None:
        raise InvalidOptionError("--qat fine-tunes trained float weights: give them with --checkpoint FP32.pt")
    refused = {"--ema": bool(opts.ema), "--compile": bool(opts.compile), "--channels-last": bool(opts.channels_last),
               "--save-fp16": opts.save_fp16, "--shake-shake": opts.shake_shake,
               "--stochastic-depth": bool(opts.stochastic_depth), "--amp": opts.amp not in ("auto", "off")}
    bad = [k for k, v in refused.items() if v]
    if bad:
        raise InvalidOptionError(f"--qat does not take {', '.join(bad)} (the fake-quantised graph trains in float32, "
                                 f"unaveraged, uncompiled; its weights are saved with the fake quantisers)")
    if not Path(opts.checkpoint).is_file():
        raise InvalidOptionError(f"--checkpoint {opts.checkpoint} does not exist")
    return dataclasses.replace(opts, recipe=QAT_RECIPE if opts.recipe == "default" else opts.recipe, amp="off",
                               channels_last=False, compile=False)


def source_weights(t: "Trainer", model: Any) -> dict[str, Any]:
    """Load ``--checkpoint``'s float weights into ``model``; sets the trainer's
    mean/std to the checkpoint's. Returns what the ``qat`` entry records of the source."""
    from edgecnn.models.checkpoint import QAT_KEY, check_model_name, load_weights, read_checkpoint

    path = t.opts.checkpoint
    ckpt = read_checkpoint(path)
    if ckpt.get(QAT_KEY):
        raise InvalidOptionError(f"--checkpoint {path} is already a QAT checkpoint; --qat starts from float "
                                 f"(FP32 or FP16) weights")
    check_model_name(ckpt, path, t.opts.model)
    stored = ckpt.get("config") or {}
    for key, have in (("num_classes", t.num_classes), ("input_size", t.input_size)):
        if stored.get(key) is not None and int(stored[key]) != int(have):
            raise InvalidOptionError(f"--checkpoint {path} was trained with {key} {stored[key]}, this run has "
                                     f"{have}")
    load_weights(model, ckpt["state_dict"], f"checkpoint {path}")
    if ckpt.get("mean") and ckpt.get("std"):
        t.mean, t.std = tuple(ckpt["mean"]), tuple(ckpt["std"])
    metrics = ckpt.get("metrics") or {}
    return {"source_checkpoint": str(Path(path).resolve()), "source_top1": metrics.get("top1"),
            "source_weights_dtype": ckpt.get("weights_dtype", "float32")}


def qat_model(t: "Trainer", model: Any) -> Any:
    """``model`` with ``--checkpoint``'s weights, prepared for QAT (``QatModel``);
    ``t.qat_source`` keeps what the checkpoints record of the source."""
    from edgecnn.export.qat import prepare_qat

    t.qat_source = source_weights(t, model)
    return prepare_qat(model.to(t.device), t.input_size)


def qat_entry(t: "Trainer") -> dict[str, Any]:
    """The checkpoint's ``qat`` entry: quantizer, scheme, source, and the
    fine-tune so far (epochs finished, optimizer steps, images seen)."""
    return {**t.model.edgecnn_qat, **t.qat_source, "epochs": len(t.history), "steps": t.global_step,
            "images": t.global_step * t.recipe.batch_size, "recipe": t.recipe.name}


def load_state(t: "Trainer", state_dict: dict[str, Any], where: str) -> None:
    """Resume: the QAT graph's weights and fake quantisers."""
    from edgecnn.export.qat import load_qat_state

    load_qat_state(t.model, state_dict, where)

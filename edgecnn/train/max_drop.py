"""``export --precision int8 --max-drop D`` that lands: post-training
quantisation, then mixed precision, then quantisation-aware fine-tuning.

The format's builder has already tried PTQ and then mixed precision (its
``max_drop`` search) and ``edgecnn.export.max_drop`` has judged the result.
Where that did not land, ``escalate`` fine-tunes the float checkpoint with
fake quantisation once (``edgecnn train --qat``, ``QAT_EPOCHS`` epochs unless
asked otherwise, into ``<out>/qat-<model>/``, resumed when cut short),
exports each such format again from the QAT checkpoint (its trained scales,
all layers INT8), and judges it against the *original* FP32 model's top-1 on
the same test images. The QAT export's record says the paths tried before it
with their drops and seconds (``max_drop_attempts``) and the fine-tune's
wall time (``qat_seconds``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

from edgecnn.export.max_drop import attempt_of

QAT_EPOCHS = 1
QUANT_KEYS = ("quant_method", "keep_float", "max_drop", "search_images")  # a QAT export takes its own scales


def needs_qat(results: list) -> list:
    """The INT8 results whose ``--max-drop`` did not land."""
    return [r for r in results if r.precision == "int8" and r.record.metrics.get("max_drop_met") is False]


def qat_fine_tune(model: str, checkpoint: str | Path, out: Path, *, epochs: int, images: Optional[int],
                  dataset: str, data_dir: Optional[str], input_size: Optional[int], profiles: Optional[str],
                  log: Callable[[str], None]) -> tuple[Path, float]:
    """``edgecnn train MODEL --qat --checkpoint CHECKPOINT`` into ``out``
    (resumes a run that was cut short); (its best checkpoint, seconds)."""
    from edgecnn.train.options import options_from
    from edgecnn.train.trainer import train

    start = time.perf_counter()
    resume = (out / "last.pt").is_file()
    log(f"--max-drop not met by PTQ or mixed precision: QAT fine-tune of {checkpoint} ({epochs} epoch(s)"
        f"{f', {images} images' if images else ''}) into {out}{' (resuming)' if resume else ''} ...")
    train(options_from(model=model, qat=True, checkpoint=str(checkpoint), epochs=epochs, subset=images,
                       dataset=dataset, data_dir=data_dir, input_size=input_size, out=str(out), resume=resume,
                       profiles=profiles), log=log)
    return out / "best.pt", time.perf_counter() - start


def escalate(model: Any, results: list, common: dict[str, Any], plan: list[tuple[str, dict]], max_drop: float, *,
             qat_epochs: Optional[int], qat_images: Optional[int], export: Callable[..., Any],
             log: Callable[[str], None], warn: Callable[[str], None]) -> list:
    """``results`` with every INT8 export that missed ``max_drop`` replaced by
    its QAT export where one can be made (see the module doc); the others kept,
    each miss said in one warning."""
    from edgecnn.export.qat import QAT_FORMATS
    from edgecnn.models.checkpoint import is_qat_checkpoint

    missed = needs_qat(results)
    if not missed:
        return results
    checkpoint = common.get("checkpoint")
    why_not = ("QAT needs a zoo model" if not isinstance(model, str)
               else "QAT needs the float weights: --checkpoint" if checkpoint is None
               else "the checkpoint is already QAT" if is_qat_checkpoint(checkpoint)
               else f"QAT trains on CIFAR data; --dataset is {common.get('dataset')}"
               if common.get("dataset") not in ("cifar10", "cifar100")
               else "--qat-epochs 0" if qat_epochs == 0 else None)
    tried = [r for r in missed if r.format in QAT_FORMATS] if why_not is None else []
    for r in missed:
        if r not in tried:
            reason = why_not or f"{r.format} does not take QAT scales (QAT formats: {', '.join(QAT_FORMATS)})"
            warn(f"{r.format} int8 missed --max-drop {max_drop:g} ({r.record.metrics.get('max_drop_missed')}); "
                 f"QAT not tried: {reason}")
    if not tried:
        return results
    out = Path(common.get("out_dir") or "export") / f"qat-{model}"
    profiles = common.get("profiles")
    qat_ckpt, qat_s = qat_fine_tune(model, checkpoint, out, epochs=QAT_EPOCHS if qat_epochs is None else qat_epochs,
                                    images=qat_images, dataset=common.get("dataset", "cifar10"),
                                    data_dir=common.get("data_dir"), input_size=common.get("input_size"),
                                    profiles=str(profiles) if profiles else None, log=log)
    replaced = {}
    for r in tried:
        before = [attempt_of(r.record.metrics)]
        reference = r.record.metrics.get("top1_reference")  # the FP32 model's top-1 on the same test images
        options = {k: v for k, v in dict(plan).get(r.format, {}).items() if k not in QUANT_KEYS}
        kw = {**common, **options, "checkpoint": qat_ckpt, "force_input_size": False,
              "max_drop_chain": {"attempts": before, "fp32_top1": reference, "max_drop": max_drop,
                                 "qat_seconds": round(qat_s, 1)}}
        new = export(model, r.format, kw)
        replaced[id(r)] = new
        m = new.record.metrics
        if not m.get("max_drop_met"):
            warn(f"{r.format} int8 missed --max-drop {max_drop:g} after QAT too ({m.get('max_drop_missed')})")
    return [replaced.get(id(r), r) for r in results]

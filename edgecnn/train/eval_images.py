"""Evaluation with a weights' own preprocessing, and the normalisation check.

``evaluate_source`` runs a model (a module or an artifact's runner, through
one ``predict(x) -> logits`` function) over an ``ImageSource`` (CIFAR arrays,
an ImageNet-style folder, any image folder) whose images are resized, cropped
and normalised exactly as a ``Preprocessing`` says (torchvision's PIL path).

``normalization_check``: when the normalisation used is not the one the
weights expect (a user's ``--mean``/``--std``; the classic mistake is mean =
std = 0.5 on weights trained with the ImageNet statistics), the same sample of
images (500 by default) is evaluated both ways and the drop is reported:
figures a reader can act on instead of an accuracy that is silently low.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from edgecnn.data.image_source import ImageSource
from edgecnn.data.preprocess import Preprocessing, fmt_triple
from edgecnn.train.metrics import ClassificationMeter

DEFAULT_CHECK_IMAGES = 500
MAX_CONFUSION_CLASSES = 100  # larger confusion matrices (ImageNet: 1000 x 1000) stay out of records

Predict = Callable[[Any], Any]  # float32 NCHW torch batch -> logits (torch or numpy)


def evaluate_source(predict: Predict, source: ImageSource, pre: Preprocessing, batch_size: int = 64,
                    num_outputs: int | None = None) -> dict[str, Any]:
    """Top-1, top-5 (percent), loss (nats), per-class top-1 over ``source``.

    ``num_outputs``: the model's logit count, checked against the source's
    classes (1000 for an ImageNet folder, whatever classes it holds). Classes
    with no image get ``None`` in ``per_class_top1``; the confusion matrix is
    left out above ``MAX_CONFUSION_CLASSES`` classes."""
    from edgecnn.errors import InvalidOptionError

    if num_outputs is not None and num_outputs != source.num_classes:
        raise InvalidOptionError(f"the model gives {num_outputs} outputs per image; {_what(source)} has "
                                 f"{source.num_classes} classes")
    meter = ClassificationMeter(source.num_classes)
    for crops, labels in source.batches(pre, batch_size):
        logits = predict(pre.normalize(crops))
        meter.update(np.asarray(logits.detach() if hasattr(logits, "detach") else logits), labels)
    out = meter.result()
    present = set(source.present())
    out["per_class_top1"] = [v if i in present else None for i, v in enumerate(out["per_class_top1"])]
    out["classes_present"] = len(present)
    if source.num_classes > MAX_CONFUSION_CLASSES:
        out.pop("confusion", None)
    return out


def _what(source: ImageSource) -> str:
    return {"wnid-folders": f"the ImageNet folder {source.source}",
            "labels-file": f"{source.source} (labels file)"}.get(source.layout, f"{source.name} ({source.source})")


def normalization_check(evaluate: Callable[[Any, Any], dict[str, Any]], data: Any, used: Any, own: Any,
                        n_images: int = DEFAULT_CHECK_IMAGES, seed: int = 0,
                        full_used: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate a sample of ``n_images`` of ``data`` (``data.subset(n, seed)``,
    class-balanced) with the normalisation ``used`` and with the weights'
    ``own`` (``evaluate(sample, norm) -> metrics``; a norm is a Preprocessing
    or a (mean, std) pair). ``full_used``: the metrics of the full evaluation,
    reused when the sample is the whole set. Accuracies in percent; the drop
    is ``top1_own - top1_used`` (points)."""
    sample = data.subset(n_images, seed)
    whole = len(sample) == len(data)
    m_used = full_used if (whole and full_used is not None) else evaluate(sample, used)
    m_own = evaluate(sample, own)
    u_mean, u_std = _mean_std(used)
    o_mean, o_std = _mean_std(own)
    return {"n_images": int(m_own["n_images"]), "top1_used": round(float(m_used["top1"]), 4),
            "top1_own": round(float(m_own["top1"]), 4),
            "drop_points": round(float(m_own["top1"]) - float(m_used["top1"]), 4),
            "top5_used": round(float(m_used["top5"]), 4), "top5_own": round(float(m_own["top5"]), 4),
            "used": {"mean": list(u_mean), "std": list(u_std)}, "own": {"mean": list(o_mean), "std": list(o_std)},
            "own_source": getattr(own, "source", "") or ""}


def check_message(check: dict[str, Any]) -> str:
    """One line for the user: what was used, what the weights expect, and the cost."""
    u, o = check["used"], check["own"]
    where = f" ({check['own_source']})" if check.get("own_source") else ""
    return (f"normalisation mean={fmt_triple(u['mean'])} std={fmt_triple(u['std'])} differs from the weights' own "
            f"mean={fmt_triple(o['mean'])} std={fmt_triple(o['std'])}{where}: on {check['n_images']} images top-1 "
            f"is {check['top1_used']:.2f}% with it and {check['top1_own']:.2f}% with the weights' own "
            f"({-check['drop_points']:+.2f} points)")


def _mean_std(norm: Any) -> tuple[tuple, tuple]:
    if isinstance(norm, Preprocessing):
        return tuple(norm.mean), tuple(norm.std)
    mean, std = norm
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def same_norm(a: Any, b: Any) -> bool:
    (am, asd), (bm, bsd) = _mean_std(a), _mean_std(b)
    return bool(np.allclose(am, bm, atol=1e-6) and np.allclose(asd, bsd, atol=1e-6))


def torch_predict(model: Any, device: Any = "cpu") -> Predict:
    """``predict`` for a module: no gradients, on ``device``, logits back on the CPU."""
    import torch

    model.eval().to(device)

    def predict(x):
        with torch.no_grad():
            return model(x.to(device)).float().cpu()

    return predict


def runner_predict(runner: Any, layout: str, fixed_batch: int | None) -> Predict:
    """``predict`` for an artifact's runner (NHWC artifacts transposed; a static
    batch padded by ``run_batches``)."""
    from edgecnn.export._runners import run_batches

    def predict(x):
        arr = x.numpy()
        if layout == "NHWC":
            arr = arr.transpose(0, 2, 3, 1)
        return run_batches(runner, np.ascontiguousarray(arr), fixed_batch)

    return predict

"""``edgecnn eval`` through an ``ImageSource``: pretrained weights, ImageNet folders.

Three targets take this path (``evaluate.py`` routes them):

- a zoo model name with ``--weights`` (torchvision name, timm tag, file):
  evaluated with the weights' own preprocessing (``weights.transforms()``);
- an artifact exported with pretrained weights (its metadata carries their
  ``preprocessing``);
- a checkpoint or artifact evaluated on an ImageNet-style folder (wnid folders,
  a flat folder with a labels file), with the default resize and crop.

Images are decoded batch by batch with PIL (``--subset`` picks files before
decoding), so a 50,000-image validation folder never sits in memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edgecnn.data.image_source import ImageSource, from_arrays, open_image_folder
from edgecnn.data.preprocess import Preprocessing, default_preprocessing
from edgecnn.errors import InvalidOptionError
from edgecnn.train.eval_images import evaluate_source, runner_predict, torch_predict

FOLDER_DATASETS = ("imagefolder", "imagenet")


def streaming_source(dataset: str | None, data_dir: str | None, labels: str | None,
                     force: bool = False) -> ImageSource | None:
    """The images to evaluate as an ``ImageSource`` when this path applies: an
    ImageNet layout (wnid folders, a labels file), ``--dataset imagenet``, or
    ``force`` (the target's preprocessing must be applied); else None (the
    CIFAR / train-test folder path of ``evaluate.py``)."""
    if labels is not None and dataset not in (None, *FOLDER_DATASETS):
        raise InvalidOptionError(f"--labels goes with --dataset imagefolder (a flat folder of images), "
                                 f"not {dataset}")
    if dataset in FOLDER_DATASETS or labels is not None:
        if data_dir is None:
            raise InvalidOptionError(f"--dataset {dataset or 'imagefolder'} needs --data-dir: an ImageNet-style "
                                     f"validation folder (val/<wnid>/*.JPEG, or images with --labels FILE)")
        src = open_image_folder(data_dir, None, labels)
        if dataset == "imagenet" and not src.name.startswith("imagenet"):
            raise InvalidOptionError(f"{data_dir} is not an ImageNet layout: expected folders named by wnid "
                                     f"(n01440764, ...) or a labels file of wnids or indices")
        if src.layout in ("wnid-folders", "labels-file") or force or dataset == "imagenet":
            return src
        return None
    if force:
        from edgecnn.data import load_dataset

        return from_arrays(load_dataset(dataset or "cifar10", "test", data_dir))
    return None


def evaluate_pretrained(name: str, weights: Any, dataset: str | None, data_dir: str | None, labels: str | None,
                        batch_size: int, subset: int | None, seed: int, dev: Any, over: Any,
                        input_size: int | None = None):
    """A zoo model with pretrained ``weights``, evaluated with their preprocessing."""
    from edgecnn.models import get_card
    from edgecnn.models.weights import build_with_weights
    from edgecnn.train.eval_base import EvalResult

    card = get_card(name)  # an unknown name: one line with the closest names
    if weights is None:
        raise InvalidOptionError(f"{name} is a model name: pass --weights (a torchvision weight name such as "
                                 f"DEFAULT, a timm tag or a weights file), or evaluate a checkpoint or artifact file")
    model, spec = build_with_weights(name, weights, input_size=input_size)
    cfg = model.edgecnn_config
    size = int(cfg["input_size"])
    default_ds = spec.extra.get("dataset") or ("imagenet" if spec.kind in ("torchvision", "timm") else card.dataset)
    ds = dataset or default_ds
    if ds == "imagenet" and data_dir is None and dataset is None:
        raise InvalidOptionError(f"{spec.source} are ImageNet weights: pass --dataset imagefolder --data-dir "
                                 f"<ImageNet validation folder> (val/<wnid>/*.JPEG, or images with --labels FILE)")
    src = streaming_source(ds, data_dir, labels, force=True)
    own = spec.preprocessing or default_preprocessing(size, card.mean, card.std, "the model card's normalisation")
    if spec.categories and not src.name.startswith("imagenet"):
        from edgecnn.train.eval_base import check_classes

        check_classes(f"{name} ({spec.name})", list(spec.categories), src.name, src.classes)
    predict = torch_predict(model, dev)
    res = _run(predict, src, own, batch_size, subset, seed, over, int(cfg["num_classes"]))
    metrics, data, secs = res
    metrics.update(weights=spec.name, weights_source=spec.source)
    return EvalResult(name, "pytorch", "fp32", data.name, size, metrics, list(src.classes), secs,
                      f"{name} --weights {spec.requested or spec.name}",
                      {"batch": batch_size, "variant": f"weights:{spec.tag}", "titles": src.titles})


def evaluate_checkpoint_stream(path: Path, model: Any, ckpt: dict[str, Any], src: ImageSource, own_norm: tuple,
                               batch_size: int, subset: int | None, seed: int, dev: Any, over: Any):
    """A checkpoint on an ImageNet-style folder (default resize and crop)."""
    from edgecnn.train.eval_base import EvalResult, check_classes

    cfg = model.edgecnn_config
    size = int(cfg["input_size"])
    said = "the checkpoint's normalisation" if ckpt.get("mean") else "the model card's normalisation"
    own = default_preprocessing(size, own_norm[0], own_norm[1], f"{said}, default resize and crop")
    if not src.name.startswith("imagenet"):
        check_classes(path.name, ckpt.get("classes"), src.name, src.classes)
    metrics, data, secs = _run(torch_predict(model, dev), src, own, batch_size, subset, seed, over,
                               int(cfg["num_classes"]))
    return EvalResult(cfg["name"], "pytorch", "fp32", data.name, size, metrics, list(src.classes), secs,
                      str(path), {"batch": batch_size, "titles": src.titles})


def evaluate_artifact_stream(path: Path, fmt: str, meta: dict[str, Any], src: ImageSource, size: int, layout: str,
                             precision: str, norm: tuple, batch_size: int, subset: int | None, seed: int,
                             over: Any, extra: dict[str, Any]):
    """An artifact with its metadata's preprocessing (or the default resize and crop)."""
    from edgecnn.train.eval_base import EvalResult, check_classes, fixed_batch, open_runner

    if meta.get("preprocessing"):
        own = Preprocessing.from_dict(meta["preprocessing"])
    else:
        own = default_preprocessing(size, norm[0], norm[1], "the artifact's metadata, default resize and crop")
    if not src.name.startswith("imagenet"):
        check_classes(path.name, meta.get("classes"), src.name, src.classes)
    runner = open_runner(fmt, path, [batch_size, 3, size, size])
    try:
        fixed = fixed_batch(runner)
        metrics, data, secs = _run(runner_predict(runner, layout, fixed), src, own, fixed or batch_size, subset,
                                   seed, over, meta.get("num_classes"))
    finally:
        runner.close()
    if meta.get("weights") not in (None, "random", "checkpoint", "given"):
        metrics.update(weights=meta["weights"], weights_source=meta.get("weights_source"))
        tag = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(meta["weights"]))[:48]
        extra["variant"] = "+".join(v for v in (extra.get("variant"), f"weights:{tag}") if v)
    extra.update(batch=fixed or batch_size, titles=src.titles)
    return EvalResult(meta["model"], fmt, precision, data.name, size, metrics, list(src.classes), secs, str(path),
                      extra)


def _run(predict: Any, src: ImageSource, own: Preprocessing, batch_size: int, subset: int | None, seed: int,
         over: Any, num_outputs: int | None) -> tuple[dict[str, Any], ImageSource, float]:
    """(metrics, the evaluated subset, seconds): the evaluation with the
    normalisation used, and the check against ``own`` when they differ."""
    data = src.subset(subset, seed)
    used = over.norm(own)
    t0 = time.perf_counter()

    def evaluate(d: ImageSource, pre: Preprocessing) -> dict[str, Any]:
        return evaluate_source(predict, d, pre, batch_size, num_outputs)

    metrics = evaluate(data, used)
    over.check(evaluate, data, used, own, metrics)
    metrics.update(preprocessing=used.to_dict(), data_source=src.source, data_layout=src.layout,
                   num_classes=src.num_classes)
    return metrics, data, time.perf_counter() - t0

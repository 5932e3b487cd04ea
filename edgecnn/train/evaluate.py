"""``edgecnn eval``: accuracy of a checkpoint or of an exported artifact.

Targets: ``.pt`` / ``.pth`` checkpoints (PyTorch), ``.onnx`` (ONNX Runtime),
``.tflite`` (LiteRT, ``ai_edge_litert``), ``.engine`` / ``.plan`` (TensorRT,
where it imports), ``.xml`` (OpenVINO IR), ``.pte`` (ExecuTorch),
``.ncnn.param`` (NCNN) and ``.mnn`` (MNN), each run with the settings its
exporter recorded (OpenVINO's inference precision, NCNN's fp16 storage, MNN's
session precision). Artifacts are read with the metadata JSON the exporter
writes beside them (``<artifact>.json``: model, input size, mean/std, classes,
layout, precision). Artifacts run through the same runner wrapper as the
export parity check (``edgecnn.export._runners.open_runner``): a full-integer
TFLite model gets its input quantised and its logits dequantised with the
tensors' own scale and zero point, and a dynamic-shape TensorRT engine gets a
fixed batch.

A zoo model name with ``weights`` (pretrained: torchvision's, timm's, a
file) is evaluated with the weights' own preprocessing
(``edgecnn.train.eval_pretrained``), on CIFAR or on an ImageNet-style folder,
streamed.

Preprocessing is the same for a checkpoint and its artifacts: uint8 images,
resized (and for ImageNet-size models, >= 64 px, centre-cropped to
``eval_crop`` of the side, 0.875 by default) and normalised with the model's
mean/std, so the figures of one model in several formats compare like with
like.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgecnn.errors import CorruptFileError, InvalidOptionError
from edgecnn.train.eval_base import (FORMATS, EvalResult, cache_side, check_classes, fixed_batch,
                                     open_runner)
from edgecnn.train.eval_images import DEFAULT_CHECK_IMAGES
from edgecnn.train.metrics import ClassificationMeter


def format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidOptionError(f"cannot evaluate {path.name}: expected one of {', '.join(sorted(FORMATS))}")
    return fmt


def read_metadata(path: Path) -> dict[str, Any]:
    meta_path = path.with_name(path.name + ".json")
    if not meta_path.exists():
        raise InvalidOptionError(f"{path} has no metadata file {meta_path.name} beside it (written by "
                                 f"`edgecnn export`); it holds the input size, mean/std and classes")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"cannot read {meta_path}: {exc}") from None
    if not isinstance(meta, dict) or "model" not in meta:
        raise CorruptFileError(f"{meta_path} is not export metadata (no 'model' field)")
    return meta


def evaluate_target(target: str | Path, dataset: str | None = None, data_dir: str | None = None,
                    batch_size: int = 256, subset: int | None = None, device: str = "auto",
                    seed: int = 0, model_name: str | None = None, *, weights: Any = None,
                    mean: Any = None, std: Any = None, check_images: int = DEFAULT_CHECK_IMAGES,
                    labels: str | None = None, input_size: int | None = None,
                    warn: Callable[[str], None] | None = None, force_input_size: bool = False) -> EvalResult:
    """Evaluate a checkpoint, an artifact, any model source (a timm name, a
    factory, a user's ONNX/TFLite/.pt2/TorchScript file), or a zoo model with
    pretrained ``weights`` (``target`` is then the model name) on the test
    split of ``dataset`` (``imagefolder``/``imagenet``: the folder
    ``data_dir``, ImageNet layouts included; ``labels``: the labels file of a
    flat folder).

    ``mean``/``std`` override the normalisation; when it differs from the
    model's own (weights, checkpoint or export metadata), ``warn`` says so and
    the metrics carry a ``normalization_check`` (``check_images`` images
    evaluated both ways). A file without edgecnn's metadata beside it takes
    ``input_size`` where its input is dynamic and ``mean``/``std`` (else
    ImageNet's, with a warning). ``model_name`` is needed only for a bare
    state dict (a checkpoint without its model name). A checkpoint runs at
    the side it was trained at; another ``input_size`` is one line unless
    ``force_input_size`` (the record then says ``input_size_forced``)."""
    from edgecnn.data.preprocess import check_triple
    from edgecnn.train.options import resolve_device

    warn = warn or (lambda message: None)
    if batch_size < 1:
        raise InvalidOptionError(f"--batch-size must be >= 1, got {batch_size}")
    if subset is not None and subset < 1:
        raise InvalidOptionError(f"--subset must be >= 1, got {subset}")
    if check_images < 1:
        raise InvalidOptionError(f"--check-images must be >= 1, got {check_images}")
    over = Override(check_triple("--mean", mean) if mean is not None else None,
                    check_triple("--std", std, positive=True) if std is not None else None,
                    check_images, seed, warn)
    spec = str(target)
    path = Path(target)
    source_spec = spec.startswith("timm:") or (":" in spec and not path.exists())
    if not path.exists() and not source_spec:
        if path.suffix.lower() in FORMATS or path.suffix.lower() in (".pt2", ".ts") or \
                (weights is None and path.suffix) or len(path.parts) > 1:
            raise InvalidOptionError(f"{path} does not exist")
        from edgecnn.train.eval_pretrained import evaluate_pretrained

        return evaluate_pretrained(spec, weights, dataset, data_dir, labels, batch_size, subset, seed,
                                   resolve_device(device), over, input_size)
    if weights is not None:
        raise InvalidOptionError(f"--weights goes with a zoo model name (edgecnn eval MODEL --weights ...); "
                                 f"{path.name} carries its own weights")
    dev = resolve_device(device)  # checked for every target; only PyTorch models run on it
    if source_spec or path.suffix.lower() in (".pt2", ".ts"):
        return _eval_source(spec, dataset, data_dir, batch_size, subset, dev, seed, input_size, over.mean, over.std,
                            warn)
    fmt = format_of(path)
    if fmt == "pytorch":
        from edgecnn.models.sources import is_checkpoint_file

        if not is_checkpoint_file(path) and path.suffix.lower() in (".pt", ".pth") and _is_torchscript(path):
            return _eval_source(spec, dataset, data_dir, batch_size, subset, dev, seed, input_size, over.mean,
                                over.std, warn)
        return _eval_checkpoint(path, dataset, data_dir, batch_size, subset, dev, seed, model_name, over, labels,
                                (input_size, force_input_size))
    return _eval_artifact(path, fmt, dataset, data_dir, labels, batch_size, subset, seed, input_size, over, warn)


def _eval_artifact(path: Path, fmt: str, dataset: str | None, data_dir: str | None, labels: str | None,
                   batch_size: int, subset: int | None, seed: int, input_size: int | None, over: "Override",
                   warn: Callable[[str], None]) -> EvalResult:
    """An exported artifact (ONNX, TFLite, OpenVINO, ...) on the test split, as its metadata says to feed it."""
    meta = _metadata_or_source(path, fmt, input_size, over.mean, over.std, warn)
    size = int(meta.get("input_size") or meta.get("input_shape", [0, 0, 0, 32])[-1])
    layout = str(meta.get("layout", "NCHW")).upper()
    precision = str(meta.get("precision") or "fp32")
    mean, std = meta.get("mean"), meta.get("std")
    if mean is None or std is None:
        from edgecnn.models import get_card

        card = get_card(meta["model"])
        mean, std = card.mean, card.std
    extra: dict[str, Any] = {}
    if meta.get("model_source"):
        extra["model_source"] = meta["model_source"]
    if meta.get("format") and meta["format"] != fmt:  # e.g. the TensorRT-ready Q/DQ ONNX, run on ONNX Runtime
        extra["variant"] = f"{meta['format']}-ready"
    from edgecnn.train.eval_pretrained import streaming_source

    stream = streaming_source(dataset or meta.get("dataset"), data_dir, labels,
                              force=bool(meta.get("preprocessing")))
    if stream is not None:
        from edgecnn.train.eval_pretrained import evaluate_artifact_stream

        return evaluate_artifact_stream(path, fmt, meta, stream, size, layout, precision, (mean, std),
                                        batch_size, subset, seed, over, extra)
    from edgecnn.data import load_dataset

    ds_name = dataset or meta.get("dataset") or "cifar10"
    test = load_dataset(ds_name, "test", data_dir, image_size=cache_side(ds_name, size)).subset(subset, seed)
    check_classes(path.name, meta.get("classes"), ds_name, list(test.classes))
    if meta.get("num_classes") and int(meta["num_classes"]) != test.num_classes:
        raise InvalidOptionError(f"{path.name} has {meta['num_classes']} outputs, {ds_name} has {test.num_classes} "
                                 f"classes (give --dataset and --data-dir of the data it was trained for)")
    used = over.norm((mean, std))
    t0 = time.perf_counter()
    runner = open_runner(fmt, path, [batch_size, 3, size, size])
    try:
        def run(ds, norm):
            return _run_numpy(runner, ds.images, ds.labels, ds.num_classes, size, norm[0], norm[1], layout,
                              batch_size)

        meter, fed = run(test, used)
        metrics = meter.result()
        over.check(lambda ds, norm: run(ds, norm)[0].result(), test, used, (mean, std), metrics,
                   "the artifact's metadata")
    finally:
        runner.close()
    extra["batch"] = fed
    return EvalResult(meta["model"], fmt, precision, ds_name, size, metrics, list(test.classes),
                      time.perf_counter() - t0, str(path), extra)


def _is_torchscript(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _metadata_or_source(path: Path, fmt: str, input_size, mean, std, warn) -> dict[str, Any]:
    """The artifact's edgecnn metadata (a ``--mean``/``--std`` override is then
    checked against it by ``Override``); for a file edgecnn did not write, what
    its model source knows (input size from the file or ``input_size``,
    ``mean``/``std`` given or ImageNet's)."""
    from edgecnn.models.sources import resolve_source

    if path.with_name(path.name + ".json").exists():
        return read_metadata(path)
    if fmt not in ("onnx", "tflite"):
        read_metadata(path)  # raises: this format has no model source reading
    src = resolve_source(str(path), input_size=input_size, mean=mean, std=std)
    for w in src.warnings:
        warn(w)
    return {"model": src.id, "input_size": src.input_size, "mean": list(src.mean), "std": list(src.std),
            "classes": src.classes, "dataset": src.dataset, "num_classes": src.num_classes, "layout": "NCHW",
            "precision": "fp32", "model_source": src.label}


def _eval_source(spec: str, dataset, data_dir, batch_size, subset, dev, seed, input_size, mean, std,
                 warn) -> EvalResult:
    """A PyTorch model source (timm, a factory, a .pt2 or TorchScript file) on the test split."""
    from edgecnn.data import load_dataset
    from edgecnn.models.sources import resolve_source
    from edgecnn.train.metrics import evaluate_model
    from edgecnn.train.pipeline import eval_transform, to_device_images, to_device_labels
    from edgecnn.train.recipes import get_recipe

    src = resolve_source(spec, input_size=input_size, mean=mean, std=std)
    for w in src.warnings:
        warn(w)
    ds_name = dataset or (src.dataset if src.dataset in ("cifar10", "cifar100") else "cifar10")
    size = src.input_size
    test = load_dataset(ds_name, "test", data_dir, image_size=cache_side(ds_name, size)).subset(subset, seed)
    if src.num_classes != test.num_classes:
        raise InvalidOptionError(f"{spec} has {src.num_classes} outputs, {ds_name} has {test.num_classes} classes "
                                 f"(give --dataset and --data-dir of the data it was trained for)")
    model = src.module().to(dev)
    recipe = get_recipe("default")

    def pre(x):
        return eval_transform(x, recipe=recipe, input_size=size, mean=src.mean, std=src.std)

    t0 = time.perf_counter()
    meter = evaluate_model(model, to_device_images(test.images, dev), to_device_labels(test.labels, dev), pre,
                           test.num_classes, batch_size)
    return EvalResult(src.id, "pytorch", "fp32", ds_name, size, meter.result(), list(test.classes),
                      time.perf_counter() - t0, spec, {"batch": batch_size, "model_source": src.label})


@dataclass
class Override:
    """The user's ``--mean``/``--std`` and what to do when they differ from the
    weights' own normalisation (a check on ``n_images``, a warning)."""

    mean: tuple | None
    std: tuple | None
    n_images: int = DEFAULT_CHECK_IMAGES
    seed: int = 0
    warn: Callable[[str], None] = print

    @property
    def given(self) -> bool:
        return self.mean is not None or self.std is not None

    def norm(self, own: Any) -> Any:
        """The normalisation to use: ``own`` (a (mean, std) pair or a Preprocessing) with the override applied."""
        from edgecnn.data.preprocess import Preprocessing

        if not self.given:
            return own
        if isinstance(own, Preprocessing):
            return own.with_norm(self.mean or own.mean, self.std or own.std, "--mean/--std given by the user")
        return (tuple(self.mean or own[0]), tuple(self.std or own[1]))

    def check(self, evaluate: Callable[[Any, Any], dict[str, Any]], data: Any, used: Any, own: Any,
              metrics: dict[str, Any], own_source: str = "") -> None:
        """Run the normalisation check into ``metrics`` when ``used`` is not ``own``; warn."""
        from edgecnn.data.preprocess import Preprocessing
        from edgecnn.train.eval_images import check_message, normalization_check, same_norm

        if not self.given or same_norm(used, own):
            return
        check = normalization_check(evaluate, data, used, own, self.n_images, self.seed, full_used=metrics)
        if not isinstance(own, Preprocessing) and own_source:
            check["own_source"] = own_source
        metrics["normalization_check"] = check
        self.warn(check_message(check))


def _eval_checkpoint(path: Path, dataset, data_dir, batch_size, subset, dev, seed, model_name,
                     over: Override | None = None, labels: str | None = None,
                     size_asked: tuple[int | None, bool] = (None, False)) -> EvalResult:
    """``size_asked``: (--input-size, --force-input-size)."""
    from edgecnn.data import load_dataset
    from edgecnn.models.checkpoint import forced_size_metrics, load_checkpoint, trained_input_size
    from edgecnn.train.metrics import evaluate_model
    from edgecnn.train.pipeline import eval_transform, to_device_images, to_device_labels
    from edgecnn.train.recipes import get_recipe

    over = over or Override(None, None)
    try:
        model, ckpt = load_checkpoint(path, model_name, input_size=size_asked[0], force_input_size=size_asked[1])
    except InvalidOptionError as exc:
        if "bare state dict" in str(exc):
            raise InvalidOptionError(f"{path} is a bare state dict; pass --model NAME") from None
        raise
    cfg = model.edgecnn_config
    card = model.edgecnn_card
    own = (tuple(ckpt.get("mean") or card.mean), tuple(ckpt.get("std") or card.std))
    from edgecnn.train.eval_pretrained import evaluate_checkpoint_stream, streaming_source

    forced = forced_size_metrics(trained_input_size(ckpt), int(cfg["input_size"]))
    stream = streaming_source(dataset, data_dir, labels)
    if stream is not None:
        res = evaluate_checkpoint_stream(path, model, ckpt, stream, own, batch_size, subset, seed, dev, over)
        res.metrics.update(forced)
        return res
    train_cfg = ckpt.get("train_config") or {}
    ds_name = dataset or ckpt.get("dataset") or "cifar10"
    source = train_cfg.get("data_source")
    if data_dir is None and train_cfg.get("data_dir") and ds_name == train_cfg.get("dataset") and source \
            and Path(source).exists():
        data_dir = source  # the folder or archive the run was trained on
    size = int(cfg["input_size"])
    same_data = ds_name == train_cfg.get("dataset") and "image_size" in train_cfg
    side = train_cfg["image_size"] if same_data else cache_side(ds_name, size)  # as the run stored its images
    test = load_dataset(ds_name, "test", data_dir, image_size=side).subset(subset, seed)
    if cfg["num_classes"] != test.num_classes:
        raise InvalidOptionError(f"{path.name} is a {cfg['num_classes']}-class {cfg['name']}; {ds_name} has "
                                 f"{test.num_classes} classes")
    check_classes(path.name, ckpt.get("classes"), ds_name, list(test.classes))
    model.to(dev)
    recipe_cfg = train_cfg.get("recipe")
    recipe = get_recipe("default").replace(**recipe_cfg) if recipe_cfg else get_recipe("default")

    def run(ds, norm) -> dict[str, Any]:
        def pre(x):
            return eval_transform(x, recipe=recipe, input_size=size, mean=norm[0], std=norm[1])

        return evaluate_model(model, to_device_images(ds.images, dev), to_device_labels(ds.labels, dev), pre,
                              ds.num_classes, batch_size).result()

    used = over.norm(own)
    t0 = time.perf_counter()
    metrics = run(test, used)
    over.check(run, test, used, own, metrics,
               "the checkpoint's normalisation" if ckpt.get("mean") else "the model card's normalisation")
    if ckpt.get("weights_dtype"):  # e.g. the --save-fp16 file: fp16 weights, run in fp32
        metrics["weights_dtype"] = ckpt["weights_dtype"]
    metrics.update(forced)
    return EvalResult(cfg["name"], "pytorch", "fp32", ds_name, size, metrics, list(test.classes),
                      time.perf_counter() - t0, str(path), {"batch": batch_size})


def _run_numpy(runner, images: np.ndarray, labels: np.ndarray, num_classes: int, size: int, mean, std,
               layout: str, batch_size: int) -> tuple[ClassificationMeter, int]:
    """(meter, batch fed). Batches of ``batch_size``, or of the artifact's own
    static batch; the last one is padded up to a static batch."""
    import torch

    from edgecnn.export._runners import run_batches
    from edgecnn.train.pipeline import eval_transform
    from edgecnn.train.recipes import get_recipe

    meter = ClassificationMeter(num_classes)
    fixed = fixed_batch(runner)
    bs = fixed or batch_size
    recipe = get_recipe("default")  # eval_crop, as the checkpoint path uses
    for start in range(0, len(labels), bs):
        x8 = torch.from_numpy(np.ascontiguousarray(images[start:start + bs])).permute(0, 3, 1, 2)
        x = eval_transform(x8, recipe=recipe, input_size=size, mean=mean, std=std).numpy()
        if layout == "NHWC":
            x = x.transpose(0, 2, 3, 1)
        out = run_batches(runner, x, fixed)  # pads the last batch of a fixed-batch artifact
        meter.update(out, labels[start:start + len(out)])
    return meter, bs



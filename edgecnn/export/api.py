"""``export_model``: one export, its metadata, its parity check and its record.

Every export goes through the same steps: check the request against the
format table (before any work), build or load the model, write the artifact
atomically, write ``<artifact>.json`` metadata beside it, run the artifact on
N real test images against PyTorch, and append an ``export`` Record. Three
outcomes are kept apart: ``ok``, ``validation_failed`` (exported, but the
parity figures miss the precision's tolerance; the numbers are kept) and
``export_failed`` (the converter failed; the error is kept, no file is left).
User errors (bad names, options, checkpoints, folders) raise
``EdgeCNNError`` before anything is written.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgecnn.errors import InvalidOptionError
from edgecnn.export._base import EXPORTERS, ExportContext, artifact_stem
from edgecnn.export.calibration import calibration_arrays, load_images, model_tensors
from edgecnn.export.steps import (PARITY_CHUNK, Images, Request, Setup, build_artifact, check_parity,  # noqa: F401
                                  name_classes, real_images, reference_logits, write_metadata)
from edgecnn.models.checkpoint import (checkpoint_info, forced_size_metrics, is_qat_checkpoint, load_checkpoint_info,
                                       load_into)
from edgecnn.export.parity import ParityResult
from edgecnn.export.max_drop import judge
from edgecnn.records import Record, RecordStore, check_writable, environment

DEFAULT_PARITY_IMAGES = 100
DEFAULT_CALIBRATION_IMAGES = 128
RANDOM_WEIGHTS_SEED = 0  # without a checkpoint, weights are drawn with this seed


@dataclass
class ExportResult:
    path: Path | None  # the artifact (None when the export failed)
    format: str
    precision: str
    status: str  # ok | prepared | validation_failed | export_failed
    record: Record
    metadata_path: Path | None = None
    files: list[Path] = field(default_factory=list)  # every file written (artifact, metadata, scripts)
    parity: ParityResult | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The artifact asked for exists and passed its check (a ``prepared``
        TensorRT build counts: its engine is built on the target)."""
        return self.status in ("ok", "prepared")


def _noop(_: str) -> None:
    pass


def _warn(msg: str) -> None:
    warnings.warn(msg, stacklevel=3)


def check_counts(batch: int, n_images: int, calibration_images: int, validate: bool) -> None:
    """Refuse counts that cannot work (before any work)."""
    if batch < 1:
        raise InvalidOptionError(f"batch must be >= 1, got {batch}")
    if validate and n_images < 1:
        raise InvalidOptionError(f"--n-images must be >= 1 for the parity check, got {n_images} "
                                 "(use --no-validate to skip the check)")
    if calibration_images < 1:
        raise InvalidOptionError(f"--calibration-images must be >= 1, got {calibration_images}")


def resolve_model(name_or_model: Any, checkpoint: str | os.PathLike | None, input_size: int | None,
                  num_classes: int | None = None, weights: Any = None,
                  force_input_size: bool = False) -> tuple[Any, str, str, dict[str, Any]]:
    """(model in eval mode, model name, weights, checkpoint info) where weights is
    checkpoint | random | given | the name of the pretrained weights loaded, and
    info holds the checkpoint's ``mean``, ``std``, ``classes`` and ``dataset``
    when it stores them (empty otherwise); with pretrained weights (``weights``:
    a name, file or ``WeightsSpec``, see ``edgecnn.models.weights``) ``spec``.
    A checkpoint at another ``input_size`` than it was trained at is one line
    unless ``force_input_size`` (then info's ``trained_input_size`` says which)."""
    from torch import nn

    from edgecnn.models import create_model

    if weights is not None and checkpoint:
        raise InvalidOptionError("give --weights or --checkpoint, not both")
    if weights is None and isinstance(name_or_model, nn.Module) and getattr(name_or_model, "edgecnn_weights", None):
        weights = name_or_model.edgecnn_weights  # a module built with weights (profiling passes these)
    if weights is not None:
        return _with_weights(name_or_model, weights, input_size, num_classes)
    if isinstance(name_or_model, str):
        if checkpoint and is_qat_checkpoint(checkpoint):  # a `train --qat` run: its fake-quantised graph
            from edgecnn.export.qat import load_qat_checkpoint

            model, ckpt = load_qat_checkpoint(checkpoint, name_or_model)
            return model, name_or_model, "checkpoint", checkpoint_info(ckpt)
        if checkpoint:
            model, info = load_checkpoint_info(checkpoint, name_or_model, input_size=input_size,
                                               num_classes=num_classes, force_input_size=force_input_size)
            return model.eval(), name_or_model, "checkpoint", info
        import torch

        with torch.random.fork_rng(devices=[]):  # the same random weights for every format and run
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            model = create_model(name_or_model, input_size=input_size, num_classes=num_classes)
        return model.eval(), name_or_model, "random", {}
    if not isinstance(name_or_model, nn.Module):
        raise InvalidOptionError(f"export takes a model name or an nn.Module, not {type(name_or_model).__name__}")
    card = getattr(name_or_model, "edgecnn_card", None)
    if card is None:
        raise InvalidOptionError("the module has no edgecnn_card (build it with edgecnn.models.create_model)")
    name = getattr(name_or_model, "edgecnn_config", {}).get("name", card.name)
    if checkpoint:
        info = load_into(name_or_model, checkpoint, force_input_size)
        return name_or_model.eval(), name, "checkpoint", info
    return name_or_model.eval(), name, "given", {}


def _with_weights(name_or_model: Any, weights: Any, input_size: int | None,
                  num_classes: int | None) -> tuple[Any, str, str, dict[str, Any]]:
    from torch import nn

    from edgecnn.models.weights import build_with_weights, load_weights

    if isinstance(name_or_model, str):
        model, spec = build_with_weights(name_or_model, weights, input_size=input_size, num_classes=num_classes)
        name = name_or_model
    elif isinstance(name_or_model, nn.Module):
        model, name = name_or_model, getattr(name_or_model, "edgecnn_config", {}).get("name")
        if getattr(model, "edgecnn_weights", None) is not weights:
            spec = load_weights(model, weights)
        else:
            spec = weights
        if not name or getattr(model, "edgecnn_card", None) is None:
            raise InvalidOptionError("the module has no edgecnn_card (build it with edgecnn.models.create_model)")
    else:
        raise InvalidOptionError(f"export takes a model name or an nn.Module, not {type(name_or_model).__name__}")
    info: dict[str, Any] = {"spec": spec}
    if spec.preprocessing is not None:
        info.update(mean=spec.preprocessing.mean, std=spec.preprocessing.std)
    if spec.categories:
        info["classes"] = list(spec.categories)
    dataset = spec.extra.get("dataset") or ("imagenet" if spec.kind in ("torchvision", "timm") else None)
    if dataset:
        info["dataset"] = dataset
    return model.eval(), name, spec.name, info


def build_metadata(model: Any, name: str, input_size: int, batch: int, precision: str, fmt: str,
                   layout: str, classes: list[str] | None, weights: str, dynamic_batch: bool,
                   norm: dict[str, Any]) -> dict[str, Any]:
    """The metadata every artifact carries (embedded in ONNX, ``<artifact>.json`` for all)."""
    from edgecnn.version import __version__

    card = model.edgecnn_card
    cfg = getattr(model, "edgecnn_config", {})
    return {
        "model": name, "format": fmt, "precision": precision, "input_size": input_size,
        "input_shape": ["batch" if dynamic_batch else batch, 3, input_size, input_size],
        "layout": layout, "input_name": "input", "output_name": "logits", "input_dtype": "float32",
        "mean": list(norm["mean"]), "std": list(norm["std"]),
        "input_range": "RGB in [0,1], then (x - mean) / std",
        "num_classes": int(cfg.get("num_classes", card.num_classes)),
        "classes": classes, "weights": weights, "config": {k: v for k, v in cfg.items()},
        "edgecnn_version": __version__,
    }


def export_model(name_or_model: Any, to: str = "onnx", precision: str = "fp32", out_dir: str | os.PathLike = "export",
                 checkpoint: str | os.PathLike | None = None, input_size: int | None = None, batch: int = 1,
                 calibration: np.ndarray | Any | None = None, validate: bool = True, *,
                 n_images: int = DEFAULT_PARITY_IMAGES, dataset: str = "cifar10", data_dir: str | None = None,
                 calibration_images: int = DEFAULT_CALIBRATION_IMAGES, recalibrate: bool | None = None,
                 profiles: str | os.PathLike | None = "profiles", num_classes: int | None = None,
                 log: Callable[[str], None] = _noop, warn: Callable[[str], None] = _warn,
                 weights: Any = None, calibration_dir: str | os.PathLike | None = None,
                 speedup: bool | None = None, force_input_size: bool = False,
                 max_drop_chain: dict[str, Any] | None = None, **options: Any) -> ExportResult:
    """Export one model to one format and precision, check it, record it.

    ``to``: a name in ``EXPORTERS`` (onnx, tflite, tensorrt); ``precision``:
    fp32 | fp16 | int8 | int8_dynamic (what each format takes is in its entry);
    ``options``: format options (onnx/tensorrt: ``opset``, ``dynamic_batch``,
    ``simplify``, ``exporter``; tensorrt: ``prepare_only``, ``workspace_mib``,
    ``timing_cache``, ``max_batch``). ``calibration``: uint8 NHWC images (or an
    ArrayDataset) for INT8 calibration and BatchNorm re-estimation; default
    ``calibration_images`` real training images of ``dataset``. ``recalibrate``:
    re-estimate BatchNorm statistics on those images (default: only for random
    weights). Parity uses ``n_images`` test images; top-1 accuracy is reported
    only when the model has as many classes as the dataset. ``speedup``
    (default: for INT8 exports that are validated) builds the FP32 twin too and
    times both in isolated, interleaved workers (``export/speedup.py``). Records go to
    ``RecordStore(profiles)`` (None: not stored). Times in the record are
    seconds (``export_s``, ``parity_s``), sizes bytes (``file_bytes``).

    ``weights``: pretrained weights (a torchvision weight name, a timm tag, a
    file; ``edgecnn.models.weights``): their own preprocessing (resize,
    crop, interpolation, mean, std) then prepares the parity and calibration
    images and goes into the metadata. ``calibration_dir``: INT8 calibration
    (and BatchNorm) images from any image folder instead of ``dataset``'s
    training split. ``max_drop_chain``: this export is the QAT step of a
    ``--max-drop`` chain (``edgecnn.train.max_drop``), judged against the
    FP32 model's top-1 it carries.
    """
    fmt = EXPORTERS.get(to)
    opts = fmt.check(precision, options)
    check_counts(batch, n_images, calibration_images, validate)
    out_dir = Path(out_dir)
    check_writable(out_dir)  # before the format's precheck, which may import a heavy backend
    if fmt.precheck:
        fmt.precheck(precision, opts)
    model, name, weights, info = resolve_model(name_or_model, checkpoint, input_size, num_classes, weights,
                                               force_input_size)
    qat = getattr(model, "edgecnn_qat", None) is not None
    if qat:  # its own scales: int8, to a format that takes them (before anything is written)
        from edgecnn.export.qat import check_qat_export

        check_qat_export(to, precision, options)
    setup = Setup.of(model, info, input_size)
    imgs = real_images(model, setup, Request(precision, batch, validate, dataset, data_dir, n_images,
                                             calibration_images), qat, recalibrate, weights, calibration,
                       calibration_dir)
    name_classes(imgs, info, setup.n_classes)
    if weights == "random":
        warn(f"{name} has random weights (no --checkpoint): accuracy figures are chance level"
             + (f"; BatchNorm statistics re-estimated on {len(imgs.calib)} real training images "
                "so parity figures are meaningful" if imgs.n_bn else ""))
    stem = artifact_stem(name, setup.size, precision, batch, setup.spec.tag if setup.spec is not None else None)
    ctx, metadata = _context(model, name, to, precision, batch, weights, info, setup, imgs, opts, dataset,
                             data_dir, out_dir / f"{stem}{fmt.suffix}")
    rec = _record(model, name, fmt, to, precision, batch, weights, checkpoint, info, setup, imgs, validate,
                  dataset, qat, warn)
    store = RecordStore(profiles) if profiles else None
    ref = reference_logits(model, imgs, setup)  # before the converter touches the model
    log(f"exporting {name} ({setup.size}x{setup.size}, batch {batch}) to {to} {precision} ...")
    built = build_artifact(fmt, ctx, out_dir, stem, rec, store, log)
    if isinstance(built, str):
        return ExportResult(None, to, precision, "export_failed", rec, error=built)
    out, guard = built
    if precision == "int8" and not qat:  # how the INT8 model was made: post-training, some layers in float or not
        rec.metrics["method"] = "mixed" if out.metrics.get("float_nodes") else "ptq"
    failures = list(out.failures)
    parity = None
    if imgs.parity is not None:
        parity = check_parity(out, imgs, setup, ref, rec, failures, precision, batch, opts, weights, dataset,
                              guard, log)
    if (precision in ("int8", "int8_dynamic") and validate if speedup is None else speedup) and not out.prepared:
        _time_speedup(fmt, ctx, out, rec, log)
    rec.metrics.update(judge(rec.metrics, precision, opts, max_drop_chain, not failures))
    if failures:
        rec.status, rec.error = "validation_failed", "; ".join(failures)
    elif out.prepared:
        rec.status = "prepared"
    meta_path = write_metadata(out.path, metadata, rec, parity)
    if store:
        store.append(rec)
    return ExportResult(out.path, to, precision, rec.status, rec, meta_path, [out.path, *out.extra_files, meta_path],
                        parity, rec.error, out.notes)


def _context(model: Any, name: str, to: str, precision: str, batch: int, weights: str, info: dict[str, Any],
             setup: "Setup", imgs: "Images", opts: dict[str, Any], dataset: str, data_dir: str | None,
             out_path: Path) -> tuple[ExportContext, dict[str, Any]]:
    """What the format's builder gets (the sample batch, calibration, the
    ``--max-drop`` search images) and the artifact's metadata."""
    sample = next(iter(model_tensors(imgs.sample, setup.prep, setup.size, batch)))
    if sample.shape[0] < batch:
        sample = sample.repeat(batch, 1, 1, 1)[:batch]
    metadata = build_metadata(model, name, setup.size, batch, precision, to, "NCHW", imgs.classes, weights,
                              bool(opts.get("dynamic_batch")), setup.norm)
    # what the weights were trained on (the checkpoint says), so `edgecnn eval ARTIFACT` picks it by default
    metadata["dataset"] = info.get("dataset") or (dataset if weights != "random" else None)
    if imgs.n_bn:  # random weights: which real images their BatchNorm statistics came from
        metadata["batchnorm_statistics"] = f"re-estimated on {imgs.calib_from}"
    if setup.spec is not None:
        metadata.update(weights_source=setup.spec.source, preprocessing=setup.pre.to_dict() if setup.pre else None)
    search = None
    if opts.get("max_drop") is not None:
        if imgs.parity is not None and imgs.parity.num_classes != setup.n_classes:
            raise InvalidOptionError(f"--max-drop needs labels of the model's {setup.n_classes} classes; {dataset} "
                                     f"has {imgs.parity.num_classes}")
        search = lambda: search_images(dataset, data_dir, int(opts["search_images"]), imgs.calib,  # noqa: E731
                                       setup.prep, setup.size)
    ctx = ExportContext(model=model, model_name=name, input_size=setup.size, batch=batch, precision=precision,
                        out_path=out_path, sample=sample.contiguous(),
                        calibration=lambda: calibration_arrays(imgs.calib, imgs.calib_prep, setup.size, batch=1),
                        metadata=metadata, options=opts, search=search)
    return ctx, metadata


def _record(model: Any, name: str, fmt: Any, to: str, precision: str, batch: int, weights: str, checkpoint: Any,
            info: dict[str, Any], setup: "Setup", imgs: "Images", validate: bool, dataset: str, qat: bool,
            warn: Callable[[str], None]) -> Record:
    """The export record before the build: what was asked and from which weights and images."""
    import torch

    spec, pre, size = setup.spec, setup.pre, setup.size
    rec = Record(kind="export", model=name, status="ok", runtime=fmt.runtime, format=to, precision=precision,
                 batch=batch, input_shape=[3, size, size], dataset=dataset if validate else None,
                 variant="random-weights" if weights == "random" else (f"weights:{spec.tag}" if spec else None),
                 env=environment())
    cfg = getattr(model, "edgecnn_config", {})
    rec.metrics.update({k: cfg[k] for k in ("model_source", "model_spec") if cfg.get(k)})
    rec.metrics.update({"weights": weights, "checkpoint": str(checkpoint) if checkpoint else None,
                        "num_classes": setup.n_classes, "bn_recalibrated_layers": imgs.n_bn,
                        "threads": torch.get_num_threads()})
    if spec is not None:
        rec.metrics.update(weights_source=spec.source, preprocessing=pre.to_dict() if pre else None)
    if imgs.calib_from and precision == "int8":
        rec.metrics["calibration_source"] = imgs.calib_from
    forced = forced_size_metrics(info.get("trained_input_size"), size)
    if forced:
        warn(f"{name}: the checkpoint was trained at {forced['trained_input_size']}x{forced['trained_input_size']} "
             f"input; exporting it at {size}x{size} as --force-input-size asks (the record notes it)")
    rec.metrics.update(forced)
    if qat:
        from edgecnn.export.qat import qat_figures

        rec.metrics.update(qat_figures(model))
    return rec


def search_images(dataset: str, data_dir: str | None, n: int, calibration: np.ndarray | None, norm: Any,
                  size: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` real training images (another draw than the calibration set; any
    image also in ``calibration`` is dropped), normalised NCHW, and labels."""
    import hashlib

    ds = load_images(dataset, "train", n, seed=1, data_dir=data_dir)
    seen = {hashlib.sha1(img.tobytes()).digest() for img in (calibration if calibration is not None else [])}
    keep = np.array([hashlib.sha1(img.tobytes()).digest() not in seen for img in ds.images], dtype=bool)
    x = np.concatenate([t.numpy() for t in model_tensors(ds.images[keep], norm, size, PARITY_CHUNK)])
    return x, np.asarray(ds.labels)[keep]


def _time_speedup(fmt: Any, ctx: ExportContext, out: Any, rec: Record, log: Callable[[str], None]) -> None:
    """The INT8 artifact's speed-up over its FP32 twin into ``rec`` (a failure is a note, not the verdict)."""
    try:
        rec.metrics.update(fp32_speedup(fmt, ctx, out, log))
    except Exception as exc:  # noqa: BLE001 - timing is a figure of the export, not its verdict
        out.notes.append(f"speed-up not measured: {type(exc).__name__}: {exc}"[:300])


def fp32_speedup(fmt: Any, ctx: ExportContext, out: Any, log: Callable[[str], None]) -> dict[str, Any]:
    """Build the FP32 twin of a quantised export in a temp folder and time both
    (``export/speedup.py``); returns the record's figures."""
    import dataclasses

    from edgecnn.export.int8_pays import call_macs, verdict
    from edgecnn.export.speedup import measure_speedup

    with tempfile.TemporaryDirectory(prefix="edgecnn-fp32-twin-") as tmp:
        twin_path = Path(tmp) / f"twin-fp32{fmt.suffix}"
        twin = dataclasses.replace(ctx, precision="fp32", out_path=twin_path,
                                   metadata={**ctx.metadata, "precision": "fp32"},
                                   options={k: v for k, v in ctx.options.items() if k not in ("max_drop",)})
        twin_out = fmt.builder(twin)
        log(f"timing {out.path.name} against its FP32 twin on {out.runtime} (isolated workers) ...")
        figures = measure_speedup(out.runtime, twin_out.run_path or twin_out.path, out.run_path or out.path,
                                  batch=ctx.batch, input_size=ctx.input_size, runner_options=out.runner_options,
                                  fp32_runner_options=twin_out.runner_options)
    log(f"speed-up vs FP32 on {out.runtime}: {figures['speedup']:.2f}x ({figures['fp32_latency_ms_p50']:.3f} ms -> "
        f"{figures['latency_ms_p50']:.3f} ms p50)")
    macs = call_macs(ctx.model, ctx.input_size, ctx.batch)
    said = verdict(figures["speedup"], macs, out.runtime, ctx.batch, ctx.input_size, bool(figures.get("speedup_noisy")))
    if not said["int8_pays"]:
        log(said["int8_verdict"])
    return {**figures, **({"speedup_macs": macs} if macs else {}), **said}

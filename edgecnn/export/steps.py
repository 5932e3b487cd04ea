"""The steps of one export (``edgecnn.export.api.export_model`` runs them in
order): the model's input setup, the real images (calibration and BatchNorm
statistics from the training split or a folder, parity from the test split),
PyTorch's reference logits, the build (a converter failure is a record, not a
traceback, and leaves no file), the parity check and the metadata file."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgecnn.errors import EdgeCNNError, InvalidOptionError
from edgecnn.export.calibration import folder_images, load_images, model_tensors, recalibrate_bn
from edgecnn.export.parity import RANDOM_WEIGHTS_CRITERIA, ParityResult, check_artifact, torch_logits
from edgecnn.records import Record, RecordStore, atomic_write_text

PARITY_CHUNK = 64  # test images normalised at a time for the parity check (bounds memory at 224x224)


@dataclass
class Setup:
    """The model's input: side, normalisation, classes, and the pretrained weights' own preprocessing."""

    size: int
    norm: dict[str, Any]
    n_classes: int
    spec: Any  # a WeightsSpec, or None
    pre: Any  # the weights' Preprocessing, or None
    prep: Any  # what prepares images: ``pre``, else ``norm``

    @classmethod
    def of(cls, model: Any, info: dict[str, Any], input_size: int | None) -> "Setup":
        card = model.edgecnn_card
        size = int(model.edgecnn_config.get("input_size") or input_size or card.input_size)
        norm = {"mean": tuple(info.get("mean") or card.mean), "std": tuple(info.get("std") or card.std)}
        spec = info.get("spec")
        pre = spec.preprocessing if spec is not None else None
        return cls(size, norm, int(model.edgecnn_config.get("num_classes", card.num_classes)), spec, pre,
                   pre if pre is not None else norm)


@dataclass
class Request:
    """What of the export request the image steps read."""

    precision: str
    batch: int
    validate: bool
    dataset: str
    data_dir: str | None
    n_images: int
    calibration_images: int


@dataclass
class Images:
    calib: np.ndarray | None  # uint8 NHWC calibration / BatchNorm images (None: not needed)
    calib_prep: Any
    calib_from: str | None
    n_bn: int  # BatchNorm layers re-estimated
    parity: Any  # the parity test set (None: no check)
    sample: np.ndarray  # the images of the sample batch
    classes: list[str] | None
    labels_known: bool  # the parity set's labels are the model's classes


def real_images(model: Any, setup: Setup, req: Request, qat: bool, recalibrate: bool | None, weights: str,
                calibration: Any, calibration_dir: Any) -> Images:
    """The images of the export (see ``Images``); BatchNorm statistics of
    random weights re-estimated on the calibration images (or when asked)."""
    do_recal = bool(recalibrate) or (recalibrate is None and weights == "random")
    calib, calib_prep, calib_from = None, setup.prep, None
    if (req.precision == "int8" and not qat) or do_recal:
        if calibration is None and calibration_dir is not None:
            from edgecnn.data.preprocess import default_preprocessing

            geometry = setup.pre or default_preprocessing(setup.size, setup.norm["mean"], setup.norm["std"],
                                                          "model card")
            calib, calib_prep = folder_images(str(calibration_dir), req.calibration_images, geometry)
            calib_from = f"{calibration_dir} ({len(calib)} images)"
        elif calibration is None:
            calib = load_images(req.dataset, "train", req.calibration_images, data_dir=req.data_dir).images
            calib_from = f"{req.dataset} train ({len(calib)} images)"
        else:
            calib = np.asarray(getattr(calibration, "images", calibration))
            if calib.ndim != 4 or calib.shape[-1] != 3 or len(calib) == 0:
                raise InvalidOptionError(f"calibration images must be uint8 N x H x W x 3, got shape "
                                         f"{list(calib.shape)}")
    n_bn = recalibrate_bn(model, calib, calib_prep, setup.size) if do_recal else 0
    parity = load_images(req.dataset, "test", req.n_images, data_dir=req.data_dir) if req.validate else None
    sample = parity.images[:req.batch] if parity is not None else \
        load_images(req.dataset, "test", req.batch, data_dir=req.data_dir).images
    return Images(calib, calib_prep, calib_from, n_bn, parity, sample, None, False)


def name_classes(imgs: Images, info: dict[str, Any], n_classes: int) -> None:
    """The classes the metadata names (the checkpoint's, else the parity set's when counts agree), and whether
    the parity set's labels are the model's."""
    classes = info.get("classes") or None
    if classes is None and imgs.parity is not None and imgs.parity.num_classes == n_classes:
        classes = list(imgs.parity.classes)
    imgs.classes = classes
    imgs.labels_known = imgs.parity is not None and imgs.parity.num_classes == n_classes and \
        (not info.get("classes") or list(info["classes"]) == list(imgs.parity.classes))


def parity_chunks(imgs: Images, setup: Setup):
    """The parity images normalised float32 NCHW, ``PARITY_CHUNK`` at a time."""
    return (t.numpy() for t in model_tensors(imgs.parity.images, setup.prep, setup.size, PARITY_CHUNK))


def reference_logits(model: Any, imgs: Images, setup: Setup) -> np.ndarray | None:
    """PyTorch's logits on the parity images (None without a check)."""
    if imgs.parity is None:
        return None
    import torch

    return np.concatenate([torch_logits(model, torch.from_numpy(c)) for c in parity_chunks(imgs, setup)])


def build_artifact(fmt: Any, ctx: Any, out_dir: Path, stem: str, rec: Record, store: RecordStore | None,
                   log: Callable[[str], None]) -> tuple[Any, tuple] | str:
    """(the builder's output, what undoes it) or, when the converter failed,
    its error (recorded as ``export_failed``, nothing left on disk)."""
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidOptionError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from None
    before = {p.name for p in out_dir.iterdir()}
    guard = (out_dir, before, stem, created)
    t0 = time.perf_counter()
    try:
        out = fmt.builder(ctx)
    except EdgeCNNError:
        remove_new(*guard)
        raise
    except Exception as exc:  # the converter failed: a record, not a traceback
        remove_new(*guard)
        err = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:500]
        rec.status, rec.error = "export_failed", err
        rec.metrics["export_s"] = time.perf_counter() - t0
        if store:
            store.append(rec)
        log(f"export failed: {err}")
        return err
    except BaseException:  # Ctrl-C: leave nothing half-made behind
        remove_new(*guard)
        raise
    export_s = time.perf_counter() - t0
    rec.metrics.update({"export_s": export_s, "file_bytes": out.path.stat().st_size, "path": str(out.path),
                        **{k: v for k, v in out.metrics.items()}})
    log(f"wrote {out.path} ({out.path.stat().st_size / 1e6:.2f} MB) in {export_s:.1f} s")
    return out, guard


def check_parity(out: Any, imgs: Images, setup: Setup, ref: np.ndarray, rec: Record, failures: list[str],
                 precision: str, batch: int, opts: dict[str, Any], weights: str, dataset: str, guard: tuple,
                 log: Callable[[str], None]) -> ParityResult | None:
    """The artifact run on the parity images against PyTorch's logits; its
    figures and failures go into ``rec`` and ``failures``."""
    parity = None
    t1 = time.perf_counter()
    checked_as = out.validate_as or precision
    try:
        run_batch = None if opts.get("dynamic_batch") else batch
        criteria = RANDOM_WEIGHTS_CRITERIA if weights == "random" else None
        parity = check_artifact(out.runtime, out.run_path or out.path, parity_chunks(imgs, setup), ref,
                                imgs.parity.labels if imgs.labels_known else None, checked_as, run_batch, criteria,
                                out.runner_options)
        failures += parity.failures
        rec.metrics.update(parity.metrics)
    except KeyboardInterrupt:
        remove_new(*guard)
        raise
    except Exception as exc:  # the runtime could not run what was written: the export is not usable
        failures.append(f"could not run the artifact on {out.runtime}: {type(exc).__name__}: {exc}"[:500])
    rec.metrics["parity_s"] = time.perf_counter() - t1
    rec.metrics["parity_precision"] = checked_as
    rec.metrics["parity_runtime"] = out.runtime
    log(f"parity on {len(imgs.parity)} {dataset} test images ({out.runtime}): "
        f"{parity.summary if parity else 'not run'}")
    judged = parity.metrics.get("judged_by", ()) if parity is not None else ()
    if parity is not None and "top1_agreement" not in judged and checked_as != "fp32":
        out.notes.append("random weights: top-1 agreement is reported, not judged (a random network's "
                         "logits are near ties); judged by cosine")
    if not imgs.labels_known:
        out.notes.append(f"top-1 accuracy not reported: the model has {setup.n_classes} classes, "
                         f"{dataset} has {imgs.parity.num_classes}")
    return parity


def write_metadata(path: Path, metadata: dict[str, Any], rec: Record, parity: ParityResult | None) -> Path:
    """``<artifact>.json``: the metadata with the verdict and the parity figures, written atomically."""
    metadata["parity"] = {k: rec.metrics.get(k) for k in ("n_images", "max_abs_diff", "mean_abs_diff", "cosine",
                                                          "top1_agreement", "top1", "top1_reference",
                                                          "parity_precision", "parity_runtime", "judged_by")} \
        if parity else None
    metadata["status"] = rec.status
    meta_path = path.with_name(path.name + ".json")
    atomic_write_text(meta_path, json.dumps(metadata, indent=2, default=str) + "\n")
    return meta_path


def remove_new(out_dir: Path, before: set[str], stem: str, created: bool = False) -> None:
    """Delete files this export created (same stem), and the folder if it made it
    and it is empty, so a failure leaves nothing behind."""
    for p in out_dir.iterdir():
        if p.name not in before and (p.name.startswith(stem) or p.name.startswith(f".{stem}")) and p.is_file():
            p.unlink(missing_ok=True)
    if created and not any(out_dir.iterdir()):
        out_dir.rmdir()

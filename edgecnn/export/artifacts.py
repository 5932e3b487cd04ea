"""Artifacts a runtime loads: the nn.Module itself (torch), or a file made by
``edgecnn.export.export_model`` (ONNX, TFLite, a TensorRT engine).

Artifacts are reused when already present (``<export_dir>/<model>-<size>-<precision>[-b<batch>].<suffix>``),
unless ``force``. Their export records are not stored: profiling exports
without the parity check, and ``edgecnn export`` is where export quality is
measured and recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from edgecnn.errors import EdgeCNNError, InvalidOptionError, require


# A zoo model exported by name for timing has random weights, and its BatchNorm
# statistics are re-estimated on real images (fresh statistics shrink
# activations towards denormal floats, which run slower on x86). For a latency
# artifact 32 images give realistic activation ranges at a quarter of the
# default's time (resnet50 at 224 here: 3.8 s instead of 16.3 s, per format);
# INT8 artifacts keep the default, since their quantisation ranges come from
# the same images. `edgecnn export` (the parity-checked artifact) keeps 128.
LATENCY_BN_IMAGES = 32
# the converters that take longest here (ExecuTorch 25-45 s, LiteRT 20-45 s a model): started first when
# several exports run side by side
SLOW_FORMATS = ("executorch", "tflite")


class ExportFailed(EdgeCNNError):
    """Making the artifact for a runtime failed (record status ``export_failed``)."""


def runtime_format(runtime: str) -> str | None:
    """The format records name for a runtime's measurements: the export that
    makes its artifact (``Runner.export_format``: onnx, tflite, tensorrt, ...),
    or ``pytorch`` for the torch runner, which loads the module itself."""
    from edgecnn.runtime import RUNNERS

    if runtime not in RUNNERS:
        return None
    cls = RUNNERS.get(runtime)
    return cls.export_format or cls.format


def get_artifact(model_name: str, model: Any, fmt: str, *, input_size: int, precision: str = "fp32",
                 batch: int = 1, export_dir: str | Path = "export", force: bool = False,
                 prepare_only: bool = False, by_name: bool = True) -> Any:
    """What a runner loads: the module for ``fmt`` "pytorch", else the file
    ``edgecnn export --to fmt`` writes (``fmt``: the runner's ``export_format``). A zoo model is exported by name
    (``by_name``: seeded random weights); a model outside the zoo from
    ``model``, its module. ``prepare_only`` (TensorRT): the TensorRT-ready
    ``...-trt.onnx`` instead of an engine, for a device that builds its own."""
    if fmt == "pytorch":
        return model
    from edgecnn.export import export_model

    to = fmt
    weights = getattr(model, "edgecnn_weights", None)  # a model built with pretrained weights exports those
    path = artifact_path(model_name, to, input_size=input_size, precision=precision, batch=batch,
                         export_dir=export_dir, weights=weights.tag if weights is not None else None,
                         prepare_only=prepare_only)
    if path.exists() and not force:
        return path
    options: dict[str, Any] = {"prepare_only": True} if prepare_only else {}
    if precision != "int8":
        options["calibration_images"] = LATENCY_BN_IMAGES
    try:
        # latency does not depend on the weights: no "random weights" warning here
        res = export_model(model_name if by_name else model, to=to, precision=precision,
                           out_dir=str(export_dir), input_size=input_size, batch=batch, validate=False,
                           profiles=None, warn=lambda message: None, weights=weights, **options)
    except EdgeCNNError as exc:
        raise ExportFailed(str(exc)) from exc
    if res.status not in ("ok", "prepared", "validation_failed"):
        raise ExportFailed(f"export {res.status}: {res.error or res.status}")
    return Path(res.path)


def export_modules(modules: dict[str, Any], shapes: dict[str, tuple], fmt: str, out_dir: Path) -> dict[str, Any]:
    """Small modules (layers, blocks) for isolated timing: one ONNX file each,
    or ONE multi-signature TFLite file (a single litert-torch conversion).
    Returns name -> ONNX path, or name -> (tflite path, signature)."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "onnx":
        res = {}
        for name, mod in modules.items():
            p = out_dir / f"{_slug(name)}.onnx"
            torch.onnx.export(mod.eval(), (torch.randn(*shapes[name]),), str(p), dynamo=False, opset_version=17,
                              input_names=["input"], output_names=["output"])
            res[name] = p
        return res
    if fmt == "tflite":
        litert_torch = require("litert_torch", "tflite", "TFLite export")
        conv = None
        sig_of = {}
        for i, (name, mod) in enumerate(modules.items()):
            sig = f"s{i}"
            sig_of[name] = sig
            args = (torch.randn(*shapes[name]),)
            conv = (litert_torch.signature(sig, mod.eval(), args) if conv is None
                    else conv.signature(sig, mod.eval(), args))
        if conv is None:
            return {}
        path = out_dir / "isolated.tflite"
        conv.convert().export(str(path))
        return {name: (path, sig) for name, sig in sig_of.items()}
    raise InvalidOptionError(f"cannot export isolated modules to {fmt!r}")


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in s)


def artifact_path(model_name: str, fmt: str, *, input_size: int, precision: str = "fp32", batch: int = 1,
                  export_dir: str | Path = "export", weights: str | None = None, prepare_only: bool = False) -> Path:
    """Where ``get_artifact`` keeps a model's artifact in ``fmt`` (``weights``: the
    pretrained weights' tag; ``prepare_only``: TensorRT's ``-trt.onnx``)."""
    from edgecnn.export import EXPORTERS, artifact_stem

    suffix = "-trt.onnx" if prepare_only else EXPORTERS.get(fmt).suffix
    return Path(export_dir) / f"{artifact_stem(model_name, input_size, precision, batch, weights)}{suffix}"


def _export_job(model_name: str, fmt: str, input_size: int, precision: str, batch: int,
                export_dir: str) -> tuple[float, Optional[str]]:
    import time

    t0 = time.perf_counter()
    try:
        get_artifact(model_name, None, fmt, input_size=input_size, precision=precision, batch=batch,
                     export_dir=export_dir)
    except Exception as exc:  # noqa: BLE001 - the serial step retries it and records why it failed
        return time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - t0, None


def make_artifacts(jobs: Sequence[tuple[str, str, int, str, int, str]], workers: int,
                   done: Callable[[tuple, float, Optional[str]], None] = lambda job, seconds, error: None) -> None:
    """Make zoo models' artifacts by name, ``workers`` at a time
    (``edgecnn.jobs.run_jobs``: this process and ``workers - 1`` helpers).

    ``jobs``: (model, format, input_size, precision, batch, export_dir). An
    export is mostly single-threaded Python (torch.export, the converters), so
    on this 2-core machine two at a time take about 0.6x the time of one after
    another (``benchmarks/bench_export_jobs.py``). A failed job is left to the
    caller (its serial step retries it and records ``export_failed``).
    ``done(job, seconds, error)`` after each job."""
    from edgecnn.jobs import run_jobs

    jobs = list(jobs)
    run_jobs(_export_job, jobs, workers, lambda i, value, exc: done(jobs[i], *(
        value if exc is None else (0.0, f"{type(exc).__name__}: {exc}"))))

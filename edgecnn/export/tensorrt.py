"""TensorRT: engines from the ONNX export, or a prepared build for the target.

TensorRT engines are specific to the GPU (and TensorRT version) that builds
them, so there are two paths:

* **local build** (``import tensorrt`` works): the TensorRT-ready ONNX is
  parsed with ``trt.OnnxParser``, built with ``trt.Builder`` under a
  ``WORKSPACE`` memory-pool limit, ``BuilderFlag.FP16`` / ``BuilderFlag.INT8``
  and a persistent timing cache, and the ``build_serialized_network`` bytes
  are written as ``<model>-<size>-<precision>.engine``;
* **prepare only** (``prepare_only=True``, any machine): writes
  ``<stem>-trt.onnx`` and ``<stem>-trtexec.sh``, a ``trtexec`` command with the
  right flags to run on the target, and the metadata; nothing needs TensorRT.

Precisions: ``fp32`` and ``fp16`` build from the FP32 ONNX (FP16 is a builder
flag); ``int8`` uses explicit quantization: a Q/DQ ONNX from onnxruntime's
static quantization with symmetric int8 activations and weights (zero point
0, as TensorRT requires), calibrated on real training images. ONNX Runtime
runs that same file, so its accuracy is measured here even without a GPU.
Without TensorRT and without ``prepare_only`` the export stops before any work
with one line (``TensorRTNotInstalled``).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from edgecnn.errors import EdgeCNNError, InvalidOptionError
from edgecnn.export import onnx as onnx_export
from edgecnn.export._base import ExportContext, ExportFormat, ExportOutput, register_format
from edgecnn.records import atomic_write_bytes, atomic_write_text

DEFAULT_WORKSPACE_MIB = 1024


class TensorRTNotInstalled(EdgeCNNError):
    """TensorRT is needed for a local engine build and cannot be imported."""


def tensorrt_available() -> bool:
    try:
        import tensorrt  # noqa: F401
    except Exception:  # ImportError, or a bindings wheel without its libraries (OSError)
        return False
    return True


def require_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except Exception as exc:
        raise TensorRTNotInstalled(
            f"TensorRT is not installed here ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "engines must be built on the GPU that runs them (use --prepare-only to write the TensorRT-ready "
            "ONNX and a trtexec command for the target)") from None
    return trt


def shape_spec(input_name: str, batch: int, input_size: int) -> str:
    return f"{input_name}:{batch}x3x{input_size}x{input_size}"


def trtexec_command(onnx_path: str, engine_path: str, precision: str, *, input_name: str = "input",
                    input_size: int = 224, batch: int = 1, dynamic_batch: bool = False, max_batch: int = 32,
                    workspace_mib: int = DEFAULT_WORKSPACE_MIB, timing_cache: str | None = "timing.cache",
                    trtexec: str = "trtexec") -> list[str]:
    """The ``trtexec`` argument list that builds ``engine_path`` from ``onnx_path``.

    ``int8`` expects a Q/DQ model (explicit quantization): ``--int8`` enables
    the INT8 kernels, the scales come from the Q/DQ nodes, no calibrator runs.
    ``--fp16`` is added to ``int8`` too so that layers left in float run in FP16.
    ``workspace_mib``: the builder's scratch memory limit, in MiB.
    """
    if precision not in ("fp32", "fp16", "int8"):
        raise InvalidOptionError(f"TensorRT cannot build precision {precision!r}")
    cmd = [trtexec, f"--onnx={onnx_path}", f"--saveEngine={engine_path}",
           f"--memPoolSize=workspace:{int(workspace_mib)}"]
    if precision in ("fp16", "int8"):
        cmd.append("--fp16")
    if precision == "int8":
        cmd.append("--int8")
    if timing_cache:
        cmd.append(f"--timingCacheFile={timing_cache}")
    if dynamic_batch:
        cmd += [f"--minShapes={shape_spec(input_name, 1, input_size)}",
                f"--optShapes={shape_spec(input_name, batch, input_size)}",
                f"--maxShapes={shape_spec(input_name, max(batch, max_batch), input_size)}"]
    return cmd


def trtexec_script(cmd: list[str], metadata: dict[str, Any]) -> str:
    """A bash script running ``cmd`` from its own folder (copy the folder to the target)."""
    lines = [
        "#!/usr/bin/env bash",
        f"# Build a TensorRT engine for {metadata.get('model')} ({metadata.get('precision')}, "
        f"{metadata.get('input_size')}x{metadata.get('input_size')}) on the GPU that will run it.",
        "# Written by edgecnn export --to tensorrt --prepare-only. Needs TensorRT's trtexec",
        "# (on a Jetson: /usr/src/tensorrt/bin/trtexec; override with TRTEXEC=...).",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        'TRTEXEC="${TRTEXEC:-$(command -v trtexec || echo /usr/src/tensorrt/bin/trtexec)}"',
        '"$TRTEXEC" ' + " ".join(shlex.quote(c) for c in cmd[1:]) + ' "$@"',
        "",
    ]
    return "\n".join(lines)


def build_engine(onnx_path: Path, precision: str, *, input_size: int, batch: int = 1, dynamic_batch: bool = False,
                 max_batch: int = 32, workspace_mib: int = DEFAULT_WORKSPACE_MIB,
                 timing_cache: Path | None = None) -> bytes:
    """Serialized engine bytes built with the TensorRT Python API (see module doc)."""
    trt = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)  # scales come from the Q/DQ nodes
    cache_bytes = timing_cache.read_bytes() if timing_cache and timing_cache.exists() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    if dynamic_batch:
        name = network.get_input(0).name
        profile = builder.create_optimization_profile()
        shape = (3, input_size, input_size)
        profile.set_shape(name, (1, *shape), (batch, *shape), (max(batch, max_batch), *shape))
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT failed to build the engine (see the TensorRT log above)")
    if timing_cache is not None:
        atomic_write_bytes(timing_cache, bytes(config.get_timing_cache().serialize()))
    return bytes(serialized)


def _precheck(precision: str, options: dict[str, Any]) -> None:
    onnx_export.precheck(precision, options)
    if int(options["workspace_mib"]) < 1:
        raise InvalidOptionError(f"--workspace-mib must be >= 1, got {options['workspace_mib']}")
    if int(options["max_batch"]) < 1:
        raise InvalidOptionError(f"max_batch must be >= 1, got {options['max_batch']}")
    if not options.get("prepare_only"):
        require_tensorrt()


def prepare_onnx(ctx: ExportContext, path: Path) -> dict:
    """Write the TensorRT-ready ONNX: FP32 graph (fp32/fp16) or symmetric Q/DQ (int8)."""
    return onnx_export.write_onnx(ctx, path, quantize=ctx.precision == "int8", symmetric=True)


def build(ctx: ExportContext) -> ExportOutput:
    opts = ctx.options
    stem = ctx.out_path.name[: -len(ctx.out_path.suffix)]
    folder = ctx.out_path.parent
    trt_onnx = folder / f"{stem}-trt.onnx"
    engine = folder / f"{stem}.engine"
    cache = Path(opts["timing_cache"]) if opts.get("timing_cache") else folder / "trt-timing.cache"
    cmd = trtexec_command(trt_onnx.name, engine.name, ctx.precision, input_name=onnx_export.INPUT_NAME,
                          input_size=ctx.input_size, batch=ctx.batch, dynamic_batch=bool(opts["dynamic_batch"]),
                          max_batch=int(opts["max_batch"]), workspace_mib=int(opts["workspace_mib"]),
                          timing_cache=os.path.relpath(cache, folder))
    ctx.metadata["tensorrt"] = {"trtexec": cmd, "workspace_mib": int(opts["workspace_mib"]),
                                "explicit_quantization": ctx.precision == "int8",
                                "onnx": trt_onnx.name, "engine": engine.name}
    figures = prepare_onnx(ctx, trt_onnx)
    figures["trtexec"] = " ".join(shlex.quote(c) for c in cmd)
    # the ONNX that ONNX Runtime checks is float32 for fp32/fp16 and the Q/DQ model for int8
    checked_as = "int8" if ctx.precision == "int8" else "fp32"
    if opts["prepare_only"]:
        script = folder / f"{stem}-trtexec.sh"
        atomic_write_text(script, trtexec_script(cmd, ctx.metadata))
        script.chmod(0o755)
        figures["prepared_only"] = True
        notes = [f"engine not built: run {script} on the target GPU"]
        if ctx.precision == "fp16":
            notes.append("parity was checked on the FP32 ONNX with ONNX Runtime; FP16 is a TensorRT builder "
                         "flag, so FP16 figures come from the engine on the target")
        runner_options = {}
        if ctx.precision == "int8":
            # TensorRT multiplies int8 by int8 into int32 exactly; ONNX Runtime's fused x86 int8 kernels do not on
            # CPUs without VNNI (int16 pair sums saturate: agreement 84 % vs 96 % on a trained LeNet-5 here), so
            # the check runs the Q/DQ graph as written, which is the arithmetic the engine performs
            runner_options["qdq_as_float"] = True
            figures["parity_emulation"] = "Q/DQ run as float ops in ONNX Runtime (TensorRT's int32-exact arithmetic)"
        return ExportOutput(trt_onnx, "onnxruntime", extra_files=[script], metrics=figures, validate_as=checked_as,
                            notes=notes, prepared=True, runner_options=runner_options)
    data = build_engine(trt_onnx, ctx.precision, input_size=ctx.input_size, batch=ctx.batch,
                        dynamic_batch=bool(opts["dynamic_batch"]), max_batch=int(opts["max_batch"]),
                        workspace_mib=int(opts["workspace_mib"]), timing_cache=cache)
    atomic_write_bytes(engine, data)
    figures["prepared_only"] = False
    return ExportOutput(engine, "tensorrt", extra_files=[trt_onnx], metrics=figures)


register_format(ExportFormat(
    name="tensorrt", suffix=".engine", precisions=("fp32", "fp16", "int8"), runtime="tensorrt", extra="tensorrt",
    options={**onnx_export.ONNX_OPTIONS, "prepare_only": False, "workspace_mib": DEFAULT_WORKSPACE_MIB,
             "timing_cache": None, "max_batch": 32},
    builder=build, builds_on=("onnx",), precheck=_precheck,
    description="TensorRT engine from the ONNX export (INT8: explicit Q/DQ); --prepare-only writes a trtexec build",
))

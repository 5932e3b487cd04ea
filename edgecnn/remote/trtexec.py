"""TensorRT on a remote device: ``trtexec`` builds the engine there, engines
and timing caches are cached here, and ``trtexec``'s performance summary is
parsed when the device cannot time the engine from Python.

Cache key: (device, model, precision, batch, TensorRT version) plus a hash of
the ONNX file, under ``$EDGECNN_ENGINE_CACHE`` (default
``~/.cache/edgecnn/engines/<device>/``). Times are milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from pathlib import Path
from typing import Any, Callable

from edgecnn.remote.transports import Transport
from edgecnn.remote.transports.base import last_line
from edgecnn.errors import EdgeCNNError
from edgecnn.records import safe_name



def trtexec_version(t: Transport, trtexec: str) -> str | None:
    """The TensorRT version of the device's ``trtexec`` (from its banner)."""
    out = t.run(f"{shlex.quote(trtexec)} --help 2>&1 | head -5", timeout_s=60)
    return parse_trtexec_version(out.stdout)


def parse_trtexec_version(text: str) -> str | None:
    """``[TensorRT v100300]`` -> ``10.3.0``; ``TensorRT version: 8.6.2`` -> ``8.6.2``."""
    m = re.search(r"TensorRT version:\s*([\d.]+)", text)
    if m:
        return m.group(1)
    m = re.search(r"\[TensorRT v(\d+)\]", text)
    if m:
        v = m.group(1)
        if len(v) >= 5:  # MMmmpp (10.3.0 -> 100300) or Mmmpp (8.6.2 -> 8602 / 80602)
            major, rest = (v[:-4], v[-4:])
            return f"{int(major)}.{int(rest[:2])}.{int(rest[2:])}"
        return f"{int(v[0])}.{int(v[1:-2] or 0)}.{int(v[-2:])}"
    return None


def engine_cache_dir() -> Path:
    """``$EDGECNN_ENGINE_CACHE``, default ``~/.cache/edgecnn/engines``."""
    return Path(os.environ.get("EDGECNN_ENGINE_CACHE", "~/.cache/edgecnn/engines")).expanduser()


def engine_cache_paths(device: str, model: str, precision: str, batch: int, trt_version: str,
                       onnx: Path) -> tuple[Path, Path]:
    """Where a device-built engine and its timing cache are kept here, keyed by
    (model, precision, device, TensorRT version) and the ONNX file's content."""
    digest = hashlib.sha256(onnx.read_bytes()).hexdigest()[:12]
    folder = engine_cache_dir() / safe_name(device)
    stem = f"{safe_name(model)}-{precision}-b{batch}-trt{trt_version}-{digest}"
    return folder / f"{stem}.engine", folder / f"{stem}.timing.cache"


def trtexec_build_command(trtexec: str, onnx: str, engine: str, timing_cache: str, precision: str,
                          input_size: int = 224, batch: int = 1) -> str:
    """The device-side build: the export helper's ``trtexec_command`` flags
    (precision, workspace, timing cache) plus ``--skipInference``."""
    from edgecnn.export.tensorrt import trtexec_command

    argv = trtexec_command(onnx, engine, precision, input_size=input_size, batch=batch, timing_cache=timing_cache,
                           trtexec=trtexec)
    return shlex.join([*argv, "--skipInference"]) + " 2>&1"


def trtexec_time_command(trtexec: str, engine: str, timing: dict | None) -> str:
    """Time a built engine with trtexec itself (used when the device has no
    TensorRT Python bindings + cuda-python): warm-up in ms, at least
    ``runs`` iterations and ``min_time_s`` seconds."""
    timing = timing or {}
    warm_ms = int(1000 * float(timing.get("warmup_s") or 0.2))
    argv = [trtexec, f"--loadEngine={engine}", f"--warmUp={max(warm_ms, 0)}",
            f"--iterations={int(timing.get('runs') or 20)}", f"--duration={float(timing.get('min_time_s') or 1.0):g}",
            "--avgRuns=1", "--useSpinWait"]
    return shlex.join(argv) + " 2>&1"


_TRT_STAT = r"min = ([\d.]+) ms, max = ([\d.]+) ms, mean = ([\d.]+) ms, median = ([\d.]+) ms, " \
            r"percentile\(90%\) = ([\d.]+) ms(?:, percentile\(95%\) = ([\d.]+) ms)?(?:, percentile\(99%\) = ([\d.]+) ms)?"


def parse_trtexec_timing(text: str) -> dict[str, Any]:
    """``=== Performance summary ===`` of trtexec -> metrics (ms). The headline
    (``latency_ms_*``) is ``GPU Compute Time``, the engine's device work
    (``latency_measure = "device_compute"``), as for every GPU latency;
    ``H2D Latency`` and ``D2H Latency`` are the copies (``h2d_ms_*``,
    ``d2h_ms_*``) and ``Latency``, trtexec's host latency per query (H2D +
    compute + D2H), is ``end_to_end_ms_*``."""
    out: dict[str, Any] = {}
    labels = (("GPU Compute Time", "latency_ms", True), ("Latency", "end_to_end_ms", False),
              ("H2D Latency", "h2d_ms", False), ("D2H Latency", "d2h_ms", False))
    for label, prefix, full in labels:
        m = re.search(rf"\]\s*{re.escape(label)}: " + _TRT_STAT, text) or \
            re.search(rf"(?<![\w ]){re.escape(label)}: " + _TRT_STAT, text)
        if not m:
            continue
        lo, hi, mean, med, p90, p95, p99 = m.groups()
        out.update({f"{prefix}_p50": float(med), f"{prefix}_p90": float(p90)})
        if full:
            out.update({f"{prefix}_min": float(lo), f"{prefix}_max": float(hi), f"{prefix}_mean": float(mean)})
            if p99:
                out[f"{prefix}_p99"] = float(p99)
    m = re.search(r"Throughput: ([\d.]+) qps", text)
    if m:
        out["throughput_qps"] = float(m.group(1))
    if "latency_ms_p50" not in out:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        raise ValueError(f"trtexec printed no performance summary: {lines[-1] if lines else 'no output'}")
    out.update(timing_method="trtexec", latency_measure="device_compute", includes_host_copies=False,
               device_timer="trtexec (CUDA events)", host_memory="pinned")
    return out


def tensorrt_engine(t: Transport, device: str, model: str, onnx: Path, precision: str, batch: int, input_size: int,
                    trt_version: str | None, trtexec: str | None, progress: Callable[[str], None] | None = None) -> Path:
    """The engine for ``model`` on ``device``: from the local cache (pushed to the
    device's ``artifacts/``), or built there with ``trtexec`` and pulled back
    (engine + timing cache). Either way the device holds it in ``artifacts/``."""
    say = progress or (lambda msg: None)
    version = trt_version or "unknown"
    engine, cache = engine_cache_paths(device, model, precision, batch, version, onnx)
    if engine.exists():
        say(f"{model}: using the cached TensorRT {version} engine {engine.name}")
        t.push([engine], t.remote_path("artifacts"))
        return engine
    if not trtexec:
        raise EngineBuildError(f"trtexec is not on device {device!r}; cannot build a TensorRT engine there")
    say(f"{model}: building a TensorRT {version} engine on the device (trtexec)")
    t.push([onnx], t.remote_path("artifacts"))
    r_onnx = t.remote_path(f"artifacts/{onnx.name}")
    r_engine, r_cache = t.remote_path(f"artifacts/{engine.name}"), t.remote_path(f"artifacts/{cache.name}")
    out = t.run(trtexec_build_command(trtexec, r_onnx, r_engine, r_cache, precision, input_size=input_size,
                                      batch=batch), timeout_s=max(t.command_timeout_s, 1800))
    if out.returncode != 0:
        raise EngineBuildError(f"trtexec failed on the device: {last_line(out.stdout) or out.returncode}")
    got = t.pull([r_engine, r_cache], engine.parent)
    if engine not in got:
        raise EngineBuildError("trtexec reported success but wrote no engine")
    return engine


class EngineBuildError(EdgeCNNError):
    """trtexec could not build an engine on the device."""

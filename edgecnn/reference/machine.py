"""What the machine running the reference run has, read before anything
else and printed at the start: GPU, driver, CUDA, cuDNN, Triton, TensorRT
(the Python module) and ``trtexec``, with versions; and a ``tensorrt`` probe
record when TensorRT is missing, so that the next run knows what was looked
for and where."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any, Optional

from edgecnn.records import Record

TRTEXEC_PLACES = ("/usr/src/tensorrt/bin/trtexec", "/usr/local/tensorrt/bin/trtexec", "/opt/tensorrt/bin/trtexec")


def _run(cmd: list[str], timeout: float = 20.0) -> Optional[str]:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or "") + (out.stderr or "")
    return text.strip() or None


def _version_of(module: str) -> dict[str, Any]:
    """Whether ``module`` imports, its version or the error (first line)."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - ImportError, or a bindings wheel without its libraries
        return {"imports": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return {"imports": True, "version": getattr(mod, "__version__", None), "file": getattr(mod, "__file__", None)}


def find_trtexec() -> Optional[str]:
    """``trtexec`` on PATH, or in the places NVIDIA's packages and containers put it."""
    found = shutil.which("trtexec")
    if found:
        return found
    return next((p for p in TRTEXEC_PLACES if os.path.isfile(p) and os.access(p, os.X_OK)), None)


def probe_tensorrt() -> dict[str, Any]:
    """The TensorRT Python module and ``trtexec``: found or not, versions, and
    what was looked for."""
    module = _version_of("tensorrt")
    path = find_trtexec()
    version = None
    if path:
        text = _run([path, "--help"]) or ""
        version = next((line.strip() for line in text.splitlines() if "TensorRT" in line), None)
    return {"module": module, "trtexec": path, "trtexec_version": version,
            "looked_for": {"module": "import tensorrt", "trtexec": ["PATH", *TRTEXEC_PLACES]}}


def machine_facts() -> dict[str, Any]:
    """GPU, driver, CUDA, cuDNN, Triton, TensorRT and trtexec as this machine has them."""
    import platform

    import torch

    facts: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                             "cpu_count": os.cpu_count(), "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        facts.update(gpu=torch.cuda.get_device_name(0), gpu_memory_gib=round(props.total_memory / 2**30, 1),
                     gpu_capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
                     cudnn=torch.backends.cudnn.version())
        smi = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
        facts["driver"] = smi.splitlines()[0] if smi else None
    facts["triton"] = _version_of("triton")
    facts["tensorrt"] = probe_tensorrt()
    return facts


def describe(facts: dict[str, Any]) -> list[str]:
    """Lines for the log: one per fact a reader of the run needs first."""
    trt = facts["tensorrt"]
    mod = trt["module"]
    return [
        f"GPU: {facts.get('gpu', 'none (torch.cuda.is_available() is False)')}"
        + (f", {facts['gpu_memory_gib']} GiB, capability {facts['gpu_capability']}" if facts.get("gpu") else ""),
        f"driver {facts.get('driver')}, CUDA {facts.get('cuda')}, cuDNN {facts.get('cudnn')}, "
        f"torch {facts['torch']}, Python {facts['python']}, {facts['cpu_count']} CPUs",
        "Triton: " + (facts["triton"].get("version") or "yes") if facts["triton"]["imports"]
        else f"Triton: no ({facts['triton']['error']})",
        "TensorRT module: " + (f"yes, {mod.get('version')}" if mod["imports"] else f"no ({mod['error']})"),
        "trtexec: " + (f"yes, {trt['trtexec']} ({trt['trtexec_version']})" if trt["trtexec"] else
                       "no (looked on PATH and in " + ", ".join(TRTEXEC_PLACES) + ")"),
    ]


def probe_record(probe: dict[str, Any], *, device_name: str, env: dict[str, Any]) -> Record:
    """An ``unsupported`` tensorrt latency record saying what was looked for."""
    mod = probe["module"]
    why = (f"TensorRT is not on this machine: `import tensorrt` failed ({mod.get('error')}); no trtexec on PATH "
           f"or in {', '.join(TRTEXEC_PLACES)}")
    return Record(kind="latency", model="all", status="unsupported", device=device_name, runtime="tensorrt",
                  format="engine", variant="tensorrt-probe", error=why, metrics={"probe": probe}, env=dict(env))

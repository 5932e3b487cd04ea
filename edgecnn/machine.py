"""Which machine measured a record: a fingerprint of what changes its kernels.

Records measured here are written with ``device = "local"``; two machines
both call themselves "local", and their figures differ (an AVX2 VM and an
AVX-512 VM of the same cloud both say "AMD EPYC"). So every record carries
``env.fingerprint``: the CPU model, the instruction-set features that change
which kernels a runtime picks (AVX2, FMA, F16C, AVX-512 and its VNNI, BF16 and
FP16 parts, AMX; NEON, dot product, I8MM, BF16, SVE on Arm), the usable
cores, the memory and the GPU, and ``id``, a short hash of them.

Readers go through ``device_of``: a ``local`` record whose fingerprint is
this machine's stays ``local``; one from another machine becomes
``local@<id>``, a device of its own, and one written before fingerprints
existed becomes ``local@unrecorded``. ``RecordStore`` applies it on read, so
the report, ``select`` and the predictor never take another machine's
figures for this one's.

Standard library only, and cheap: no torch (the CLI reads it on every run).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any, Optional

# instruction-set features that change the kernels runtimes pick (x86 /proc/cpuinfo flags, Arm Features)
KERNEL_FEATURES = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
                   "amx_tile", "amx_bf16", "amx_int8", "asimd", "asimddp", "asimdhp", "i8mm", "bf16", "sve", "sve2")
UNRECORDED = "unrecorded"
FIELDS = ("cpu", "arch", "isa", "cores", "memory_gib", "gpu")


def _cpuinfo() -> tuple[str, set[str]]:
    name, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not name:
                name = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return name or platform.processor() or "unknown", flags


def _memory_gib() -> Optional[int]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(round(int(line.split()[1]) / 2**20))
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gpu() -> Optional[str]:
    """The first NVIDIA GPU's model from the driver's /proc files (no torch, no subprocess)."""
    root = Path("/proc/driver/nvidia/gpus")
    try:
        for info in sorted(root.glob("*/information")):
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def fingerprint_of(cpu: str, arch: str, flags: set[str] | list[str], cores: int, memory_gib: Optional[int],
                   gpu: Optional[str]) -> dict[str, Any]:
    """The fingerprint of a machine described by these facts (``id`` included)."""
    fp: dict[str, Any] = {"cpu": cpu, "arch": arch, "isa": [f for f in KERNEL_FEATURES if f in set(flags)],
                          "cores": int(cores), "memory_gib": memory_gib, "gpu": gpu}
    canon = json.dumps({k: fp[k] for k in FIELDS}, sort_keys=True)
    fp["id"] = hashlib.sha256(canon.encode()).hexdigest()[:10]
    return fp


@functools.lru_cache(maxsize=1)
def this_machine() -> dict[str, Any]:
    """This machine's fingerprint (read once per process)."""
    cpu, flags = _cpuinfo()
    return fingerprint_of(cpu, platform.machine(), flags, _cores(), _memory_gib(), _gpu())


def label(fp: Any) -> str:
    """``AMD EPYC, avx2+fma, 2 cores, 24 GiB`` for the page and the CLI."""
    if not isinstance(fp, dict) or not fp:
        return "a machine that did not record its fingerprint"
    isa = "+".join(f for f in fp.get("isa", []) if f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
                                                          "amx_tile", "asimd", "asimddp", "sve")) or "no SIMD flags"
    parts = [str(fp.get("cpu")), isa, f"{fp.get('cores')} cores"]
    if fp.get("memory_gib"):
        parts.append(f"{fp['memory_gib']} GiB")
    if fp.get("gpu"):
        parts.append(str(fp["gpu"]))
    return ", ".join(parts)


def device_of(device: str, env: Any) -> str:
    """The device a record belongs to: ``local`` only for this machine's own
    records; ``local@<id>`` for another machine's, ``local@unrecorded`` when
    the record predates fingerprints. Named devices are left alone."""
    if device != "local":
        return device
    fp = env.get("fingerprint") if isinstance(env, dict) else None
    if not isinstance(fp, dict) or not fp.get("id"):
        return f"local@{UNRECORDED}"
    return "local" if fp["id"] == this_machine()["id"] else f"local@{fp['id']}"

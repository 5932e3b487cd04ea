"""What every phase of the GPU reference run shares: the run's context (its
config, folders, records store, log, deadline and phase guard), the
environment its records carry, and the atomic JSON writer."""

from __future__ import annotations

import datetime
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from edgecnn.records import Record, RecordStore, environment
from edgecnn.reference.config import ReferenceConfig

PACK_PATTERNS = ("profiles", "runs/*/config.json", "runs/*/metrics.jsonl", "summary.json", "log.txt")


class DeadlineReached(Exception):
    """The run's deadline passed; the phase running then is stopped."""


@dataclass
class Context:
    cfg: ReferenceConfig
    work: Path
    data: Path
    env: dict[str, Any]
    t0: float = field(default_factory=time.perf_counter)
    started: str = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"))
    phases: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = RecordStore(self.work / "profiles")
        self.log_path = self.work / "log.txt"

    def log(self, message: str) -> None:
        line = f"[{time.perf_counter() - self.t0:6.1f} s] {message}"
        print(line, flush=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def left(self) -> float:
        """Seconds left before the packing reserve."""
        return self.cfg.total_s - self.cfg.pack_reserve_s - (time.perf_counter() - self.t0)

    def keep(self, rec: Record) -> None:
        self.store.append(rec)

    def failed(self, kind: str, model: str, phase: str, error: str, **metrics: Any) -> None:
        self.keep(Record(kind=kind, model=model, status="failed", device=self.cfg.device_name,
                         runtime="torch", variant=f"gpu-reference:{phase}", error=error,
                         metrics={"phase": phase, **metrics}, env=dict(self.env)))

    def guard(self, phase: str, kind: str, model: str, fn: Callable[[], Any], need_s: float = 0.0) -> Any:
        """Run ``fn``; a failure (or no time left) becomes a failed record and None."""
        left = self.left()
        if left < need_s:
            msg = f"not started: {max(0.0, left):.0f} s of the run's {self.cfg.total_s:.0f} s were left"
            self.log(f"{phase}: {msg}")
            self.failed(kind, model, phase, msg)
            self.phases.append({"phase": phase, "status": "not started", "seconds": 0.0, "error": msg})
            return None
        self.log(f"{phase}: start ({left:.0f} s left)")
        t = time.perf_counter()
        try:
            out = fn()
        except Exception as exc:  # one phase's bug must not lose the others' results
            tb = traceback.format_exc()
            err = f"{type(exc).__name__}: {exc}"
            self.log(f"{phase}: FAILED {err}\n{tb}")
            self.failed(kind, model, phase, err, traceback=tb[-4000:])
            self.phases.append({"phase": phase, "status": "failed", "seconds": time.perf_counter() - t,
                                "error": err})
            return None
        self.phases.append({"phase": phase, "status": "ok", "seconds": time.perf_counter() - t, "error": None})
        self.log(f"{phase}: done in {time.perf_counter() - t:.1f} s")
        return out


def run_environment(command: str, git_commit: Optional[str], accel: str) -> dict[str, Any]:
    """What every record of the run carries beside ``edgecnn.records.environment``:
    the exact command, the commit, the GPU and the versions of what the machine has."""
    from importlib import metadata

    import torch

    from edgecnn.version import __version__

    base = environment()
    versions = dict(base.get("versions", {}))
    versions["edgecnn"] = __version__
    for pkg in ("rich", "typer", "pillow", "onnxruntime"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    env: dict[str, Any] = {"command": command, "git_commit": git_commit or base.get("git_commit"),
                           "versions": versions, "torch_build": torch.__version__,
                           "reference_run": "scripts/gpu_reference.py", "accel": accel}
    if accel == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=torch.cuda.get_device_name(0), gpu_memory_bytes=int(props.total_memory),
                   gpu_capability=f"{props.major}.{props.minor}", gpu_multiprocessors=props.multi_processor_count,
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), gpu_driver=_driver_version())
    return env


def _driver_version() -> Optional[str]:
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)

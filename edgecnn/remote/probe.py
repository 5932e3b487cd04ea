"""Reaching a remote device: is it there, which Python and runtimes it has
(the device runner's ``probe`` over its transport, or ``getprop`` and
LiteRT's ``benchmark_model`` over adb), and the runner's result line."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgecnn.errors import EdgeCNNError
from edgecnn.remote import state as device_state
from edgecnn.remote.transports import Transport, TransportError, connection_settings, make_transport, spec_name
from edgecnn.remote.transports.base import last_line, shell_path
from edgecnn.remote.trtexec import trtexec_version

RUNNER = Path(__file__).with_name("device_runner.py")
RESULT_MARK = "EDGECNN-RESULT "


class RemoteError(EdgeCNNError):
    """Nothing could be measured on a remote device (the message says why)."""


@dataclass
class ProbeResult:
    """What ``probe`` found. ``runtimes`` maps runtime -> version (None = missing)."""

    device: str
    transport: str
    reachable: bool
    runtimes: dict[str, str | None] = field(default_factory=dict)
    runtime_errors: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    env: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------
# spec helpers (the spec may be a DeviceSpec or the same data as a dict)
# ---------------------------------------------------------------------------
def available_runtimes(spec: Any) -> list[str]:
    if isinstance(spec, dict):
        rt = spec.get("runtimes") or {}
        return list(rt.get("available", []) if isinstance(rt, dict) else rt)
    rt = getattr(spec, "runtimes", None)
    if isinstance(rt, dict):
        rt = rt.get("available", [])
    return list(rt or [])


def device_python(spec: Any) -> str:
    """The device's Python; a local device defaults to this interpreter."""
    conn = connection_settings(spec)
    if conn.get("python"):
        return str(conn["python"])
    if (conn.get("transport") or "local") == "local":
        import sys

        return sys.executable
    return "python3"


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The last ``EDGECNN-RESULT`` JSON line the runner printed, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            try:
                return json.loads(line[len(RESULT_MARK):])
            except ValueError:
                return None
    return None


# ---------------------------------------------------------------------------
# probe
# ---------------------------------------------------------------------------
def probe(spec: Any, timeout_s: float | None = None, read_state: bool = True,
          transport: Transport | None = None) -> ProbeResult:
    """Reachability, Python, runtimes and clock state of a device (see module doc)."""
    name = spec_name(spec)
    overrides: dict[str, Any] = {}
    if timeout_s is not None:
        overrides = {"connect_timeout_s": timeout_s, "retries": 0}
    t = transport or make_transport(spec, **overrides)
    res = ProbeResult(device=name, transport=t.name, reachable=False)
    try:
        if t.name == "adb":
            _probe_adb(t, spec, res)
        else:
            _probe_python(t, spec, res, timeout_s or 60)
        if read_state:
            res.state = device_state.read_state(t, timeout_s=timeout_s or 30)
    except TransportError as exc:
        res.error = str(exc)
    return res


def _probe_python(t: Transport, spec: Any, res: ProbeResult, timeout_s: float) -> None:
    py = device_python(spec)
    # the runner arrives on stdin: nothing is written on the device to probe it
    out = t.run(f"{shlex.quote(py)} - probe", timeout_s=timeout_s + 30, input_bytes=RUNNER.read_bytes())
    res.reachable = True
    answer = parse_result(out.stdout)
    if out.returncode != 0 or answer is None:
        why = last_line(out.stderr or out.stdout) or f"exit code {out.returncode}"
        res.error = f"device {res.device!r}: the edgecnn runner could not run with Python {py!r} in {t.workdir}: {why}"
        return
    res.env = answer.get("env", {})
    res.python = res.env.get("python")
    for rt, info in (answer.get("runtimes") or {}).items():
        res.runtimes[rt] = info.get("version")
        if info.get("error"):
            res.runtime_errors[rt] = info["error"]
        if rt == "tensorrt" and info.get("trtexec"):
            res.extra["trtexec"] = info["trtexec"]
            if res.runtimes[rt] is None:
                res.runtimes[rt] = trtexec_version(t, info["trtexec"])
    if res.env.get("numpy", "").startswith("missing"):
        res.error = f"device {res.device!r}: numpy is not installed for {py} (pip install numpy)"


def _probe_adb(t: Transport, spec: Any, res: ProbeResult) -> None:
    bm = str(connection_settings(spec).get("benchmark_model") or f"{t.workdir}/benchmark_model")
    out = t.run(f"getprop ro.product.model; getprop ro.build.version.release; getprop ro.product.cpu.abi; "
                f"if [ -x {shell_path(bm)} ]; then echo BM=yes; else echo BM=no; fi; "
                f"echo CPUS=$(nproc 2>/dev/null)", timeout_s=30)
    res.reachable = True
    lines = [ln.strip() for ln in out.stdout.splitlines()]
    if len(lines) >= 3:
        res.env = {"model": lines[0], "android": lines[1], "abi": lines[2]}
    cpus = [ln[5:] for ln in lines if ln.startswith("CPUS=") and ln[5:].isdigit()]
    if cpus:
        res.env["cpu_count"] = int(cpus[0])
    have = "BM=yes" in lines
    res.runtimes["litert"] = "benchmark_model" if have else None
    res.extra["benchmark_model"] = bm
    if not have:
        res.runtime_errors["litert"] = (f"LiteRT's benchmark_model is not at {bm} on the phone (adb push the "
                                        f"android_aarch64 benchmark_model there, or set connection.benchmark_model)")

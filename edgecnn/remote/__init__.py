"""edgecnn.remote: measuring on devices edgecnn reaches over SSH or adb.

``transports`` (local, ssh, adb: run, push, pull), ``device_runner.py`` (the
one self-contained script pushed to a device: Python 3.6, standard library +
numpy + the runtime), ``trtexec`` (TensorRT engines built on the device),
``adb_benchmark`` (LiteRT's ``benchmark_model`` on phones), ``state`` (clocks
and governors), and ``profile`` (probe a device, export here, time there:
``probe``, ``profile_remote``).

``profile`` loads on first use (PEP 562): it imports numpy and the export
and profile plumbing, which `edgecnn devices` (a transport's reachability
check) does not need.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ProbeResult", "RemoteError", "probe", "profile_remote"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from edgecnn.remote import profile

        return getattr(profile, name)
    raise AttributeError(f"module 'edgecnn.remote' has no attribute {name!r}")

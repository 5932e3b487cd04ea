"""Transports: how edgecnn reaches a device (``local``, ``ssh``, ``adb``).

``make_transport(spec)`` builds the right one from a device spec (a
``DeviceSpec`` from ``devices/*.toml``, or the same data as a plain dict).
Connection settings read from the TOML ``[connection]`` table:

=====================  =====================================================
``transport``          ``local`` | ``ssh`` | ``adb``
``host``/``user``/``port``  ssh destination (``host`` may be a ~/.ssh/config alias)
``serial``             adb serial (``adb devices``); empty = the only device
``workdir``            remote working folder (``~/edgecnn``, ``/data/local/tmp/edgecnn``)
``python``             remote Python (ssh), default ``python3``
``connect_timeout_s``  seconds to wait for a connection (default 10)
``command_timeout_s``  seconds one remote command may run (default 600)
``retries``            extra tries for transient connection failures (default 2)
``retry_backoff_s``    first backoff, doubled each retry (default 1.0)
``ssh_options``        extra ssh arguments, e.g. ``["-F", "cfg", "-o", "K=V"]``
``benchmark_model``    adb: path of LiteRT's ``benchmark_model`` on the phone
=====================  =====================================================
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from edgecnn.remote.transports.adb import AdbTransport
from edgecnn.remote.transports.base import (AuthError, CommandResult, CommandTimeoutError, ConnectionLostError,
                                             RetryPolicy, Transport, TransportError, UnreachableError)
from edgecnn.remote.transports.local import LocalTransport
from edgecnn.remote.transports.ssh import SSHTransport
from edgecnn.registry import Registry

__all__ = ["TRANSPORTS", "make_transport", "connection_settings", "spec_name", "Transport", "CommandResult",
           "TransportError", "UnreachableError", "AuthError", "CommandTimeoutError", "ConnectionLostError",
           "RetryPolicy", "LocalTransport", "SSHTransport", "AdbTransport"]

TRANSPORTS: Registry[Callable[..., Transport]] = Registry("transport")


def _as_dict(obj: Any) -> dict:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")} if hasattr(obj, "__dict__") else {}


def spec_name(spec: Any) -> str:
    return str(spec.get("name") if isinstance(spec, dict) else getattr(spec, "name", "device"))


def connection_settings(spec: Any) -> dict[str, Any]:
    """The ``[connection]`` table of a device spec as a dict, whatever shape the
    spec object has (dict, dataclass with a ``connection`` member or flat fields,
    or a ``raw`` TOML dict)."""
    if isinstance(spec, dict):
        return _as_dict(spec.get("connection"))
    out: dict[str, Any] = {}
    raw = getattr(spec, "raw", None)
    if isinstance(raw, dict):
        out.update(_as_dict(raw.get("connection")))
    conn = getattr(spec, "connection", None)
    if conn is not None:
        out.update({k: v for k, v in _as_dict(conn).items() if v is not None})
    for key in ("transport", "host", "user", "port", "serial", "workdir", "python", "connect_timeout_s",
                "command_timeout_s", "retries", "retry_backoff_s", "ssh_options", "benchmark_model"):
        if key not in out and getattr(spec, key, None) is not None:
            out[key] = getattr(spec, key)
    return out


def make_transport(spec: Any, **overrides: Any) -> Transport:
    """Build the transport a device spec names (``connection.transport``)."""
    conn = {**connection_settings(spec), **overrides}
    kind = str(conn.get("transport") or "local")
    factory = TRANSPORTS.get(kind)
    common = dict(
        connect_timeout_s=float(conn.get("connect_timeout_s") or 10),
        command_timeout_s=float(conn.get("command_timeout_s") or 600),
        retry=RetryPolicy(attempts=1 + int(conn.get("retries", 2) if conn.get("retries") is not None else 2),
                          backoff_s=float(conn.get("retry_backoff_s") or 1.0)),
    )
    return factory(spec_name(spec), conn, common)


@TRANSPORTS.register("local")
def _local(name: str, conn: dict, common: dict) -> Transport:
    return LocalTransport(name, workdir=conn.get("workdir") or "~/.cache/edgecnn/local-device", **common)


@TRANSPORTS.register("ssh")
def _ssh(name: str, conn: dict, common: dict) -> Transport:
    opts = conn.get("ssh_options") or []
    if isinstance(opts, str):
        import shlex

        opts = shlex.split(opts)
    return SSHTransport(name, host=conn.get("host") or "", workdir=conn.get("workdir") or "~/edgecnn",
                        user=conn.get("user") or "", port=conn.get("port") or None, ssh_options=opts, **common)


@TRANSPORTS.register("adb")
def _adb(name: str, conn: dict, common: dict) -> Transport:
    return AdbTransport(name, serial=conn.get("serial") or "", workdir=conn.get("workdir") or "/data/local/tmp/edgecnn",
                        **common)

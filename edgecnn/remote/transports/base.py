"""The transport interface: push files, run a command with a timeout, pull files.

A transport is how edgecnn talks to a device: ``local`` (this machine),
``ssh`` (the system OpenSSH client) or ``adb`` (an Android device). All three
offer the same four calls, so remote profiling is written once:

- ``push(local_paths, remote_dir)``: copy files into a folder on the device
- ``run(command, timeout_s)``: run a shell command there -> ``CommandResult``
- ``pull(remote_paths, local_dir)``: copy files back
- ``remote_path(name)``: a path inside the device's working folder

Errors are ``EdgeCNNError`` subclasses with one clear line each:
``UnreachableError`` (host down, wrong port, no route, no device),
``AuthError`` (key refused), ``CommandTimeoutError`` (the command ran past its
timeout), ``ConnectionLostError`` (the link dropped while a command ran).
Transient connection failures are retried with exponential backoff.

On ssh and adb devices each command runs under the device's own ``timeout``
(``device_timeout``), and Ctrl-C here stops it there too (``stop_remote``):
killing the local client alone leaves a command without a tty running.
"""

from __future__ import annotations

import itertools
import math
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from edgecnn.errors import EdgeCNNError


class TransportError(EdgeCNNError):
    """A device could not be talked to (base class)."""


class UnreachableError(TransportError):
    """The device cannot be reached (connection refused / timed out, no device)."""


class AuthError(TransportError):
    """The device refused our credentials (ssh key, adb authorization)."""


class CommandTimeoutError(TransportError):
    """A command on the device ran past its timeout and was stopped."""


class ConnectionLostError(TransportError):
    """The connection dropped while a command was running."""


@dataclass
class CommandResult:
    """What a command printed and returned on the device (``duration_s`` wall seconds)."""

    command: str
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self, what: str = "") -> "CommandResult":
        """Raise ``TransportError`` with the last stderr line if the command failed."""
        if self.returncode != 0:
            tail = last_line(self.stderr) or last_line(self.stdout) or "no output"
            label = what or self.command
            raise TransportError(f"{label} failed with exit code {self.returncode}: {tail}")
        return self


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


@dataclass
class RetryPolicy:
    """Retries for transient failures: ``attempts`` tries in all, sleeping
    ``backoff_s * 2**k`` seconds between them (seconds)."""

    attempts: int = 3
    backoff_s: float = 0.5

    def call(self, fn: Callable[[], "CommandResult"], transient: Callable[[BaseException], bool]):
        last: BaseException | None = None
        for k in range(max(1, self.attempts)):
            try:
                return fn()
            except TransportError as exc:
                if not transient(exc) or k == self.attempts - 1:
                    raise
                last = exc
                time.sleep(self.backoff_s * (2 ** k))
        assert last is not None  # pragma: no cover
        raise last


class Transport:
    """Base class; subclasses implement ``_run``, ``push`` and ``pull``."""

    name = "base"
    #: wrap each command in the device's own ``timeout`` (see ``device_timeout``):
    #: killing a local ssh/adb client does not stop a remote command that has no tty
    stop_on_device = False

    def __init__(self, device: str, workdir: str, connect_timeout_s: float = 10.0,
                 command_timeout_s: float = 600.0, retry: RetryPolicy | None = None) -> None:
        self.device = device
        self.workdir = workdir.rstrip("/") or "/"
        self.connect_timeout_s = float(connect_timeout_s)
        self.command_timeout_s = float(command_timeout_s)
        self.retry = retry or RetryPolicy()

    # -- the interface ----------------------------------------------------
    def run(self, command: str | Sequence[str], timeout_s: float | None = None,
            cwd: str | None = None, input_bytes: bytes | None = None) -> CommandResult:
        """Run ``command`` (a shell string, or an argv list that gets quoted) on
        the device, in ``cwd`` (default: the working folder, created if needed).
        A non-zero exit is returned, not raised; connection problems raise, and
        a command still running after ``timeout_s`` seconds is stopped (on the
        device too) and raises ``CommandTimeoutError``."""
        cmd = command if isinstance(command, str) else shlex.join(command)
        folder = self.workdir if cwd is None else cwd
        full = f"mkdir -p {shell_path(folder)} && cd {shell_path(folder)} && {cmd}"
        limit = float(timeout_s or self.command_timeout_s)
        if not self.stop_on_device:
            return self._run(full, limit, input_bytes)
        pidfile = self.remote_path(f".edgecnn-run-{os.getpid()}-{next(_RUN_IDS)}.pid")
        try:
            res = self._run(device_timeout(full, limit, pidfile), limit, input_bytes)
        except KeyboardInterrupt:  # Ctrl-C: do not leave the runner timing away on the device
            self.stop_remote(pidfile)
            raise
        if res.returncode in (124, 137) and res.duration_s >= limit:
            raise CommandTimeoutError(f"command on {self.describe()} ran past its {limit:g} s timeout "
                                      f"and was stopped on the device")
        return res

    def push(self, local_paths: Sequence[str | Path], remote_dir: str | None = None) -> None:
        raise NotImplementedError

    def pull(self, remote_paths: Sequence[str], local_dir: str | Path) -> list[Path]:
        raise NotImplementedError

    def remote_path(self, name: str) -> str:
        return f"{self.workdir}/{name}"

    def describe(self) -> str:
        return f"{self.name}:{self.device}"

    def close(self) -> None:
        pass

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- for subclasses ---------------------------------------------------
    def _run(self, command: str, timeout_s: float, input_bytes: bytes | None) -> CommandResult:
        """Run ``command``; a transport with ``stop_on_device`` waits
        ``client_grace_s()`` longer than ``timeout_s`` so the device stops it first."""
        raise NotImplementedError

    def stop_remote(self, pidfile: str) -> None:
        """Best effort, at most a few seconds: stop the process group whose
        leader wrote ``pidfile`` (see ``device_timeout``)."""
        p = shell_path(pidfile)
        try:
            self._run(f"if [ -f {p} ]; then kill -TERM -$(cat {p}) 2>/dev/null || kill -TERM $(cat {p}); "
                      f"rm -f {p}; fi", min(10.0, self.connect_timeout_s + 5), None)
        except BaseException:  # a second Ctrl-C, or the device is gone: nothing more to do
            pass

    def client_grace_s(self) -> float:
        """Seconds the local client waits beyond a command's timeout."""
        return DEVICE_KILL_GRACE_S + 5.0 if self.stop_on_device else 0.0


DEVICE_KILL_GRACE_S = 5
_RUN_IDS = itertools.count()


def device_timeout(script: str, timeout_s: float, pidfile: str | None = None) -> str:
    """``script`` under the device's ``timeout`` (coreutils, toybox, recent
    BusyBox): SIGTERM to its whole process group after ``timeout_s`` seconds,
    SIGKILL ``DEVICE_KILL_GRACE_S`` later, exit 124 (137 when killed). Where
    no such ``timeout`` exists the script runs unguarded. With ``pidfile``,
    the process-group leader's pid is kept there while the script runs, so
    ``Transport.stop_remote`` can stop it after a Ctrl-C here."""
    pre = ""
    if pidfile:
        p = shell_path(pidfile)
        parent = shell_path(pidfile.rsplit("/", 1)[0] or "/")
        pre = f"mkdir -p {parent} 2>/dev/null && echo $$ > {p} 2>/dev/null; "
        script = f"trap {shlex.quote(f'rm -f {p}')} EXIT; {script}"
    q = shlex.quote(script)
    k = DEVICE_KILL_GRACE_S
    return (f"{pre}if timeout -k {k} 9 true >/dev/null 2>&1; then exec timeout -k {k} "
            f"{max(1, math.ceil(timeout_s))} sh -c {q}; else exec sh -c {q}; fi")


def shell_path(path: str) -> str:
    """Quote a path for a POSIX shell, keeping a leading ``~`` expandable
    (``~/edgecnn`` -> ``"$HOME"/edgecnn``)."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)

"""The ``adb`` transport: an Android device through the ``adb`` client.

``adb -s SERIAL push``, ``adb -s SERIAL shell`` and ``adb -s SERIAL pull``.
``adb shell`` returns the device command's exit status (shell protocol v2,
Android 7+). The working folder defaults to ``/data/local/tmp/edgecnn``, the
one folder an unrooted phone lets the shell user write and execute from.
adb's own failures ("no devices/emulators found", "device 'X' not found",
"device offline", "device unauthorized") become ``UnreachableError`` /
``AuthError`` with one clear line.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Sequence

from edgecnn.remote.transports.base import (AuthError, CommandResult, CommandTimeoutError, Transport,
                                             TransportError, UnreachableError, last_line, shell_path)

# adb's own failure lines (not the device command's): "error: device 'X' not
# found", "adb: no devices/emulators found", "error: device offline", ...
_UNREACHABLE = re.compile(r"no devices/emulators found|device '[^']*' not found|device not found|device offline|"
                          r"cannot connect to daemon|failed to connect to|protocol fault|device still connecting")
_AUTH = re.compile(r"device unauthorized|insufficient permissions for device")


def classify_adb_failure(stderr: str, where: str) -> TransportError | None:
    """adb's own failure -> one clear error; None for a failing device command."""
    line = last_line(stderr)
    if _AUTH.search(stderr):
        return AuthError(f"{where}: {line} (accept the USB debugging prompt on the phone)")
    if _UNREACHABLE.search(stderr):
        return UnreachableError(f"{where} is unreachable: {line}")
    return None


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, UnreachableError) and "offline" in str(exc).lower()


class AdbTransport(Transport):
    name = "adb"
    stop_on_device = True

    def __init__(self, device: str, serial: str = "", workdir: str = "/data/local/tmp/edgecnn",
                 adb_binary: str = "adb", **kw) -> None:
        super().__init__(device, workdir, **kw)
        self.serial = serial or ""
        self.adb_binary = adb_binary

    def describe(self) -> str:
        return f"adb {self.serial or '(default device)'} (device {self.device!r})"

    def base_argv(self) -> list[str]:
        argv = [self.adb_binary]
        if self.serial:
            argv += ["-s", self.serial]
        return argv

    def _adb(self, args: list[str], timeout_s: float, input_bytes: bytes | None = None,
             grace_s: float = 0.0) -> CommandResult:
        argv = [*self.base_argv(), *args]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(argv, input=input_bytes if input_bytes is not None else b"",
                                  capture_output=True, timeout=timeout_s + grace_s)
        except subprocess.TimeoutExpired:
            raise CommandTimeoutError(f"`adb {args[0]}` on {self.describe()} ran past its {timeout_s:g} s "
                                      f"timeout") from None
        except FileNotFoundError:
            raise TransportError(f"the adb client {self.adb_binary!r} is not installed "
                                 f"(Android platform-tools, or apt-get install adb)") from None
        out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            failure = classify_adb_failure(err or out, self.describe())
            if failure is not None:
                raise failure
        return CommandResult(" ".join(argv), proc.returncode, out, err, time.perf_counter() - t0)

    def _run(self, command: str, timeout_s: float, input_bytes: bytes | None) -> CommandResult:
        return self.retry.call(lambda: self._adb(["shell", command], timeout_s, input_bytes, self.client_grace_s()),
                               is_transient)

    def push(self, local_paths: Sequence[str | Path], remote_dir: str | None = None) -> None:
        dest = remote_dir or self.workdir
        self.retry.call(lambda: self._adb(["shell", f"mkdir -p {shell_path(dest)}"], self.connect_timeout_s + 30),
                        is_transient)
        for p in local_paths:
            res = self.retry.call(lambda p=p: self._adb(["push", str(p), f"{dest}/{Path(p).name}"],
                                                        self.command_timeout_s), is_transient)
            res.check(f"adb push {Path(p).name}")

    def pull(self, remote_paths: Sequence[str], local_dir: str | Path) -> list[Path]:
        out_dir = Path(local_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        got = []
        for rp in remote_paths:
            full = rp if rp.startswith("/") else f"{self.workdir}/{rp}"
            res = self._adb(["pull", full, str(out_dir / Path(full).name)], self.command_timeout_s)
            if res.ok:
                got.append(out_dir / Path(full).name)
        return got

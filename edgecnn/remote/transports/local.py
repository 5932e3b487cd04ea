"""The ``local`` transport: this machine, through the same interface as a device.

Commands run under ``sh -c`` in the working folder; push and pull copy files.
Useful to test the remote pipeline without a network, and to profile here with
exactly the code path a device uses.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

from edgecnn.remote.transports.base import CommandResult, CommandTimeoutError, Transport


class LocalTransport(Transport):
    name = "local"

    def __init__(self, device: str = "local", workdir: str = "~/.cache/edgecnn/local-device", **kw) -> None:
        super().__init__(device, workdir, **kw)

    def _run(self, command: str, timeout_s: float, input_bytes: bytes | None) -> CommandResult:
        t0 = time.perf_counter()
        proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(input_bytes or b"", timeout=timeout_s)
        except BaseException as exc:  # the timeout, or Ctrl-C (the child has its own session)
            # kill the whole session: `sh -c` does not exec its last command, so
            # killing sh alone would leave the runner timing away in the background
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise CommandTimeoutError(f"command on {self.describe()} ran past its {timeout_s:g} s timeout "
                                          f"and was stopped") from None
            raise
        return CommandResult(command, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                             time.perf_counter() - t0)

    def push(self, local_paths: Sequence[str | Path], remote_dir: str | None = None) -> None:
        dest = Path(os.path.expanduser(remote_dir or self.workdir))
        dest.mkdir(parents=True, exist_ok=True)
        for p in local_paths:
            p = Path(p)
            target = dest / p.name
            if p.resolve() != target.resolve():
                tmp = target.with_name(f".{target.name}.part")
                shutil.copy2(p, tmp)
                os.replace(tmp, target)

    def pull(self, remote_paths: Sequence[str], local_dir: str | Path) -> list[Path]:
        out_dir = Path(local_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        got = []
        for rp in remote_paths:
            src = Path(os.path.expanduser(rp if rp.startswith(("/", "~")) else f"{self.workdir}/{rp}"))
            if src.exists():
                shutil.copy2(src, out_dir / src.name)
                got.append(out_dir / src.name)
        return got

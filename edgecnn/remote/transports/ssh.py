"""The ``ssh`` transport: the system OpenSSH client, run as a subprocess.

Using the real ``ssh`` binary (not a Python SSH library) means a user's
``~/.ssh/config`` aliases, keys, agents, ``ProxyJump`` hosts and
``ControlMaster`` sockets all apply unchanged. Every call passes
``-o BatchMode=yes`` (never prompt: a refused key fails at once) and
``-o ConnectTimeout=N``; extra options come from the device TOML
(``ssh_options = ["-F", "/path/config", "-o", "Key=Value"]``).

Files travel as a tar stream over the same connection (``tar -xf -`` on the
device), so a leading ``~`` in the working folder works and only ``sh`` and
``tar`` are needed on the device.

ssh exits 255 when the connection itself fails; its stderr tells a refused
key (permanent) from a refused / timed-out / reset connection (transient,
retried with backoff).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Sequence

from edgecnn.remote.transports.base import (AuthError, CommandResult, CommandTimeoutError, ConnectionLostError,
                                             Transport, TransportError, UnreachableError, last_line, shell_path)

# stderr fragments of ssh exit 255, lower-cased
_AUTH = ("permission denied", "host key verification failed", "too many authentication failures",
         "no supported authentication methods")
_UNREACHABLE = ("connection refused", "connection timed out", "operation timed out", "no route to host",
                "network is unreachable", "could not resolve hostname", "name or service not known",
                "temporary failure in name resolution", "connect to host")
_LOST = ("connection reset", "connection closed", "broken pipe", "timeout, server", "kex_exchange_identification",
         "connection to .* closed by remote host", "closed by remote host", "client_loop")


def classify_ssh_failure(stderr: str, where: str, during_command: bool = False) -> TransportError:
    """Turn ssh's exit-255 stderr into one clear error (see the module doc)."""
    low = stderr.lower()
    line = last_line(stderr) or "ssh failed without a message"
    if "host key verification failed" in low or "host identification has changed" in low:
        return AuthError(f"{where}: the device's host key is not in known_hosts or has changed ({line}); "
                         f"connect once with plain `ssh` to check and accept it (edgecnn never prompts)")
    if any(k in low for k in _AUTH):
        return AuthError(f"{where}: authentication refused ({line}); check the key / user "
                         f"(ssh runs with BatchMode=yes, so it never prompts for a password)")
    if any(k in low for k in _UNREACHABLE):
        return UnreachableError(f"{where} is unreachable: {line}")
    if during_command or any(k in low for k in _LOST):
        return ConnectionLostError(f"connection to {where} was lost: {line}")
    return UnreachableError(f"{where} is unreachable: {line}")


def is_transient(exc: BaseException) -> bool:
    """Connection refused / timed out / dropped are worth retrying; a refused
    key or an unknown host name is not."""
    if isinstance(exc, AuthError):
        return False
    msg = str(exc).lower()
    if "could not resolve hostname" in msg or "name or service not known" in msg:
        return False
    return isinstance(exc, (UnreachableError, ConnectionLostError))


class SSHTransport(Transport):
    name = "ssh"
    stop_on_device = True

    def __init__(self, device: str, host: str, workdir: str = "~/edgecnn", user: str = "", port: int | None = None,
                 ssh_options: Sequence[str] = (), ssh_binary: str = "ssh", **kw) -> None:
        super().__init__(device, workdir, **kw)
        if not host:
            raise TransportError(f"device {device!r}: ssh transport needs connection.host")
        self.host = host
        self.user = user or ""
        self.port = int(port) if port else None
        self.ssh_options = [str(o) for o in ssh_options]
        self.ssh_binary = ssh_binary

    def describe(self) -> str:
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh {who}{self.host}{port} (device {self.device!r})"

    def base_argv(self) -> list[str]:
        """``ssh`` with our options, up to and including the host."""
        argv = [self.ssh_binary, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, round(self.connect_timeout_s))}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", *self.ssh_options]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.user:
            argv += ["-l", self.user]
        return [*argv, "--", self.host]

    # -- run --------------------------------------------------------------
    def _run(self, command: str, timeout_s: float, input_bytes: bytes | None) -> CommandResult:
        return self.retry.call(lambda: self._run_once(command, timeout_s, input_bytes), is_transient)

    def _run_once(self, command: str, timeout_s: float, input_bytes: bytes | None) -> CommandResult:
        argv = [*self.base_argv(), command]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(argv, input=input_bytes if input_bytes is not None else b"", capture_output=True,
                                  timeout=timeout_s + self.connect_timeout_s + self.client_grace_s())
        except subprocess.TimeoutExpired:
            raise CommandTimeoutError(f"command on {self.describe()} ran past its {timeout_s:g} s timeout "
                                      f"(+{self.connect_timeout_s:g} s to connect); the ssh client was stopped"
                                      ) from None
        except FileNotFoundError:
            raise TransportError(f"the OpenSSH client {self.ssh_binary!r} is not installed "
                                 f"(apt-get install openssh-client)") from None
        dt = time.perf_counter() - t0
        out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        if proc.returncode == 255:
            # 255 is ssh's own failure; a remote command exiting 255 prints its own
            # stderr, and we cannot tell them apart fully: only connection-like
            # messages are treated as connection failures.
            low = err.lower()
            if any(k in low for k in (*_AUTH, *_UNREACHABLE, *_LOST)) or not (out or err):
                raise classify_ssh_failure(err, self.describe(), during_command=bool(out))
        return CommandResult(command, proc.returncode, out, err, dt)

    # -- files ------------------------------------------------------------
    def push(self, local_paths: Sequence[str | Path], remote_dir: str | None = None) -> None:
        """Copy files (by base name) into ``remote_dir`` (default: the working
        folder) as one tar stream; partial files never replace good ones
        because tar writes each file then renames nothing: we extract into a
        staging folder and move the files into place."""
        dest = remote_dir or self.workdir
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for p in local_paths:
                p = Path(p)
                tar.add(str(p), arcname=p.name, recursive=False)
        names = " ".join(shell_path(Path(p).name) for p in local_paths)
        d = shell_path(dest)
        cmd = (f"mkdir -p {d}/.incoming && tar -C {d}/.incoming -xf - && "
               f"cd {d}/.incoming && mv -f -- {names} .. ")
        res = self._run(cmd, self.command_timeout_s, buf.getvalue())
        res.check(f"copying {len(local_paths)} file(s) to {self.describe()}")

    def pull(self, remote_paths: Sequence[str], local_dir: str | Path) -> list[Path]:
        """Copy files from the device (paths relative to the working folder, or
        absolute) into ``local_dir``; missing files are skipped."""
        out_dir = Path(local_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        pairs = []
        for rp in remote_paths:
            full = rp if rp.startswith(("/", "~")) else f"{self.workdir}/{rp}"
            if not full.startswith(("/", "~")):  # relative to the login folder; tar -C needs it absolute
                full = f"~/{full}"
            parent, base = full.rsplit("/", 1)
            pairs.append((parent or "/", base))
        # one tar over the files that exist, each named relative to its own folder
        script = "set -- ; " + " ; ".join(
            f'if [ -f {shell_path(p)}/{shell_path(b)} ]; then set -- "$@" -C {shell_path(p)} {shell_path(b)}; fi'
            for p, b in pairs) + ' ; if [ $# -eq 0 ]; then exit 0; fi ; tar -cf - "$@"'
        res = self._run_raw(script)
        res.check(f"copying files from {self.describe()}")
        got = []
        if res.stdout_bytes:
            with tarfile.open(fileobj=io.BytesIO(res.stdout_bytes), mode="r") as tar:
                for member in tar.getmembers():
                    if not member.isfile():
                        continue
                    name = Path(member.name).name
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    from edgecnn.records import atomic_write_bytes

                    atomic_write_bytes(out_dir / name, data)
                    got.append(out_dir / name)
        return got

    def _run_raw(self, command: str) -> "_RawResult":
        """Like ``_run`` but keeps stdout as bytes (tar streams)."""

        def once() -> _RawResult:
            argv = [*self.base_argv(), command]
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(argv, input=b"", capture_output=True,
                                      timeout=self.command_timeout_s + self.connect_timeout_s)
            except subprocess.TimeoutExpired:
                raise CommandTimeoutError(f"copying from {self.describe()} ran past its "
                                          f"{self.command_timeout_s:g} s timeout") from None
            err = proc.stderr.decode(errors="replace")
            if proc.returncode == 255:
                raise classify_ssh_failure(err, self.describe(), during_command=bool(proc.stdout))
            return _RawResult(command, proc.returncode, "", err, time.perf_counter() - t0, proc.stdout)

        return self.retry.call(once, is_transient)


class _RawResult(CommandResult):
    def __init__(self, command, returncode, stdout, stderr, duration_s, stdout_bytes: bytes) -> None:
        super().__init__(command, returncode, stdout, stderr, duration_s)
        self.stdout_bytes = stdout_bytes

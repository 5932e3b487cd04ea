"""A throw-away OpenSSH server on 127.0.0.1, for tests of remote devices and of
the records they write (tests/remote, tests/report).

``running_sshd(root)`` starts ``sshd -D -f <tmp config>`` on a free loopback
port with a fresh host key and user key (ssh-keygen), ``StrictModes no``,
``AuthorizedKeysFile`` in ``root`` and ``UsePAM no``, as the current user
(``PermitRootLogin yes`` when that is root). The client side is a tmp
``ssh_config`` (``-F``) with ``StrictHostKeyChecking no``,
``UserKnownHostsFile /dev/null`` and the throw-away ``IdentityFile``. The
server is always killed (its whole process group) when the block ends.
Nothing here listens on or connects to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
VENV_PY = REPO / ".venv" / "bin" / "python"


def _find_sshd() -> str | None:
    for cand in (shutil.which("sshd"), "/usr/sbin/sshd", "/usr/local/sbin/sshd"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SSHServer:
    port: int
    user: str
    config: Path  # client ssh_config (-F)
    key: Path
    root: Path
    proc: subprocess.Popen
    sshd_argv: list

    def ssh_options(self) -> list[str]:
        return ["-F", str(self.config)]

    def device_dict(self, name: str = "fixture-box", runtimes=("onnxruntime", "litert"), **conn) -> dict:
        """A device spec (the TOML schema, as a dict) pointing at this server."""
        c = {"transport": "ssh", "host": "127.0.0.1", "port": self.port, "user": self.user,
             "workdir": str(self.root / "remote-home" / "edgecnn"), "python": str(VENV_PY),
             "connect_timeout_s": 5, "command_timeout_s": 120, "retries": 1, "retry_backoff_s": 0.2,
             "ssh_options": self.ssh_options()}
        c.update(conn)
        return {"name": name, "description": "throw-away sshd on 127.0.0.1",
                "connection": c, "runtimes": {"available": list(runtimes)}}

    def device_toml(self, folder: Path, name: str = "fixture-box", **conn) -> Path:
        d = self.device_dict(name, **conn)
        lines = [f'name = "{name}"', f'description = "{d["description"]}"', "[connection]"]
        for k, v in d["connection"].items():
            lines.append(f"{k} = {_toml(v)}")
        lines += ["[runtimes]", f"available = {_toml(d['runtimes']['available'])}"]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def stop(self) -> None:
        """Kill the server and every connection it forked (sshd puts each
        connection in its own session, so its process group is not enough):
        the "device" drops off the network, mid-command included."""
        if self.proc.poll() is None:
            children = _descendants(self.proc.pid)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.proc = _spawn(self.sshd_argv, self.root, self.port)


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _spawn(argv: list, root: Path, port: int) -> subprocess.Popen:
    log = open(root / "sshd.log", "ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited at once: {(root / 'sshd.log').read_text()[-2000:]}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("sshd did not start listening within 10 s")


def missing_openssh() -> str | None:
    """Why the server cannot run here (None when it can)."""
    sshd = _find_sshd()
    missing = [name for name, found in (("sshd", sshd), ("ssh", shutil.which("ssh")),
                                        ("ssh-keygen", shutil.which("ssh-keygen"))) if not found]
    if missing:
        return (f"OpenSSH not installed: no {', '.join(missing)} (apt-get install openssh-server "
                f"openssh-client, or scripts/system-deps.sh)")
    if not VENV_PY.exists():
        return f"{VENV_PY} not found (the fixture's 'device' runs the runner with it)"
    return None


@contextlib.contextmanager
def running_sshd(root: Path) -> Iterator[SSHServer]:
    """A server whose files live in ``root`` (an empty folder); killed on exit."""
    sshd = _find_sshd()
    os.chmod(root, 0o700)
    host_key, user_key = root / "host_ed25519", root / "user_ed25519"
    for key in (host_key, user_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True,
                       capture_output=True)
    (root / "authorized_keys").write_text((root / "user_ed25519.pub").read_text())
    os.chmod(root / "authorized_keys", 0o600)
    user = getpass.getuser()
    port = free_port()
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # privilege-separation folder Debian's sshd wants as root
    cfg = root / "sshd_config"
    cfg.write_text("\n".join([
        "ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {host_key}",
        f"AuthorizedKeysFile {root / 'authorized_keys'}", "StrictModes no", "UsePAM no",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        f"PermitRootLogin {'yes' if os.geteuid() == 0 else 'no'}", f"PidFile {root / 'sshd.pid'}",
        "LogLevel ERROR", "MaxStartups 50", "MaxSessions 50", "ClientAliveInterval 5",
        f"SetEnv PATH={os.environ.get('PATH', '/usr/bin:/bin')}",
    ]) + "\n")
    client = root / "ssh_config"
    client.write_text("\n".join([
        "Host *", "  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null", f"  IdentityFile {user_key}",
        "  IdentitiesOnly yes", "  LogLevel ERROR", "  PasswordAuthentication no",
    ]) + "\n")
    argv = [sshd, "-D", "-e", "-f", str(cfg)]
    proc = _spawn(argv, root, port)
    server = SSHServer(port, user, client, user_key, root, proc, argv)
    try:
        yield server
    finally:
        server.stop()

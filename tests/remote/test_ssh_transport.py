"""The ssh transport against a real OpenSSH server on 127.0.0.1."""

from __future__ import annotations

import os
import time

import pytest

from edgecnn.remote.transports import (AuthError, CommandTimeoutError, SSHTransport, UnreachableError,
                                        make_transport)

pytestmark = pytest.mark.ssh


def test_run_push_pull_roundtrip(sshd_server, tmp_path):
    t = make_transport(sshd_server.device_dict())
    res = t.run("echo hello; echo oops >&2; exit 3")
    assert (res.returncode, res.stdout.strip(), res.stderr.strip()) == (3, "hello", "oops")
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    t.push([src])
    assert t.run("wc -c < blob.bin").stdout.strip() == "256000"
    got = t.pull(["blob.bin", "missing.txt"], tmp_path / "back")
    assert [p.name for p in got] == ["blob.bin"]
    assert got[0].read_bytes() == src.read_bytes()


def test_closed_port_is_a_clear_unreachable_error_within_the_timeout(sshd_server, closed_port):
    spec = sshd_server.device_dict(port=closed_port, connect_timeout_s=3, retries=1, retry_backoff_s=0.1)
    t = make_transport(spec)
    t0 = time.monotonic()
    with pytest.raises(UnreachableError, match="unreachable.*[Cc]onnection refused"):
        t.run("true")
    assert time.monotonic() - t0 < 3 * 2 + 1


def test_refused_key_is_a_clear_auth_error_and_not_retried(sshd_server, tmp_path):
    import subprocess

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    spec = sshd_server.device_dict(retries=3, retry_backoff_s=5)
    # a client config whose only identity is a key the server does not know
    cfg = tmp_path / "cfg"
    cfg.write_text(sshd_server.config.read_text().replace(str(sshd_server.key), str(other)))
    spec["connection"]["ssh_options"] = ["-F", str(cfg)]
    t = make_transport(spec)
    t0 = time.monotonic()
    with pytest.raises(AuthError, match="authentication refused.*Permission denied"):
        t.run("true")
    assert time.monotonic() - t0 < 5, "a refused key must not be retried"


def test_unknown_host_key_says_so_instead_of_blaming_the_key(sshd_server, tmp_path):
    # a device never connected to before: BatchMode cannot ask to accept its host key
    cfg = tmp_path / "cfg"
    cfg.write_text(f"Host *\n  UserKnownHostsFile {tmp_path / 'known_hosts'}\n  IdentityFile {sshd_server.key}\n"
                   "  IdentitiesOnly yes\n")
    spec = sshd_server.device_dict(retries=2, retry_backoff_s=5)
    spec["connection"]["ssh_options"] = ["-F", str(cfg)]
    t0 = time.monotonic()
    with pytest.raises(AuthError, match="host key is not in known_hosts or has changed.*connect once"):
        make_transport(spec).run("true")
    assert time.monotonic() - t0 < 5, "not retried"


def test_command_timeout_stops_the_command_on_the_device(sshd_server):
    # killing the local ssh client alone leaves a tty-less remote command running
    t = make_transport(sshd_server.device_dict(connect_timeout_s=2))
    t0 = time.monotonic()
    with pytest.raises(CommandTimeoutError, match="past its 1 s timeout and was stopped on the device"):
        t.run("sleep 31.25; echo never", timeout_s=1)
    assert time.monotonic() - t0 < 6
    time.sleep(0.5)
    assert "sleep 31.25" not in t.run("ps -eo args").stdout
    # a command that exits 124 by itself, in time, is not a timeout
    assert t.run("exit 124", timeout_s=5).returncode == 124


def test_ctrl_c_stops_the_command_on_the_device(sshd_server):
    """An interrupted run must not leave the runner timing on the device (it
    would skew the rerun that resumes)."""
    import signal
    import threading

    t = make_transport(sshd_server.device_dict(connect_timeout_s=2))

    def ctrl_c_once_running() -> None:  # the "device" is this machine: wait for the command, then a real SIGINT
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(c.strip() == "sleep 31.75" for c in _cmdlines()):
            time.sleep(0.05)
        time.sleep(0.3)
        if not done.is_set():  # never interrupt a later test
            os.kill(os.getpid(), signal.SIGINT)

    done = threading.Event()
    # a test run started in the background inherits SIGINT ignored; Ctrl-C at a terminal raises
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=ctrl_c_once_running, daemon=True).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            t.run("sh -c 'sleep 31.75'; echo never", timeout_s=60)
    finally:
        done.set()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - t0 < 15
    time.sleep(0.5)
    assert "sleep 31.75" not in t.run("ps -eo args").stdout


def _cmdlines() -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                out.append(fh.read().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, ValueError):
            continue
    return out


def test_local_timeout_stops_the_whole_command(tmp_path):
    from edgecnn.remote.transports import LocalTransport

    t = LocalTransport(workdir=str(tmp_path))
    with pytest.raises(CommandTimeoutError, match="past its 1 s timeout"):
        t.run("sleep 31.5; echo never", timeout_s=1)  # `sh -c` forks sleep: the group must go
    time.sleep(0.3)
    assert "sleep 31.5" not in t.run("ps -eo args").stdout


def test_ssh_argv_keeps_user_options_and_batch_mode():
    t = SSHTransport("jetson", host="jetson", user="nv", port=2222, ssh_options=["-J", "bastion"],
                     connect_timeout_s=7)
    argv = t.base_argv()
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=7"]
    assert argv[-2:] == ["--", "jetson"]
    assert "-J" in argv and "bastion" in argv and ["-p", "2222"] == argv[argv.index("-p"):argv.index("-p") + 2]


def test_server_dying_mid_command_is_a_connection_error_not_a_hang(sshd_server):
    import threading

    from edgecnn.remote.transports import TransportError

    t = make_transport(sshd_server.device_dict(connect_timeout_s=2, retries=1, retry_backoff_s=0.1))
    assert t.run("echo up").stdout.strip() == "up"
    threading.Timer(1.0, sshd_server.stop).start()
    t0 = time.monotonic()
    with pytest.raises(TransportError, match="lost|unreachable") as info:
        t.run("echo started; sleep 20; echo never")
    assert time.monotonic() - t0 < 15
    assert not isinstance(info.value, CommandTimeoutError)

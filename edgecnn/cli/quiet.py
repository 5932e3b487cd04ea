"""Third-party log lines go to a log file, not to edgecnn's console.

TensorFlow and LiteRT (absl's "All log messages before absl::InitializeLog()",
oneDNN's "custom operations are on"), ExecuTorch (``[cpuinfo_utils.cpp:...]``),
OpenVINO, NNCF and JAX (``os.fork() was called``) write to the process's
standard error, from C++ (file descriptor 2) or from Python (``warnings``,
``logging``). During a command that loads them (`profile`, `export`, `eval`,
`report`) ``third_party_log`` points descriptor 2, and so Python's
``sys.stderr`` and every helper process started meanwhile, at a log file, and
edgecnn's own stderr console (warnings, progress, export logs) at the
terminal, its helper processes' too (``$EDGECNN_CONSOLE``, read by
``edgecnn.console``; Linux's ``/proc/<pid>/fd``). The file is
``$EDGECNN_LOG_DIR`` or ``~/.cache/edgecnn/logs/`` (``$XDG_CACHE_HOME``
respected), ``<command>-<date>-<time>-<pid>.log``; an empty one is removed,
and an error that ends the command names the file.

Usage errors are found before the context starts (and before anything noisy is
imported), so they stay one line. ``quiet_environment`` sets the libraries'
own log levels for anything that reads them at load.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

# Read once, when each library loads: INFO and WARNING lines of TensorFlow's and glog's C++ logging.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_minloglevel": "2"}


def quiet_environment() -> None:
    """Set the log levels of ``QUIET_ENV`` unless the user set them."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def log_dir() -> Path:
    """Where the third-party logs of runs go."""
    if os.environ.get("EDGECNN_LOG_DIR"):
        return Path(os.environ["EDGECNN_LOG_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "edgecnn" / "logs"


@dataclass
class RunLog:
    """The log file of one command's third-party output."""

    path: Path

    def has_lines(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False


@contextlib.contextmanager
def third_party_log(command: str) -> Iterator[Optional[RunLog]]:
    """Send file descriptor 2 to this command's log file for the duration; edgecnn's
    stderr console keeps writing to the terminal. Yields the ``RunLog`` (None when
    no log file can be made: nothing is redirected then). An ``EdgeCNNError`` or
    other exception leaving the block carries ``log_path`` when the log has lines."""
    from edgecnn.console import err_console

    path = log_dir() / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        yield None
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved_fd = os.dup(2)
    console_stream = _console_stream(saved_fd)
    err_console.file = console_stream
    helpers_console = os.environ.get("EDGECNN_CONSOLE")
    if console_stream is not sys.stderr and Path(f"/proc/{os.getpid()}/fd/{saved_fd}").exists():
        # helper processes (export jobs) print their progress to the same terminal (edgecnn.console)
        os.environ["EDGECNN_CONSOLE"] = f"/proc/{os.getpid()}/fd/{saved_fd}"
    os.dup2(log_fd, 2)
    os.close(log_fd)
    run = RunLog(path)
    try:
        yield run
    except BaseException as exc:
        if run.has_lines():
            exc.log_path = str(path)  # type: ignore[attr-defined]  # main() names it beside the error
        raise
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        err_console.file = None  # back to whatever sys.stderr is
        if helpers_console is None:
            os.environ.pop("EDGECNN_CONSOLE", None)
        else:
            os.environ["EDGECNN_CONSOLE"] = helpers_console
        if console_stream is not sys.stderr:
            console_stream.close()  # flushes; the descriptor itself is closed below
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        if not run.has_lines():
            with contextlib.suppress(OSError):
                path.unlink()


def _console_stream(saved_fd: int):
    """The stream edgecnn's console writes to while descriptor 2 is the log: the
    terminal behind the saved descriptor, or, when ``sys.stderr`` is not
    descriptor 2 at all (a test capturing it), ``sys.stderr`` itself."""
    try:
        on_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        on_fd2 = False
    if not on_fd2:
        return sys.stderr
    return open(saved_fd, "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                errors="backslashreplace", closefd=False)

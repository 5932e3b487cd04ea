"""Helpers for runtimes written in C++: their console output, and the settings
an exporter left beside an artifact.

Several native runtimes print to the process's file descriptors directly
(MNN: "The device supports: ..." on stdout at import; ExecuTorch: cpuinfo
lines; NNCF / pnnx progress), which would corrupt ``--json`` output on stdout.
``native_output`` sends fds 1 and 2 to a temporary file for the duration of
a call and hands the text back (for error messages).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator


class Captured:
    """The text a native call wrote to stdout/stderr (set when the block exits)."""

    text: str = ""

    def tail(self, n: int = 20) -> str:
        return "\n".join(self.text.strip().splitlines()[-n:])


@contextlib.contextmanager
def native_output() -> Iterator[Captured]:
    """Redirect fds 1 and 2 (C/C++ prints included) to a temp file inside the block."""
    cap = Captured()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or replaced stream
            pass
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no real fds (embedded interpreter): run as is
        yield cap
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield cap
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            cap.text = sink.read().decode(errors="replace")


def sidecar_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``<artifact>.json`` metadata ``edgecnn export`` writes beside an
    artifact, or {} when there is none (a file made elsewhere)."""
    meta = Path(os.fspath(path) + ".json")
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def runtime_settings(path: str | os.PathLike, runtime: str) -> dict[str, Any]:
    """The settings the exporter chose for ``runtime`` (``metadata["runtime_settings"]``)."""
    settings = sidecar_metadata(path).get("runtime_settings") or {}
    return dict(settings) if isinstance(settings, dict) and settings.get("runtime", runtime) == runtime else {}

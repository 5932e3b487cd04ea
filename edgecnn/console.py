"""Shared terminal helpers for commands: one rich Console, number formatting."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console


def _width(stream) -> int | None:
    """Rich's own width on a terminal or with $COLUMNS; 160 when piped or logged,
    so tables written to a file keep whole model and runtime names."""
    if "COLUMNS" in os.environ or stream.isatty():
        return None
    return 160


def _run_console():
    """The terminal of the run this process helps, when it is a helper process of a
    command whose standard error goes to a log (``$EDGECNN_CONSOLE``, set by
    ``edgecnn.cli.quiet.third_party_log``); else None (standard error)."""
    path = os.environ.get("EDGECNN_CONSOLE")
    if not path:
        return None
    try:
        return open(path, "a", buffering=1, encoding="utf-8", errors="backslashreplace")
    except OSError:
        return None


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, file=_run_console(), width=_width(sys.stderr))


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)


def human(n: float | int | None, unit: str = "") -> str:
    """1234567 -> '1.23 M'. None -> '-'."""
    if n is None:
        return "-"
    n = float(n)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {suffix}{unit}"
    return f"{n:.0f} {unit}".rstrip() if n == int(n) else f"{n:.3g} {unit}".rstrip()


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")

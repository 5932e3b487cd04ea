"""Helpers of the export tests (imported by name: tests/ folders are not packages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def one_line_error(res: Any, *words: str) -> str:
    """The CLI's contract for user errors: exit 2, one 'error: ...' line on stderr, no traceback."""
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def artifacts(folder: Path) -> list[str]:
    """Names of the files in ``folder`` (none when it does not exist)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

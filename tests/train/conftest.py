"""Fixtures of the training tests: a private dataset cache (``main_cli`` is in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Decoded-array cache in tmp_path, so throw-away datasets leave nothing in ~/.cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGECNN_CACHE", str(cache))
    return cache


def _one_line_error(res, *words: str) -> str:
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def one_line_error():
    """Check the CLI's contract for user errors: exit code 2, exactly one
    'error: ...' line on stderr, holding each of ``words``."""
    return _one_line_error

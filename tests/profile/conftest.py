"""Fixtures for the profile tests: a fake clock and a fake runner whose
latencies are fixed, so the timing loop and the pipeline are checked exactly."""

from __future__ import annotations

import pytest

from edgecnn.runtime import RUNNERS
from profile_fakes import CLOCK, FakeRunner


@pytest.fixture
def fake_runtime(monkeypatch):
    monkeypatch.setitem(RUNNERS._items, "fake", FakeRunner)
    FakeRunner.calls = 0
    return CLOCK

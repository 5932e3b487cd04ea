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


@pytest.fixture
def step_runtime(monkeypatch):
    """The ``step`` runtime (profile_fakes.StepRunner) and the fake clock it advances, both fresh."""
    from profile_fakes import StepRunner

    monkeypatch.setitem(RUNNERS._items, "step", StepRunner)
    StepRunner.LOG = []
    CLOCK.t = 0.0
    return CLOCK

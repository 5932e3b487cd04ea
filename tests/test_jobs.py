"""edgecnn.jobs.run_jobs: N at a time, this process and helper processes, results in order, errors after all."""

from __future__ import annotations

import multiprocessing as mp
import operator
import os
import time
from pathlib import Path

import pytest

from edgecnn.jobs import run_jobs


def test_results_come_back_in_the_jobs_order_and_the_first_error_is_raised_after_all():
    import torch

    threads = torch.get_num_threads()
    seen = []
    jobs = [(6, 3), (1, 0), (8, 2), (9, 3), (5, 0)]
    with pytest.raises(ZeroDivisionError):
        run_jobs(operator.truediv, jobs, 2, lambda i, value, exc: seen.append((i, value, type(exc).__name__)))
    assert sorted(seen) == [(0, 2.0, "NoneType"), (1, None, "ZeroDivisionError"), (2, 4.0, "NoneType"),
                            (3, 3.0, "NoneType"), (4, None, "ZeroDivisionError")]
    assert run_jobs(operator.truediv, [(6, 3), (8, 2), (9, 3)], 2) == [2.0, 4.0, 3.0]
    assert run_jobs(operator.truediv, [(6, 3)], 4) == [2.0]  # one job: no helper
    assert torch.get_num_threads() == threads  # restored after the jobs ran with their share of the cores


def die_in_a_helper(marker: str) -> str:
    """In a helper: leave a mark and die. Here: wait for the mark (the helper took a job and died)."""
    if mp.parent_process() is not None:
        Path(marker).write_text("a helper took this job")
        os._exit(3)
    deadline = time.monotonic() + 120
    while not Path(marker).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return "here"


def test_the_job_of_a_helper_that_died_is_run_here(tmp_path):
    marker = str(tmp_path / "mark")
    assert run_jobs(die_in_a_helper, [(marker,), (marker,)], 2) == ["here", "here"]
    assert Path(marker).exists()  # the helper did take one and died with it

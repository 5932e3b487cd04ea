"""Independent jobs, N at a time: this process and N-1 helper processes.

``run_jobs(fn, jobs, workers, done)`` calls ``fn(*job)`` for every job. The
jobs wait in one queue; this process takes them as well as the helpers
(spawned, so they import what ``fn`` needs first, seconds for torch and the
exporters), so a helper's start-up costs nothing when the jobs are short: it
takes jobs once it is ready. Each job runs with ``cores // workers`` torch
threads. ``fn`` must be a module-level function (the helpers import it by
name) and its result picklable; it should catch what it can report itself,
since an exception from a helper comes back as a ``JobError``.

Used where the work is mostly single-threaded Python and nothing is timed
meanwhile: making the artifacts `edgecnn profile` needs, and `edgecnn export`
to several formats.
"""

from __future__ import annotations

import os
import queue
from typing import Any, Callable, Optional, Sequence


class JobError(Exception):
    """A job raised in a helper process: its exception type and message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def default_jobs() -> int:
    """2 where there are at least two cores, else 1."""
    return min(2, os.cpu_count() or 1)


def _set_threads(threads: int) -> int:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    return before


def _helper(fn: Callable[..., Any], todo: Any, results: Any, threads: int) -> None:
    _set_threads(threads)
    while True:
        try:
            i, job = todo.get(timeout=0.5)
        except queue.Empty:
            return
        try:
            results.put((i, fn(*job), None))
        except Exception as exc:  # noqa: BLE001 - the parent decides what it means
            err = exc if _picklable(exc) else JobError(type(exc).__name__, str(exc))
            results.put((i, None, err))


def _picklable(exc: BaseException) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return False
    return True


def run_jobs(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int,
             done: Optional[Callable[[int, Any, Optional[BaseException]], None]] = None) -> list[Any]:
    """``[fn(*job) for job in jobs]``, ``workers`` at a time (see the module
    doc). ``done(index, result, exception)`` after each job, in the order they
    finish. A job whose helper died (killed, out of memory) is run again here.
    Returns the results in the jobs' order; the first exception (in that
    order) is raised once every job has finished."""
    import multiprocessing as mp

    jobs = list(jobs)
    results: list[Any] = [None] * len(jobs)
    errors: dict[int, BaseException] = {}
    finished: set[int] = set()

    def finish(i: int, value: Any, exc: Optional[BaseException]) -> None:
        finished.add(i)
        results[i] = value
        if exc is not None:
            errors[i] = exc
        if done is not None:
            done(i, value, exc)

    def here(i: int) -> None:
        try:
            value = fn(*jobs[i])
        except Exception as exc:  # noqa: BLE001 - raised below, after the other jobs
            finish(i, None, exc)
        else:
            finish(i, value, None)

    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        for i in range(len(jobs)):
            here(i)
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        ctx = mp.get_context("spawn")
        todo, back = ctx.Queue(), ctx.Queue()
        for item in enumerate(jobs):
            todo.put(item)
        helpers = [ctx.Process(target=_helper, args=(fn, todo, back, threads), daemon=True,
                               name=f"edgecnn-job-{k}") for k in range(workers - 1)]
        for p in helpers:
            p.start()
        before = _set_threads(threads)
        try:
            while True:
                try:
                    i, _ = todo.get(timeout=1.0)
                except queue.Empty:
                    break
                here(i)
            while len(finished) < len(jobs):
                try:
                    finish(*back.get(timeout=1.0))
                except queue.Empty:
                    if not any(p.is_alive() for p in helpers) and back.empty():
                        break
        finally:
            _set_threads(before)
            for p in helpers:  # every job is done: a helper still alive is starting up or leaving
                p.join(timeout=0.5)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
        for i in range(len(jobs)):  # a helper died with this job: run it here
            if i not in finished:
                here(i)
    for i in sorted(errors):
        raise errors[i]
    return results

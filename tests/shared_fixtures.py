"""A session fixture built once per test run, not once per pytest-xdist worker.

`make test` runs two xdist workers; a session fixture runs in each worker that
asks for it. ``built_once`` builds the costliest ones (tests/real_records.py,
``trained_lenet5`` in tests/conftest.py) in a folder beside the workers' own:
the first worker to ask builds it under a file lock, the other waits for the
lock and reads what was built. Without xdist it builds in a fresh temp folder.
``build_in_background`` starts such a build on a thread at once (the first
worker does it for real_records, tests/conftest.py), so that its ~90 s of
commands overlap other tests instead of keeping a worker waiting.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Callable


def built_once(tmp_path_factory, name: str, build: Callable[[Path], Any]) -> Any:
    """``build(folder)`` (its value JSON-serialisable) once per test run; the value."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build(tmp_path_factory.mktemp(name))
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    with FileLock(f"{root}.lock"):
        done = root / "built.json"
        if done.is_file():
            return json.loads(done.read_text())
        if root.exists():  # a build that failed in another worker: start again
            shutil.rmtree(root)
        root.mkdir(parents=True)
        value = build(root)
        done.write_text(json.dumps(value))
        return value


def build_in_background(tmp_path_factory, name: str, build: Callable[[Path], Any]) -> threading.Thread:
    """``built_once`` on a daemon thread; a failure is left for the fixture, which builds again and reports it."""
    def run() -> None:
        try:
            built_once(tmp_path_factory, name, build)
        except BaseException:  # noqa: BLE001 - the fixture's own build says what went wrong
            pass

    thread = threading.Thread(target=run, name=f"build-{name}", daemon=True)
    thread.start()
    return thread

"""The GPU reference run, phase by phase (``scripts/gpu_reference.py`` is its
command line).

Order: predict (before anything is timed), load the data, train the first
jobs (resnet18, mobilenet_v2), time the default models on the GPU and on
the host CPU, the separable sweep, train the leftover jobs with what time
is left, then write ``summary.json`` and pack. Each phase is guarded: a
failure becomes a ``failed`` record (its traceback in the metrics and the
log) and the run goes on; a phase without time left is not started and says
so in a record. A SIGALRM at the run's deadline (less the packing reserve)
stops whatever runs then, so the records and the pack always get written.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Optional

from edgecnn.reference.config import ReferenceConfig
from edgecnn.reference.context import Context, DeadlineReached, run_environment

__all__ = ["Context", "DeadlineReached", "run_reference"]


def _on_alarm(signum, frame):  # noqa: ARG001
    raise DeadlineReached("the run's deadline passed (SIGALRM); packing what was written")


def run_reference(cfg: ReferenceConfig, *, work: Path, data: Path, pack_dir: Path, command: str,
                  git_commit: Optional[str] = None) -> dict[str, Any]:
    """Every phase, then ``summary.json`` and the pack in ``pack_dir``; returns the summary."""
    from edgecnn.reference import phases

    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg=cfg, work=work, data=data, env=run_environment(command, git_commit, cfg.accel))
    ctx.log(f"gpu reference run ({'smoke, CPU' if cfg.smoke else cfg.accel}): {command}")
    ctx.log(f"commit {ctx.env.get('git_commit')}, GPU {ctx.env.get('gpu')}, torch "
            f"{ctx.env['versions'].get('torch')}, work folder {work}")
    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(1.0, cfg.total_s - cfg.pack_reserve_s))
    try:
        phases.run_all(ctx)
    except DeadlineReached as exc:  # raised between guarded phases
        ctx.log(str(exc))
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return phases.finish(ctx, pack_dir)

"""GPU fidelity: edgecnn's device time against a plain CUDA-event script.

``plain_script`` is what a user would write to time a model on a GPU: about
30 lines of torch, ``time`` and ``statistics``, CUDA events around each call
on the input already on the device, nothing from edgecnn. ``fidelity``
alternates it with edgecnn's own measurement of the same model object,
dtype, layout, batch and resident input (the torch runner's compute step,
through ``edgecnn.runtime.timing``), round after round with the order
swapped each round, and records the ratio of the medians, a bootstrap
interval over the rounds and a verdict (within 10 %, outside, cannot tell).
More rounds are run while the verdict is "cannot tell", up to ``max_rounds``.
On the CPU (the smoke run) both sides use the host clock.
"""

from __future__ import annotations

import statistics
from typing import Any

from edgecnn.runtime.timing import measure, ratio_interval, ratio_verdict

METHOD = ("rounds alternate edgecnn's compute step (torch runner, edgecnn.runtime.timing) and a plain "
          "CUDA-event script (edgecnn/reference/fidelity.py: plain_script) on the same module and resident "
          "input, order swapped each round; ratio = median of edgecnn's round medians / the plain script's")


def plain_script(model: Any, x: Any, *, seconds: float = 1.0, warmup_s: float = 0.2,
                 min_runs: int = 20) -> list[float]:
    """Milliseconds per call of ``model(x)``: warm up for ``warmup_s``, then
    time each call (CUDA events on a GPU, the host clock on a CPU) until
    ``seconds`` have passed and ``min_runs`` calls are done."""
    import time

    import torch

    cuda = x.is_cuda
    start = torch.cuda.Event(enable_timing=True) if cuda else None
    end = torch.cuda.Event(enable_timing=True) if cuda else None
    samples = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < warmup_s:
            model(x)
            if cuda:
                torch.cuda.synchronize()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds or len(samples) < min_runs:
            if cuda:
                start.record()
                model(x)
                end.record()
                end.synchronize()
                samples.append(start.elapsed_time(end))
            else:
                t = time.perf_counter()
                model(x)
                samples.append((time.perf_counter() - t) * 1e3)
    return samples


def fidelity(runner: Any, *, block_s: float = 0.3, min_rounds: int = 5, max_rounds: int = 15,
             tolerance: float = 0.10) -> dict[str, Any]:
    """Record fields comparing ``runner`` (a loaded TorchRunner with device
    phases) with ``plain_script`` on the same module and resident input."""
    phases = runner.device_phases()
    fn, x = runner.resident()
    ours: list[float] = []
    plain: list[float] = []
    while len(ours) < max_rounds:
        sides = ("ours", "plain") if len(ours) % 2 == 0 else ("plain", "ours")
        for side in sides:
            if side == "ours":
                st = measure(phases.compute, timer=phases.timer, warmup=3, warmup_s=0.02, runs=20,
                             min_time_s=block_s, max_time_s=block_s * 10)
                ours.append(st.median_ms)
            else:
                plain.append(statistics.median(plain_script(fn, x, seconds=block_s, warmup_s=0.02)))
        if len(ours) >= min_rounds:
            verdict = ratio_verdict(ratio_interval([a / b for a, b in zip(ours, plain)]), tolerance)
            if verdict != "cannot tell":
                break
    interval = ratio_interval([a / b for a, b in zip(ours, plain)])
    verdict = ratio_verdict(interval, tolerance)
    return {"plain_ms_p50": statistics.median(plain),
            "fidelity_ratio": statistics.median(ours) / statistics.median(plain),
            "fidelity_interval": interval, "fidelity_rounds": len(ours), "fidelity_verdict": verdict,
            "fidelity_method": METHOD}

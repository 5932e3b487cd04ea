"""Per-layer times for a runtime with no op profiler (LiteRT's Python
interpreter has none), by timing isolated layers.

Every convolution and linear layer of the model is cut out with the input
shape it sees in the full model, identical (layer, shape) pairs are kept
once, and all of them go into ONE multi-signature artifact (a single
litert-torch conversion), each signature timed alone with the runtime's
Runner and ``edgecnn.runtime.timing``. The interpreter's per-call cost
(setting the input, invoking, reading the output: about 0.1 ms through a
signature runner here) is measured on a one-pixel 1x1 convolution in the
same artifact and subtracted from every layer. Rows come back named after
the PyTorch modules, so they join to the cost table like ONNX Runtime's.

What this does not see: BatchNorm and activations (folded into the
convolution by the converter), elementwise ops (residual adds, SE gates,
pooling) and the time between kernels inside one invocation; the
difference to the whole-model latency is reported as unattributed time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from edgecnn.runtime.timing import TimingConfig, measure, random_inputs

OVERHEAD = "__call_overhead__"
ISOLATED_FORMATS = {"litert": "tflite"}  # runtime -> the format its isolated layers are exported to
METHOD = ("isolated conv/linear layers with the input shape they see in the model, one multi-signature "
          "artifact, each signature timed alone (median of runs) minus the per-call cost of a one-pixel 1x1 "
          "conv; BN/activations are folded into the conv by the converter, elementwise ops are not timed")


def isolated_layers(model: Any, input_shape: list[int]) -> tuple[dict[str, Any], dict[str, tuple], dict[str, str]]:
    """(unique layers by name, their input shapes, name -> name of the unique layer it duplicates)."""
    import torch
    from torch import nn

    shapes: dict[str, tuple] = {}
    layers = {n: m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}

    def hook(name: str):
        def record(mod, args, out):
            shapes.setdefault(name, tuple(args[0].shape))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    try:
        with torch.no_grad():
            model.eval()(torch.randn(*input_shape))
    finally:
        for h in handles:
            h.remove()
    first: dict[tuple, str] = {}
    same_as: dict[str, str] = {}
    for name, mod in layers.items():
        if name not in shapes:
            continue  # never called in forward
        same_as[name] = first.setdefault((repr(mod), shapes[name]), name)
    unique = {n: layers[n] for n in dict.fromkeys(same_as.values())}
    return unique, {n: shapes[n] for n in unique}, same_as


def isolated_layer_times(model: Any, input_shape: list[int], runner_cls: Any, *, threads: int | None = None,
                         runs: int = 10) -> list[dict[str, Any]]:
    """Rows ``{name, op_type, time_ms}`` for every conv/linear layer of ``model``
    (``input_shape`` = the full NCHW input), timed in isolation on ``runner_cls``."""
    from edgecnn.export.artifacts import export_modules

    from torch import nn

    unique, shapes, same_as = isolated_layers(model, input_shape)
    # a 1x1 conv on one pixel: its time is the per-call cost of the interpreter
    # (setting the input, invoking, reading the output), subtracted from each layer
    probe = {OVERHEAD: nn.Conv2d(1, 1, 1, bias=False).eval()}
    config = TimingConfig(warmup=3, warmup_s=0.0, runs=runs, min_time_s=0.0, max_time_s=2.0)
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="edgecnn-layers-") as tmp:
        arts = export_modules({**probe, **unique}, {OVERHEAD: (1, 1, 1, 1), **shapes},
                              ISOLATED_FORMATS[runner_cls.name], Path(tmp))
        for name, art in arts.items():
            path, signature = art
            with runner_cls(threads=threads, signature=signature).load(path) as runner:
                xs = random_inputs(runner.input_shape, dtype=runner.input_dtype, count=2)
                times[name] = measure(runner.infer, inputs=xs, sync=runner.sync, config=config).median_ms
    overhead = times.pop(OVERHEAD)
    return [{"name": name, "op_type": type(unique[src]).__name__, "time_ms": max(0.0, times[src] - overhead),
             "call_overhead_ms": overhead} for name, src in same_as.items()]


def runner_layer_times(runner: Any, model_path: str, input_shape: list[int], runs: int) -> list[dict[str, Any]]:
    """``isolated_layer_times`` of the model saved at ``model_path`` on ``runner``'s
    runtime and threads (what a runtime worker process runs for its runtime)."""
    import torch

    model = torch.load(model_path, map_location="cpu", weights_only=False)
    return isolated_layer_times(model, input_shape, type(runner), threads=runner.threads, runs=runs)

"""Per-layer times for a runtime with no op profiler (LiteRT's Python
interpreter has none), by timing isolated layers.

Every convolution and linear layer of the model is taken with the input
shape it sees in the full model; identical (layer, shape) pairs are timed
once. Two ways to get them, the first preferred:

- **sliced** (``sliced_layer_times``): the layer's own ops (the conv, its
  explicit PAD) are cut out of the very ``.tflite`` the whole model was
  timed from (``edgecnn.profile.tflite_slice``), each slice a model of its
  own: the kernels, fused activations and weights the model runs, and no
  second conversion;
- **converted** (``isolated_layer_times``): each layer module exported again,
  all as signatures of ONE multi-signature artifact (a litert-torch
  conversion, 20-35 s for a 224x224 model here); used when the artifact's
  tensor names do not lead back to the modules.

Each is timed alone with the runtime's Runner and ``edgecnn.runtime.timing``.
The interpreter's per-call cost (setting the input, invoking, reading the
output) is measured on a one-pixel 1x1 convolution and subtracted from every
layer. Rows come back named after the PyTorch modules, so they join to the
cost table like ONNX Runtime's.

What this does not see: elementwise ops (residual adds, SE gates, pooling),
layout transposes and the time between kernels inside one invocation; the
difference to the whole-model latency is reported as unattributed time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

from edgecnn.runtime.timing import TimingConfig, measure, random_inputs

OVERHEAD = "__call_overhead__"
ISOLATED_FORMATS = {"litert": "tflite"}  # runtime -> the format its isolated layers are exported to
METHOD = ("isolated conv/linear layers with the input shape they see in the model, one multi-signature "
          "artifact, each signature timed alone (median of runs) minus the per-call cost of a one-pixel 1x1 "
          "conv; BN/activations are folded into the conv by the converter, elementwise ops are not timed")
SLICED_METHOD = ("each conv/linear layer's ops (the conv with its fused BN/activation, its explicit PAD) cut out "
                 "of the timed .tflite as a model of its own, timed alone (median of runs) minus the per-call "
                 "cost of a one-pixel 1x1 conv; elementwise ops and layout transposes are not timed")


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


def sliced_layer_times(model: Any, input_shape: list[int], artifact: str, runner_cls: Any, *,
                       threads: int | None = None, runs: int = 10) -> Optional[list[dict[str, Any]]]:
    """Rows like ``isolated_layer_times``, each layer's ops sliced out of
    ``artifact`` (the model's own ``.tflite``); None when some layer cannot be
    found in it, sliced or run alone (the caller converts the layers instead)."""
    from edgecnn.profile import tflite_slice as ts

    unique, shapes, same_as = isolated_layers(model, input_shape)
    try:
        fb = ts.read_model(str(artifact))
        found = ts.ops_by_module(fb, unique)
    except Exception:
        return None
    kinds = ts.op_names(fb)
    if set(found) != set(unique) or any(not any(kinds[i] in ts.COMPUTE_OPS for i in ops) for ops in found.values()):
        return None
    tensors = fb.subgraphs[0].tensors
    for name, ops in found.items():  # the slice must take what the module takes (NCHW in PyTorch, NHWC here)
        want = list(shapes[name])
        want = [want[0], *want[2:], want[1]] if len(want) == 4 else want
        if [int(d) for d in tensors[fb.subgraphs[0].operators[min(ops)].inputs[0]].shape] != want:
            return None
    config = TimingConfig(warmup=3, warmup_s=0.0, runs=runs, min_time_s=0.0, max_time_s=2.0)
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="edgecnn-slices-") as tmp:
        files = {OVERHEAD: ts.probe_model()}
        for name in unique:
            data = ts.slice_model(fb, found[name])
            if data is None:
                return None
            files[name] = data
        for i, (name, data) in enumerate(files.items()):
            path = Path(tmp) / f"{i}.tflite"
            path.write_bytes(data)
            try:
                with runner_cls(threads=threads).load(path) as runner:
                    xs = random_inputs(runner.input_shape, dtype=runner.input_dtype, count=2)
                    times[name] = measure(runner.infer, inputs=xs, sync=runner.sync, config=config).median_ms
            except Exception:  # a slice the interpreter will not run alone: convert the layers instead
                return None
    overhead = times.pop(OVERHEAD)
    return [{"name": name, "op_type": type(unique[src]).__name__, "time_ms": max(0.0, times[src] - overhead),
             "call_overhead_ms": overhead, "tflite_ops": [kinds[i] for i in found[src]], "method": SLICED_METHOD}
            for name, src in same_as.items()]


def runner_layer_times(runner: Any, model_path: str, input_shape: list[int], runs: int) -> list[dict[str, Any]]:
    """Per-layer rows of the model saved at ``model_path`` on ``runner``'s
    runtime and threads (what a runtime worker process runs for its runtime):
    sliced from the artifact ``runner`` loaded where its names allow, else
    ``isolated_layer_times``. Each row names its ``method``."""
    import torch

    model = torch.load(model_path, map_location="cpu", weights_only=False)
    artifact = getattr(runner, "path", None)
    if artifact and str(artifact).endswith(".tflite"):
        rows = sliced_layer_times(model, input_shape, artifact, type(runner), threads=runner.threads, runs=runs)
        if rows is not None:
            return rows
    return [{**r, "method": METHOD} for r in isolated_layer_times(model, input_shape, type(runner),
                                                                 threads=runner.threads, runs=runs)]

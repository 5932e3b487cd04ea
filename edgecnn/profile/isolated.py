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
  conversion, 20-35 s for a 224x224 model here), each signature's subgraph
  then cut into a model of its own; used when the artifact's tensor names do
  not lead back to the modules.

Each model of one layer is loaded alone with the runtime's Runner and timed
with ``edgecnn.runtime.timing``, interleaved: its whole call (set the input,
invoke, get the output), and its two copies on their own, the input set and
the output get. A layer's time is its call minus **its own** copies (medians).
A layer whose call is faster than its copies' medians (a tiny layer, noise)
gets no time: ``time_ms`` None and ``below_copies`` true, its three figures
beside it, never a 0 that looks measured. Rows come back named after the
PyTorch modules, so they join to the cost table like ONNX Runtime's.

What this does not see: elementwise ops (residual adds, SE gates, pooling),
layout transposes and the time between kernels inside one invocation; the
difference to the whole-model latency is reported as unattributed time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

from edgecnn.runtime.timing import TimingConfig, interleave, random_inputs

ISOLATED_FORMATS = {"litert": "tflite"}  # runtime -> the format its isolated layers are exported to
# warm-up 5 calls per series (XNNPACK packs the weights on the first call), without the 0.2 s a whole model
# gets: on mobilenet_v2 at 224 (31 slices, 3 rounds alternating) 0.2 s per series changed the sum of the layer
# times by -1.6, +4.1 and +7.4 % (the noise: per-layer ratios 0.65-1.84) and took 20-21 s a model, not 1.5-4 s
WARMUP = {"warmup": 5, "warmup_s": 0.0}
COPIES = ("its call (set input, invoke, get output) minus its own input set and output get, the three timed "
          "interleaved on that layer alone (medians; warm-up 5 calls each); a layer faster than its copies gets "
          "no time (below_copies)")
METHOD = ("isolated conv/linear layers with the input shape they see in the model, converted as one "
          "multi-signature artifact, each signature's subgraph a model of its own, timed alone: " + COPIES +
          "; BN/activations are folded into the conv by the converter, elementwise ops are not timed")
SLICED_METHOD = ("each conv/linear layer's ops (the conv with its fused BN/activation, its explicit PAD) cut out "
                 "of the timed .tflite as a model of its own, timed alone: " + COPIES +
                 "; elementwise ops and layout transposes are not timed")


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


def time_alone(models: dict[str, bytes], runner_cls: Any, *, threads: Optional[int] = None,
               runs: int = 10) -> dict[str, dict[str, float]]:
    """name -> ``{call_ms, input_set_ms, output_get_ms}``: each one-subgraph
    ``.tflite`` (bytes) loaded alone on ``runner_cls`` and its whole call,
    its input set and its output get timed interleaved (medians, ``WARMUP``
    each, then at least ``runs`` samples each). Raises what the runner raises."""
    config = TimingConfig(**WARMUP, runs=runs, min_time_s=0.0, max_time_s=2.0)
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="edgecnn-layers-") as tmp:
        for i, (name, data) in enumerate(models.items()):
            path = Path(tmp) / f"{i}.tflite"
            path.write_bytes(data)
            with runner_cls(threads=threads).load(path) as runner:
                xs = random_inputs(runner.input_shape, dtype=runner.input_dtype, count=2)
                st = interleave({"call": runner.infer, "input_set": runner.set_input, "output_get": runner.get_output},
                                inputs={"call": xs, "input_set": xs}, config=config)
            out[name] = {f"{k}_ms": st[k].median_ms for k in ("call", "input_set", "output_get")}
    return out


def layer_row(name: str, op_type: str, figures: dict[str, float]) -> dict[str, Any]:
    """A timed row: the layer's call minus its own copies, or no time and
    ``below_copies`` where the call is faster than its copies."""
    compute = figures["call_ms"] - figures["input_set_ms"] - figures["output_get_ms"]
    row = {"name": name, "op_type": op_type, "time_ms": compute if compute >= 0 else None, **figures}
    if compute < 0:
        row["below_copies"] = True
    return row


def isolated_layer_times(model: Any, input_shape: list[int], runner_cls: Any, *, threads: int | None = None,
                         runs: int = 10) -> list[dict[str, Any]]:
    """Rows ``{name, op_type, time_ms, ...}`` for every conv/linear layer of
    ``model`` (``input_shape`` = the full NCHW input), converted again and
    timed in isolation on ``runner_cls`` (``time_alone``)."""
    from edgecnn.export.artifacts import export_modules
    from edgecnn.profile import tflite_slice as ts

    unique, shapes, same_as = isolated_layers(model, input_shape)
    models: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="edgecnn-layers-") as tmp:
        arts = export_modules(unique, shapes, ISOLATED_FORMATS[runner_cls.name], Path(tmp))
        for name, (path, signature) in arts.items():
            fb = ts.read_model(str(path))
            data = ts.slice_model(fb, None, subgraph=ts.signature_subgraph(fb, signature))
            if data is None:
                raise ValueError(f"the converted layer {name} takes more than one input: it cannot be timed alone")
            models[name] = data
    figures = time_alone(models, runner_cls, threads=threads, runs=runs)
    return [layer_row(name, type(unique[src]).__name__, figures[src]) for name, src in same_as.items()]


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
    slices = {name: ts.slice_model(fb, found[name]) for name in unique}
    if any(data is None for data in slices.values()):
        return None
    try:
        figures = time_alone(slices, runner_cls, threads=threads, runs=runs)
    except Exception:  # a slice the interpreter will not run alone: convert the layers instead
        return None
    return [{**layer_row(name, type(unique[src]).__name__, figures[src]),
             "tflite_ops": [kinds[i] for i in found[src]], "method": SLICED_METHOD} for name, src in same_as.items()]


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

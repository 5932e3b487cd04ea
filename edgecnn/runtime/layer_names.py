"""PyTorch module names for per-layer times of runtimes that rename layers.

ONNX-based runtimes keep the exporter's node names (``/layer1/layer1.0/conv1/Conv``)
and ``module_of`` turns them into module names. Converters that rename every
layer (pnnx for NCNN: ``convrelu_0``; XNNPACK inside ExecuTorch:
``Convolution (NHWC, F32) IGEMM #3``) keep the order of the graph, which is
the order PyTorch runs the modules in. So the exporter records the compute
modules (Conv2d, Linear) in call order (``compute_modules``, stored in the
artifact's metadata as ``layer_modules``), and the runner pairs the runtime's
compute layers with them one by one (``pair_in_order``), checking each pair
(output channels, depthwise or not). At the first pair that does not fit,
naming stops: the remaining rows keep the runtime's own names and end up as
unmatched rows of the layer table rather than being attached to a wrong module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from edgecnn.runtime.onnxruntime_runner import module_of


def compute_modules(model: Any, sample: Any) -> list[dict[str, Any]]:
    """Conv and Linear modules of ``model`` in the order one forward pass calls
    them: ``{name, type, in_channels, out_channels, groups, kernel}`` each."""
    import torch
    from torch import nn

    calls: list[dict[str, Any]] = []
    handles = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.modules.conv._ConvNd):
            info = {"name": name, "type": type(mod).__name__, "in_channels": int(mod.in_channels),
                    "out_channels": int(mod.out_channels), "groups": int(mod.groups),
                    "kernel": [int(k) for k in mod.kernel_size]}
        elif isinstance(mod, nn.Linear):
            info = {"name": name, "type": "Linear", "in_channels": int(mod.in_features),
                    "out_channels": int(mod.out_features), "groups": 1, "kernel": []}
        else:
            continue
        handles.append(mod.register_forward_hook(lambda m, a, o, info=info: calls.append(dict(info))))
    try:
        with torch.no_grad():
            model.eval()(sample)
    finally:
        for h in handles:
            h.remove()
    return calls


def is_depthwise(module: dict[str, Any]) -> bool:
    groups = int(module.get("groups", 1))
    return groups > 1 and groups == int(module.get("in_channels", 0))


def pair_in_order(ops: Sequence[dict[str, Any]], modules: Sequence[dict[str, Any]],
                  fits: Callable[[dict[str, Any], dict[str, Any]], bool]) -> dict[int, str]:
    """{index in ``ops``: module name} for the compute ops (``op["compute"]``)
    paired in order with ``modules`` while ``fits(op, module)`` holds."""
    names: dict[int, str] = {}
    it = iter(modules)
    for i, op in enumerate(ops):
        if not op.get("compute"):
            continue
        module = next(it, None)
        if module is None or not fits(op, module):
            break
        names[i] = module["name"]
    return names


def onnx_layer_labels(onnx_path: str | Path) -> dict[str, str]:
    """{name a runtime may give a layer: a ``/``-path naming its module} for an ONNX
    file from edgecnn's exporter, covering the names that say no module: nodes
    the optimizer renamed (``node_Conv_3``) and graph outputs (runtimes that name
    a layer after its output tensor call the last one ``logits``). See
    ``onnxruntime_runner.node_label``."""
    import onnx

    from edgecnn.runtime.onnxruntime_runner import node_label

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    labels = {n.name: node_label(n, inits) for n in graph.node if n.name and not n.name.startswith("/")}
    producer = {out: n for n in graph.node for out in n.output}
    for o in graph.output:
        if o.name in producer:
            labels[o.name] = node_label(producer[o.name], inits)
    return {k: v for k, v in labels.items() if v.startswith("/")}


_OV_SUFFIXES = ("/WithoutBiases", "/Fused", "/fq_weights_1", "/fq_weights_0")


def openvino_module(node: str) -> str | None:
    """OpenVINO node name from an ONNX model -> PyTorch module name, or None for
    nodes OpenVINO adds (reorders: ``input_abcd_acdb_/...``; converts)."""
    if "_abcd_" in node or "_acdb_" in node or not node.startswith("/"):
        return None
    for suf in _OV_SUFFIXES:
        if node.endswith(suf):
            node = node[: -len(suf)]
    return module_of(node) or None

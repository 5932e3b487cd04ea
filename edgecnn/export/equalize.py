"""Cross-layer equalisation (CLE, Nagel et al. 2019, "Data-Free Quantization") in PyTorch, before export.

Two convolutions joined by a ReLU compute the same function when output
channel ``c`` of the first is divided by ``s_c`` and input channel ``c`` of
the second multiplied by it (ReLU is positively homogeneous). CLE picks
``s_c`` so both channels span the same weight range, which evens out the
per-channel ranges a per-tensor scale must cover (MobileNet depthwise layers
range over orders of magnitude).

What a library does: ``torch.ao.quantization._equalize.cross_layer_equalization``
rescales one pair. What this module adds (no maintained library does it for a
plain PyTorch model headed for ONNX; NNCF's channel alignment is
OpenVINO-only, AIMET is not installed here): folding BatchNorm into the
convolutions (``torch.nn.utils.fusion.fuse_conv_bn_eval``), finding the pairs
in the traced graph (conv -> [ReLU] -> conv with no other user between;
depthwise seconds take their scale on axis 0), and iterating to convergence.
Hardswish, ReLU6, SE scaling or a residual add between two convs stop a pair
(not homogeneous, or the scale would leak), so on MobileNetV3 only its ReLU
blocks are equalised. The model keeps its function (checked by the caller's
parity figures against the original).
"""

from __future__ import annotations

import copy
from typing import Any

MAX_ITERATIONS = 20
THRESHOLD = 1e-4


def fold_batchnorm(model: Any) -> int:
    """Fold every BatchNorm2d that directly follows a Conv2d in an ``nn.Sequential``
    into that conv (the BN becomes Identity); returns how many were folded."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        keys = list(seq._modules)
        for a, b in zip(keys, keys[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                seq._modules[a] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                seq._modules[b] = nn.Identity()
                folded += 1
    return folded


def find_pairs(model: Any) -> list[tuple[str, str]]:
    """(first conv, second conv) module names joined only by ReLU / Identity."""
    import torch.fx
    from torch import nn

    gm = torch.fx.symbolic_trace(model)
    mods = dict(gm.named_modules())

    def module(node: Any) -> Any:
        return mods.get(node.target) if node.op == "call_module" else None

    def passes(node: Any) -> bool:  # a homogeneous step between two convs
        m = module(node)
        if isinstance(m, (nn.ReLU, nn.Identity)):
            return True
        return node.op == "call_function" and getattr(node.target, "__name__", "") == "relu"

    pairs = []
    for node in gm.graph.nodes:
        if not isinstance(module(node), nn.Conv2d):
            continue
        cur = node
        while len(cur.users) == 1:
            nxt = next(iter(cur.users))
            if isinstance(module(nxt), nn.Conv2d):
                pairs.append((node.target, nxt.target))
                break
            if not passes(nxt):
                break
            cur = nxt
    return pairs


def _scale_pair(first: Any, second: Any) -> None:
    from torch.ao.quantization._equalize import cross_layer_equalization

    depthwise = second.groups > 1 and second.groups == second.in_channels
    cross_layer_equalization(first, second, output_axis=0, input_axis=0 if depthwise else 1)


def equalize(model: Any) -> tuple[Any, dict[str, Any]]:
    """A copy of ``model`` (eval mode) with BatchNorm folded and every pair
    equalised; returns (model, figures: ``cle_pairs``, ``bn_folded``, ``cle_iterations``)."""
    import torch

    out = copy.deepcopy(model).eval()
    folded = fold_batchnorm(out)
    pairs = find_pairs(out)
    mods = dict(out.named_modules())
    iterations = 0
    with torch.no_grad():
        for iterations in range(1, MAX_ITERATIONS + 1):
            before = {n: mods[n].weight.detach().clone() for p in pairs for n in p}
            for a, b in pairs:
                _scale_pair(mods[a], mods[b])
            change = max((float((mods[n].weight - w).abs().max()) for n, w in before.items()), default=0.0)
            if change < THRESHOLD:
                break
    for mod in out.modules():  # cross_layer_equalization sets new Parameters; keep them out of autograd
        for p in mod.parameters(recurse=False):
            p.requires_grad_(False)
    for attr in ("edgecnn_card", "edgecnn_config"):
        if hasattr(model, attr):
            setattr(out, attr, getattr(model, attr))
    return out, {"cle_pairs": len(pairs), "bn_folded": folded, "cle_iterations": iterations}

"""Count a model's cost layer by layer: one forward pass, traced two ways.

Forward hooks keep a stack of the modules that are running (their names
name the rows, so profilers can join per-layer times on them), and a
``torch.overrides.TorchFunctionMode`` sees every top-level torch call:
``F.conv2d`` inside ``nn.Conv2d``, and functional code in ``forward()``
such as residual ``x + y``, SE gates ``s * x``, ``torch.cat``,
``x.mean((2, 3))``. Each call is priced by the formula table in
``edgecnn.cost.formulas``; a call with no formula goes to ``unsupported``
(never counted as zero) and the rest of the model is still counted.

The forward pass runs in eval mode under ``torch.no_grad`` on the device of
the model's parameters (``meta`` works: shapes only, no arithmetic).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from edgecnn.cost.formulas import FORMULAS, OpCall, canonical_op, op_kind
from edgecnn.cost.rows import (BYTES_PER_ELEMENT, CostReport, InputSize, LayerCost, UnsupportedOp,  # noqa: F401
                               bytes_per_element, check_batch, cost_totals, input_size_dims)
from edgecnn.errors import InvalidOptionError


def normalize_input_size(model: nn.Module, input_size: InputSize) -> list[int]:
    """``224`` -> [C, 224, 224] (C from the first conv/linear), ``(H, W)`` -> [C, H, W],
    ``(C, H, W)`` kept. Raises InvalidOptionError for non-positive sizes."""
    dims = input_size_dims(input_size)
    if len(dims) == 3:
        return dims
    hw = dims * 2 if len(dims) == 1 else dims
    return [_in_channels(model), *hw]


def _in_channels(model: nn.Module) -> int:
    for mod in model.modules():
        if isinstance(mod, nn.modules.conv._ConvNd):
            return int(mod.in_channels)
    return 3


class _Tracer(TorchFunctionMode):
    def __init__(self, names: dict[nn.Module, str], leaf: set, bpe: int) -> None:
        super().__init__()
        self.names = names
        self.leaf = leaf
        self.bpe = bpe
        self.stack: list[nn.Module] = []
        self.rows: list[LayerCost] = []
        self.param_ids: dict[int, int] = {}
        self.seen: dict[str, int] = {}
        self.unsupported: dict[str, list[str]] = {}

    def where(self) -> str:
        return self.names.get(self.stack[-1], "") if self.stack else ""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        op = canonical_op(func)
        kind = op_kind(op)
        if kind == "formula":
            # priced now, so the activations are not kept alive until the end
            self._price(OpCall(op, tuple(args), dict(kwargs), out), self.stack[-1] if self.stack else None)
        elif kind == "unsupported":
            self.unsupported.setdefault(op, []).append(self.where() or "(model forward)")
        return out

    def _price(self, call: OpCall, mod: Optional[nn.Module]) -> None:
        cost = FORMULAS[call.op](call)
        modname = self.names.get(mod, "") if mod is not None else ""
        if mod is not None and mod in self.leaf:
            name, typ = modname, type(mod).__name__
        else:
            name, typ = (f"{modname}:{call.op}" if modname else call.op), call.op
        self.seen[name] = self.seen.get(name, 0) + 1
        if self.seen[name] > 1:
            name = f"{name}#{self.seen[name]}"
        weights = cost.weights
        wids = {id(w) for w in weights}
        acts = cost.activations_in if cost.activations_in is not None else \
            [t for t in call.tensor_inputs if id(t) not in wids]
        acts = [a for a in acts if isinstance(a, torch.Tensor)]
        outs = call.tensor_outputs
        params = [w for w in weights if isinstance(w, nn.Parameter)]
        for w in params:
            self.param_ids[id(w)] = w.numel()
        bpe = self.bpe
        b_read = (sum(w.numel() for w in weights) + sum(a.numel() for a in acts)) * bpe
        b_written = sum(o.numel() for o in outs) * bpe
        total_b = b_read + b_written
        x0 = acts[0] if acts else None
        y0 = outs[0] if outs else None
        self.rows.append(LayerCost(
            name=name, type=typ, op=call.op, category=cost.category,
            input_shape=list(x0.shape[1:]) if x0 is not None else [],
            output_shape=list(y0.shape[1:]) if y0 is not None else [],
            kernel=cost.kernel, stride=cost.stride, groups=cost.groups, macs=int(cost.macs),
            params=int(sum(w.numel() for w in params)),
            bytes_read=int(b_read), bytes_written=int(b_written),
            arithmetic_intensity=round(cost.macs / total_b, 4) if total_b else 0.0,
            in_channels=int(x0.shape[1]) if x0 is not None and x0.dim() > 1 else None,
            out_channels=int(y0.shape[1]) if y0 is not None and y0.dim() > 1 else None,
        ))


def count_cost(model: nn.Module, input_size: InputSize, precision: str = "fp32", batch: int = 1) -> CostReport:
    """Per-layer MACs, parameters, bytes and arithmetic intensity of ``model``
    for one forward pass on a ``batch x C x H x W`` input.

    ``input_size``: an int (square side), (H, W) or (C, H, W). ``precision``
    sets the bytes per element (fp32 4, fp16/bf16 2, int8 1) of weights and
    activations. Totals: ``conv_linear_macs`` (what papers and torchvision
    quote), ``other_macs`` (pooling, norm, activations, elementwise),
    ``params`` (parameters of the layers that ran, each counted once),
    ``bytes_read``/``bytes_written``/``bytes``, ``arithmetic_intensity``
    (total MACs per byte). Impossible shapes raise ``InvalidOptionError``.
    """
    bpe = bytes_per_element(precision)
    check_batch(batch)
    shape = normalize_input_size(model, input_size)
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    x = torch.zeros(batch, *shape, device=device, dtype=dtype) if device.type == "meta" else \
        torch.randn(batch, *shape, device=device, dtype=dtype)

    names = {m: n for n, m in model.named_modules()}
    leaf = {m for m in model.modules() if next(m.children(), None) is None}
    tracer = _Tracer(names, leaf, bpe)

    def pre(mod, _inp):
        tracer.stack.append(mod)

    def post(mod, _inp, _out):
        if tracer.stack and tracer.stack[-1] is mod:
            tracer.stack.pop()

    handles = []
    for mod in model.modules():
        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), tracer:
            model(x)
    except RuntimeError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidOptionError(f"{type(model).__name__} cannot run on a {batch}x{'x'.join(map(str, shape))} "
                                 f"input: {msg}") from None
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    rows = tracer.rows
    unsupported = [UnsupportedOp(op, sorted(set(where)), len(where)) for op, where in sorted(tracer.unsupported.items())]
    return CostReport(layers=rows, totals=cost_totals(rows, sum(tracer.param_ids.values()), bpe),
                      unsupported=unsupported, input_shape=shape, precision=precision, batch=batch)



def count_model(name: str, input_size: int | None = None, precision: str = "fp32", batch: int = 1,
                num_classes: int | None = None) -> CostReport:
    """``count_cost`` of zoo model ``name``, built on the ``meta`` device: shapes
    only, no weights and no arithmetic, so the same table in about half the
    time (every zoo model gives identical rows). ``input_size`` defaults to the
    card's; a precision with no byte width here (``int8_dynamic``) counts as fp32."""
    from edgecnn.models import create_model

    with torch.device("meta"):
        model = create_model(name, input_size=input_size, num_classes=num_classes)
    precision = precision if precision in BYTES_PER_ELEMENT else "fp32"
    size = model.edgecnn_config["input_size"]
    try:
        return count_cost(model, size, precision=precision, batch=batch)
    except InvalidOptionError:
        # meta kernels word shape errors tersely; the same failure on real tensors says what does not fit
        real = create_model(name, input_size=input_size, num_classes=num_classes)
        return count_cost(real, size, precision=precision, batch=batch)

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

from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence, Union

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from edgecnn.cost.formulas import FORMULAS, OpCall, canonical_op, op_kind
from edgecnn.errors import InvalidOptionError

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}

InputSize = Union[int, Sequence[int]]


@dataclass
class LayerCost:
    """One row: a leaf module's op, or a functional op in a container's forward.

    ``macs`` for the whole batch; shapes are per sample (no batch dim);
    bytes at the report's precision: ``bytes_read`` = weights/state + input
    activations, ``bytes_written`` = output activations; ``arithmetic_intensity``
    = macs / (bytes_read + bytes_written) in MACs per byte.
    """

    name: str
    type: str
    op: str
    category: str  # conv | linear | other
    input_shape: list[int]
    output_shape: list[int]
    kernel: Optional[list[int]]
    stride: Optional[list[int]]
    groups: Optional[int]
    macs: int
    params: int
    bytes_read: int
    bytes_written: int
    arithmetic_intensity: float
    in_channels: Optional[int] = None
    out_channels: Optional[int] = None
    node: Optional[str] = None  # the node's own name in a model file (ONNX node, TFLite output tensor)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["node"] is None:  # rows of PyTorch modules have no file node
            del d["node"]
        return d


@dataclass
class UnsupportedOp:
    """An op the formula table does not know, where it ran, and how often."""

    op: str
    layers: list[str]
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CostReport:
    layers: list[LayerCost]
    totals: dict[str, Any]
    unsupported: list[UnsupportedOp]
    input_shape: list[int]  # one sample, [C, H, W]
    precision: str
    batch: int
    conventions: str = field(default="MACs: one multiply-accumulate = 1; conv/linear bias adds not counted; "
                                     "other ops in MAC-equivalents (see edgecnn.cost.formulas)")

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": self.input_shape, "precision": self.precision, "batch": self.batch,
                "totals": self.totals, "unsupported": [u.to_dict() for u in self.unsupported],
                "layers": [r.to_dict() for r in self.layers], "conventions": self.conventions}

    def to_record(self, model_name: str, *, device: str = "local", dataset: str | None = None,
                  variant: str | None = None, include_layers: bool = True):
        """An analytic ``cost`` Record (``metrics``: macs = conv/linear MACs,
        other_macs, params, bytes, bytes_read, bytes_written, arithmetic_intensity,
        unsupported_ops, layers)."""
        from edgecnn.records import Record, environment

        t = self.totals
        metrics = {
            "macs": t["conv_linear_macs"], "other_macs": t["other_macs"], "total_macs": t["total_macs"],
            "params": t["params"], "bytes": t["bytes"], "bytes_read": t["bytes_read"],
            "bytes_written": t["bytes_written"], "arithmetic_intensity": t["arithmetic_intensity"],
            "unsupported_ops": [u.to_dict() for u in self.unsupported],
        }
        if include_layers:
            metrics["layers"] = [r.to_dict() for r in self.layers]
        status = "ok"
        error = None
        if self.unsupported:
            error = "ops without a cost formula: " + ", ".join(u.op for u in self.unsupported)
        return Record(kind="cost", model=model_name, status=status, source="analytic", device=device,
                      precision=self.precision, batch=self.batch, input_shape=self.input_shape,
                      dataset=dataset, variant=variant, error=error, metrics=metrics, env=environment())


def bytes_per_element(precision: str) -> int:
    try:
        return BYTES_PER_ELEMENT[precision]
    except KeyError:
        raise InvalidOptionError(f"unknown precision {precision!r}; choose one of "
                                 f"{', '.join(BYTES_PER_ELEMENT)}") from None


def check_batch(batch: int) -> None:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidOptionError(f"batch must be a positive integer, got {batch!r}")


def normalize_input_size(model: nn.Module, input_size: InputSize) -> list[int]:
    """``224`` -> [C, 224, 224] (C from the first conv/linear), ``(H, W)`` -> [C, H, W],
    ``(C, H, W)`` kept. Raises InvalidOptionError for non-positive sizes."""
    dims = input_size_dims(input_size)
    if len(dims) == 3:
        return dims
    hw = dims * 2 if len(dims) == 1 else dims
    return [_in_channels(model), *hw]


def input_size_dims(input_size: InputSize) -> list[int]:
    """``input_size`` as a list of 1 to 3 positive ints (S, [H, W] or [C, H, W]);
    InvalidOptionError otherwise."""
    if isinstance(input_size, bool):
        raise InvalidOptionError(f"input size must be a positive integer, got {input_size!r}")
    dims = [input_size] if isinstance(input_size, int) else list(input_size)
    if not dims or len(dims) > 3 or any(not isinstance(d, int) or isinstance(d, bool) or d <= 0 for d in dims):
        raise InvalidOptionError(f"input size must be 1 to 3 positive integers (S, HxW or CxHxW), got {input_size!r}")
    return dims


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
    return CostReport(layers=rows, totals=cost_totals(rows, tracer.param_ids, bpe), unsupported=unsupported,
                      input_shape=shape, precision=precision, batch=batch)



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

def cost_totals(rows: list[LayerCost], param_ids: dict[Any, int], bpe: int) -> dict[str, Any]:
    conv_linear = sum(r.macs for r in rows if r.category in ("conv", "linear"))
    other = sum(r.macs for r in rows if r.category not in ("conv", "linear"))
    b_read = sum(r.bytes_read for r in rows)
    b_written = sum(r.bytes_written for r in rows)
    total = b_read + b_written
    return {
        "conv_linear_macs": int(conv_linear),
        "other_macs": int(other),
        "total_macs": int(conv_linear + other),
        "params": int(sum(param_ids.values())),
        "bytes_read": int(b_read),
        "bytes_written": int(b_written),
        "bytes": int(total),
        "arithmetic_intensity": round((conv_linear + other) / total, 4) if total else 0.0,
        "conv_linear_arithmetic_intensity": round(
            conv_linear / max(1, sum(r.bytes_read + r.bytes_written for r in rows
                                     if r.category in ("conv", "linear"))), 4),
        "layers": len(rows),
        "bytes_per_element": bpe,
    }


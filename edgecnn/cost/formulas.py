"""The formula table: canonical op name -> cost handler.

Conventions (units are MACs, one multiply-accumulate = 1):

- convolution: ``N * C_out * H_out * W_out * (C_in / groups) * K_h * K_w``
  (covers standard, grouped, depthwise, pointwise, dilated and strided
  convolutions; dilation changes the output size, not the work per output;
  the bias add is not counted, as in torchvision, fvcore and the papers).
- linear: ``rows * in_features * out_features`` (bias not counted).

These two are the "conv/linear MACs" that papers and torchvision quote.
Everything else is an "other op", counted in MAC-equivalents, one per
elementary operation per element:

- BatchNorm at inference: 2 per element with affine weights, 1 without
  (fvcore's convention: normalise, then scale and shift);
- LocalResponseNorm: ``size + 2`` per element (window sum of squares, then
  the power and the division);
- activations (ReLU, ReLU6/hardtanh, sigmoid, hardsigmoid, hardswish, SiLU,
  GELU, tanh, ...): 1 per output element;
- max / average pooling: ``K_h * K_w`` per output element (compares or
  adds); adaptive pooling and ``mean``/``sum`` reductions: 1 per input element;
- elementwise add / sub / mul / div (residuals, SE gates): 1 per output element;
- softmax: 3 per element (exp, sum, divide);
- layer/group/instance norm: 5 per element with affine weights, 4 without (fvcore's estimate);
- interpolate: taps per output element (nearest 1, linear 2, bilinear 4, trilinear 8, bicubic 16);
- elementwise math and comparisons (exp, sqrt, pow, eq, where, masked_fill, ...): 1 per output element;
- concatenation, ``contiguous``/``clone``, padding, ``roll``, slice assignment: 0 MACs, bytes moved only;
- dropout at inference: identity, 0 MACs (rows keep its bytes).

Views (reshape, flatten, permute, transpose, chunk, split, slicing) do no
arithmetic and move no data: they are known (never "unsupported") but make
no row. Metadata queries (``dim``, ``size``, ``shape``) are ignored.

Adding an op: one entry in ``FORMULAS`` (often via a factory below) plus a
closed-form case in ``tests/cost/test_cost_formulas.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch


@dataclass
class OpCall:
    """One traced op: its canonical name, arguments and result."""

    op: str
    args: tuple
    kwargs: dict
    output: Any

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        if name in self.kwargs:
            return self.kwargs[name]
        return self.args[index] if len(self.args) > index else default

    @property
    def tensor_inputs(self) -> list[torch.Tensor]:
        return _tensors(list(self.args) + list(self.kwargs.values()))

    @property
    def tensor_outputs(self) -> list[torch.Tensor]:
        return _tensors([self.output])


@dataclass
class OpCost:
    """What a handler returns. ``category``: "conv", "linear" or "other";
    ``weights``: tensors of the op that are weights/state (not activations)."""

    macs: int
    category: str = "other"
    kernel: Optional[list[int]] = None
    stride: Optional[list[int]] = None
    groups: Optional[int] = None
    weights: list[torch.Tensor] = field(default_factory=list)
    activations_in: Optional[list[torch.Tensor]] = None  # default: all tensor inputs not in weights


Handler = Callable[[OpCall], OpCost]


def _tensors(items: list) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    for it in items:
        if isinstance(it, torch.Tensor):
            out.append(it)
        elif isinstance(it, (list, tuple)):
            out.extend(_tensors(list(it)))
    return out


def _pair(v: Any, n: int) -> list[int]:
    if isinstance(v, (list, tuple)):
        return [int(x) for x in v] if len(v) == n else [int(v[0])] * n
    return [int(v)] * n


def _numel(t: Optional[torch.Tensor]) -> int:
    return int(t.numel()) if isinstance(t, torch.Tensor) else 0


def _first_out(call: OpCall) -> torch.Tensor:
    outs = call.tensor_outputs
    if not outs:
        raise ValueError(f"{call.op} returned no tensor")
    return outs[0]


# ---------------------------------------------------------------------------
# factories
# ---------------------------------------------------------------------------
def conv_handler(ndim: int, transposed: bool = False) -> Handler:
    """``F.conv{1,2,3}d(input, weight, bias, stride, padding, dilation, groups)``."""

    def handle(call: OpCall) -> OpCost:
        x, w, b = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
        out = _first_out(call)
        groups = int(call.arg(6, "groups", 1))  # the same position in conv and conv_transpose
        stride = _pair(call.arg(3, "stride", 1), ndim)
        if transposed:
            # each input element is multiplied into C_out/groups * K outputs
            macs = _numel(x) * (w.shape[1]) * math.prod(w.shape[2:])
        else:
            # w: [C_out, C_in/groups, *K]; work per output element = C_in/groups * prod(K)
            macs = _numel(out) * math.prod(w.shape[1:])
        return OpCost(macs=int(macs), category="conv", kernel=[int(k) for k in w.shape[2:]], stride=stride,
                      groups=groups, weights=[t for t in (w, b) if isinstance(t, torch.Tensor)],
                      activations_in=[x])

    return handle


def linear_handler(call: OpCall) -> OpCost:
    """``F.linear(input, weight[out, in], bias)``: rows * in * out."""
    x, w, b = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    rows = _numel(x) // int(w.shape[-1])
    return OpCost(macs=rows * int(w.shape[0]) * int(w.shape[1]), category="linear",
                  weights=[t for t in (w, b) if isinstance(t, torch.Tensor)], activations_in=[x])


def matmul_handler(call: OpCall) -> OpCost:
    """``a @ b`` / ``mm`` / ``bmm``: output elements * inner dimension."""
    a = call.arg(0, "input")
    return OpCost(macs=_numel(_first_out(call)) * int(a.shape[-1]), category="linear")


def addmm_handler(call: OpCall) -> OpCost:
    """``addmm(bias, x, w)`` (old-style linear): rows * in * out."""
    bias, x, w = call.arg(0, "input"), call.arg(1, "mat1"), call.arg(2, "mat2")
    return OpCost(macs=_numel(_first_out(call)) * int(x.shape[-1]), category="linear",
                  weights=[t for t in (w, bias) if isinstance(t, torch.Tensor)], activations_in=[x])


def per_output(scale: float, category: str = "other") -> Handler:
    """``scale`` ops per output element (activations, elementwise arithmetic)."""

    def handle(call: OpCall) -> OpCost:
        return OpCost(macs=int(round(scale * _numel(_first_out(call)))), category=category)

    return handle


def per_input(scale: float) -> Handler:
    """``scale`` ops per element of the first input (reductions, adaptive pooling)."""

    def handle(call: OpCall) -> OpCost:
        return OpCost(macs=int(round(scale * _numel(call.tensor_inputs[0]))))

    return handle


def pool_handler(ndim: int) -> Handler:
    """``F.max_pool2d / avg_pool2d(input, kernel_size, stride, ...)``: K per output element."""

    def handle(call: OpCall) -> OpCost:
        kernel = _pair(call.arg(1, "kernel_size"), ndim)
        stride_arg = call.arg(2, "stride")
        stride = _pair(stride_arg if stride_arg not in (None, [], ()) else kernel, ndim)
        return OpCost(macs=_numel(_first_out(call)) * math.prod(kernel), kernel=kernel, stride=stride)

    return handle


def batch_norm_handler(call: OpCall) -> OpCost:
    """``F.batch_norm(input, running_mean, running_var, weight, bias, ...)``."""
    x = call.arg(0, "input")
    weight = call.arg(3, "weight")
    state = [t for t in (call.arg(1, "running_mean"), call.arg(2, "running_var"), weight, call.arg(4, "bias"))
             if isinstance(t, torch.Tensor)]
    return OpCost(macs=_numel(x) * (2 if weight is not None else 1), weights=state, activations_in=[x])


def norm_handler(weight_index: int) -> Handler:
    """layer_norm / group_norm / instance_norm: 5 per element with affine weights,
    4 without (mean, variance, normalise, [scale+shift]); fvcore's estimate."""

    def handle(call: OpCall) -> OpCost:
        x = call.arg(0, "input")
        weight = call.arg(weight_index, "weight")
        state = [t for t in call.tensor_inputs[1:] if isinstance(t, torch.Tensor)]
        return OpCost(macs=_numel(x) * (5 if weight is not None else 4), weights=state, activations_in=[x])

    return handle


_INTERP_OPS = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}


def interpolate_handler(call: OpCall) -> OpCost:
    """``F.interpolate``: per output element, the taps it blends (nearest 1, linear 2,
    bilinear 4, trilinear 8, bicubic 16). "area" is adaptive average pooling."""
    mode = call.arg(3, "mode", "nearest")
    if mode == "area":
        return OpCost(macs=_numel(call.tensor_inputs[0]))
    if mode not in _INTERP_OPS:
        raise ValueError(f"no cost formula for interpolate mode {mode!r}")
    return OpCost(macs=_numel(_first_out(call)) * _INTERP_OPS[mode])


def lrn_handler(call: OpCall) -> OpCost:
    size = int(call.arg(1, "size"))
    return OpCost(macs=_numel(_first_out(call)) * (size + 2), activations_in=[call.arg(0, "input")])


def data_movement(call: OpCall) -> OpCost:
    """No arithmetic; the row keeps the bytes read and written (cat, copies, pad)."""
    return OpCost(macs=0)


def identity_at_inference(call: OpCall) -> OpCost:
    """Dropout and friends: identity when not training (counting runs in eval mode)."""
    return OpCost(macs=0)


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------
FORMULAS: dict[str, Handler] = {
    "conv1d": conv_handler(1),
    "conv2d": conv_handler(2),
    "conv3d": conv_handler(3),
    "conv_transpose1d": conv_handler(1, transposed=True),
    "conv_transpose2d": conv_handler(2, transposed=True),
    "conv_transpose3d": conv_handler(3, transposed=True),
    "linear": linear_handler,
    "matmul": matmul_handler,
    "mm": matmul_handler,
    "bmm": matmul_handler,
    "addmm": addmm_handler,
    "batch_norm": batch_norm_handler,
    "local_response_norm": lrn_handler,
    "layer_norm": norm_handler(2),
    "group_norm": norm_handler(2),
    "instance_norm": norm_handler(3),
    "interpolate": interpolate_handler,
    "max_pool1d": pool_handler(1),
    "max_pool2d": pool_handler(2),
    "max_pool3d": pool_handler(3),
    "avg_pool1d": pool_handler(1),
    "avg_pool2d": pool_handler(2),
    "avg_pool3d": pool_handler(3),
    "adaptive_avg_pool1d": per_input(1),
    "adaptive_avg_pool2d": per_input(1),
    "adaptive_avg_pool3d": per_input(1),
    "adaptive_max_pool1d": per_input(1),
    "adaptive_max_pool2d": per_input(1),
    "mean": per_input(1),
    "sum": per_input(1),
    "add": per_output(1),
    "sub": per_output(1),
    "mul": per_output(1),
    "div": per_output(1),
    "softmax": per_output(3),
    "log_softmax": per_output(3),
    "where": per_output(1),
    "masked_fill": per_output(1),
    "cat": data_movement,
    "roll": data_movement,
    "setitem": data_movement,
    "stack": data_movement,
    "contiguous": data_movement,
    "clone": data_movement,
    "pad": data_movement,
    "dropout": identity_at_inference,
    "dropout2d": identity_at_inference,
    "alpha_dropout": identity_at_inference,
}
for _act in ("relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
             "sigmoid", "hardsigmoid", "hardswish", "tanh", "softplus", "prelu", "clamp", "clip",
             # elementwise math and comparisons: one per output element
             "exp", "log", "sqrt", "rsqrt", "pow", "neg", "abs", "maximum", "minimum", "eq", "ne", "gt", "ge",
             "lt", "le", "reciprocal", "square"):
    FORMULAS[_act] = per_output(1)

# Views: no arithmetic, no copy, no row (but known, so never "unsupported").
VIEWS = frozenset({
    "view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose", "t",
    "expand", "expand_as", "chunk", "split", "narrow", "getitem", "detach", "view_as", "reshape_as",
    "unbind", "movedim", "split_with_sizes", "to", "float", "type_as", "channel_shuffle_view",
})

# Constant creation (tensors made in forward() from nothing): no arithmetic on
# activations, no row, but known.
CONSTANTS = frozenset({
    "zeros", "ones", "empty", "full", "arange", "tensor", "as_tensor", "zeros_like", "ones_like",
    "empty_like", "full_like", "new_zeros", "new_ones", "new_full", "new_tensor", "linspace", "eye",
})

# Metadata queries and Python protocol calls: not ops at all.
IGNORED = frozenset({
    "dim", "size", "get", "numel", "len", "bool", "format", "repr", "index", "int", "float_",
    "is_contiguous", "stride", "storage_offset", "get_device", "data_ptr", "hash", "element_size",
    "is_floating_point", "nelement", "ndimension", "has_names", "is_complex", "setstate", "requires_grad",
    "new_empty", "is_nonzero", "dtype", "device", "shape", "ndim",
    "assert", "assert_async", "_assert",  # torch._assert (timm's shape checks): a runtime check, not arithmetic
})

# Python operator and in-place spellings -> canonical op name.
_ALIASES = {
    "radd": "add", "iadd": "add", "rsub": "sub", "isub": "sub", "rmul": "mul", "imul": "mul",
    "truediv": "div", "rtruediv": "div", "itruediv": "div", "true_divide": "div", "divide": "div",
    "multiply": "mul", "subtract": "sub", "matmul": "matmul", "rmatmul": "matmul",
    "dropout1d": "dropout", "feature_alpha_dropout": "alpha_dropout", "dropout3d": "dropout2d",
    "max_pool2d_with_indices": "max_pool2d", "max_pool1d_with_indices": "max_pool1d",
    "adaptive_max_pool2d_with_indices": "adaptive_max_pool2d", "concat": "cat", "concatenate": "cat",
    "avg_pool": "avg_pool2d", "clamp_min": "clamp", "clamp_max": "clamp", "upsample": "interpolate",
    "upsample_nearest": "interpolate", "upsample_bilinear": "interpolate", "swapaxes": "transpose",
    "swapdims": "transpose", "max": "maximum", "min": "minimum",
}


def canonical_op(func: Any) -> str:
    """``Tensor.__iadd__`` -> "add", ``F.relu_`` -> "relu", ``torch.conv2d`` -> "conv2d"."""
    name = getattr(func, "__name__", None) or type(func).__name__
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        if name in ("get", "set"):  # property access such as Tensor.shape.__get__
            return name
    elif name.endswith("_") and not name.startswith("_"):
        name = name[:-1]  # in-place variant
    name = name.lstrip("_")
    if name in ("float", "int") and name not in VIEWS:
        return name
    return _ALIASES.get(name, name)


def op_kind(op: str) -> str:
    """"formula", "view", "ignored" or "unsupported"."""
    if op in FORMULAS:
        return "formula"
    if op in VIEWS or op in CONSTANTS:
        return "view"
    if op in IGNORED:
        return "ignored"
    return "unsupported"

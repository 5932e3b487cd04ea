"""The ONNX formula table: op type -> handler (``None`` = free, no row).

Conventions are those of ``edgecnn.cost.formulas`` (units: MACs, one
multiply-accumulate = 1), restated for ONNX ops so the file counter and the
PyTorch counter agree row type by row type:

- Conv / ConvInteger / QLinearConv: ``out * C_in/groups * prod(K)``;
  ConvTranspose ``in * C_out/groups * prod(K)``; Gemm ``M * N * K``,
  MatMul (batched) ``out * K``; bias adds not counted. These are the
  conv/linear MACs.
- BatchNormalization 2 per element (mean/var in bytes, not parameters);
  Layer/Group/InstanceNormalization 5; LRN ``size + 2``; pools ``prod(K)``
  per output; global pools and Reduce* 1 per input; activations,
  element-wise arithmetic and comparisons 1 per output; Softmax 3; Resize
  1/2/4 taps per spatial axis (nearest/linear/cubic: bilinear 4, bicubic 16).
- Concat, Pad, Transpose, Tile: 0 MACs, a row with their bytes. Views and
  metadata (Reshape, Flatten, Squeeze, Slice, Gather, Shape, Cast, Identity,
  Dropout, ...): no row.
- Quantized ops count their float counterparts' MACs: QuantizeLinear /
  DequantizeLinear on activations 1 per element (on weights they are folded
  with the weights: no row); ONNX Runtime's com.microsoft QGemm, QLinearAdd,
  QLinearMul, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat,
  QLinearSigmoid, QLinearLeakyRelu and QLinearSoftmax as Gemm, Add, ...
  (their scale and zero-point inputs are metadata).

Adding an op: one entry in ``ONNX_FORMULAS`` plus a closed-form case in
``tests/cost/test_cost_onnx_formulas.py``.
"""

from __future__ import annotations

import math
from typing import Optional

from edgecnn.cost.graph import GraphCost, GraphHandler, GraphOp, data_movement, per_input, per_output

DEFAULT_DOMAINS = ("", "ai.onnx")


# ---------------------------------------------------------------------------
# handlers
# ---------------------------------------------------------------------------
def _conv(x: int, w: int, bias: Optional[int]) -> GraphHandler:
    """Conv-like op with activation input ``x``, weight ``w`` ([C_out, C_in/groups, *K])
    and optional bias: output elements * C_in/groups * prod(K)."""

    def handle(op: GraphOp) -> GraphCost:
        ws = op.shape(w)
        kernel = [int(k) for k in ws[2:]]
        return GraphCost(macs=op.out.numel * math.prod(ws[1:]), category="conv", kernel=kernel,
                         stride=[int(s) for s in op.attrs.get("strides", [1] * len(kernel))],
                         groups=int(op.attrs.get("group", 1)),
                         weights=[w] + ([bias] if bias is not None else []), activations=[x])

    return handle


def conv_transpose(op: GraphOp) -> GraphCost:
    """ConvTranspose, weight [C_in, C_out/groups, *K]: each input element is
    multiplied into C_out/groups * prod(K) outputs."""
    ws = op.shape(1)
    kernel = [int(k) for k in ws[2:]]
    return GraphCost(macs=math.prod(op.shape(0)) * ws[1] * math.prod(kernel), category="conv", kernel=kernel,
                     stride=[int(s) for s in op.attrs.get("strides", [1] * len(kernel))],
                     groups=int(op.attrs.get("group", 1)), weights=[1, 2], activations=[0])


def gemm(op: GraphOp) -> GraphCost:
    """Gemm(A, B, C): M * N * K (the C add, like a bias, is not counted)."""
    a, b = op.shape(0), op.shape(1)
    m, k = (a[1], a[0]) if op.attrs.get("transA", 0) else (a[0], a[1])
    n = b[0] if op.attrs.get("transB", 0) else b[1]
    return GraphCost(macs=m * n * k, category="linear")


def _matmul(a: int, b: int) -> GraphHandler:
    """MatMul (batched, broadcast): output elements * the inner dimension."""

    def handle(op: GraphOp) -> GraphCost:
        weights = [b] if op.inputs[b] is not None and op.inputs[b].const else []  # type: ignore[union-attr]
        acts = [a] + ([b] if not weights else [])
        return GraphCost(macs=op.out.numel * int(op.shape(a)[-1]), category="linear", weights=weights,
                         activations=acts)

    return handle


def pool(op: GraphOp) -> GraphCost:
    """MaxPool / AveragePool / LpPool: prod(kernel) per output element."""
    kernel = [int(k) for k in op.attrs["kernel_shape"]]
    return GraphCost(macs=op.out.numel * math.prod(kernel), kernel=kernel,
                     stride=[int(s) for s in op.attrs.get("strides", [1] * len(kernel))], activations=[0])


def batch_norm(op: GraphOp) -> GraphCost:
    """BatchNormalization(X, scale, B, mean, var): 2 per element (normalise, then
    scale and shift); mean/var are read (bytes) but are not parameters."""
    return GraphCost(macs=2 * math.prod(op.shape(0)), weights=[1, 2, 3, 4], state=[3, 4], activations=[0])


def affine_norm(op: GraphOp) -> GraphCost:
    """Layer/Group/InstanceNormalization (always with scale): 5 per element (fvcore's estimate)."""
    return GraphCost(macs=5 * math.prod(op.shape(0)), weights=[1, 2], activations=[0])


def lrn(op: GraphOp) -> GraphCost:
    return GraphCost(macs=op.out.numel * (int(op.attrs["size"]) + 2), activations=[0])


_RESIZE_TAPS = {"nearest": 1, "linear": 2, "cubic": 4}  # per resized axis


def resize(op: GraphOp) -> GraphCost:
    """Resize / Upsample: taps per output element, per spatial axis (nearest 1,
    linear 2 -> bilinear 4, cubic 4 -> bicubic 16), as ``interpolate`` in formulas.py."""
    mode = op.attrs.get("mode", "nearest")
    if mode not in _RESIZE_TAPS:
        raise ValueError(f"mode {mode!r} has no formula")
    spatial = max(1, len(op.out.shape or []) - 2)
    return GraphCost(macs=op.out.numel * _RESIZE_TAPS[mode] ** spatial, activations=[0])


def qgemm(op: GraphOp) -> GraphCost:
    """com.microsoft QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp): M * N * K."""
    a, b = op.shape(0), op.shape(3)
    m, k = (a[1], a[0]) if op.attrs.get("transA", 0) else (a[0], a[1])
    n = b[0] if op.attrs.get("transB", 0) else b[1]
    return GraphCost(macs=m * n * k, category="linear", weights=[3, 6], activations=[0])


def qlinear_concat(op: GraphOp) -> GraphCost:
    """com.microsoft QLinearConcat(y_scale, y_zp, (X, scale, zp)...): data movement."""
    return GraphCost(macs=0, activations=list(range(2, len(op.inputs), 3)))


def silu_like(op: GraphOp) -> GraphCost:
    """``x * Sigmoid(x)`` / ``x * HardSigmoid(x)`` found in the graph: one row, 1 per element."""
    return GraphCost(macs=op.out.numel, activations=[0])


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------
ONNX_FORMULAS: dict[str, Optional[GraphHandler]] = {
    "Conv": _conv(0, 1, 2),
    "ConvInteger": _conv(0, 1, None),
    "QLinearConv": _conv(0, 3, 8),
    "ConvTranspose": conv_transpose,
    "Gemm": gemm,
    "MatMul": _matmul(0, 1),
    "MatMulInteger": _matmul(0, 1),
    "QLinearMatMul": _matmul(0, 3),
    "MaxPool": pool,
    "AveragePool": pool,
    "LpPool": pool,
    "GlobalAveragePool": per_input(1),
    "GlobalMaxPool": per_input(1),
    "GlobalLpPool": per_input(1),
    "ReduceMean": per_input(1),
    "ReduceSum": per_input(1),
    "ReduceMax": per_input(1),
    "ReduceMin": per_input(1),
    "BatchNormalization": batch_norm,
    "LayerNormalization": affine_norm,
    "GroupNormalization": affine_norm,
    "InstanceNormalization": affine_norm,
    "LRN": lrn,
    "Softmax": per_output(3, [0]),
    "LogSoftmax": per_output(3, [0]),
    "Resize": resize,
    "Upsample": resize,
    "Swish": silu_like,
    "Clip": per_output(1, [0]),  # min/max are scalars, not weights
    "QuantizeLinear": per_output(1, [0]),  # on activations; on weights folded (see module docstring)
    "DequantizeLinear": per_output(1, [0]),
    "Concat": data_movement(),
    "Pad": data_movement([0]),
    "Transpose": data_movement([0]),  # a copy in every runtime (PyTorch: permute + contiguous)
    "Tile": data_movement([0]),
    # ONNX Runtime's quantized operators (QOperator format), as their float counterparts
    "com.microsoft.QGemm": qgemm,
    "com.microsoft.QLinearAdd": per_output(1, [0, 3]),
    "com.microsoft.QLinearMul": per_output(1, [0, 3]),
    "com.microsoft.QLinearSigmoid": per_output(1, [0]),
    "com.microsoft.QLinearLeakyRelu": per_output(1, [0]),
    "com.microsoft.QLinearSoftmax": per_output(3, [0]),
    "com.microsoft.QLinearGlobalAveragePool": per_input(1),
    "com.microsoft.QLinearAveragePool": pool,
    "com.microsoft.QLinearConcat": qlinear_concat,
}
# one per output element: activations, elementwise arithmetic, comparisons
_UNARY = ("Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
          "Softplus", "Softsign", "Mish", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Erf")
for _op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu", "Equal", "Greater", "GreaterOrEqual", "Less",
            "LessOrEqual", "Where", *_UNARY):
    ONNX_FORMULAS[_op] = per_output(1)
SAME_SHAPE = frozenset({"BatchNormalization", "LayerNormalization", "GroupNormalization", "InstanceNormalization",
                         "LRN", "Softmax", "LogSoftmax", "Clip", "Swish", *_UNARY})

# views and metadata: no arithmetic, no copy in a runtime, no row (PyTorch: views make no row either)
for _op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Split", "Gather", "Expand", "Shape", "Size",
            "Constant", "ConstantOfShape", "Identity", "Dropout", "Cast", "CastLike", "Range"):
    ONNX_FORMULAS[_op] = None

COMPUTE = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "Gemm", "MatMul", "MatMulInteger",
                     "QLinearMatMul", "QGemm"})  # op types (any domain): row naming

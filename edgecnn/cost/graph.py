"""Cost of a model *file*: one graph walk over ops whose shapes are known.

The ONNX and TFLite readers (``edgecnn.cost.onnx_graph``,
``edgecnn.cost.tflite_graph``) turn a file into a list of ``GraphOp`` in
execution order, each with the shapes of its input and output tensors, and
a table op type -> handler. ``price_graph`` prices them into the same
``CostReport`` (rows, totals, ``unsupported``) as the PyTorch counter, so
the per-layer table, ``to_record`` and the separable check work unchanged.

Conventions are those of ``edgecnn.cost.formulas`` (units: MACs, one
multiply-accumulate = 1); the handler factories here are its ``per_output``,
``per_input`` and data-movement rules restated for graph ops:

- a handler of ``None`` means "deliberately free": no arithmetic, no row
  (views and metadata: Reshape, Flatten, Shape, Squeeze, Slice, Cast, ...);
- an op whose inputs are all constants (initializers, Constant nodes, shapes
  known statically, or ops computed from these only, such as weight
  dequantization or shape arithmetic) is folded when the model loads and
  makes no row;
- an op missing from the table goes to ``unsupported`` (never counted as zero);
  so does a priced op whose tensor shapes the reader could not infer.

Weights: the constant inputs a handler names (``GraphCost.weights``; by
default every constant input of a data type other than an index/shape type
with more than one element: a bias vector or a per-channel scale counts, the
``3`` in ``x + 3`` does not, as a Python number is no tensor in PyTorch).
``bytes_read`` = weights + activation inputs, ``bytes_written`` = outputs,
at the report's precision; ``params`` = weight elements except ``state``
(BatchNorm running mean and variance, as the PyTorch counter counts buffers
in bytes but not in parameters). Totals count each weight tensor once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from edgecnn.cost.engine import CostReport, LayerCost, UnsupportedOp, cost_totals


@dataclass
class GraphTensor:
    """A tensor of a model file. ``shape`` includes the batch dimension and is
    given channels-first for image tensors (the TFLite reader turns NHWC maps
    of its convolutions and pools into NCHW); ``None`` where not known."""

    name: str
    shape: Optional[list[int]]
    const: bool = False  # known before inference: a weight, a constant, a static shape
    index_type: bool = False  # an integer index / shape type (int32, int64, bool): never a weight

    @property
    def numel(self) -> int:
        return int(math.prod(self.shape)) if self.shape is not None else 0


@dataclass
class GraphOp:
    """One op of a model file, in execution order."""

    name: str  # row name: the PyTorch module recovered from the file where possible
    node: str  # the op's own name in the file
    op: str  # its type as the file spells it: "Conv", "CONV_2D"
    attrs: dict[str, Any]
    inputs: list[Optional[GraphTensor]]  # None: an omitted optional input
    outputs: list[GraphTensor]

    def input(self, i: int) -> Optional[GraphTensor]:
        return self.inputs[i] if i < len(self.inputs) else None

    def shape(self, i: int) -> list[int]:
        """The shape of input ``i`` (ValueError if absent or unknown)."""
        t = self.input(i)
        if t is None or t.shape is None:
            raise ValueError(f"shape of input {i} unknown")
        return t.shape

    @property
    def out(self) -> GraphTensor:
        return self.outputs[0]


@dataclass
class GraphCost:
    """What a graph handler returns. ``weights``/``activations``: input indices;
    with neither given, the defaults of the module docstring; with only
    ``activations`` given, the op has no weights (its other inputs are
    metadata: Resize scales, Pad pads, Clip bounds). ``state``: weights that
    are not parameters (BatchNorm running statistics)."""

    macs: int
    category: str = "other"
    kernel: Optional[list[int]] = None
    stride: Optional[list[int]] = None
    groups: Optional[int] = None
    weights: Optional[list[int]] = None
    activations: Optional[list[int]] = None
    state: list[int] = field(default_factory=list)


GraphHandler = Callable[[GraphOp], GraphCost]


# ---------------------------------------------------------------------------
# handler factories shared by the ONNX and TFLite tables
# ---------------------------------------------------------------------------
def per_output(scale: float, activations: Optional[list[int]] = None) -> GraphHandler:
    """``scale`` ops per element of the first output (activations, elementwise arithmetic)."""

    def handle(op: GraphOp) -> GraphCost:
        return GraphCost(macs=int(round(scale * _known(op.out))), activations=activations)

    return handle


def per_input(scale: float, activations: Optional[list[int]] = None) -> GraphHandler:
    """``scale`` ops per element of the first input (reductions, global pooling)."""

    def handle(op: GraphOp) -> GraphCost:
        return GraphCost(macs=int(round(scale * math.prod(op.shape(0)))), activations=activations or [0])

    return handle


def data_movement(activations: Optional[list[int]] = None) -> GraphHandler:
    """No arithmetic; the row keeps the bytes read and written (concat, pad, transpose)."""

    def handle(op: GraphOp) -> GraphCost:
        return GraphCost(macs=0, activations=activations)

    return handle


def _known(t: GraphTensor) -> int:
    if t.shape is None:
        raise ValueError(f"shape of {t.name} unknown")
    return t.numel


# ---------------------------------------------------------------------------
# the walk
# ---------------------------------------------------------------------------
def price_graph(ops: list[GraphOp], table: dict[str, Optional[GraphHandler]], *, input_shape: list[int],
                precision: str, batch: int, bpe: int, conventions: Optional[str] = None) -> CostReport:
    """Price ``ops`` with ``table`` into a CostReport (rows per sample shapes,
    MACs for the whole batch)."""
    rows: list[LayerCost] = []
    weights_seen: dict[str, int] = {}
    unsupported: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for op in ops:
        present = [t for t in op.inputs if t is not None]
        if all(t.const for t in (present or op.outputs)):
            continue  # folded at load: constants, weight dequantization, shape arithmetic
        if op.op not in table:
            unsupported.setdefault(op.op, []).append(op.name)
            continue
        handler = table[op.op]
        if handler is None:
            continue
        try:
            cost = handler(op)
            row = _row(op, cost, bpe, weights_seen)
        except ValueError as exc:
            unsupported.setdefault(f"{op.op} ({exc})", []).append(op.name)
            continue
        seen[row.name] = seen.get(row.name, 0) + 1
        if seen[row.name] > 1:
            row.name = f"{row.name}#{seen[row.name]}"
        rows.append(row)
    listed = [UnsupportedOp(op, sorted(set(where)), len(where)) for op, where in sorted(unsupported.items())]
    report = CostReport(layers=rows, totals=cost_totals(rows, sum(weights_seen.values()), bpe), unsupported=listed,
                        input_shape=input_shape, precision=precision, batch=batch)
    if conventions:
        report.conventions = conventions
    return report


def module_row_names(modules: list[Optional[str]], ops: list[str], fallbacks: list[str],
                     compute: frozenset[str] | set[str]) -> list[str]:
    """Row names from the PyTorch module each op came from (``None``: not known,
    use the fallback; ``""``: the model's own forward, use the op type).

    A module with modules inside it ran the op in its own forward:
    ``module:Op`` (``layer1.0:Add``, as the PyTorch counter's ``layer1.0:add``).
    In a leaf module the first ``compute`` op (conv, matmul) keeps the module
    name, so conv rows carry the same names as the PyTorch counter's; the
    module's other ops (a TFLite PAD, the Add of a MatMul+Add linear) get
    ``module:Op``. Repeats are numbered ``#2``, ``#3`` later, as in the engine."""
    containers: set[str] = set()
    for m in modules:
        if m:
            parts = m.split(".")
            containers.update(".".join(parts[:i]) for i in range(1, len(parts)))
    primary: dict[str, int] = {}
    for i, (m, op) in enumerate(zip(modules, ops)):
        if m and op in compute and m not in primary:
            primary[m] = i
    names = []
    for i, (m, op, fb) in enumerate(zip(modules, ops, fallbacks)):
        if m is None:
            names.append(fb)
        elif m == "":
            names.append(op)
        elif m in containers or (m in primary and primary[m] != i):
            names.append(f"{m}:{op}")
        else:
            names.append(m)
    return names


def default_weights(op: GraphOp) -> list[int]:
    return [i for i, t in enumerate(op.inputs)
            if t is not None and t.const and not t.index_type and t.shape is not None and t.numel > 1]


def _row(op: GraphOp, cost: GraphCost, bpe: int, weights_seen: dict[str, int]) -> LayerCost:
    if cost.weights is None and cost.activations is None:
        weights = default_weights(op)
    else:  # a handler that names its activations names all its weights too (none: the rest is metadata)
        weights = [i for i in (cost.weights or []) if op.input(i) is not None]
    acts_idx = cost.activations if cost.activations is not None else \
        [i for i, t in enumerate(op.inputs) if t is not None and not t.const]
    acts = [op.inputs[i] for i in acts_idx if op.input(i) is not None]
    wts = [op.inputs[i] for i in weights]
    for t in [*acts, *wts, *op.outputs]:
        if t is not None and t.shape is None:
            raise ValueError(f"shape of {t.name} unknown")
    params = [op.inputs[i] for i in weights if i not in cost.state and op.inputs[i].const]  # type: ignore[union-attr]
    for t in params:
        weights_seen[t.name] = t.numel  # type: ignore[union-attr]
    b_read = (sum(t.numel for t in wts) + sum(t.numel for t in acts)) * bpe  # type: ignore[union-attr]
    b_written = sum(t.numel for t in op.outputs) * bpe
    total_b = b_read + b_written
    x0 = acts[0].shape if acts else None  # type: ignore[union-attr]
    y0 = op.out.shape
    return LayerCost(
        name=op.name, type=op.op, op=op.op, category=cost.category,
        input_shape=list(x0[1:]) if x0 is not None else [], output_shape=list(y0[1:]) if y0 is not None else [],
        kernel=cost.kernel, stride=cost.stride, groups=cost.groups, macs=int(cost.macs),
        params=int(sum(t.numel for t in params)),  # type: ignore[union-attr]
        bytes_read=int(b_read), bytes_written=int(b_written),
        arithmetic_intensity=round(cost.macs / total_b, 4) if total_b else 0.0,
        in_channels=int(x0[1]) if x0 is not None and len(x0) > 1 else None,
        out_channels=int(y0[1]) if y0 is not None and len(y0) > 1 else None,
        node=op.node,
    )

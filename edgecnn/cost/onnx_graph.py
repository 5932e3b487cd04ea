"""Per-layer cost of an ONNX file: ``count_onnx(path, input_size, precision, batch)``.

Shapes come from ``onnx.shape_inference`` once the graph input is fixed
(a dynamic batch dimension is set to ``batch``, a dynamic spatial size to
``input_size``). Each node is priced by ``ONNX_FORMULAS`` (op type ->
handler, ``None`` = free) with the conventions of ``edgecnn.cost.formulas``,
into the same rows and totals as ``count_cost`` gives for a PyTorch module.

Row names: a node named in torch.onnx's scope style
(``/layer1/layer1.0/conv2/Conv``) is named after its PyTorch module
(``layer1.0.conv2``, by ``edgecnn.runtime.onnxruntime_runner.module_of``);
a node that ran in a container's own forward gets ``module:OpType``
(``layer1.0:Add``); other nodes keep their node name. ``LayerCost.node``
keeps the node's name in every case, to join ONNX Runtime profiler times.

What the graph shows is what is counted: an exporter that folded BatchNorm
into the convolution leaves a Conv with a bias and no BatchNormalization row.
``x * Sigmoid(x)`` (SiLU/Swish) and ``x * HardSigmoid(x)`` (HardSwish before
opset 14) are one row of 1 MAC per element, like the PyTorch counter's
``silu``/``hardswish``; other decomposed activations (GELU as Div, Erf, Add,
Mul, Mul) are counted node by node.

Quantized graphs: QLinearConv / ConvInteger / QLinearMatMul / MatMulInteger
count their convolution or matrix MACs once. QuantizeLinear and
DequantizeLinear on activations are element-wise, 1 MAC-equivalent per
element (scale and round, or offset and scale); on weights they are part of
the weight (computed from constants only, folded at load, no row), so a Q/DQ
Conv counts exactly the MACs of the float Conv.
"""

from __future__ import annotations

import math
import os
from typing import Any, Optional, Union

from edgecnn.cost.engine import (CostReport, InputSize, bytes_per_element, check_batch, input_size_dims)
from edgecnn.cost.graph import (GraphCost, GraphHandler, GraphOp, GraphTensor, data_movement,
                                module_row_names, per_input, per_output, price_graph)
from edgecnn.errors import CorruptFileError, InvalidOptionError

_DEFAULT_DOMAINS = ("", "ai.onnx")


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
}
# one per output element: activations, elementwise arithmetic, comparisons
_UNARY = ("Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
          "Softplus", "Softsign", "Mish", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Erf")
for _op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu", "Equal", "Greater", "GreaterOrEqual", "Less",
            "LessOrEqual", "Where", *_UNARY):
    ONNX_FORMULAS[_op] = per_output(1)
_SAME_SHAPE = frozenset({"BatchNormalization", "LayerNormalization", "GroupNormalization", "InstanceNormalization",
                         "LRN", "Softmax", "LogSoftmax", "Clip", "Swish", *_UNARY})

# views and metadata: no arithmetic, no copy in a runtime, no row (PyTorch: views make no row either)
for _op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Split", "Gather", "Expand", "Shape", "Size",
            "Constant", "ConstantOfShape", "Identity", "Dropout", "Cast", "CastLike", "Range"):
    ONNX_FORMULAS[_op] = None


# ---------------------------------------------------------------------------
# reading the file
# ---------------------------------------------------------------------------
def _load(path_or_model: Any) -> tuple[Any, str]:
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(path_or_model, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(path_or_model)
        label = "the ONNX model"
    else:
        path = os.fspath(path_or_model)
        label = path
        if not os.path.isfile(path):
            raise InvalidOptionError(f"{path} does not exist")
        try:
            model = onnx.load(path, load_external_data=False)  # shapes only: weights stay on disk
        except (DecodeError, ValueError, OSError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CorruptFileError(f"cannot read {path} as an ONNX model: {reason}") from None
    if not model.HasField("graph") or not model.graph.node:
        raise CorruptFileError(f"{label} is not an ONNX model (no graph nodes)")
    return model, label


def _resolve_dims(cur: list[Optional[int]], req: Optional[list[int]], batch: int, label: str, name: str) -> list[int]:
    """The concrete shape of one graph input (``None`` = a dynamic dimension)."""
    if not cur:
        return []
    shown = "x".join("?" if d is None else str(d) for d in cur)
    if cur[0] is None:
        cur = [batch, *cur[1:]]
    elif cur[0] != batch:
        raise InvalidOptionError(f"{label}: input {name!r} has a fixed batch of {cur[0]} ({shown}); count it "
                                 f"with batch {cur[0]}, or export with a dynamic batch axis")
    if len(cur) != 4:
        if any(d is None for d in cur):
            raise InvalidOptionError(f"{label}: input {name!r} ({shown}) has dynamic dimensions other than the "
                                     "batch; only image inputs (NxCxHxW) take --input-size")
        return cur  # type: ignore[return-value]
    c, h, w = cur[1:]
    rc = req[0] if req is not None and len(req) == 3 else None
    hw = None if req is None else (req[-2:] if len(req) >= 2 else req * 2)
    if c is None:
        if rc is None:
            raise InvalidOptionError(f"{label}: input {name!r} ({shown}) has a dynamic channel count; "
                                     "pass --input-size CxHxW")
        c = rc
    elif rc is not None and rc != c:
        raise InvalidOptionError(f"{label}: input {name!r} has {c} channels, not {rc} (--input-size)")
    if h is None or w is None:
        if hw is None:
            raise InvalidOptionError(f"{label}: input {name!r} has a dynamic size ({shown}); "
                                     "pass --input-size (S, HxW or CxHxW)")
        h, w = (hw[0] if h is None else h), (hw[1] if w is None else w)
    if hw is not None and [h, w] != list(hw):
        raise InvalidOptionError(f"{label}: input {name!r} is fixed at {c}x{h}x{w}; it cannot be counted at "
                                 f"{hw[0]}x{hw[1]} (re-export it at that size, or with dynamic axes)")
    return [cur[0], c, h, w]  # type: ignore[list-item]


def _fix_inputs(model: Any, input_size: Optional[InputSize], batch: int, label: str) -> list[list[int]]:
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    inputs = [vi for vi in graph.input if vi.name not in inits]
    if not inputs:
        raise CorruptFileError(f"{label} has no graph input")
    req = input_size_dims(input_size) if input_size is not None else None
    shapes = []
    for vi in inputs:
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            raise InvalidOptionError(f"{label}: input {vi.name!r} has no shape in the file")
        dims = tt.shape.dim
        cur = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]
        new = _resolve_dims(cur, req, batch, label, vi.name)
        for d, v in zip(dims, new):
            d.dim_value = v  # clears a dim_param (one of)
        shapes.append(new)
    return shapes


def _shape_of(type_proto: Any) -> tuple[Optional[list[int]], int]:
    tt = type_proto.tensor_type
    if not tt.HasField("shape"):
        return None, tt.elem_type
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    return (None if any(d is None for d in dims) else dims), tt.elem_type  # type: ignore[return-value]


def _infer(model: Any, label: str, where: str) -> tuple[Any, dict[str, tuple[Optional[list[int]], int]]]:
    """Shape inference on ``model`` (inputs already fixed): the inferred model and
    name -> (shape or None, element type) for every tensor."""
    import onnx

    del model.graph.value_info[:]  # stale symbolic shapes from the exporter

    def infer(m: Any) -> Any:
        try:
            return onnx.shape_inference.infer_shapes(m, strict_mode=True, data_prop=True)
        except Exception as exc:  # InferenceError, ValidationError: the C++ checker's classes
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidOptionError(f"{label} cannot run on a {where} input: {msg}") from None

    def unknown(m: Any) -> bool:
        return any(_shape_of(vi.type)[0] is None for vi in [*m.graph.value_info, *m.graph.output])

    inferred = infer(model)
    if unknown(inferred):
        # shape arithmetic that data propagation does not follow (torch's expand(-1) makes
        # ConstantOfShape/Equal/Where): fold it, then infer again
        folded = _fold_shape_arithmetic(inferred)
        if folded is not None:
            inferred = infer(folded)
    for _ in range(8):  # ops onnx infers nothing for (GroupNormalization-21): their output is their input's shape
        if not unknown(inferred) or not _assume_same_shape(inferred):
            break
        inferred = infer(inferred)
    g = inferred.graph
    info = {vi.name: _shape_of(vi.type) for vi in [*g.input, *g.value_info, *g.output]}
    for t in g.initializer:
        info[t.name] = ([int(d) for d in t.dims], t.data_type)
    return inferred, info


def _assume_same_shape(model: Any) -> bool:
    """Give the output of each shape-preserving op (``_SAME_SHAPE``) whose shape
    inference left it unknown its input's shape and type; True if any was set."""
    from onnx import helper

    g = model.graph
    types = {vi.name: vi.type for vi in [*g.input, *g.value_info, *g.output]}
    outputs = {vi.name: vi for vi in g.output}
    changed = False
    for n in g.node:
        if n.op_type not in _SAME_SHAPE or not n.input or not n.output or n.domain not in _DEFAULT_DOMAINS:
            continue
        x, y = n.input[0], n.output[0]
        if x not in types or _shape_of(types[x])[0] is None or (y in types and _shape_of(types[y])[0] is not None):
            continue
        shape, elem = _shape_of(types[x])
        vi = helper.make_tensor_value_info(y, elem, shape)
        if y in outputs:
            outputs[y].type.CopyFrom(vi.type)
        else:
            g.value_info.append(vi)
        types[y] = vi.type
        changed = True
    return changed


def _fold_shape_arithmetic(model: Any) -> Optional[Any]:
    """Constant-fold the nodes that compute integer tensors (shapes, indices)
    from constants and static shapes (onnxscript's folder); float ops and
    weights are left as they are. ``None`` if the folder cannot take the model."""
    try:
        from onnxscript import ir
        from onnxscript.optimizer import remove_unused_nodes
        from onnxscript.optimizer._constant_folding import fold_constants

        index = {ir.DataType.INT64, ir.DataType.INT32, ir.DataType.BOOL}
        m = ir.serde.deserialize_model(model)
        fold_constants(m, should_fold=lambda node: all(v.dtype in index for v in node.outputs))
        remove_unused_nodes(m)
        return ir.serde.serialize_model(m)
    except Exception:  # an optional refinement: without it those rows stay "shape unknown"
        return None


_COMPUTE = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "Gemm", "MatMul", "MatMulInteger",
                      "QLinearMatMul"})


def _node_names(nodes: list) -> list[str]:
    """Module names from torch.onnx's scoped node names (``/layer1/layer1.0/conv2/Conv``);
    ``/Add`` ran in the model's own forward; other node names are kept."""
    from edgecnn.runtime.onnxruntime_runner import module_of

    modules: list[Optional[str]] = []
    for n in nodes:
        if not (n.name.startswith("/") and len(n.name) > 1):
            modules.append(None)
        elif "/" not in n.name.strip("/"):
            modules.append("")
        else:
            modules.append(module_of(n.name))
    return module_row_names(modules, [n.op_type for n in nodes],
                            [n.name or f"{n.op_type}_{i}" for i, n in enumerate(nodes)], _COMPUTE)


def _graph_ops(model: Any, info: dict[str, tuple[Optional[list[int]], int]], label: str, where: str) -> list[GraphOp]:
    from onnx import TensorProto, helper

    graph = model.graph
    nodes = list(graph.node)
    index_types = {TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL}
    defined = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    const = {t.name for t in graph.initializer}
    consumers: dict[str, int] = {}
    for n in nodes:
        for name in n.input:
            consumers[name] = consumers.get(name, 0) + 1
    outputs = {vi.name for vi in graph.output}
    producer = {out: i for i, n in enumerate(nodes) for out in n.output}

    # x * Sigmoid(x) / x * HardSigmoid(x): one SiLU / HardSwish row on the Mul
    fused: dict[int, str] = {}
    skip: set[int] = set()
    for i, n in enumerate(nodes):
        if n.op_type != "Mul" or n.domain not in _DEFAULT_DOMAINS or len(n.input) != 2:
            continue
        for a, b in ((n.input[0], n.input[1]), (n.input[1], n.input[0])):
            p = nodes[producer[b]] if b in producer else None
            if (p is not None and p.op_type in ("Sigmoid", "HardSigmoid") and list(p.input) == [a]
                    and consumers.get(b) == 1 and b not in outputs):
                fused[i] = "Swish" if p.op_type == "Sigmoid" else "HardSwish"
                skip.add(producer[b])
                nodes[i] = _with_inputs(n, [a])
                break
    names = _node_names(nodes)

    def tensor(name: str) -> GraphTensor:
        shape, elem = info.get(name, (None, 0))
        return GraphTensor(name, shape, const=name in const, index_type=elem in index_types)

    ops: list[GraphOp] = []
    for i, n in enumerate(nodes):
        for name in n.input:
            if name and name not in defined:
                raise CorruptFileError(f"{label}: node {n.name or n.op_type!r} reads {name!r}, which no "
                                       "input, initializer or earlier node defines (a broken or truncated file)")
        ins = [tensor(name) if name else None for name in n.input]
        present = [t for t in ins if t is not None]
        folded = (n.op_type == "Constant" or (n.op_type in ("Shape", "Size") and present
                                              and present[0].shape is not None)
                  or (present and all(t.const for t in present)))
        for out in n.output:
            defined.add(out)
            if folded:
                const.add(out)
        outs = [tensor(name) for name in n.output if name]
        if not folded and i not in skip:
            for t in outs:
                if t.shape is not None and any(d <= 0 for d in t.shape):
                    raise InvalidOptionError(f"{label} cannot run on a {where} input: {n.op_type} "
                                             f"{n.name or i!r} would output {'x'.join(map(str, t.shape))}")
        if i in skip:
            continue
        op_type = fused.get(i, n.op_type if n.domain in _DEFAULT_DOMAINS else f"{n.domain}.{n.op_type}")
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        ops.append(GraphOp(name=names[i], node=n.name or names[i], op=op_type, attrs=attrs, inputs=ins,
                           outputs=outs))
    return ops


def _with_inputs(node: Any, inputs: list[str]) -> Any:
    from onnx import NodeProto

    copy = NodeProto()
    copy.CopyFrom(node)
    del copy.input[:]
    copy.input.extend(inputs)
    return copy


# ---------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------
def count_onnx(path_or_model: Union[str, os.PathLike, Any], input_size: Optional[InputSize] = None,
               precision: str = "fp32", batch: int = 1) -> CostReport:
    """Per-layer MACs, parameters, bytes and arithmetic intensity of an ONNX
    graph (a path or an ``onnx.ModelProto``) for one ``batch`` of its input.

    ``input_size`` (S, (H, W) or (C, H, W)) is needed only when the graph's
    input has a dynamic spatial size; a dynamic batch dimension becomes
    ``batch``. Rows, units and totals as ``count_cost``; ``report.input_shape``
    is the first input's shape without the batch. A file that is not ONNX
    raises ``CorruptFileError``; sizes that do not fit ``InvalidOptionError``.
    """
    bpe = bytes_per_element(precision)
    check_batch(batch)
    model, label = _load(path_or_model)
    shapes = _fix_inputs(model, input_size, batch, label)
    where = "x".join(map(str, shapes[0]))
    model, info = _infer(model, label, where)
    ops = _graph_ops(model, info, label, where)
    return price_graph(ops, ONNX_FORMULAS, input_shape=shapes[0][1:], precision=precision, batch=batch, bpe=bpe,
                       conventions="MACs: one multiply-accumulate = 1; conv/linear bias adds not counted; other "
                                   "ops in MAC-equivalents (see edgecnn.cost.formulas); counted on the ONNX "
                                   "graph as stored (BatchNorm folded into Conv where the exporter folded it)")

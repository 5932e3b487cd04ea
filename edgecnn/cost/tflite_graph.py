"""Per-layer cost of a TFLite flatbuffer: ``count_tflite(path, input_size, precision, batch)``.

The file is read with the flatbuffer schema that ships with ``ai-edge-litert``
(``ai_edge_litert.schema_py_generated``, the ``tflite`` extra); nothing is
run. TFLite stores every tensor's shape, so the counter needs static shapes:
a file whose input has a dynamic dimension (shape signature -1) is refused
with a one-line error, and ``input_size``/``batch`` must match the file.

Ops are priced by ``TFLITE_FORMULAS`` with the conventions of
``edgecnn.cost.formulas`` (conv ``out * Kh*Kw * C_in/groups``,
DEPTHWISE_CONV_2D ``out * Kh*Kw``, FULLY_CONNECTED ``rows * in * out``,
BATCH_MATMUL ``out * K``; pools ``Kh*Kw`` per output, MEAN 1 per input,
element-wise 1 per output, SOFTMAX 3). What the file holds is what is
counted: converters fold BatchNorm into the convolution and fuse
activations into it (``fused_activation_function``), so those add no row
and no MACs; explicit PAD and the layout TRANSPOSEs a converter inserts are
data-movement rows (0 MACs, their bytes).

Layout: convolutions and pools work on NHWC maps; their 4-D tensors (and
the element-wise ops between them) are reported channels-first
(``[C, H, W]`` per sample, ``in_channels``/``out_channels`` = C), so the rows
read like the PyTorch counter's and the separable check applies.

Row names: litert-torch writes the PyTorch module path into output tensor
names (``.../Sequential_features/InvertedResidual_1/.../Conv2d_0;``); the
module (``features.1.conv.0.0``) is recovered from it as for ONNX, and
``LayerCost.node`` keeps the tensor name.
"""

from __future__ import annotations

import math
import os
from typing import Any, Optional, Union

from edgecnn.cost.engine import CostReport, InputSize, bytes_per_element, check_batch, input_size_dims
from edgecnn.cost.graph import (GraphCost, GraphHandler, GraphOp, GraphTensor, data_movement, module_row_names,
                                per_input, per_output, price_graph)
from edgecnn.errors import CorruptFileError, InvalidOptionError, require


# ---------------------------------------------------------------------------
# handlers (filters are OHWI: [C_out, Kh, Kw, C_in/groups]; depthwise [1, Kh, Kw, C_out])
# ---------------------------------------------------------------------------
def _stride(op: GraphOp) -> list[int]:
    return [int(op.attrs.get("strideH", 1)), int(op.attrs.get("strideW", 1))]


def conv_2d(op: GraphOp) -> GraphCost:
    f = op.shape(1)
    c_in = op.shape(0)[1]
    return GraphCost(macs=op.out.numel * f[1] * f[2] * f[3], category="conv", kernel=[f[1], f[2]],
                     stride=_stride(op), groups=c_in // f[3], weights=[1, 2], activations=[0])


def depthwise_conv_2d(op: GraphOp) -> GraphCost:
    f = op.shape(1)
    return GraphCost(macs=op.out.numel * f[1] * f[2], category="conv", kernel=[f[1], f[2]], stride=_stride(op),
                     groups=op.shape(0)[1], weights=[1, 2], activations=[0])


def transpose_conv(op: GraphOp) -> GraphCost:
    """TRANSPOSE_CONV(output_shape, filter [C_out, Kh, Kw, C_in], input, bias):
    each input element is multiplied into C_out * Kh * Kw outputs."""
    f = op.shape(1)
    return GraphCost(macs=math.prod(op.shape(2)) * f[0] * f[1] * f[2], category="conv", kernel=[f[1], f[2]],
                     stride=_stride(op), groups=1, weights=[1, 3], activations=[2])


def fully_connected(op: GraphOp) -> GraphCost:
    """FULLY_CONNECTED(input, weights [out, in], bias): rows * in * out."""
    w = op.shape(1)
    rows = math.prod(op.shape(0)) // w[1]
    return GraphCost(macs=rows * w[0] * w[1], category="linear", weights=[1, 2], activations=[0])


def batch_matmul(op: GraphOp) -> GraphCost:
    a = op.shape(0)
    k = a[-2] if op.attrs.get("adjX") else a[-1]
    b = op.input(1)
    weights = [1] if b is not None and b.const else []
    return GraphCost(macs=op.out.numel * k, category="linear", weights=weights,
                     activations=[0] + ([] if weights else [1]))


def pool_2d(op: GraphOp) -> GraphCost:
    kernel = [int(op.attrs["filterHeight"]), int(op.attrs["filterWidth"])]
    return GraphCost(macs=op.out.numel * math.prod(kernel), kernel=kernel, stride=_stride(op), activations=[0])


def lrn(op: GraphOp) -> GraphCost:
    return GraphCost(macs=op.out.numel * (2 * int(op.attrs.get("radius", 0)) + 1 + 2), activations=[0])


TFLITE_FORMULAS: dict[str, Optional[GraphHandler]] = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "TRANSPOSE_CONV": transpose_conv,
    "FULLY_CONNECTED": fully_connected,
    "BATCH_MATMUL": batch_matmul,
    "AVERAGE_POOL_2D": pool_2d,
    "MAX_POOL_2D": pool_2d,
    "L2_POOL_2D": pool_2d,
    "MEAN": per_input(1),
    "SUM": per_input(1),
    "REDUCE_MAX": per_input(1),
    "REDUCE_MIN": per_input(1),
    "SOFTMAX": per_output(3, [0]),
    "LOG_SOFTMAX": per_output(3, [0]),
    "LOCAL_RESPONSE_NORMALIZATION": lrn,
    "RESIZE_BILINEAR": per_output(4, [0]),
    "RESIZE_NEAREST_NEIGHBOR": per_output(1, [0]),
    "QUANTIZE": per_output(1, [0]),  # on activations; on weights folded (computed from constants)
    "DEQUANTIZE": per_output(1, [0]),
    "CONCATENATION": data_movement(),
    "PACK": data_movement(),
    "PAD": data_movement([0]),
    "PADV2": data_movement([0]),
    "MIRROR_PAD": data_movement([0]),
    "TRANSPOSE": data_movement([0]),
    "TILE": data_movement([0]),
}
for _op in ("ADD", "SUB", "MUL", "DIV", "POW", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "RELU", "RELU6",
            "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "ELU", "GELU", "LOGISTIC", "TANH", "HARD_SWISH",
            "EXP", "LOG", "SQRT", "RSQRT", "ABS", "NEG", "SQUARE", "EQUAL", "NOT_EQUAL", "GREATER",
            "GREATER_EQUAL", "LESS", "LESS_EQUAL", "SELECT", "SELECT_V2"):
    TFLITE_FORMULAS[_op] = per_output(1)
for _op in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SHAPE", "CAST", "STRIDED_SLICE", "SLICE", "GATHER", "SPLIT",
            "SPLIT_V", "UNPACK", "BROADCAST_TO"):
    TFLITE_FORMULAS[_op] = None

_COMPUTE = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "BATCH_MATMUL"})
_NHWC_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "AVERAGE_POOL_2D", "MAX_POOL_2D",
                       "L2_POOL_2D", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "LOCAL_RESPONSE_NORMALIZATION"})
# ops that keep the layout of their 4-D inputs (element-wise, padding, concatenation)
_SAME_LAYOUT = frozenset({op for op, h in TFLITE_FORMULAS.items() if h is not None} - _NHWC_OPS - _COMPUTE
                         - {"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "SOFTMAX", "LOG_SOFTMAX", "TRANSPOSE", "PACK"})


# ---------------------------------------------------------------------------
# reading the file
# ---------------------------------------------------------------------------
def _read(path: Union[str, os.PathLike]) -> tuple[Any, Any, bytes, str]:
    require("ai_edge_litert", "tflite", "counting the cost of a .tflite file")
    from ai_edge_litert import schema_py_generated as schema

    label = os.fspath(path)
    if not os.path.isfile(label):
        raise InvalidOptionError(f"{label} does not exist")
    with open(label, "rb") as fh:
        buf = fh.read()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise CorruptFileError(f"{label} is not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
        graph = model.subgraphs[0]
        ok = graph.tensors is not None and graph.operators is not None and graph.inputs is not None
    except Exception as exc:  # flatbuffers raises struct/index errors on a cut file
        raise CorruptFileError(f"cannot read {label} as a TFLite model: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else 'truncated or damaged'}") from None
    if not ok:
        raise CorruptFileError(f"{label} is not a TFLite model (no graph)")
    return schema, model, buf, label


def module_of_tensor(tensor_name: str, compute: bool) -> Optional[str]:
    """``Net/torch.nn.modules.container.Sequential_features/torch.nn.modules.conv.Conv2d_0;1`` ->
    ``features.0``; ``""`` for the root module; ``None`` when the name holds no module path.
    Fused ops list several locations (``a;;b;;c``): a conv or linear op takes the
    location of its Conv/Linear module, other ops the first location."""
    locs = [loc for loc in tensor_name.split(";") if "." in loc]
    if not locs:
        return None
    if compute:
        mods = [loc for loc in locs if any(k in loc.rsplit("/", 1)[-1] for k in ("Conv", "Linear"))]
        loc = mods[-1] if mods else locs[-1]
    else:
        loc = locs[0]
    attrs = []
    for seg in loc.split("/")[1:]:
        cls = seg.rsplit(".", 1)[-1]
        cut = cls.find("_", 1)
        if cut < 0:
            return None
        attrs.append(cls[cut + 1:])
    return ".".join(attrs)


def _check_input(shape: list[int], signature: Optional[list[int]], req: Optional[list[int]], batch: int,
                 label: str) -> None:
    shown = "x".join(map(str, shape))
    if signature is not None and any(d < 0 for d in signature):
        dims = "x".join(str(d) if d >= 0 else "?" for d in signature)
        raise InvalidOptionError(f"{label}: the input has a dynamic size ({dims}); TFLite cost counting needs "
                                 "static shapes: convert the model at a fixed size")
    if shape and shape[0] != batch:
        raise InvalidOptionError(f"{label}: the input has a fixed batch of {shape[0]} ({shown}); count it with "
                                 f"batch {shape[0]}")
    if req is not None and len(shape) == 4:
        sample = shape[1:]
        hw = req[-2:] if len(req) >= 2 else req * 2
        want = [req[0], *hw] if len(req) == 3 else None
        fits = (want in (sample, [sample[2], sample[0], sample[1]])) if want else \
            (list(hw) in (sample[1:], sample[:2]))  # NCHW or NHWC
        if not fits:
            raise InvalidOptionError(f"{label}: the input is fixed at {shown}; it cannot be counted at "
                                     f"{'x'.join(map(str, req))} (convert the model at that size)")


def _graph_ops(schema: Any, model: Any, buf: bytes, label: str) -> list[GraphOp]:
    graph = model.subgraphs[0]
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    index_types = {schema.TensorType.INT32, schema.TensorType.INT64, schema.TensorType.BOOL}
    tensors = graph.tensors
    shapes = [[int(d) for d in t.shape] if t.shape is not None else [] for t in tensors]

    def is_const(ti: int) -> bool:
        t = tensors[ti]
        if getattr(t, "externalBuffer", 0):  # weights kept in a separate file
            return True
        b = model.buffers[t.buffer] if model.buffers is not None and 0 < t.buffer < len(model.buffers) else None
        if b is None:
            return False
        if b.offset and b.offset > 1:  # large buffers stored after the flatbuffer
            if b.offset + b.size > len(buf):
                raise CorruptFileError(f"{label}: a weight buffer runs past the end of the file (truncated)")
            return b.size > 0
        return b.data is not None and len(b.data) > 0

    def op_type(op: Any) -> str:
        code = model.operatorCodes[op.opcodeIndex]
        c = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = op_names.get(c, f"BUILTIN_{c}")
        if name == "CUSTOM":
            return f"CUSTOM:{(code.customCode or b'').decode(errors='replace')}"
        return name

    ops_raw = [(op, op_type(op)) for op in graph.operators]
    nhwc: set[int] = set()
    for op, typ in ops_raw:
        if typ in _NHWC_OPS:
            act = op.inputs[2:3] if typ == "TRANSPOSE_CONV" else op.inputs[:1]
            nhwc.update(i for i in [*act, *op.outputs] if i >= 0)
    changed = True
    while changed:  # element-wise ops between NHWC ops keep NHWC
        changed = False
        for op, typ in ops_raw:
            if typ not in _SAME_LAYOUT:
                continue
            linked = [i for i in [*op.inputs, *op.outputs] if i >= 0 and len(shapes[i]) == 4
                      and not is_const(i)]
            if any(i in nhwc for i in linked) and not all(i in nhwc for i in linked):
                nhwc.update(linked)
                changed = True

    const = {i for i in range(len(tensors)) if is_const(i)}
    cache: dict[int, GraphTensor] = {}

    def tensor(i: int) -> GraphTensor:
        if i not in cache:
            t = tensors[i]
            shape = list(shapes[i])
            if i in nhwc and len(shape) == 4:
                shape = [shape[0], shape[3], shape[1], shape[2]]
            cache[i] = GraphTensor((t.name or b"").decode(errors="replace") or f"tensor_{i}", shape,
                                   const=i in const, index_type=t.type in index_types)
        return cache[i]

    ops: list[GraphOp] = []
    modules: list[Optional[str]] = []
    for k, (op, typ) in enumerate(ops_raw):
        ins = [tensor(i) if i >= 0 else None for i in (op.inputs if op.inputs is not None else [])]
        outs = [tensor(i) for i in (op.outputs if op.outputs is not None else [])]
        if ins and all(t is None or t.const for t in ins):
            const.update(i for i in op.outputs)  # computed from constants only: folded at load
            for i in op.outputs:
                cache[i].const = True
        opts = op.builtinOptions
        attrs = {key: val for key, val in vars(opts).items()} if opts is not None else {}
        node = outs[0].name if outs else f"{typ}_{k}"
        module = module_of_tensor(node, typ in _COMPUTE) if outs else None
        if module is None and typ in _COMPUTE and len(ins) > 1 and ins[1] is not None:
            module = module_of_tensor(ins[1].name, True)  # a graph output is renamed; its weights keep the module
        modules.append(module)
        ops.append(GraphOp(name="", node=node, op=typ, attrs=attrs, inputs=ins, outputs=outs))
    for op, name in zip(ops, module_row_names(modules, [o.op for o in ops], [o.op for o in ops], _COMPUTE)):
        op.name = name
    return ops


def count_tflite(path: Union[str, os.PathLike], input_size: Optional[InputSize] = None, precision: str = "fp32",
                 batch: int = 1) -> CostReport:
    """Per-layer MACs, parameters, bytes and arithmetic intensity of a ``.tflite``
    file (its first subgraph), as ``count_cost`` gives for a PyTorch module.

    The file's shapes are static: ``input_size`` (S, (H, W) or (C, H, W)) and
    ``batch``, when given, must match them (InvalidOptionError otherwise); a
    file that is not a TFLite flatbuffer raises ``CorruptFileError``; a missing
    ``ai-edge-litert`` raises ``MissingDependencyError`` naming the ``tflite`` extra.
    """
    bpe = bytes_per_element(precision)
    check_batch(batch)
    req = input_size_dims(input_size) if input_size is not None else None
    schema, model, buf, label = _read(path)
    graph = model.subgraphs[0]
    if not len(graph.inputs):
        raise CorruptFileError(f"{label} has no graph input")
    first = graph.tensors[graph.inputs[0]]
    shape = [int(d) for d in first.shape] if first.shape is not None else []
    signature = [int(d) for d in first.shapeSignature] if first.shapeSignature is not None else None
    _check_input(shape, signature, req, batch, label)
    ops = _graph_ops(schema, model, buf, label)
    return price_graph(ops, TFLITE_FORMULAS, input_shape=shape[1:], precision=precision, batch=batch, bpe=bpe,
                       conventions="MACs: one multiply-accumulate = 1; conv/linear bias adds not counted; other "
                                   "ops in MAC-equivalents (see edgecnn.cost.formulas); counted on the TFLite "
                                   "graph as stored (BatchNorm and activations fused into convolutions add "
                                   "nothing)")

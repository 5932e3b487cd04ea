"""Per-layer cost of an ONNX file: ``count_onnx(path, input_size, precision, batch)``.

Shapes come from ``onnx.shape_inference`` once the graph input is fixed
(a dynamic batch dimension is set to ``batch``, a dynamic spatial size to
``input_size``). Where it leaves a tensor without a shape: integer shape
arithmetic is constant-folded (onnxscript's folder), shape-preserving ops
it has no rule for (GroupNormalization-21) get their input's shape, and
what is still unknown (ops of other domains, e.g. ONNX Runtime's
com.microsoft QLinearAdd) is measured by one ONNX Runtime run on zeros.
Weights are never loaded for counting (external data stays on disk).

Each node is priced by ``edgecnn.cost.onnx_formulas.ONNX_FORMULAS`` into
the same rows and totals as ``count_cost`` gives for a PyTorch module.
What the graph shows is what is counted: an exporter that folded BatchNorm
into the convolution leaves a Conv with a bias and no BatchNormalization row.
``x * Sigmoid(x)`` (SiLU/Swish) and ``x * HardSigmoid(x)`` (HardSwish before
opset 14) are one row of 1 MAC per element, like the PyTorch counter's
``silu``/``hardswish``; other decomposed activations (GELU as Div, Erf, Add,
Mul, Mul) are counted node by node.

Row names: a node named in torch.onnx's scope style
(``/layer1/layer1.0/conv2/Conv``) is named after its PyTorch module
(``layer1.0.conv2``, by ``edgecnn.runtime.onnxruntime_runner.module_of``);
a node that ran in a container's own forward gets ``module:OpType``
(``layer1.0:Add``); other nodes keep their node name. ``LayerCost.node``
keeps the node's name in every case, to join ONNX Runtime profiler times.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

from edgecnn.cost.engine import (CostReport, InputSize, bytes_per_element, check_batch, input_size_dims)
from edgecnn.cost.graph import GraphOp, GraphTensor, module_row_names, price_graph
from edgecnn.cost.onnx_formulas import COMPUTE, DEFAULT_DOMAINS, ONNX_FORMULAS, SAME_SHAPE
from edgecnn.errors import CorruptFileError, InvalidOptionError


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
    for k, vi in enumerate(inputs):
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            raise InvalidOptionError(f"{label}: input {vi.name!r} has no shape in the file")
        dims = tt.shape.dim
        cur = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]
        # the first input is the image; a static extra input (a mask, a weight fed at run time) is taken as is
        new = cur if k and None not in cur else _resolve_dims(cur, req, batch, label, vi.name)
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
        return bool(_unshaped(m))

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
    if unknown(inferred):  # ops of other domains (ONNX Runtime's com.microsoft QLinearAdd, QGemm, ...)
        measured = _shapes_from_onnxruntime(inferred)
        if measured is not None:
            inferred = infer(measured)
    g = inferred.graph
    info = {vi.name: _shape_of(vi.type) for vi in [*g.input, *g.value_info, *g.output]}
    for t in g.initializer:
        info[t.name] = ([int(d) for d in t.dims], t.data_type)
    return inferred, info


def _unshaped(model: Any) -> list[str]:
    """Node outputs whose full shape inference has not given (in graph order)."""
    g = model.graph
    known = {vi.name for vi in [*g.input, *g.value_info, *g.output] if _shape_of(vi.type)[0] is not None}
    known |= {t.name for t in g.initializer}
    return [o for n in g.node for o in n.output if o and o not in known]


def _assume_same_shape(model: Any) -> bool:
    """Give the output of each shape-preserving op (``SAME_SHAPE``) whose shape
    inference left it unknown its input's shape and type; True if any was set."""
    from onnx import helper

    g = model.graph
    types = {vi.name: vi.type for vi in [*g.input, *g.value_info, *g.output]}
    outputs = {vi.name: vi for vi in g.output}
    changed = False
    for n in g.node:
        if n.op_type not in SAME_SHAPE or not n.input or not n.output or n.domain not in DEFAULT_DOMAINS:
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


def _shapes_from_onnxruntime(model: Any) -> Optional[Any]:
    """The shapes onnx could not infer, from one ONNX Runtime run on zeros (every
    such tensor made a graph output, graph optimisations off), written into
    ``value_info``. ``None`` where ONNX Runtime cannot run the model (no
    onnxruntime, an op it lacks, weights in external files)."""
    try:
        import numpy as np
        import onnxruntime as ort
        from onnx import ValueInfoProto, helper
        from onnx.helper import np_dtype_to_tensor_dtype, tensor_dtype_to_np_dtype

        g = model.graph
        inits = {t.name for t in g.initializer}
        want = _unshaped(model)
        probe = type(model)()
        probe.CopyFrom(model)
        del probe.graph.output[:]
        probe.graph.output.extend(ValueInfoProto(name=name) for name in want)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.log_severity_level = 4
        sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
        feeds = {vi.name: np.zeros(_shape_of(vi.type)[0], tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type))
                 for vi in g.input if vi.name not in inits}
        arrays = sess.run(want, feeds)
    except Exception:  # an optional refinement: without it those rows stay "shape unknown"
        return None
    outputs = {vi.name: vi for vi in g.output}
    for name, arr in zip(want, arrays):
        vi = helper.make_tensor_value_info(name, np_dtype_to_tensor_dtype(np.asarray(arr).dtype), list(arr.shape))
        if name in outputs:
            outputs[name].type.CopyFrom(vi.type)
        else:
            g.value_info.append(vi)
    return model


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
                            [n.name or f"{n.op_type}_{i}" for i, n in enumerate(nodes)], COMPUTE)


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
        if n.op_type != "Mul" or n.domain not in DEFAULT_DOMAINS or len(n.input) != 2:
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
        op_type = fused.get(i, n.op_type if n.domain in DEFAULT_DOMAINS else f"{n.domain}.{n.op_type}")
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

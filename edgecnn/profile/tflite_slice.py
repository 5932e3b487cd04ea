"""Cut one layer out of a converted ``.tflite``: the ops the model really runs
for it, as a model of its own.

litert-torch names every tensor after the PyTorch modules that produced it
(``pkg.Model/torch.nn.modules.container.Sequential_features/...Conv2d_0``,
several such paths joined by ``;`` where the converter fused ops), read back
to ``features.0`` by the TFLite cost table's rule (``module_of_tensor``). A conv or
linear module's ops are the compute op and the explicit ``PAD`` the converter
put before it; ``slice_model`` copies them, their tensors and constant
buffers (weights, bias, quantisation parameters as they are) into a new
one-subgraph model, whose free inputs are the tensors the slice consumes
without producing. Writing a slice takes milliseconds, where converting the
layers again with litert-torch took 20-35 s per model here.

Used by ``edgecnn.profile.isolated`` for LiteRT's per-layer times.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

# ops a conv/linear module becomes (with the padding the converter makes explicit)
SLICE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE_CONV", "PAD", "PADV2"}
COMPUTE_OPS = SLICE_OPS - {"PAD", "PADV2"}


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def read_model(path: str) -> Any:
    from ai_edge_litert.tools import flatbuffer_utils

    return flatbuffer_utils.read_model(path)


def to_bytes(model: Any) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def op_names(model: Any, subgraph: int = 0) -> list[str]:
    """The builtin op name of every operator of a subgraph (the first), in order."""
    schema = _schema()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for op in model.subgraphs[subgraph].operators:
        code = model.operatorCodes[op.opcodeIndex]
        out.append(names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM"))
    return out


def ops_by_module(model: Any, names: Any) -> dict[str, list[int]]:
    """name -> indices of the ops of that module (``SLICE_OPS`` only) in the
    first subgraph, for the module names in ``names``: each op's module read
    from its output tensor's name (``edgecnn.cost.tflite_graph.module_of_tensor``,
    the rule the TFLite cost table uses), else, for a compute op whose output is
    a graph output (named after the signature), from its weights' names."""
    from edgecnn.cost.tflite_graph import module_of_tensor

    sg = model.subgraphs[0]
    kinds = op_names(model)
    wanted = set(names)

    def name_of(t: int) -> str:
        raw = sg.tensors[t].name
        return raw.decode() if isinstance(raw, bytes) else str(raw or "")

    out: dict[str, list[int]] = {}
    for i, op in enumerate(sg.operators):
        if kinds[i] not in SLICE_OPS:
            continue
        compute = kinds[i] in COMPUTE_OPS
        mods = [module_of_tensor(name_of(t), compute) for t in op.outputs if t >= 0]
        if compute and not any(m in wanted for m in mods):
            mods += [module_of_tensor(name_of(t), True) for t in op.inputs if t >= 0 and _is_const(model, t)]
        owner = next((m for m in mods if m in wanted), None)
        if owner is not None:
            out.setdefault(owner, []).append(i)
    return out


def _is_const(model: Any, t: int, subgraph: int = 0) -> bool:
    buf = model.subgraphs[subgraph].tensors[t].buffer
    if not buf:
        return False
    b = model.buffers[buf]
    return (b.data is not None and len(b.data) > 0) or bool(getattr(b, "size", 0))


def signature_subgraph(model: Any, signature: str) -> int:
    """The index of the subgraph that runs ``signature`` (a multi-signature model)."""
    for sig in model.signatureDefs or []:
        key = sig.signatureKey.decode() if isinstance(sig.signatureKey, bytes) else str(sig.signatureKey)
        if key == signature:
            return int(sig.subgraphIndex)
    raise KeyError(f"no signature {signature!r} in this model")


def slice_model(model: Any, ops: Optional[list[int]], subgraph: int = 0) -> Optional[bytes]:
    """A ``.tflite`` (bytes) of just the ops ``ops`` (None: all) of a subgraph
    (the first), or None when the slice would need more than one free input."""
    schema = _schema()
    sg = model.subgraphs[subgraph]
    ops = range(len(sg.operators)) if ops is None else ops
    picked = [sg.operators[i] for i in sorted(ops)]
    produced = {t for op in picked for t in op.outputs}
    consumed = {t for op in picked for t in op.inputs if t >= 0}
    used = list(dict.fromkeys(t for op in picked for t in list(op.inputs) + list(op.outputs) if t >= 0))
    remap = {t: i for i, t in enumerate(used)}
    new = schema.ModelT()
    new.version = model.version
    new.description = b"edgecnn layer slice"
    new.operatorCodes = model.operatorCodes
    new.buffers = [schema.BufferT()]
    tensors = []
    for t in used:
        tt = copy.copy(sg.tensors[t])
        new.buffers.append(model.buffers[tt.buffer] if _is_const(model, t, subgraph) else schema.BufferT())
        tt.buffer = len(new.buffers) - 1
        tensors.append(tt)
    inputs = [remap[t] for t in used if t in consumed and t not in produced and not _is_const(model, t, subgraph)]
    if len(inputs) != 1:
        return None
    sub = schema.SubGraphT()
    sub.name = b"main"
    sub.tensors = tensors
    sub.inputs = inputs
    sub.outputs = [remap[t] for t in used if t in produced and t not in consumed]
    sub.operators = []
    for op in picked:
        o = copy.copy(op)
        o.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
        o.outputs = [remap[t] for t in op.outputs]
        sub.operators.append(o)
    new.subgraphs = [sub]
    return to_bytes(new)


def conv_chain_model(in_shape: list[int], layers: list[dict[str, Any]], seed: int = 0) -> bytes:
    """A float32 ``.tflite`` of convolutions in a chain, written directly (no
    conversion): ``in_shape`` is NHWC, each layer ``{"kind": "conv" | "dw",
    "out": channels, "k": kernel, "stride": s, "pad": p}`` with random weights
    and a zero bias. ``pad`` is PyTorch's symmetric padding: SAME where that is
    the same thing (stride 1, odd kernel), else an explicit PAD op before a
    VALID convolution, as litert-torch writes it."""
    import numpy as np

    schema = _schema()
    rng = np.random.RandomState(seed)
    new = schema.ModelT()
    new.version = 3
    new.description = b"edgecnn conv chain"
    codes: dict[int, int] = {}
    new.operatorCodes, new.buffers, tensors, ops = [], [schema.BufferT()], [], []

    def code(op: int) -> int:
        if op not in codes:
            c = schema.OperatorCodeT()
            c.builtinCode = c.deprecatedBuiltinCode = op
            c.version = 1
            codes[op] = len(new.operatorCodes)
            new.operatorCodes.append(c)
        return codes[op]

    def tensor(name: str, shape: list[int], data: Any = None, dtype: Any = np.float32,
               ttype: int = schema.TensorType.FLOAT32) -> int:
        b = schema.BufferT()
        if data is not None:
            b.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), np.uint8)
        new.buffers.append(b)
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), ttype, len(new.buffers) - 1
        tensors.append(t)
        return len(tensors) - 1

    shape = list(in_shape)
    x = tensor("input", shape)
    first = x
    for i, layer in enumerate(layers):
        k, stride, pad, cin = int(layer["k"]), int(layer.get("stride", 1)), int(layer.get("pad", 0)), shape[3]
        cout = cin if layer["kind"] == "dw" else int(layer["out"])
        same = pad > 0 and stride == 1 and k % 2 == 1 and pad == k // 2
        if pad > 0 and not same:
            pads = tensor(f"l{i}/paddings", [4, 2], [[0, 0], [pad, pad], [pad, pad], [0, 0]], np.int32,
                          schema.TensorType.INT32)
            shape = [shape[0], shape[1] + 2 * pad, shape[2] + 2 * pad, cin]
            padded = tensor(f"l{i}/pad", shape)
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = code(schema.BuiltinOperator.PAD), [x, pads], [padded]
            op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.PadOptions, schema.PadOptionsT()
            ops.append(op)
            x, pad = padded, 0
        if same:
            side = [-(-shape[1] // stride), -(-shape[2] // stride)]
        else:
            side = [(shape[1] + 2 * pad - k) // stride + 1, (shape[2] + 2 * pad - k) // stride + 1]
        wshape = [1, k, k, cout] if layer["kind"] == "dw" else [cout, k, k, cin]
        w = tensor(f"l{i}/weight", wshape, rng.standard_normal(wshape) * 0.1)
        b = tensor(f"l{i}/bias", [cout], np.zeros(cout))
        shape = [shape[0], side[0], side[1], cout]
        y = tensor(f"l{i}/output", shape)
        if layer["kind"] == "dw":
            opts = schema.DepthwiseConv2DOptionsT()
            opts.depthMultiplier = 1
            kind, otype = schema.BuiltinOperator.DEPTHWISE_CONV_2D, schema.BuiltinOptions.DepthwiseConv2DOptions
        else:
            opts = schema.Conv2DOptionsT()
            kind, otype = schema.BuiltinOperator.CONV_2D, schema.BuiltinOptions.Conv2DOptions
        opts.padding = schema.Padding.SAME if same else schema.Padding.VALID
        opts.strideW = opts.strideH = stride
        opts.dilationWFactor = opts.dilationHFactor = 1
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = code(kind), [x, w, b], [y]
        op.builtinOptionsType, op.builtinOptions = otype, opts
        ops.append(op)
        x = y
    sub = schema.SubGraphT()
    sub.name, sub.tensors, sub.inputs, sub.outputs, sub.operators = b"main", tensors, [first], [x], ops
    new.subgraphs = [sub]
    return to_bytes(new)

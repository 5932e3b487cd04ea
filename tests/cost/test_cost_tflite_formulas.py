"""Closed-form checks of the TFLite counter: one single-op flatbuffer per entry
of its formula table, written with the schema's object API (NHWC tensors, OHWI
filters, as converters write them), whose MACs and parameters are computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

import flatbuffers  # noqa: E402  (ships with ai-edge-litert)
from ai_edge_litert import schema_py_generated as schema  # noqa: E402

from edgecnn.cost.tflite_graph import TFLITE_FORMULAS, count_tflite  # noqa: E402

pytestmark = pytest.mark.tflite

X = [1, 6, 6, 2]  # NHWC: one sample of 2 channels, 6x6 (72 elements)
N = 72
OPTIONS = {"Conv2DOptions": schema.Conv2DOptionsT, "DepthwiseConv2DOptions": schema.DepthwiseConv2DOptionsT,
           "TransposeConvOptions": schema.TransposeConvOptionsT, "Pool2DOptions": schema.Pool2DOptionsT,
           "BatchMatMulOptions": schema.BatchMatMulOptionsT,
           "LocalResponseNormalizationOptions": schema.LocalResponseNormalizationOptionsT}


def tflite_graph(path, tensors, ops):
    """A .tflite of ``tensors`` (shapes: activations; numpy arrays: constants) and
    ``ops``: (op name, input indices, output indices, options name, option fields).
    Graph inputs: the activations no op writes; graph outputs: the last op's."""
    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT()]
    ts = []
    for i, item in enumerate(tensors):
        t = schema.TensorT()
        t.name = f"t{i}".encode()
        if isinstance(item, np.ndarray):
            t.shape, t.type = list(item.shape), (schema.TensorType.INT32 if item.dtype == np.int32
                                                 else schema.TensorType.FLOAT32)
            b = schema.BufferT()
            b.data = np.frombuffer(item.tobytes(), np.uint8)
            model.buffers.append(b)
            t.buffer = len(model.buffers) - 1
        else:
            t.shape, t.type = list(item), schema.TensorType.FLOAT32
        ts.append(t)
    model.operatorCodes, operators = [], []
    for op, ins, outs, options, fields in ops:
        code = schema.OperatorCodeT()
        code.builtinCode = getattr(schema.BuiltinOperator, op)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        model.operatorCodes.append(code)
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = len(model.operatorCodes) - 1, list(ins), list(outs)
        if options:
            o.builtinOptionsType = getattr(schema.BuiltinOptions, options)
            o.builtinOptions = OPTIONS[options]()
            for k, v in fields.items():
                setattr(o.builtinOptions, k, v)
        operators.append(o)
    sub = schema.SubGraphT()
    written = {i for _, _, outs, _, _ in ops for i in outs}
    sub.tensors, sub.operators, sub.outputs = ts, operators, list(ops[-1][2])
    sub.inputs = [i for i, item in enumerate(tensors) if not isinstance(item, np.ndarray) and i not in written]
    model.subgraphs = [sub]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())
    return path


def tflite(path, op, inputs, out_shape, options=None, **fields):
    """A one-op .tflite."""
    n = len(inputs)
    return tflite_graph(path, [*inputs, out_shape], [(op, range(n), [n], options, fields)])


def f32(*shape):
    return np.ones(shape, np.float32)


POOL = {"options": "Pool2DOptions", "filterHeight": 2, "filterWidth": 2, "strideH": 2, "strideW": 2}
CASES = {
    # op: (inputs, output shape, options, expected MACs, expected params)
    "CONV_2D": ([X, f32(3, 2, 2, 2), f32(3)], [1, 5, 5, 3], {"options": "Conv2DOptions"}, 75 * 8, 27),
    "DEPTHWISE_CONV_2D": ([X, f32(1, 3, 3, 2)], [1, 4, 4, 2], {"options": "DepthwiseConv2DOptions"}, 32 * 9, 18),
    "TRANSPOSE_CONV": ([np.array([1, 8, 8, 4], np.int32), f32(4, 3, 3, 2), X], [1, 8, 8, 4],
                       {"options": "TransposeConvOptions"}, N * 4 * 9, 72),
    "FULLY_CONNECTED": ([[1, 72], f32(5, 72), f32(5)], [1, 5], {}, 5 * N, 365),
    "BATCH_MATMUL": ([[1, 6, 12], f32(12, 7)], [1, 6, 7], {"options": "BatchMatMulOptions"}, 42 * 12, 84),
    "AVERAGE_POOL_2D": ([X], [1, 3, 3, 2], POOL, 18 * 4, 0),
    "MAX_POOL_2D": ([X], [1, 3, 3, 2], POOL, 18 * 4, 0),
    "L2_POOL_2D": ([X], [1, 3, 3, 2], POOL, 18 * 4, 0),
    "MEAN": ([X, np.array([1, 2], np.int32)], [1, 2], {}, N, 0),
    "SUM": ([X, np.array([1, 2], np.int32)], [1, 2], {}, N, 0),
    "REDUCE_MAX": ([X, np.array([1, 2], np.int32)], [1, 2], {}, N, 0),
    "REDUCE_MIN": ([X, np.array([1, 2], np.int32)], [1, 2], {}, N, 0),
    "SOFTMAX": ([[1, 72]], [1, 72], {}, 3 * N, 0),
    "LOG_SOFTMAX": ([[1, 72]], [1, 72], {}, 3 * N, 0),
    "LOCAL_RESPONSE_NORMALIZATION": ([X], X, {"options": "LocalResponseNormalizationOptions", "radius": 2},
                                     N * (5 + 2), 0),
    "RESIZE_BILINEAR": ([X, np.array([12, 12], np.int32)], [1, 12, 12, 2], {}, 4 * 4 * N, 0),
    "RESIZE_NEAREST_NEIGHBOR": ([X, np.array([12, 12], np.int32)], [1, 12, 12, 2], {}, 4 * N, 0),
    "QUANTIZE": ([X], X, {}, N, 0),
    "DEQUANTIZE": ([X], X, {}, N, 0),
    "CONCATENATION": ([X, X], [1, 6, 6, 4], {}, 0, 0),
    "PACK": ([X, X], [2, 1, 6, 6, 2], {}, 0, 0),
    "PAD": ([X, np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)], [1, 8, 8, 2], {}, 0, 0),
    "PADV2": ([X, np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)], [1, 8, 8, 2], {}, 0, 0),
    "MIRROR_PAD": ([X, np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)], [1, 8, 8, 2], {}, 0, 0),
    "TRANSPOSE": ([X, np.array([0, 3, 1, 2], np.int32)], [1, 2, 6, 6], {}, 0, 0),
    "TILE": ([X, np.array([1, 1, 1, 2], np.int32)], [1, 6, 6, 4], {}, 0, 0),
    # element-wise with a broadcast per-channel constant: 1 per output, the constant is a weight
    "ADD": ([X, f32(2)], X, {}, N, 2),
    "MUL": ([X, f32(2)], X, {}, N, 2),
    "PRELU": ([X, f32(1, 1, 2)], X, {}, N, 2),
}
for _op in ("SUB", "DIV", "POW", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "EQUAL", "NOT_EQUAL", "GREATER",
            "GREATER_EQUAL", "LESS", "LESS_EQUAL"):
    CASES[_op] = ([X, X], X, {}, N, 0)
for _op in ("SELECT", "SELECT_V2"):
    CASES[_op] = ([X, X, X], X, {}, N, 0)
for _op in ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "ELU", "GELU", "LOGISTIC", "TANH",
            "HARD_SWISH", "EXP", "LOG", "SQRT", "RSQRT", "ABS", "NEG", "SQUARE"):
    CASES[_op] = ([X], X, {}, N, 0)


def test_every_formula_has_a_closed_form_case():
    priced = {op for op, handler in TFLITE_FORMULAS.items() if handler is not None}
    assert sorted(priced - set(CASES)) == []


@pytest.mark.parametrize("op", sorted(CASES))
def test_formula(op, tmp_path):
    inputs, out, options, macs, params = CASES[op]
    r = count_tflite(tflite(tmp_path / "m.tflite", op, inputs, out, **options))
    assert not r.unsupported, r.unsupported
    (row,) = r.layers
    assert (row.op, row.macs, row.params) == (op, macs, params)


def test_conv_rows_read_channels_first_with_groups(tmp_path):
    # a grouped conv: filter [C_out, Kh, Kw, C_in/groups] on 2 input channels, groups = 2 / 1
    path = tflite(tmp_path / "g.tflite", "CONV_2D", [X, f32(4, 3, 3, 1)], [1, 3, 3, 4], options="Conv2DOptions",
                  strideH=2, strideW=2)
    (row,) = count_tflite(path).layers
    assert (row.input_shape, row.output_shape, row.groups, row.stride, row.kernel) == ([2, 6, 6], [4, 3, 3], 2,
                                                                                        [2, 2], [3, 3])
    assert row.macs == 4 * 9 * 9 and row.category == "conv"
    assert (row.in_channels, row.out_channels) == (2, 4)
    assert row.bytes_read == (36 + N) * 4 and row.bytes_written == 36 * 4


def test_unknown_op_is_listed(tmp_path):
    r = count_tflite(tflite(tmp_path / "u.tflite", "CUMSUM", [X, np.array([1], np.int32)], X))
    assert [(u.op, u.count) for u in r.unsupported] == [("CUMSUM", 1)] and r.layers == []


def test_weights_computed_from_constants_are_folded(tmp_path):
    # DEQUANTIZE of a constant (fp16 or int8 weights) is part of the weight: no row; the
    # FULLY_CONNECTED that reads it counts it as its weight
    path = tflite_graph(tmp_path / "dq.tflite", [f32(5, 72), [5, 72], [1, 72], [1, 5]],
                        [("DEQUANTIZE", [0], [1], None, {}), ("FULLY_CONNECTED", [2, 1, -1], [3], None, {})])
    r = count_tflite(path)
    assert r.unsupported == [] and [(row.op, row.macs, row.params) for row in r.layers] == [
        ("FULLY_CONNECTED", 5 * N, 360)]

"""Closed-form checks of the ONNX counter: one tiny graph per entry of the
formula table, built with ``onnx.helper``, whose MACs, parameters and bytes
are computed by hand here."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgecnn.cost.onnx_graph import ONNX_FORMULAS, count_onnx
from edgecnn.errors import InvalidOptionError

F = TensorProto.FLOAT
U8 = TensorProto.UINT8


def model(nodes, inputs, inits=None, opset=21, outputs=None):
    """A model from ``nodes``; ``inputs``: name -> shape (float) or (shape, elem type);
    ``inits``: name -> numpy array. Graph outputs: the last node's outputs."""
    ins = [helper.make_tensor_value_info(n, *(s[::-1] if isinstance(s, tuple) else (F, s)))
           for n, s in inputs.items()]
    outs = [helper.make_tensor_value_info(o, 0, None) for o in (outputs or nodes[-1].output)]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, "g", ins, outs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def node(op, inputs, outputs=("y",), name=None, **attrs):
    return helper.make_node(op, list(inputs), list(outputs), name=name or op, **attrs)


def one_row(report, op=None):
    assert not report.unsupported, report.unsupported
    rows = [r for r in report.layers if op is None or r.op == op]
    assert len(rows) == 1, [(r.name, r.op) for r in report.layers]
    return rows[0]


X = [1, 2, 6, 6]  # one sample of 2x6x6: 72 elements
N = 72
W = np.ones


# -- the convolution family --------------------------------------------------------
def test_conv_3x3():
    m = model([node("Conv", ["x", "w", "b"], pads=[1, 1, 1, 1])], {"x": [1, 3, 10, 10]},
              {"w": W((8, 3, 3, 3), np.float32), "b": W(8, np.float32)})
    r = count_onnx(m)
    row = one_row(r)
    assert row.macs == 8 * 10 * 10 * 3 * 3 * 3 == 21_600
    assert row.params == 8 * 27 + 8
    assert row.category == "conv" and row.kernel == [3, 3] and row.stride == [1, 1] and row.groups == 1
    assert row.input_shape == [3, 10, 10] and row.output_shape == [8, 10, 10]
    assert (row.in_channels, row.out_channels) == (3, 8)
    assert row.bytes_read == (224 + 300) * 4 and row.bytes_written == 800 * 4
    assert r.totals["conv_linear_macs"] == 21_600 and r.totals["other_macs"] == 0 and r.totals["params"] == 224
    assert r.input_shape == [3, 10, 10]


def test_depthwise_conv():
    m = model([node("Conv", ["x", "w"], pads=[1, 1, 1, 1], group=8)], {"x": [1, 8, 10, 10]},
              {"w": W((8, 1, 3, 3), np.float32)})
    row = one_row(count_onnx(m))
    assert row.macs == 8 * 10 * 10 * 9 == 7_200 and row.params == 72 and row.groups == 8


def test_grouped_strided_conv():
    m = model([node("Conv", ["x", "w", "b"], pads=[1, 1, 1, 1], strides=[2, 2], group=4)], {"x": [1, 8, 10, 10]},
              {"w": W((16, 2, 3, 3), np.float32), "b": W(16, np.float32)})
    row = one_row(count_onnx(m))
    assert row.output_shape == [16, 5, 5] and row.stride == [2, 2]
    assert row.macs == 16 * 5 * 5 * (8 // 4) * 9 == 7_200
    assert row.params == 16 * 2 * 9 + 16


def test_conv_with_a_weight_computed_at_run_time_has_no_parameters():
    m = model([node("Conv", ["x", "w"])], {"x": [1, 3, 10, 10], "w": [8, 3, 3, 3]})
    row = one_row(count_onnx(m))
    assert row.macs == 8 * 8 * 8 * 27 and row.params == 0
    assert row.bytes_read == (216 + 300) * 4  # the weight is still read


def test_conv_transpose():
    m = model([node("ConvTranspose", ["x", "w"])], {"x": X}, {"w": W((2, 4, 3, 3), np.float32)})
    row = one_row(count_onnx(m))
    assert row.output_shape == [4, 8, 8]
    assert row.macs == N * 4 * 9 and row.category == "conv" and row.params == 72


def test_gemm_with_batch():
    m = model([node("Gemm", ["x", "w", "b"], transB=1)], {"x": [3, 20]},
              {"w": W((10, 20), np.float32), "b": W(10, np.float32)})
    r = count_onnx(m, batch=3)
    row = one_row(r)
    assert row.macs == 3 * 20 * 10 and row.params == 210 and row.category == "linear"
    assert row.bytes_read == (210 + 60) * 4 and row.bytes_written == 30 * 4


def test_matmul_batched_with_a_weight_and_between_activations():
    # x @ W (a linear on a 4-D tensor) and x @ x^T (attention scores)
    m = model([node("MatMul", ["x", "w"], ["y"], name="proj"),
               node("Transpose", ["y"], ["yt"], perm=[0, 1, 3, 2]),
               node("MatMul", ["y", "yt"], ["s"], name="scores")], {"x": [1, 4, 6, 36]},
              {"w": W((36, 8), np.float32)})
    r = count_onnx(m)
    proj, scores = [row for row in r.layers if row.op == "MatMul"]
    assert proj.macs == 4 * 6 * 8 * 36 and proj.params == 36 * 8 and proj.category == "linear"
    assert scores.macs == 4 * 6 * 6 * 8 and scores.params == 0
    assert scores.bytes_read == 2 * 4 * 6 * 8 * 4  # both operands are activations


# -- every entry of the table, by closed form ---------------------------------------------
def unary(op, opset=21, **attrs):
    return model([node(op, ["x"], **attrs)], {"x": X}, opset=opset)


def binary(op, other, opset=21):
    return model([node(op, ["x", "c"])], {"x": X}, {"c": other}, opset=opset)


def q_conv():
    # QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B)
    inits = {"xs": np.float32(0.1), "xz": np.uint8(0), "w": np.ones((4, 2, 3, 3), np.int8), "ws": np.float32(0.1),
             "wz": np.int8(0), "ys": np.float32(0.1), "yz": np.uint8(0), "b": np.zeros(4, np.int32)}
    return model([node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"])],
                 {"x": (X, U8)}, inits)


def ms(op, inputs, inits, x_type=U8, **attrs):
    """A one-node model of ONNX Runtime's com.microsoft domain (its shapes come from an ONNX Runtime run)."""
    n = helper.make_node(op, inputs, ["y"], name=f"com.microsoft.{op}", domain="com.microsoft", **attrs)
    m = model([n], {"x": ([1, 72] if op == "QGemm" else X, x_type)}, inits)
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return m


QP = {"s": np.float32(0.1), "z": np.uint8(0)}  # a scale and a zero point

CASES = {
    # op: (model, expected MACs of the op's row, expected params)
    "Conv": (model([node("Conv", ["x", "w"])], {"x": X}, {"w": W((3, 2, 2, 2), np.float32)}), 3 * 25 * 8, 24),
    "ConvInteger": (model([node("ConvInteger", ["x", "w"])], {"x": (X, U8)}, {"w": W((3, 2, 2, 2), np.uint8)}),
                    3 * 25 * 8, 24),
    "QLinearConv": (q_conv(), 4 * 16 * 18, 4 * 18 + 4),
    "ConvTranspose": (model([node("ConvTranspose", ["x", "w"])], {"x": X}, {"w": W((2, 4, 3, 3), np.float32)}),
                      N * 36, 72),
    "Gemm": (model([node("Gemm", ["x", "w"])], {"x": [1, 72]}, {"w": W((72, 5), np.float32)}), 5 * N, 360),
    "MatMul": (model([node("MatMul", ["x", "w"])], {"x": X}, {"w": W((6, 7), np.float32)}), 2 * 6 * 7 * 6, 42),
    "MatMulInteger": (model([node("MatMulInteger", ["x", "w"])], {"x": (X, U8)}, {"w": W((6, 7), np.uint8)}),
                      2 * 6 * 7 * 6, 42),
    "QLinearMatMul": (model([node("QLinearMatMul", ["x", "s", "z", "w", "s", "z", "s", "z"])], {"x": (X, U8)},
                            {"s": np.float32(0.5), "z": np.uint8(0), "w": W((6, 7), np.uint8)}), 2 * 6 * 7 * 6, 42),
    "MaxPool": (unary("MaxPool", kernel_shape=[2, 2], strides=[2, 2]), 2 * 9 * 4, 0),
    "AveragePool": (unary("AveragePool", kernel_shape=[3, 3]), 2 * 16 * 9, 0),  # stride 1 (ONNX default)
    "LpPool": (unary("LpPool", kernel_shape=[2, 2], strides=[2, 2]), 2 * 9 * 4, 0),
    "GlobalAveragePool": (unary("GlobalAveragePool"), N, 0),
    "GlobalMaxPool": (unary("GlobalMaxPool"), N, 0),
    "GlobalLpPool": (unary("GlobalLpPool"), N, 0),
    "ReduceMean": (binary("ReduceMean", np.array([2, 3], np.int64)), N, 0),
    "ReduceSum": (binary("ReduceSum", np.array([1], np.int64)), N, 0),
    "ReduceMax": (binary("ReduceMax", np.array([2, 3], np.int64)), N, 0),
    "ReduceMin": (binary("ReduceMin", np.array([2, 3], np.int64)), N, 0),
    "BatchNormalization": (model([node("BatchNormalization", ["x", "s", "b", "m", "v"])], {"x": X},
                                 {k: W(2, np.float32) for k in "sbmv"}), 2 * N, 4),
    "LayerNormalization": (model([node("LayerNormalization", ["x", "s", "b"])], {"x": X},
                                 {"s": W(6, np.float32), "b": W(6, np.float32)}), 5 * N, 12),
    "GroupNormalization": (model([node("GroupNormalization", ["x", "s", "b"], num_groups=1)], {"x": X},
                                 {"s": W(2, np.float32), "b": W(2, np.float32)}), 5 * N, 4),
    "InstanceNormalization": (model([node("InstanceNormalization", ["x", "s", "b"])], {"x": X},
                                    {"s": W(2, np.float32), "b": W(2, np.float32)}), 5 * N, 4),
    "LRN": (unary("LRN", size=5), N * 7, 0),
    "Softmax": (unary("Softmax", axis=1), 3 * N, 0),
    "LogSoftmax": (unary("LogSoftmax", axis=1), 3 * N, 0),
    # bilinear: 4 taps per output element; 2x6x6 -> 2x12x12 = 288 outputs
    "Resize": (model([node("Resize", ["x", "", "sc"], mode="linear")], {"x": X},
                     {"sc": np.array([1, 1, 2, 2], np.float32)}), 4 * 4 * N, 0),
    "Upsample": (model([node("Upsample", ["x", "sc"], mode="nearest")], {"x": X},
                       {"sc": np.array([1, 1, 2, 2], np.float32)}, opset=9), 4 * N, 0),
    "Swish": (unary("Swish", opset=24), N, 0),
    "Clip": (model([node("Clip", ["x", "lo", "hi"])], {"x": X}, {"lo": np.float32(0), "hi": np.float32(6)}), N, 0),
    "QuantizeLinear": (model([node("QuantizeLinear", ["x", "s", "z"])], {"x": X},
                             {"s": np.float32(0.1), "z": np.uint8(0)}), N, 0),
    "DequantizeLinear": (model([node("DequantizeLinear", ["x", "s", "z"])], {"x": (X, U8)},
                               {"s": np.float32(0.1), "z": np.uint8(0)}), N, 0),
    "Concat": (model([node("Concat", ["x", "x"], axis=1)], {"x": X}), 0, 0),
    "Pad": (model([node("Pad", ["x", "p"])], {"x": X}, {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)}), 0, 0),
    "Transpose": (unary("Transpose", perm=[0, 1, 3, 2]), 0, 0),
    "Tile": (model([node("Tile", ["x", "r"])], {"x": X}, {"r": np.array([1, 1, 2, 1], np.int64)}), 0, 0),
    # one per output element; a broadcast per-channel operand is a weight (a bias, a layer scale)
    "Add": (binary("Add", np.ones((2, 1, 1), np.float32)), N, 2),
    "Sub": (binary("Sub", np.float32(1)), N, 0),  # a scalar is not a weight (a Python number in PyTorch)
    "Mul": (binary("Mul", np.ones((1, 2, 1, 1), np.float32)), N, 2),
    "Div": (binary("Div", np.float32(2)), N, 0),
    "Pow": (binary("Pow", np.float32(3)), N, 0),
    "Max": (model([node("Max", ["x", "x"])], {"x": X}), N, 0),
    "Min": (model([node("Min", ["x", "x"])], {"x": X}), N, 0),
    "PRelu": (binary("PRelu", np.ones((2, 1, 1), np.float32)), N, 2),
    "Equal": (binary("Equal", np.float32(0.5)), N, 0),
    "Greater": (binary("Greater", np.float32(0.5)), N, 0),
    "GreaterOrEqual": (binary("GreaterOrEqual", np.float32(0.5)), N, 0),
    "Less": (binary("Less", np.float32(0.5)), N, 0),
    "LessOrEqual": (binary("LessOrEqual", np.float32(0.5)), N, 0),
    "Where": (model([node("Greater", ["x", "z"], ["c"]), node("Where", ["c", "x", "z"])], {"x": X},
                    {"z": np.float32(0)}), N, 0),
    # ONNX Runtime's quantized operators: their float counterparts' MACs; scales and zero points are metadata
    "com.microsoft.QGemm": (ms("QGemm", ["x", "s", "z", "w", "s", "wz", "", "s", "z"],
                               {**QP, "w": np.ones((72, 5), np.int8), "wz": np.int8(0)}), 5 * N, 360),
    "com.microsoft.QLinearAdd": (ms("QLinearAdd", ["x", "s", "z", "x", "s", "z", "s", "z"], QP), N, 0),
    "com.microsoft.QLinearMul": (ms("QLinearMul", ["x", "s", "z", "x", "s", "z", "s", "z"], QP), N, 0),
    "com.microsoft.QLinearSigmoid": (ms("QLinearSigmoid", ["x", "s", "z", "s", "z"], QP), N, 0),
    "com.microsoft.QLinearLeakyRelu": (ms("QLinearLeakyRelu", ["x", "s", "z", "s", "z"], QP), N, 0),
    "com.microsoft.QLinearSoftmax": (ms("QLinearSoftmax", ["x", "s", "z", "s", "z"], QP, axis=1, opset=13),
                                     3 * N, 0),
    "com.microsoft.QLinearGlobalAveragePool": (ms("QLinearGlobalAveragePool", ["x", "s", "z", "s", "z"], QP,
                                                  channels_last=0), N, 0),
    "com.microsoft.QLinearAveragePool": (ms("QLinearAveragePool", ["x", "s", "z", "s", "z"], QP,
                                            kernel_shape=[2, 2], strides=[2, 2]), 2 * 9 * 4, 0),
    "com.microsoft.QLinearConcat": (ms("QLinearConcat", ["s", "z", "x", "s", "z", "x", "s", "z"], QP, axis=1), 0, 0),
}
for _op in ("Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
            "Softplus", "Softsign", "Mish", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Erf"):
    CASES[_op] = (unary(_op), N, 0)


def test_every_formula_has_a_closed_form_case():
    priced = {op for op, handler in ONNX_FORMULAS.items() if handler is not None}
    assert sorted(priced - set(CASES)) == []


@pytest.mark.parametrize("op", sorted(CASES))
def test_formula(op):
    m, macs, params = CASES[op]
    row = one_row(count_onnx(m), op)
    assert row.macs == macs
    assert row.params == params
    assert row.node == op and row.name == op  # helper-built nodes keep their own names


def test_data_movement_rows_keep_their_bytes():
    row = one_row(count_onnx(CASES["Pad"][0]))
    assert row.output_shape == [2, 8, 8]
    assert row.bytes_read == N * 4 and row.bytes_written == 128 * 4  # the pads vector is metadata
    row = one_row(count_onnx(CASES["Concat"][0]))
    assert row.bytes_read == 2 * N * 4 and row.bytes_written == 2 * N * 4


def test_batch_norm_bytes_include_running_statistics_but_params_do_not():
    m = model([node("BatchNormalization", ["x", "s", "b", "m", "v"])], {"x": [1, 4, 5, 5]},
              {k: W(4, np.float32) for k in "sbmv"})
    row = one_row(count_onnx(m))
    assert row.params == 8 and row.macs == 200
    assert row.bytes_read == (100 + 16) * 4 and row.bytes_written == 100 * 4


def test_bytes_follow_precision():
    m = model([node("Conv", ["x", "w", "b"], pads=[1, 1, 1, 1])], {"x": [1, 4, 6, 6]},
              {"w": W((8, 4, 3, 3), np.float32), "b": W(8, np.float32)})
    for precision, bpe in (("fp32", 4), ("fp16", 2), ("int8", 1)):
        row = one_row(count_onnx(m, precision=precision))
        assert row.bytes_read == (296 + 144) * bpe and row.bytes_written == 288 * bpe
        assert row.arithmetic_intensity == round(row.macs / ((296 + 144 + 288) * bpe), 4)
    with pytest.raises(InvalidOptionError, match="unknown precision 'fp64'"):
        count_onnx(m, precision="fp64")


# -- patterns: SiLU, SE gates, quantized graphs, views, shape arithmetic ---------------------
def test_x_times_sigmoid_x_is_one_silu_row_but_an_se_gate_is_two():
    m = model([node("Sigmoid", ["x"], ["s"], name="/act/Sigmoid"), node("Mul", ["x", "s"], ["a"], name="/act/Mul"),
               node("GlobalAveragePool", ["a"], ["p"], name="/se/pool/GlobalAveragePool"),
               node("Sigmoid", ["p"], ["g"], name="/se/gate/Sigmoid"),
               node("Mul", ["a", "g"], ["y"], name="/se/Mul")], {"x": X})
    r = count_onnx(m)
    assert [(row.name, row.op, row.macs) for row in r.layers] == [
        ("act", "Swish", N), ("se.pool", "GlobalAveragePool", N), ("se.gate", "Sigmoid", 2), ("se:Mul", "Mul", N)]
    assert r.layers[0].bytes_read == N * 4  # x only: the sigmoid's output never leaves the row


def test_qdq_conv_counts_the_conv_once_and_q_dq_on_activations_elementwise():
    inits = {"s": np.float32(0.1), "z": np.uint8(0), "wq": np.ones((4, 2, 3, 3), np.int8), "ws": np.float32(0.1),
             "wz": np.int8(0)}
    m = model([node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q"),
               node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq"),
               node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], name="dq_w"),  # a weight: folded, no row
               node("Conv", ["xd", "w"], name="conv")], {"x": X}, inits)
    r = count_onnx(m)
    assert [(row.name, row.macs) for row in r.layers] == [("q", N), ("dq", N), ("conv", 4 * 16 * 18)]
    conv = r.layers[-1]
    assert conv.params == 72 and r.totals["conv_linear_macs"] == 4 * 16 * 18 and r.totals["params"] == 72


def test_views_and_shape_arithmetic_make_no_row():
    m = model([node("Shape", ["x"], ["sh"]), node("Gather", ["sh", "i0"], ["n"], axis=0),
               node("Unsqueeze", ["n", "ax"], ["n1"]), node("Concat", ["n1", "m1"], ["shape"], axis=0),
               node("Reshape", ["x", "shape"], ["flat"]), node("Identity", ["flat"], ["y"])],
              {"x": X}, {"i0": np.int64(0), "ax": np.array([0], np.int64), "m1": np.array([-1], np.int64)})
    r = count_onnx(m)
    assert r.layers == [] and r.unsupported == []  # the Concat computes a shape: folded, not a row


def test_unknown_op_is_listed_never_counted_as_zero():
    m = model([node("CumSum", ["x", "ax"], ["c"], name="/cumsum/CumSum"), node("Conv", ["c", "w"], name="/conv/Conv"),
               helper.make_node("Gizmo", ["y"], ["z"], name="gizmo", domain="com.example")],
              {"x": X}, {"ax": np.int64(2), "w": W((2, 2, 1, 1), np.float32)}, outputs=["z"])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    r = count_onnx(m)
    assert [(u.op, u.layers, u.count) for u in r.unsupported] == [("CumSum", ["cumsum"], 1),
                                                                   ("com.example.Gizmo", ["gizmo"], 1)]
    assert [row.name for row in r.layers] == ["conv"] and r.totals["conv_linear_macs"] == 2 * 2 * 36
    assert "CumSum" in r.to_record("odd").error


def test_torch_scope_names_become_module_names():
    m = model([node("Conv", ["x", "w"], ["c"], name="/layer1/layer1.0/conv2/Conv"),
               node("Add", ["c", "x"], ["a"], name="/layer1/layer1.0/Add"),
               node("Relu", ["a"], ["r"], name="/layer1/layer1.0/relu/Relu"),
               node("Relu", ["r"], ["r2"], name="/layer1/layer1.0/relu/Relu_1"),
               node("Add", ["r2", "x"], ["y"], name="/Add_1")], {"x": X}, {"w": W((2, 2, 1, 1), np.float32)})
    r = count_onnx(m)
    assert [row.name for row in r.layers] == ["layer1.0.conv2", "layer1.0:Add", "layer1.0.relu", "layer1.0.relu#2",
                                              "Add"]
    assert [row.node for row in r.layers][1] == "/layer1/layer1.0/Add"
    assert "node" in r.layers[0].to_dict()

"""Closed-form checks: tiny purpose-built nets whose MACs, parameters and bytes
are computed by hand here, one case per entry of the formula table."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgecnn.cost import FORMULAS, count_cost
from edgecnn.cost.formulas import VIEWS
from edgecnn.errors import InvalidOptionError


class Fn(nn.Module):
    """A container whose forward is a function: its ops become functional rows."""

    def __init__(self, fn, *children: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.kids = nn.ModuleList(children)

    def forward(self, x):
        return self.fn(x, *self.kids)


def _single(report):
    assert not report.unsupported, report.unsupported
    assert len(report.layers) == 1, [r.name for r in report.layers]
    return report.layers[0]


# -- the convolution family -----------------------------------------------------
def test_standard_3x3_conv():
    r = count_cost(nn.Conv2d(3, 8, 3, padding=1), (3, 10, 10))
    row = _single(r)
    assert row.macs == 8 * 10 * 10 * 3 * 3 * 3 == 21_600
    assert row.params == 8 * 3 * 9 + 8
    assert row.category == "conv" and row.kernel == [3, 3] and row.stride == [1, 1] and row.groups == 1
    assert row.input_shape == [3, 10, 10] and row.output_shape == [8, 10, 10]
    assert r.totals["conv_linear_macs"] == 21_600 and r.totals["other_macs"] == 0


def test_depthwise_conv():
    row = _single(count_cost(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), (8, 10, 10)))
    assert row.macs == 8 * 10 * 10 * 9 == 7_200
    assert row.params == 8 * 9
    assert row.groups == 8


def test_grouped_strided_conv():
    row = _single(count_cost(nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=4), (8, 10, 10)))
    assert row.output_shape == [16, 5, 5]
    assert row.macs == 16 * 5 * 5 * (8 // 4) * 9 == 7_200
    assert row.params == 16 * 2 * 9 + 16


def test_dilated_conv_changes_output_not_work_per_output():
    row = _single(count_cost(nn.Conv2d(4, 4, 3, dilation=2), (4, 10, 10)))
    assert row.output_shape == [4, 6, 6]
    assert row.macs == 4 * 6 * 6 * 4 * 9 == 5_184


def test_pointwise_conv():
    row = _single(count_cost(nn.Conv2d(16, 32, 1, bias=False), (16, 7, 7)))
    assert row.macs == 16 * 32 * 49
    assert row.params == 512


def test_linear_with_batch():
    r = count_cost(nn.Sequential(nn.Flatten(), nn.Linear(20, 10)), (20, 1, 1), batch=3)
    row = _single(r)
    assert row.macs == 3 * 20 * 10 and row.params == 210 and row.category == "linear"
    assert r.totals["params"] == 210


def test_separable_pair_closed_form():
    m, n, dk, df = 16, 32, 3, 8
    net = nn.Sequential(nn.Conv2d(m, m, dk, padding=1, groups=m, bias=False), nn.BatchNorm2d(m), nn.ReLU(),
                        nn.Conv2d(m, n, 1, bias=False))
    r = count_cost(net, (m, df, df))
    dw, bn, relu, pw = r.layers
    assert dw.macs == dk * dk * m * df * df
    assert pw.macs == m * n * df * df
    assert r.totals["conv_linear_macs"] == dk * dk * m * df * df + m * n * df * df == 41_984
    assert bn.macs == 2 * m * df * df and relu.macs == m * df * df
    assert r.totals["other_macs"] == 3 * m * df * df
    assert r.totals["params"] == m * 9 + 2 * m + m * n


# -- every formula in the table, by closed form ------------------------------------
W1 = torch.randn(4, 2, 3)  # conv1d: C_out 4, C_in 2, K 3
W3 = torch.randn(4, 2, 3, 3, 3)
WT = torch.randn(2, 4, 3, 3)  # conv_transpose2d: C_in 2, C_out 4
X = (2, 6, 6)  # one sample, 72 elements
N = 72

CASES = {
    # op: (forward(x), input shape, expected MACs)
    "conv1d": (lambda x: F.conv1d(x.flatten(2), W1), X, 4 * 34 * 2 * 3),
    "conv2d": (lambda x: F.conv2d(x, torch.ones(3, 2, 2, 2)), X, 3 * 25 * 2 * 4),
    "conv3d": (lambda x: F.conv3d(x.unsqueeze(2).expand(-1, -1, 3, -1, -1), W3), X, 4 * 1 * 4 * 4 * 2 * 27),
    "conv_transpose1d": (lambda x: F.conv_transpose1d(x.flatten(2), W1.transpose(0, 1)), X, N * 4 * 3),
    "conv_transpose2d": (lambda x: F.conv_transpose2d(x, WT), X, N * 4 * 9),
    "conv_transpose3d": (lambda x: F.conv_transpose3d(x.unsqueeze(2), WT.unsqueeze(2)), X, N * 4 * 9),
    "linear": (lambda x: F.linear(x.flatten(1), torch.ones(5, N)), X, 5 * N),
    "matmul": (lambda x: x.flatten(2) @ torch.ones(36, 7), X, 2 * 7 * 36),
    "mm": (lambda x: torch.mm(x.flatten(1), torch.ones(N, 3)), X, 3 * N),
    "bmm": (lambda x: torch.bmm(x.flatten(2), torch.ones(1, 36, 5)), X, 2 * 5 * 36),
    "addmm": (lambda x: torch.addmm(torch.zeros(5), x.flatten(1), torch.ones(N, 5)), X, 5 * N),
    "batch_norm": (lambda x: F.batch_norm(x, torch.zeros(2), torch.ones(2), torch.ones(2), torch.zeros(2)), X, 2 * N),
    "local_response_norm": (lambda x: F.local_response_norm(x, 5), X, N * 7),
    "max_pool1d": (lambda x: F.max_pool1d(x.flatten(2), 4), X, 2 * 9 * 4),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), X, 2 * 9 * 4),
    "max_pool3d": (lambda x: F.max_pool3d(x.unsqueeze(0), 2), X, 1 * 1 * 3 * 3 * 8),  # 1x1x2x6x6 -> 1x1x1x3x3
    "avg_pool1d": (lambda x: F.avg_pool1d(x.flatten(2), 3), X, 2 * 12 * 3),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, stride=1), X, 2 * 16 * 9),
    "avg_pool3d": (lambda x: F.avg_pool3d(x.unsqueeze(0), 2), X, 9 * 8),
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x.flatten(2), 1), X, N),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, 1), X, N),
    "adaptive_avg_pool3d": (lambda x: F.adaptive_avg_pool3d(x.unsqueeze(0), 1), X, N),
    "adaptive_max_pool1d": (lambda x: F.adaptive_max_pool1d(x.flatten(2), 1), X, N),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, 1), X, N),
    "mean": (lambda x: x.mean((2, 3)), X, N),
    "sum": (lambda x: x.sum(1), X, N),
    "add": (lambda x: x + x, X, N),
    "sub": (lambda x: x - 1, X, N),
    "mul": (lambda x: x * x[:, :1], X, N),  # broadcast: counted per output element
    "div": (lambda x: x / 2, X, N),
    "softmax": (lambda x: F.softmax(x, 1), X, 3 * N),
    "log_softmax": (lambda x: F.log_softmax(x, 1), X, 3 * N),
    "cat": (lambda x: torch.cat([x, x], 1), X, 0),
    "stack": (lambda x: torch.stack([x, x], 1), X, 0),
    "contiguous": (lambda x: x.transpose(2, 3).contiguous(), X, 0),
    "clone": (lambda x: x.clone(), X, 0),
    "pad": (lambda x: F.pad(x, (1, 1, 1, 1)), X, 0),
    "dropout": (lambda x: F.dropout(x, 0.5, training=False), X, 0),
    "dropout2d": (lambda x: F.dropout2d(x, 0.5, training=False), X, 0),
    "alpha_dropout": (lambda x: F.alpha_dropout(x, 0.5, training=False), X, 0),
    "prelu": (lambda x: F.prelu(x, torch.ones(2)), X, N),
    "clamp": (lambda x: x.clamp(0, 1), X, N),
    "clip": (lambda x: torch.clip(x, 0, 1), X, N),
    # normalisation layers: 5 per element with affine weights, 4 without (fvcore's estimate)
    "layer_norm": (lambda x: F.layer_norm(x, (6, 6), torch.ones(6, 6), torch.zeros(6, 6)), X, 5 * N),
    "group_norm": (lambda x: F.group_norm(x, 1), X, 4 * N),
    "instance_norm": (lambda x: F.instance_norm(x, weight=torch.ones(2), bias=torch.zeros(2)), X, 5 * N),
    # bilinear: four taps per output element; 2x6x6 -> 2x12x12 = 288 outputs
    "interpolate": (lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), X, 4 * 4 * N),
    "where": (lambda x: torch.where(x > 0, x, x[:, :1]), X, N),
    "masked_fill": (lambda x: x.masked_fill(x[:, :1] > 0, 0.0), X, N),
    "roll": (lambda x: torch.roll(x, 1, 2), X, 0),
    "setitem": (lambda x: x.clone().__setitem__((slice(None), 0), 0.0), X, 0),
    "maximum": (lambda x: torch.maximum(x, x[:, :1]), X, N),
    "minimum": (lambda x: torch.minimum(x, x[:, :1]), X, N),
}
# elementwise math and comparisons: one per output element
for _op, _fn in {"abs": torch.abs, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt,
                 "neg": torch.neg, "reciprocal": torch.reciprocal, "square": torch.square,
                 "pow": (lambda x: torch.pow(x, 3)), "eq": (lambda x: torch.eq(x, 0.5)),
                 "ne": (lambda x: torch.ne(x, 0.5)), "gt": (lambda x: torch.gt(x, 0.5)),
                 "ge": (lambda x: torch.ge(x, 0.5)), "lt": (lambda x: torch.lt(x, 0.5)),
                 "le": (lambda x: torch.le(x, 0.5))}.items():
    # log/sqrt/... get a positive input (x*x + 1: rows of other ops, filtered out by op name below)
    CASES[_op] = ((lambda f: (lambda x: f(x * x + 1)))(_fn), X, N)
for _act in ("relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid",
             "hardsigmoid", "hardswish", "tanh", "softplus"):
    CASES[_act] = ((lambda name: (lambda x: getattr(torch.nn.functional, name)(x)))(_act), X, N)


def test_every_formula_has_a_closed_form_case():
    assert sorted(set(FORMULAS) - set(CASES)) == []


@pytest.mark.parametrize("op", sorted(CASES))
def test_formula(op):
    fn, shape, expected = CASES[op]
    r = count_cost(Fn(lambda x: fn(x)), shape)
    assert not r.unsupported, r.unsupported
    rows = [row for row in r.layers if row.op == op]
    assert len(rows) == 1, [(row.name, row.op) for row in r.layers]
    assert rows[0].macs == expected
    assert rows[0].name == op  # a functional op in the root's forward is named by its op


# -- bytes, precision, arithmetic intensity ------------------------------------
def test_bytes_and_intensity_follow_precision():
    conv = nn.Conv2d(4, 8, 3, padding=1)  # 288 + 8 params; 4x6x6 in, 8x6x6 out
    for precision, bpe in (("fp32", 4), ("fp16", 2), ("int8", 1)):
        row = _single(count_cost(conv, (4, 6, 6), precision=precision))
        assert row.bytes_read == (296 + 144) * bpe
        assert row.bytes_written == 288 * bpe
        assert row.arithmetic_intensity == round(row.macs / ((296 + 144 + 288) * bpe), 4)


def test_batch_norm_bytes_include_running_statistics_but_params_do_not():
    row = _single(count_cost(nn.BatchNorm2d(4), (4, 5, 5)))
    assert row.params == 8  # weight and bias; running mean/var are buffers
    assert row.bytes_read == (100 + 16) * 4 and row.bytes_written == 100 * 4
    assert row.macs == 200


def test_functional_ops_in_forward_are_rows_named_after_their_module():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            y = self.conv(x) + x
            g = torch.sigmoid(F.adaptive_avg_pool2d(y, 1))
            y = torch.cat([y * g, y], 1)
            return self.fc(y.flatten(1)[:, :4])

    r = count_cost(Residual(), (4, 5, 5))
    names = [row.name for row in r.layers]
    assert names == ["conv", "add", "adaptive_avg_pool2d", "sigmoid", "mul", "cat", "fc"]
    by = {row.name: row for row in r.layers}
    assert by["add"].macs == 100 and by["mul"].macs == 100 and by["cat"].macs == 0
    assert by["cat"].bytes_read == 200 * 4 and by["cat"].bytes_written == 200 * 4
    assert r.totals["conv_linear_macs"] == 4 * 25 * 4 * 9 + 12
    assert r.totals["other_macs"] == 100 + 100 + 4 + 100


def test_views_are_known_but_make_no_row():
    r = count_cost(Fn(lambda x: x.reshape(1, -1).view(1, 2, -1).permute(0, 2, 1).flatten(1)), X)
    assert r.layers == [] and r.unsupported == []
    assert {"reshape", "view", "permute", "flatten"} <= VIEWS


# -- unsupported ops and bad input ----------------------------------------------------
def test_unknown_op_is_listed_never_counted_as_zero():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1, bias=False)

        def forward(self, x):
            return self.conv(torch.cumsum(x, dim=2))

    r = count_cost(Odd(), (2, 4, 4))
    assert [u.op for u in r.unsupported] == ["cumsum"]
    assert r.unsupported[0].layers == ["(model forward)"] and r.unsupported[0].count == 1
    assert [row.name for row in r.layers] == ["conv"]  # the rest is still counted
    assert r.totals["conv_linear_macs"] == 2 * 2 * 16
    rec = r.to_record("odd")
    assert "cumsum" in rec.error and rec.metrics["unsupported_ops"][0]["op"] == "cumsum"


@pytest.mark.parametrize("size", [0, -3, (0, 4), (1, 2, 3, 4), "224", True])
def test_bad_input_size_is_a_clear_error(size):
    with pytest.raises(InvalidOptionError, match="input size"):
        count_cost(nn.Conv2d(3, 3, 3), size)


def test_kernel_larger_than_input_is_a_clear_error():
    with pytest.raises(InvalidOptionError, match=r"cannot run on a 1x3x2x2 input: .*[Kk]ernel size"):
        count_cost(nn.Conv2d(3, 3, 5), 2)


def test_bad_precision_and_batch():
    with pytest.raises(InvalidOptionError, match="unknown precision 'fp64'"):
        count_cost(nn.Conv2d(3, 3, 3), 8, precision="fp64")
    with pytest.raises(InvalidOptionError, match="batch"):
        count_cost(nn.Conv2d(3, 3, 3), 8, batch=0)


def test_counting_leaves_the_model_as_it_was():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout())
    net.train()
    before = net[1].running_mean.clone()
    count_cost(net, 8)
    assert net.training and torch.equal(net[1].running_mean, before)
    assert not net[0]._forward_hooks and not net[0]._forward_pre_hooks


def test_meta_device_model_counts_shapes_only():
    with torch.device("meta"):
        net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
    r = count_cost(net, 512)
    assert r.totals["conv_linear_macs"] == 512 * 512 * 64 * 9 * (3 + 64)

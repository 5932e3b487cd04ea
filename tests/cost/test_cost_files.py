"""The ONNX counter against independent counts: timm models (not in the zoo)
against torch's FlopCounterMode, zoo models row by row against the PyTorch
counter, the separable check on an exported MobileNet v1, and bad files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from edgecnn.cost import count_cost, count_file, count_onnx, separable_pairs, separable_pairs_file
from edgecnn.errors import CorruptFileError, InvalidOptionError
from edgecnn.models import create_model


def export(model: nn.Module, size: int, path, **kw):
    """torch.onnx's TorchScript exporter, as ``edgecnn export`` uses it."""
    torch.onnx.export(model.eval(), (torch.randn(1, 3, size, size),), str(path), dynamo=False, opset_version=17,
                      input_names=["input"], **kw)
    return path


def torch_macs(model: nn.Module, size: int) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(torch.randn(1, 3, size, size))
    return counter.get_total_flops() // 2  # two FLOPs per multiply-add


# -- timm architectures: conv + linear MACs equal FlopCounterMode / 2 ----------------------------
@pytest.mark.parametrize("name,size,kw", [
    ("mobilenetv4_conv_small", 64, {}),  # inverted residuals, universal inverted bottlenecks
    ("lcnet_050", 64, {}),  # hardswish, squeeze-excitation
    ("vit_tiny_patch16_224", 32, {"img_size": 32}),  # MatMul: qkv, attention scores, MLP
])
def test_timm_models_agree_with_torch_flop_counter(name, size, kw, tmp_path):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, **kw)
    for mod in model.modules():  # attention as explicit matmuls, which FlopCounterMode counts on the CPU
        if hasattr(mod, "fused_attn"):
            mod.fused_attn = False
    expected = torch_macs(model, size)
    r = count_onnx(export(model, size, tmp_path / f"{name}.onnx"))
    assert not r.unsupported, r.unsupported
    assert r.totals["conv_linear_macs"] == pytest.approx(expected, rel=0.01)
    assert r.totals["conv_linear_macs"] == expected  # in fact exact


# -- zoo models: the same rows as the PyTorch counter ---------------------------------------------
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_zoo_rows_match_the_pytorch_counter(name, tmp_path):
    """Exported with BatchNorm kept (TrainingMode.PRESERVE on an eval model): every
    conv/linear row has the PyTorch row's name, MACs, parameters, shapes and bytes."""
    torch.manual_seed(0)
    model = create_model(name, input_size=32).eval()
    torch_report = count_cost(model, 32)
    onnx_report = count_onnx(export(model, 32, tmp_path / "m.onnx", training=torch.onnx.TrainingMode.PRESERVE))
    assert not onnx_report.unsupported
    keys = ("macs", "params", "kernel", "stride", "groups", "input_shape", "output_shape", "bytes_read",
            "bytes_written", "in_channels", "out_channels")
    ours = {r.name: r for r in onnx_report.layers}
    theirs = [r for r in torch_report.layers if r.category in ("conv", "linear")]
    assert len(theirs) == len([r for r in onnx_report.layers if r.category in ("conv", "linear")])
    for row in theirs:
        assert {k: getattr(ours[row.name], k) for k in keys} == {k: getattr(row, k) for k in keys}, row.name
    # BatchNorm rows too (2 MACs per element, scale + shift as parameters, running statistics in bytes)
    bn = [r for r in torch_report.layers if r.op == "batch_norm"]
    assert bn and all((ours[r.name].macs, ours[r.name].params, ours[r.name].bytes_read) ==
                      (r.macs, r.params, r.bytes_read) for r in bn)
    t, o = torch_report.totals, onnx_report.totals
    assert (o["conv_linear_macs"], o["other_macs"], o["params"]) == (t["conv_linear_macs"], t["other_macs"],
                                                                    t["params"])
    # the one row PyTorch has and the graph does not: dropout, an identity in an eval export
    dropout = [r for r in torch_report.layers if r.op == "dropout"]
    assert o["bytes"] == t["bytes"] - sum(r.bytes_read + r.bytes_written for r in dropout)


def test_folded_batch_norm_keeps_conv_macs_and_adds_a_bias(tmp_path):
    """The default (eval) export folds BatchNorm into the conv: conv MACs are
    unchanged, each folded conv gains C_out bias parameters, BN rows disappear."""
    model = create_model("resnet18", input_size=32).eval()
    torch_rows = {r.name: r for r in count_cost(model, 32).layers}
    r = count_onnx(export(model, 32, tmp_path / "m.onnx"))
    assert not [row for row in r.layers if row.op == "BatchNormalization"]
    for row in r.layers:
        if row.category == "conv":
            assert row.macs == torch_rows[row.name].macs
            assert row.params == torch_rows[row.name].params + row.out_channels


def test_separable_check_on_an_exported_mobilenet_v1(tmp_path):
    model = create_model("mobilenet_v1").eval()
    path = export(model, 224, tmp_path / "mobilenet_v1.onnx")  # BatchNorm folded: the convs are unchanged
    from_file = separable_pairs_file(path)
    from_module = separable_pairs(model, 224)
    assert len(from_file) == 13
    assert [p.to_dict() for p in from_file] == [p.to_dict() for p in from_module]
    assert [p.df for p in from_file] == [112, 56, 56, 28, 28, 14, 14, 14, 14, 14, 14, 7, 7]
    assert all(p.matches for p in from_file)


# -- input sizes and batches -------------------------------------------------------------------------
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


@pytest.fixture(scope="module")
def dynamic_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("dyn") / "tiny_dynamic.onnx"
    return export(Tiny(), 16, path, dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}})


def test_dynamic_size_needs_an_input_size(dynamic_onnx):
    with pytest.raises(InvalidOptionError, match=r"dynamic size \(\?x3x\?x\?\); pass --input-size"):
        count_onnx(dynamic_onnx)
    r = count_file(dynamic_onnx, input_size=(20, 12), batch=2)  # a dynamic batch becomes ``batch``
    assert r.input_shape == [3, 20, 12] and r.batch == 2
    assert r.totals["conv_linear_macs"] == 2 * (8 * 20 * 12 * 27 + 8 * 4)
    assert r.layers[0].output_shape == [8, 20, 12]


def test_input_too_small_for_the_kernel_is_one_line(tmp_path):
    path = export(nn.Conv2d(3, 4, 5), 8, tmp_path / "k5.onnx", dynamic_axes={"input": {2: "h", 3: "w"}})
    with pytest.raises(InvalidOptionError, match=r"cannot run on a 1x3x2x2 input: Conv .* would output 1x4x-2x-2"):
        count_onnx(path, input_size=2)


def test_a_static_graph_refuses_other_sizes_and_batches(tmp_path):
    path = export(Tiny(), 16, tmp_path / "tiny.onnx")
    assert count_onnx(path, input_size=16).input_shape == [3, 16, 16]
    with pytest.raises(InvalidOptionError, match="fixed at 3x16x16; it cannot be counted at 32x32"):
        count_onnx(path, input_size=32)
    with pytest.raises(InvalidOptionError, match="fixed batch of 1"):
        count_onnx(path, batch=4)
    with pytest.raises(InvalidOptionError, match="has 3 channels, not 1"):
        count_onnx(path, input_size=(1, 16, 16))


# -- bad files: one error line each --------------------------------------------------------------------
def test_a_file_that_is_not_a_model(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n" * 20)
    with pytest.raises(CorruptFileError, match="cannot read .*notes.onnx as an ONNX model"):
        count_file(text)
    with pytest.raises(InvalidOptionError, match="does not exist"):
        count_file(tmp_path / "missing.onnx")
    with pytest.raises(InvalidOptionError, match=r"must end in \.onnx or \.tflite"):
        count_file(tmp_path / "model.pt")


def test_a_truncated_onnx_file(tmp_path):
    whole = export(Tiny(), 16, tmp_path / "tiny.onnx").read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CorruptFileError, match="cut.onnx"):
        count_file(cut)


# -- quantized graphs: the float graph's conv/linear MACs, counted once ---------------------------------
@pytest.fixture(scope="module")
def mobilenet_v2_onnx(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("q") / "mobilenet_v2.onnx"
    export(create_model("mobilenet_v2", input_size=32), 32, path)
    return path


def calibration_batches():
    # counting does not depend on values; calibration only has to run
    rng = np.random.default_rng(0)
    return [rng.standard_normal((1, 3, 32, 32)).astype(np.float32) for _ in range(2)]


def test_qdq_int8_export_counts_the_float_convs_once(mobilenet_v2_onnx, tmp_path):
    from edgecnn.export.onnx import quantize_qdq

    qdq = tmp_path / "int8.onnx"
    quantize_qdq(mobilenet_v2_onnx, qdq, calibration_batches(), symmetric=False, metadata={})
    fp32, int8 = count_file(mobilenet_v2_onnx), count_file(qdq)
    assert not int8.unsupported
    assert int8.totals["conv_linear_macs"] == fp32.totals["conv_linear_macs"]
    convs = {r.name: r.macs for r in fp32.layers if r.category != "other"}
    assert {r.name: r.macs for r in int8.layers if r.category != "other"} == convs
    # weights are dequantized from constants (no rows); activations are quantized and dequantized per element
    q = [r for r in int8.layers if r.op in ("QuantizeLinear", "DequantizeLinear")]
    assert q and all(r.macs == math.prod(r.output_shape) for r in q)


def test_qoperator_int8_export_with_onnxruntime_ops(mobilenet_v2_onnx, tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"input": b} for b in calibration_batches()])

        def get_next(self):
            return next(self.batches, None)

    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre, qop = tmp_path / "pre.onnx", tmp_path / "qop.onnx"
    quant_pre_process(str(mobilenet_v2_onnx), str(pre), skip_symbolic_shape=True)  # as edgecnn's QDQ export
    quantize_static(str(pre), str(qop), Reader(), quant_format=QuantFormat.QOperator)
    r = count_file(qop)
    assert not r.unsupported  # QLinearAdd and QGemm (com.microsoft) shaped by an ONNX Runtime run
    ops = {row.op for row in r.layers}
    assert {"QLinearConv", "com.microsoft.QLinearAdd", "com.microsoft.QGemm"} <= ops
    assert r.totals["conv_linear_macs"] == count_file(mobilenet_v2_onnx).totals["conv_linear_macs"]

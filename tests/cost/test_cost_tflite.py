"""The TFLite counter on a file converted by litert-torch from a small module
(conv + BN + ReLU, depthwise, pointwise, grouped conv, residual add, max pool,
mean, linear, softmax): conv + linear MACs equal torch's FlopCounterMode / 2,
rows read channels-first, names are the PyTorch modules; bad files are one line."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from edgecnn.cost import count_file, count_tflite
from edgecnn.cost.separable import pairs_from_report
from edgecnn.errors import CorruptFileError, InvalidOptionError

pytestmark = pytest.mark.tflite


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 16, 1)
        self.g = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.c1(x)))
        x = nn.functional.hardswish(self.pw(self.dw(x)))
        x = self.pool(self.g(x) + x)
        return torch.softmax(self.fc(x.mean((2, 3))), 1)


SIZE = 16


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    litert_torch = pytest.importorskip("litert_torch")
    torch.manual_seed(0)
    model = Net().eval()
    sample = torch.randn(1, 3, SIZE, SIZE)
    path = tmp_path_factory.mktemp("tfl") / "net.tflite"
    litert_torch.convert(model, (sample,)).export(str(path))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(sample)
    return path, counter.get_total_flops() // 2


def test_conv_and_linear_macs_equal_torch_flop_counter(converted):
    path, expected = converted
    r = count_tflite(path)
    assert not r.unsupported, r.unsupported
    assert r.totals["conv_linear_macs"] == pytest.approx(expected, rel=0.01)
    assert r.totals["conv_linear_macs"] == expected == 8 * 64 * 27 + 8 * 64 * 9 + 16 * 64 * 8 + 16 * 64 * 36 + 160


def test_rows_are_channels_first_and_named_after_modules(converted):
    r = count_file(converted[0])
    by = {row.name: row for row in r.layers}
    assert r.input_shape == [3, SIZE, SIZE]
    # the stride-2 conv reads the map its explicit PAD made (16 + 2); BatchNorm is folded into its bias
    c1 = by["c1"]
    assert (c1.op, c1.input_shape, c1.output_shape, c1.stride, c1.params) == ("CONV_2D", [3, 18, 18], [8, 8, 8],
                                                                             [2, 2], 8 * 27 + 8)
    dw, g, fc = by["dw"], by["g"], by["fc"]
    assert (dw.op, dw.groups, dw.kernel, dw.macs, dw.in_channels, dw.out_channels) == ("DEPTHWISE_CONV_2D", 8, [3, 3],
                                                                                       8 * 64 * 9, 8, 8)
    assert (g.groups, g.macs, g.params) == (4, 16 * 64 * 36, 16 * 4 * 9 + 16)
    assert (fc.category, fc.macs, fc.params, fc.input_shape) == ("linear", 160, 170, [16])
    assert by["pool"].op == "MAX_POOL_2D" and by["pool"].macs == 16 * 16 * 4 and by["pool"].output_shape == [16, 4, 4]
    assert by["ADD"].macs == 16 * 64 and by["ADD"].input_shape == [16, 8, 8]  # NHWC between convs, shown CHW
    assert by["SOFTMAX"].macs == 30 and by["MEAN"].macs == 256
    assert c1.node and c1.node.endswith(";2") and "Conv2d_c1" in c1.node  # the tensor name, to join profiles
    # the converter's layout transposes and explicit padding are data movement: 0 MACs, bytes kept
    moves = [row for row in r.layers if row.op in ("TRANSPOSE", "PAD")]
    assert moves and all(row.macs == 0 and row.bytes_read > 0 for row in moves)


def test_separable_pair_in_the_tflite_rows(converted):
    (pair,) = pairs_from_report(count_tflite(converted[0]))
    assert (pair.depthwise, pair.pointwise, pair.m, pair.n, pair.dk, pair.df) == ("dw", "pw", 8, 16, 3, 8)
    assert pair.matches


def test_sizes_and_batches_must_match_the_file(converted):
    path = converted[0]
    assert count_tflite(path, input_size=SIZE).totals == count_tflite(path).totals
    with pytest.raises(InvalidOptionError, match="fixed at 1x3x16x16; it cannot be counted at 32"):
        count_tflite(path, input_size=32)
    with pytest.raises(InvalidOptionError, match="fixed batch of 1"):
        count_tflite(path, batch=2)


def test_a_dynamic_input_is_refused(converted, tmp_path):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(converted[0].read_bytes()), 0)
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].shapeSignature = [1, 3, -1, -1]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / "dynamic.tflite"
    path.write_bytes(builder.Output())
    with pytest.raises(InvalidOptionError, match=r"dynamic size \(1x3x\?x\?\); TFLite cost counting needs static"):
        count_tflite(path)


def test_bad_tflite_files_are_one_line(converted, tmp_path):
    text = tmp_path / "notes.tflite"
    text.write_text("not a flatbuffer\n" * 10)
    with pytest.raises(CorruptFileError, match="is not a TFLite flatbuffer"):
        count_file(text)
    whole = converted[0].read_bytes()
    for n in (16, len(whole) // 2):
        cut = tmp_path / f"cut{n}.tflite"
        cut.write_bytes(whole[:n])
        with pytest.raises(CorruptFileError, match=f"cut{n}.tflite"):
            count_file(cut)

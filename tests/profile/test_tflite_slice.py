"""LiteRT layers cut out of the converted model, and convolutions written as
.tflite directly: both compute what they stand for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgecnn.runtime import RUNNERS

pytestmark = pytest.mark.tflite


def _skip_without_litert():
    reason = RUNNERS.get("litert").unavailable_reason("cpu")
    if reason:
        pytest.skip(reason)


def _run(model_bytes_or_path, x, preserve=False):
    from ai_edge_litert.interpreter import Interpreter

    kw = {"model_content": model_bytes_or_path} if isinstance(model_bytes_or_path, bytes) else \
        {"model_path": str(model_bytes_or_path)}
    it = Interpreter(**kw, experimental_preserve_all_tensors=preserve)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it


@pytest.mark.parametrize("m, n, k, df, stride", [(8, 16, 3, 12, 1), (8, 16, 3, 12, 2), (6, 4, 5, 9, 2),
                                                 (4, 8, 1, 5, 1)])
def test_conv_chain_computes_pytorchs_convolutions(m, n, k, df, stride):
    _skip_without_litert()
    from edgecnn.profile import tflite_slice as ts

    layers = [{"kind": "dw", "k": k, "stride": stride, "pad": k // 2}, {"kind": "conv", "out": n, "k": 1}]
    data = ts.conv_chain_model([1, df, df, m], layers)
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    sg = model.subgraphs[0]
    weights = {}
    for t in sg.tensors:
        if t.name.endswith(b"/weight"):
            weights[t.name.decode()] = np.frombuffer(bytes(model.buffers[t.buffer].data), np.float32).reshape(t.shape)
    x = np.random.RandomState(1).standard_normal((1, df, df, m)).astype(np.float32)
    it = _run(data, x)
    out = it.get_tensor(it.get_output_details()[0]["index"])
    dw = torch.nn.Conv2d(m, m, k, stride, k // 2, groups=m, bias=False)
    pw = torch.nn.Conv2d(m, n, 1, bias=False)
    dw.weight.data = torch.from_numpy(weights["l0/weight"].transpose(3, 0, 1, 2).copy())  # [1,k,k,C] -> [C,1,k,k]
    pw.weight.data = torch.from_numpy(weights["l1/weight"].transpose(0, 3, 1, 2).copy())  # [N,1,1,C] -> [N,C,1,1]
    with torch.no_grad():
        ref = pw(dw(torch.from_numpy(x.transpose(0, 3, 1, 2)))).numpy().transpose(0, 2, 3, 1)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    ops = [o.opcodeIndex for o in sg.operators]
    assert len(ops) == (3 if (k > 1 and stride > 1) else 2)  # an explicit PAD where SAME is not PyTorch's padding


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(8, 8, 3, 2, 1, groups=8)  # named like Tiny.conv: the path must tell them apart
        self.bn = torch.nn.BatchNorm2d(8)
        self.act = torch.nn.ReLU6()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Tiny(torch.nn.Module):
    """A strided depthwise conv (PAD + DEPTHWISE_CONV_2D in TFLite), BN folded into
    convs, a pointwise conv and a linear classifier: a MobileNet block in small."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.conv, self.bn, self.act = nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU6()
        self.block = Block()
        self.pw = nn.Conv2d(8, 16, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.pw(self.block(self.act(self.bn(self.conv(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    """(module, its .tflite from litert-torch, as edgecnn's TFLite export converts)."""
    _skip_without_litert()
    import litert_torch

    torch.manual_seed(0)
    model = Tiny().eval()
    path = tmp_path_factory.mktemp("slice") / "tiny.tflite"
    litert_torch.convert(model, (torch.randn(1, 3, 32, 32),)).export(str(path))
    return model, path


def test_slices_compute_the_ops_of_the_full_model(tiny_tflite):
    from edgecnn.profile import tflite_slice as ts
    from edgecnn.profile.isolated import isolated_layers

    model, path = tiny_tflite
    unique, _, _ = isolated_layers(model, [1, 3, 32, 32])
    fb = ts.read_model(str(path))
    found = ts.ops_by_module(fb, unique)
    assert set(found) == set(unique) == {"conv", "block.conv", "pw", "fc"}  # fc: a graph output, found by its weights
    kinds = ts.op_names(fb)
    assert any([kinds[i] for i in ops] == ["PAD", "DEPTHWISE_CONV_2D"] for ops in found.values())
    x = np.random.RandomState(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    full = _run(path, x, preserve=True)
    sg = fb.subgraphs[0]
    checked = 0
    for name, ops in found.items():
        first, last = sg.operators[ops[0]], sg.operators[ops[-1]]
        data = ts.slice_model(fb, ops)
        assert data is not None, name
        part = _run(data, full.get_tensor(first.inputs[0]))
        got = part.get_tensor(part.get_output_details()[0]["index"])
        np.testing.assert_allclose(got, full.get_tensor(last.outputs[0]), rtol=1e-5, atol=1e-5, err_msg=name)
        checked += 1
    assert checked == len(unique)


def test_sliced_layer_times_rows_and_their_method(tiny_tflite):
    from edgecnn.models import create_model
    from edgecnn.profile.isolated import SLICED_METHOD, isolated_layers, sliced_layer_times
    from test_profile_isolated import assert_own_copies_taken_out

    model, path = tiny_tflite
    rows = sliced_layer_times(model, [1, 3, 32, 32], str(path), RUNNERS.get("litert"), threads=1, runs=5)
    names = list(isolated_layers(model, [1, 3, 32, 32])[2])
    assert [r["name"] for r in rows] == names
    assert all(r["method"] == SLICED_METHOD for r in rows)
    assert_own_copies_taken_out(rows)
    conv = next(r for r in rows if r["name"] == "conv")  # 3 -> 8 channels, 3x3, stride 2, 16x16 out: above its copies
    assert conv["time_ms"] > conv["input_set_ms"] + conv["output_get_ms"]
    # a model whose modules are not in this artifact: None, so the caller converts the layers instead
    other = create_model("lenet5").eval()  # its features.0 has Tiny's path, its other layers are not there
    assert sliced_layer_times(other, [1, 3, 32, 32], str(path), RUNNERS.get("litert"), threads=1, runs=3) is None


def test_profile_records_litert_layers_sliced_from_the_timed_artifact(real_records):
    """`edgecnn profile ... --runtimes torch,onnxruntime,litert` as tests/real_records.py runs it."""
    from edgecnn.profile.isolated import SLICED_METHOD
    from edgecnn.records import RecordStore

    recs = [r for r in RecordStore(real_records.profiles).load(kind="layer_latency", device="local")
            if r.runtime == "litert" and r.model == "lenet5"]
    assert recs and all(r.ok for r in recs), [r.error for r in recs]
    rec = recs[-1]
    assert rec.metrics["method"] == SLICED_METHOD
    timed = {row["name"] for row in rec.metrics["layers"] if row.get("time_ms") is not None and row.get("macs")}
    assert {"features.0", "features.3", "classifier.0", "classifier.2", "classifier.4"} <= timed, timed

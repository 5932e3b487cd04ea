"""INT8 methods, layers kept in float, sensitivity ranking, the mixed-precision
search and cross-layer equalisation, on tiny models (seconds each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


class Outlier:
    """A 3-conv net whose middle conv has one output channel with 1000x larger
    weights: per-tensor INT8 of that conv loses every other channel."""

    @staticmethod
    def build(path: Path) -> Path:
        import torch
        from torch import nn

        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                            nn.Conv2d(8, 4, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
        with torch.no_grad():
            net[2].weight[0] *= 1000.0
            net[4].weight[:, 0] /= 1000.0  # the function stays reasonable
        torch.onnx.export(net, (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        return path


@pytest.fixture
def outlier_onnx(tmp_path) -> Path:
    return Outlier.build(tmp_path / "outlier.onnx")


def _data(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3, 8, 8)).astype(np.float32)


def test_auto_picks_reduce_range_where_int8_saturates():
    from edgecnn.export.quantize import int8_saturates

    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the saturation rule is about x86 CPUs")
    assert int8_saturates({"avx2", "fma"}) is True  # AVX2 without VNNI: vpmaddubsw sums in int16
    assert int8_saturates({"avx2", "avx512_vnni"}) is False
    assert int8_saturates({"avx2", "avx_vnni"}) is False
    assert int8_saturates({"sse4_2"}) is False


def test_unknown_method_suggests_the_closest():
    from edgecnn.errors import EdgeCNNError
    from edgecnn.export.quantize import resolve_method

    with pytest.raises(EdgeCNNError, match="per-channel"):
        resolve_method("per-chanel")
    assert resolve_method("nncf-bc").bias_correction == "full"


def test_unnamed_nodes_get_stable_names():
    from onnx import helper

    from edgecnn.export.quantize import name_nodes

    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"], name="named"),
             helper.make_node("Relu", ["b"], ["c"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [1])],
                              [helper.make_tensor_value_info("c", 1, [1])])
    model = helper.make_model(graph)
    assert name_nodes(model) == 2
    assert [n.name for n in model.graph.node] == ["node_Relu_1", "named", "node_Relu_2"]


def test_keep_float_leaves_that_layer_without_quantized_weights(outlier_onnx, tmp_path):
    from edgecnn.errors import InvalidOptionError
    from edgecnn.export.quantize import layer_nodes, quantize_onnx

    batches = [_data(1, i) for i in range(16)]
    nodes = layer_nodes(onnx.load(str(outlier_onnx)))
    conv2 = next(n for n in nodes if "Conv" in n and n.endswith("2/Conv"))
    out = tmp_path / "q.onnx"
    fig = quantize_onnx(outlier_onnx, out, batches, "per-tensor", keep_float=[conv2])
    assert fig["float_nodes"] == [conv2] and fig["quant_method"] == "per-tensor" and fig["qdq_nodes"] > 0
    q = onnx.load(str(out))
    node = next(n for n in q.graph.node if n.name == conv2)
    producers = {o: n.op_type for n in q.graph.node for o in n.output}
    assert producers.get(node.input[1]) != "DequantizeLinear"  # float weights stay an initializer
    other = next(n for n in q.graph.node if n.op_type == "Conv" and n.name != conv2)
    assert producers.get(other.input[1]) == "DequantizeLinear"
    with pytest.raises(InvalidOptionError, match="no such layer"):
        quantize_onnx(outlier_onnx, out, batches, "per-tensor", keep_float=["/nope/Conv"])


def test_sensitivity_ranks_the_outlier_conv_first_per_tensor(outlier_onnx):
    from edgecnn.export.sensitivity import layer_sensitivity

    x = _data(64, 7)
    sens = layer_sensitivity(outlier_onnx, [_data(1, i) for i in range(16)], x, None, "per-tensor")
    assert sens.ranking[0].endswith("2/Conv"), sens.rows[:3]
    assert sens.rows[0]["logit_error"] > 10 * sens.rows[-1]["logit_error"]
    assert {r["layer"] for r in sens.rows} >= {n for n in sens.ranking if n.endswith("Conv")}
    assert sens.all_int8["logit_error"] >= sens.rows[0]["logit_error"] * 0.5


def test_search_prefix_finds_the_fewest_layers():
    from edgecnn.export.sensitivity import search_prefix

    ranking = [f"l{i}" for i in range(10)]
    costs = [3.0, 1.0, 0.4, 0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0]  # top-1 points each layer loses in INT8
    asked = []

    def top1_with(keep):
        asked.append(len(keep))
        return 70.0 - sum(c for name, c in zip(ranking, costs) if name not in keep)

    res = search_prefix(ranking, 0.5, 70.0, top1_with)
    assert res.keep_float == ["l0", "l1", "l2"] and res.search_drop == pytest.approx(0.3)
    assert len(asked) <= 6 and asked[0] == 0
    miss = search_prefix(ranking[:2], 0.0, 70.0, lambda keep: 69.0)  # nothing in float helps
    assert miss.keep_float == ["l0", "l1"] and miss.search_drop == pytest.approx(1.0)


def test_equalisation_keeps_the_function_and_evens_the_ranges():
    import torch

    from edgecnn.export.equalize import equalize
    from edgecnn.models import create_model

    torch.manual_seed(0)
    model = create_model("mobilenet_v3_small", input_size=32, num_classes=10).eval()
    for m in model.modules():  # give the BatchNorms real statistics, so folding them changes the weights
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
            m.running_mean.normal_()
    eq, fig = equalize(model)
    assert fig["cle_pairs"] >= 5 and fig["bn_folded"] > 20 and fig["cle_iterations"] >= 1
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref, got = model(x), eq(x)
    assert float((ref - got).abs().max()) <= 1e-3 * float(ref.abs().max())
    from edgecnn.export.equalize import find_pairs

    mods = dict(eq.named_modules())
    a, b = find_pairs(eq)[1]
    r1 = mods[a].weight.detach().flatten(1).abs().amax(1)
    dw = mods[b].groups > 1
    r2 = mods[b].weight.detach().transpose(0, 1).flatten(1).abs().amax(1) if not dw else \
        mods[b].weight.detach().flatten(1).abs().amax(1)
    assert float((r1 / r2).std()) < 0.5 * float(r1.mean() / r2.mean())  # ranges evened out channel by channel

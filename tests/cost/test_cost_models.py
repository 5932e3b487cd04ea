"""Zoo-level figures: conv/linear MACs and parameters against the published
numbers, and the separable check on real MobileNet/EfficientNet blocks.

Models are built on the ``meta`` device: the counter needs shapes only, so
even VGG-16 costs no memory and no arithmetic here.
"""

from __future__ import annotations

import pytest
import torch

from edgecnn.cost import count_cost, separable_layer_check, separable_pairs
from edgecnn.errors import InvalidOptionError
from edgecnn.models import create_model


def build(name: str, **kw):
    """The registered zoo model, on the meta device."""
    with torch.device("meta"):
        return create_model(name, **kw)


def torchvision_published(name: str) -> tuple[float, int]:
    """(GMACs, params) from torchvision's weight metadata (its "GFLOPS" column is GMACs)."""
    import torchvision

    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    return meta["_ops"], meta["num_params"]


# name -> torchvision publishes figures for it (else: the paper figure in PAPER)
# (edgecnn's alexnet is the paper's two-tower, LRN version, not torchvision's one-tower
# variant: it is checked against the paper's figures below)
TORCHVISION = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "resnet50", "vgg16", "efficientnet_b0"]


@pytest.mark.parametrize("name", TORCHVISION)
def test_conv_linear_macs_within_2pct_of_torchvision(name):
    gmacs, params = torchvision_published(name)
    r = count_cost(build(name), 224)
    assert not r.unsupported, r.unsupported
    assert r.totals["conv_linear_macs"] == pytest.approx(gmacs * 1e9, rel=0.02)
    assert r.totals["params"] == params


EXPECTED_M = {  # conv/linear MACs in millions as counted (for the record of what "within 2%" means)
    "mobilenet_v2": 300.77, "mobilenet_v3_small": 56.51, "mobilenet_v3_large": 216.59, "resnet50": 4089.18,
    "vgg16": 15470.26, "alexnet": 724.41, "efficientnet_b0": 385.81,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_M))
def test_counted_figures_are_stable(name):
    r = count_cost(build(name), 224)
    assert r.totals["conv_linear_macs"] / 1e6 == pytest.approx(EXPECTED_M[name], abs=0.01)


def test_alexnet_against_the_paper():
    # Sze et al. 2017, Table III: 666 M conv + 58.6 M FC MACs, 61 M weights for the two-tower AlexNet
    r = count_cost(build("alexnet"), 224)
    assert r.totals["conv_linear_macs"] == pytest.approx(724e6, rel=0.03)
    assert r.totals["params"] == 60_965_224
    convs = sum(row.macs for row in r.layers if row.category == "conv")
    assert convs == pytest.approx(666e6, rel=0.01)
    assert "local_response_norm" in {row.op for row in r.layers}  # LRN, as in the paper


def test_mobilenet_v1_against_the_paper():
    r = count_cost(build("mobilenet_v1"), 224)
    assert r.totals["conv_linear_macs"] == pytest.approx(569e6, rel=0.03)  # paper Table 6: 569 M mult-adds
    assert r.totals["conv_linear_macs"] == 568_740_352
    assert r.totals["params"] == pytest.approx(4.2e6, rel=0.03) and r.totals["params"] == 4_231_976


def test_mobilenet_v1_separable_check_lists_13_blocks_matching_the_formula():
    pairs = separable_pairs(build("mobilenet_v1"), 224)
    assert len(pairs) == 13
    for p in pairs:
        assert p.dk == 3 and p.depth_multiplier == 1
        assert round(p.counted_ratio, 4) == round(1 / p.n + 1 / 9, 4), p
        assert p.macs_separable == 9 * p.m * p.df ** 2 + p.m * p.n * p.df ** 2
        assert p.macs_standard == 9 * p.m * p.n * p.df ** 2
    # Table 1: the map sides the 13 blocks output at 224 px, and their strides
    assert [p.df for p in pairs] == [112, 56, 56, 28, 28, 14, 14, 14, 14, 14, 14, 7, 7]
    assert [p.stride for p in pairs] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    assert [(p.m, p.n) for p in pairs][:3] == [(32, 64), (64, 128), (128, 128)]
    assert pairs[1].df_in == 112  # strided: Df is the output side, the input was 112


@pytest.mark.parametrize("name,count", [("mobilenet_v2", 17), ("mobilenet_v3_small", 11),
                                        ("mobilenet_v3_large", 15), ("efficientnet_b0", 16)])
def test_inverted_residual_pairs_skip_se_convs_and_match(name, count):
    pairs = separable_pairs(build(name), 224)
    assert len(pairs) == count
    assert all(p.matches for p in pairs)
    # the pointwise conv is the projection, never the SE block's 1x1 convs on a 1x1 map
    assert all(p.df > 1 for p in pairs)


def test_xception_pairs():
    pairs = separable_pairs(build("xception"), 299)
    assert pairs and all(p.matches for p in pairs)


def test_resnet_has_no_separable_pairs():
    assert separable_pairs(build("resnet50"), 64) == []


@pytest.mark.parametrize("stride,df_out", [(1, 112), (2, 56)])
def test_single_layer_check(stride, df_out):
    p = separable_layer_check(32, 64, 3, 112, stride)
    assert p.df == df_out and p.df_in == 112
    assert p.macs_separable == 9 * 32 * df_out ** 2 + 32 * 64 * df_out ** 2
    assert p.macs_standard == 9 * 32 * 64 * df_out ** 2
    assert p.counted_ratio == pytest.approx(1 / 64 + 1 / 9, abs=1e-12)


def test_single_layer_check_large_layer_is_instant_and_exact():
    p = separable_layer_check(1024, 1024, 3, 14)  # a 9.4 M-weight standard conv: counted on meta
    assert p.counted_ratio == pytest.approx(1 / 1024 + 1 / 9)


@pytest.mark.parametrize("args,msg", [((0, 64, 3, 112), "M must be"), ((32, 64, 3, 112, 0), "stride"),
                                      ((32, 64, 3, -1), "Df must be"), ((32, 64, 3.5, 8), "Dk must be")])
def test_single_layer_check_bad_shapes(args, msg):
    with pytest.raises(InvalidOptionError, match=msg):
        separable_layer_check(*args)


def test_records_round_trip(tmp_path):
    from edgecnn.records import RecordStore

    model = build("mobilenet_v1")
    r = count_cost(model, 224)
    store = RecordStore(tmp_path)
    store.append(r.to_record("mobilenet_v1", dataset="imagenet"))
    store.extend(p.to_record("mobilenet_v1", input_shape=r.input_shape) for p in separable_pairs(model, 224))
    cost = store.load(kind="cost")
    assert len(cost) == 1 and cost[0].source == "analytic" and cost[0].input_shape == [3, 224, 224]
    assert cost[0].metrics["macs"] == 568_740_352 and cost[0].metrics["params"] == 4_231_976
    assert len(cost[0].metrics["layers"]) == len(r.layers)
    sep = store.load(kind="separable")
    assert len(sep) == 13 and {s.variant for s in sep} == {p.depthwise for p in separable_pairs(model, 224)}
    assert all(abs(s.metrics["counted_ratio"] - s.metrics["analytic_ratio"]) < 5e-5 for s in sep)

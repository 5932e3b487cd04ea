"""LiteRT per-layer times by isolated layers (its interpreter has no op profiler)."""

from __future__ import annotations

import pytest

from edgecnn.cost import count_cost
from edgecnn.models import create_model
from edgecnn.profile.isolated import isolated_layer_times, isolated_layers, layer_row
from edgecnn.profile.layers import join_layer_times, summarize_layers
from edgecnn.runtime import RUNNERS


def test_identical_layers_are_exported_once():
    model = create_model("resnet18", input_size=32, num_classes=10)
    unique, shapes, same_as = isolated_layers(model, [1, 3, 32, 32])
    assert len(same_as) == 21  # 20 convs (17 3x3 + 3 downsample 1x1) and the fc
    assert len(unique) < len(same_as)
    assert same_as["layer1.1.conv1"] == same_as["layer1.0.conv1"]  # 64->64 3x3 on 32x32, twice
    assert shapes[same_as["layer2.0.conv1"]] == (1, 64, 32, 32)  # the input shape it sees in the model


@pytest.mark.tflite
def test_litert_layer_times_join_the_cost_rows():
    if RUNNERS.get("litert").unavailable_reason("cpu"):
        pytest.skip(RUNNERS.get("litert").unavailable_reason("cpu"))
    model = create_model("lenet5").eval()
    rows = isolated_layer_times(model, [1, 3, 32, 32], RUNNERS.get("litert"), threads=1, runs=20)
    names = [n for n, m in model.named_modules() if type(m).__name__ in ("Conv2d", "Linear")]
    assert [r["name"] for r in rows] == names
    # each layer's own copies (its input set and output get, timed on it) are taken out of its call
    assert_own_copies_taken_out(rows)
    assert rows[0]["time_ms"] > rows[0]["input_set_ms"] + rows[0]["output_get_ms"]  # conv1: 6x28x28 x 75 MACs
    joined = join_layer_times(count_cost(model, 32).layers, rows, runtime="litert")
    timed = [r for r in joined if r["time_ms"]]
    assert timed and {r["name"] for r in timed} <= set(names) and all(r["matched"] for r in timed)
    assert all(r["achieved_gmacs_per_s"] > 0 for r in timed)


def assert_own_copies_taken_out(rows):
    """Every row: time = call - input set - output get (its own, all measured), or no time and
    ``below_copies`` where the call was the smaller; never a clamped 0."""
    for r in rows:
        copies = r["input_set_ms"] + r["output_get_ms"]
        assert r["call_ms"] > 0 and r["input_set_ms"] > 0 and r["output_get_ms"] > 0, r
        if r.get("below_copies"):
            assert r["time_ms"] is None and r["call_ms"] < copies, r
        else:
            assert r["time_ms"] == pytest.approx(r["call_ms"] - copies, abs=1e-12) and r["call_ms"] >= copies, r


def test_a_layer_faster_than_its_copies_has_no_time_and_says_so():
    fast = layer_row("fc", "Linear", {"call_ms": 0.010, "input_set_ms": 0.006, "output_get_ms": 0.005})
    slow = layer_row("conv", "Conv2d", {"call_ms": 0.050, "input_set_ms": 0.006, "output_get_ms": 0.004})
    assert fast["time_ms"] is None and fast["below_copies"] is True and fast["call_ms"] == 0.010
    assert slow["time_ms"] == pytest.approx(0.040) and "below_copies" not in slow
    cost = [{"name": "conv", "type": "Conv2d", "category": "conv", "kernel": [3, 3], "groups": 1, "in_channels": 3,
             "macs": 4000}, {"name": "fc", "type": "Linear", "category": "linear", "macs": 100}]
    joined = join_layer_times(cost, [slow, fast], runtime="litert")
    conv, fc = joined
    # the joined rows keep the three figures; the row below its copies is matched, with no time and no GMAC/s
    assert (conv["time_ms"], conv["call_ms"], conv["matched"]) == (slow["time_ms"], 0.050, True)
    assert conv["achieved_gmacs_per_s"] == pytest.approx(4000 / (0.040 * 1e6))
    assert fc["time_ms"] is None and fc["below_copies"] and fc["matched"] and fc["achieved_gmacs_per_s"] is None
    assert fc["input_set_ms"] == 0.006 and fc["output_get_ms"] == 0.005
    summary = summarize_layers(joined, total_ms=0.1)
    assert summary["below_copies"] == ["fc"] and summary["layers_time_ms"] == pytest.approx(0.040)

"""LiteRT per-layer times by isolated layers (its interpreter has no op profiler)."""

from __future__ import annotations

import pytest

from edgecnn.cost import count_cost
from edgecnn.models import create_model
from edgecnn.profile.isolated import isolated_layer_times, isolated_layers
from edgecnn.profile.layers import join_layer_times
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
    # the interpreter's per-call cost is measured and taken out of every layer
    assert all(r["call_overhead_ms"] > 0 and r["time_ms"] >= 0 for r in rows)
    assert rows[0]["time_ms"] > 0  # conv1: 6x28x28 outputs of 75 MACs each, well above the call cost
    joined = join_layer_times(count_cost(model, 32).layers, rows, runtime="litert")
    timed = [r for r in joined if r["time_ms"]]
    assert timed and {r["name"] for r in timed} <= set(names) and all(r["matched"] for r in timed)
    assert all(r["achieved_gmacs_per_s"] > 0 for r in timed)

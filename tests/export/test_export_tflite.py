"""TFLite export with litert-torch: FP32 parity for two models, the NCHW input
with no transpose per convolution, FP16 and full-integer INT8."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.tflite


@pytest.fixture(autouse=True)
def _needs_tflite():
    pytest.importorskip("litert_torch", reason="needs the [tflite] extra (litert-torch)")
    pytest.importorskip("ai_edge_litert", reason="needs the [tflite] extra (ai-edge-litert)")


# mobilenet_v3_small (HardSwish, SE) at 224 is slow here (~45 s): `make test-all` runs it
@pytest.mark.parametrize("model", ["mobilenet_v1_050", pytest.param("mobilenet_v3_small", marks=pytest.mark.slow)])
def test_fp32_matches_pytorch_with_nchw_input_and_one_transpose(model, export_kw):
    from ai_edge_litert.interpreter import Interpreter

    from edgecnn.export import export_model

    res = export_model(model, to="tflite", precision="fp32", input_size=32, num_classes=10, **export_kw)
    assert res.status == "ok", res.error
    m = res.record.metrics
    assert m["max_abs_diff"] <= 1e-4 and m["top1_agreement"] == 100.0 and m["reference_logit_absmax"] > 1e-3
    # convolutions run NHWC inside; the converter adds one TRANSPOSE at the input, none per convolution
    assert m["conv_ops"] >= 10 and m["transpose_ops"] <= 1
    assert m["layout_transpose_ops"] == m["transpose_ops"] and m["model_transpose_ops"] == 0
    it = Interpreter(model_path=str(res.path))
    inp = it.get_input_details()[0]
    assert list(inp["shape"]) == [1, 3, 32, 32] and inp["dtype"] == np.float32
    meta = json.loads(res.metadata_path.read_text())
    assert meta["layout"] == "NCHW" and meta["internal_layout"] == "NHWC"
    assert meta["transpose_ops"] == m["transpose_ops"]
    assert meta["model"] == model and meta["classes"][-1] == "truck"


def test_a_channel_shuffle_is_the_model_s_own_transpose_not_a_layout_conversion(export_kw):
    """ShuffleNet's channel shuffle is a 5-D permutation written in NCHW: the
    converter runs each between a conversion to NCHW and one back. Those are
    counted apart from the shuffles and allowed, two per shuffle."""
    from edgecnn.export import export_model

    res = export_model("shufflenet_v2_x0_5", to="tflite", precision="fp32", input_size=32, num_classes=10,
                       **export_kw)
    assert res.status == "ok", res.error
    m = res.record.metrics
    assert m["model_transpose_ops"] == 16  # one channel shuffle per block: 3 + 7 + 3 + 3
    assert m["layout_transpose_ops"] + m["model_transpose_ops"] == m["transpose_ops"]
    assert 2 < m["layout_transpose_ops"] <= 2 + 2 * m["model_transpose_ops"]


def test_layout_conversions_are_told_from_the_model_s_own_and_too_many_fail():
    """The transposes of a real conversion are told apart by permutation (the
    converter's own NCHW/NHWC ones here: it cancels what it can of the
    model's permutes around each convolution); more layout conversions than
    the allowance is a validation failure that says why."""
    import torch
    from torch import nn

    from edgecnn.export.tflite import convert_fp32, layout_failure, op_census

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(nn.Conv2d(3, 3, 3, padding=1) for _ in range(4))

        def forward(self, x):
            for c in self.convs:  # a relu between the two permutes: the converter cannot cancel them
                x = c(torch.relu(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
            return x.mean((2, 3))

    flat = convert_fp32(Wrapped().eval(), torch.randn(1, 3, 16, 16))
    counts, layout, own = op_census(flat)
    assert own == 0 and layout == counts.get("TRANSPOSE", 0) >= 1
    why = layout_failure(8, 0, 4)  # one pair around each of the four convolutions
    assert why and "layout conversion per layer" in why and "more than 2" in why
    assert layout_failure(2, 0, 4) is None and layout_failure(34, 16, 56) is None and layout_failure(35, 16, 56)


def test_fp16_weights_halve_the_file_and_keep_the_function(export_kw):
    from edgecnn.export import export_model
    from edgecnn.models import count_params, create_model

    res = export_model("lenet5", to="tflite", precision="fp16", **export_kw)
    assert res.ok, res.error
    m = res.record.metrics
    assert m["cosine"] >= 0.999 and m["parity_precision"] == "fp16" and m["judged_by"] == ["cosine"]
    assert 0 < m["max_abs_diff"] < 0.05  # float16 weights: not bit-exact, close
    assert m["file_bytes"] < 0.6 * 4 * count_params(create_model("lenet5"))


def test_full_integer_int8_has_int8_io_and_stays_close(export_kw):
    from ai_edge_litert.interpreter import Interpreter

    from edgecnn.export import export_model
    from edgecnn.models import count_params, create_model

    res = export_model("lenet5", to="tflite", precision="int8", **export_kw)
    assert res.ok, res.error
    m = res.record.metrics
    assert m["cosine"] >= 0.98 and m["top1"] is not None and m["top1_drop"] is not None
    it = Interpreter(model_path=str(res.path))
    assert it.get_input_details()[0]["dtype"] == np.int8 and it.get_output_details()[0]["dtype"] == np.int8
    meta = json.loads(res.metadata_path.read_text())
    assert meta["input_dtype"] == "int8" and meta["input_quantization"]["scale"] > 0
    assert "zero_point" in meta["output_quantization"]
    assert m["file_bytes"] < 0.4 * 4 * count_params(create_model("lenet5"))  # int8 weights

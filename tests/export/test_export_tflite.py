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
    it = Interpreter(model_path=str(res.path))
    inp = it.get_input_details()[0]
    assert list(inp["shape"]) == [1, 3, 32, 32] and inp["dtype"] == np.float32
    meta = json.loads(res.metadata_path.read_text())
    assert meta["layout"] == "NCHW" and meta["internal_layout"] == "NHWC"
    assert meta["transpose_ops"] == m["transpose_ops"]
    assert meta["model"] == model and meta["classes"][-1] == "truck"


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

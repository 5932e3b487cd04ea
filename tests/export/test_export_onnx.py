"""ONNX export through the API: parity on real CIFAR-10 images, metadata,
dynamic batch and opset, Q/DQ INT8, checkpoints, a converter failure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgecnn.records import RecordStore


@pytest.mark.parametrize("model", ["mobilenet_v3_small", "resnet18"])
def test_fp32_matches_pytorch_on_real_images(model, export_kw, dirs, warned):
    import onnx

    from edgecnn import __version__
    from edgecnn.export import export_model
    from edgecnn.export.onnx import read_metadata

    res = export_model(model, to="onnx", precision="fp32", input_size=32, num_classes=10, **export_kw)
    assert res.status == "ok", res.error
    m = res.record.metrics
    assert m["n_images"] == 50 and m["max_abs_diff"] <= 1e-4
    assert m["cosine"] > 0.99999 and m["top1_agreement"] == 100.0
    assert m["reference_logit_absmax"] > 1e-3  # BatchNorm re-estimated: the figures mean something
    assert m["bn_recalibrated_layers"] > 0 and m["weights"] == "random"
    assert len(warned) == 1 and "random weights" in warned[0] and "BatchNorm statistics re-estimated" in warned[0]
    assert m["top1"] == m["top1_reference"] is not None  # 10 classes: accuracy is reported
    onnx.checker.check_model(onnx.load(str(res.path)), full_check=True)

    embedded = read_metadata(res.path)
    sidecar = json.loads(res.metadata_path.read_text())
    for meta in (embedded, sidecar):
        assert meta["model"] == model and meta["input_size"] == 32 and meta["input_shape"] == [1, 3, 32, 32]
        assert meta["layout"] == "NCHW" and meta["precision"] == "fp32"
        assert meta["mean"] == pytest.approx([0.485, 0.456, 0.406]) and len(meta["std"]) == 3
        assert meta["classes"][:2] == ["airplane", "automobile"] and len(meta["classes"]) == 10
        assert meta["edgecnn_version"] == __version__
    assert sidecar["status"] == "ok" and sidecar["parity"]["max_abs_diff"] == m["max_abs_diff"]

    (rec,) = RecordStore(dirs[1]).load(kind="export")
    assert (rec.model, rec.format, rec.precision, rec.status) == (model, "onnx", "fp32", "ok")
    assert rec.runtime == "onnxruntime"
    assert rec.metrics["file_bytes"] == res.path.stat().st_size > 0


def test_dynamic_batch_and_opset(export_kw):
    import onnx
    import onnxruntime as ort

    from edgecnn.export import export_model

    res = export_model("mobilenet_v3_small", to="onnx", input_size=32, num_classes=10, opset=13,
                       dynamic_batch=True, **export_kw)
    assert res.ok, res.error
    proto = onnx.load(str(res.path))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [13]
    dim0 = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "batch" and json.loads(res.metadata_path.read_text())["input_shape"][0] == "batch"
    sess = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(5, 3, 32, 32)).astype(np.float32)
    five = sess.run(None, {"input": x})[0]
    one = sess.run(None, {"input": x[2:3]})[0]
    assert five.shape == (5, 10) and np.allclose(five[2:3], one, atol=1e-5)


def test_int8_is_a_qdq_model_close_to_pytorch(export_kw):
    import onnx

    from edgecnn.export import export_model

    from edgecnn.models import count_params, create_model

    fp32_bytes = 4 * count_params(create_model("resnet18", input_size=32, num_classes=10))
    res = export_model("resnet18", to="onnx", precision="int8", input_size=32, num_classes=10, **export_kw)
    assert res.ok, res.error
    m = res.record.metrics
    assert m["cosine"] >= 0.98  # the int8 tolerance (agreement of a random network is a near-tie lottery)
    assert m["top1"] is not None and m["top1_drop"] == pytest.approx(m["top1_reference"] - m["top1"])
    assert m["calibration_images"] == 64 and m["activation_type"] == "uint8 asymmetric"
    assert m["judged_by"] == ["cosine"] and any("not judged" in n for n in res.notes)  # random weights
    ops = [n.op_type for n in onnx.load(str(res.path)).graph.node]
    assert ops.count("QuantizeLinear") > 10 and ops.count("DequantizeLinear") > 10
    assert res.path.stat().st_size < fp32_bytes / 3  # int8 weights: about a quarter of float32


def test_checkpoints_full_and_state_dict(export_kw, tmp_path):
    import torch

    from edgecnn.export import export_model
    from edgecnn.models import create_model, get_card
    from edgecnn.models.checkpoint import save_checkpoint

    torch.manual_seed(3)
    model = create_model("lenet5", num_classes=10)
    mean, std = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]
    full = save_checkpoint(tmp_path / "full.pt", {"model": "lenet5", "config": model.edgecnn_config,
                                                  "state_dict": model.state_dict(), "mean": mean, "std": std,
                                                  "classes": [f"c{i}" for i in range(10)]})
    bare = tmp_path / "bare.pt"
    torch.save(model.state_dict(), bare)

    res = export_model("lenet5", to="onnx", checkpoint=full, **export_kw)
    assert res.ok, res.error
    meta = json.loads(res.metadata_path.read_text())
    assert meta["weights"] == "checkpoint" and meta["mean"] == mean and meta["std"] == std
    assert meta["classes"][0] == "c0"
    # the class names differ from CIFAR-10's: agreement is measured, accuracy is not claimed
    assert res.record.metrics["top1"] is None and res.record.metrics["top1_agreement"] == 100.0

    res2 = export_model("lenet5", to="onnx", checkpoint=bare, **export_kw)
    card_mean = list(get_card("lenet5").mean)  # a bare state dict: the ModelCard's normalisation
    assert res2.ok and json.loads(res2.metadata_path.read_text())["mean"] == pytest.approx(card_mean)
    assert res2.record.metrics["top1"] is not None and res2.record.metrics["bn_recalibrated_layers"] == 0


def test_a_converter_failure_is_an_export_failed_record_and_leaves_no_file(export_kw, dirs):
    from edgecnn.export import export_model
    from edgecnn.models import create_model

    model = create_model("lenet5")
    model.forward = lambda x: "not a tensor"  # what torch.onnx cannot trace
    res = export_model(model, to="onnx", validate=False, **export_kw)
    assert res.status == "export_failed" and res.path is None
    assert "RuntimeError" in res.error or "Error" in res.error
    assert not dirs[0].exists()  # nothing half-made, not even the folder it created
    (rec,) = RecordStore(dirs[1]).load(kind="export")
    assert rec.status == "export_failed" and rec.error == res.error

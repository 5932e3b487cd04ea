"""INT8 of a trained model keeps its accuracy: a LeNet-5 trained for a few
seconds on real CIFAR-10 (about 50 % top-1, far above chance), exported to
every INT8 path and checked on 1,000 test images against its FP32 self."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def trained_lenet5(tmp_path_factory, cifar10_archive):
    """(checkpoint path, test top-1 the trainer measured) of a short lenet5 run."""
    root = tmp_path_factory.mktemp("trained")
    res = subprocess.run([sys.executable, "-m", "edgecnn.cli", "train", "lenet5", "--subset", "10000",
                          "--test-subset", "500", "--batch-size", "64", "--epochs", "4", "--recipe", "plain",
                          "--data-dir", str(cifar10_archive), "--out", str(root / "run"), "--no-records", "--json"],
                         capture_output=True, text=True, cwd=root, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    return root / "run" / "best.pt", json.loads(res.stdout)["test_top1"]


# Top-1 points an INT8 path may lose against FP32 here. Q/DQ (ONNX Runtime, the TensorRT-ready model):
# the 2 points (measured 0.1-0.6). TFLite full-integer also quantises the logits to int8
# (scale ~0.024 for this model): most of its flips are exact ties of two int8 logits, and it measured
# 1.3 points with 128 calibration images, 2.0-2.7 with 64 or 512, so it gets 3.
# OpenVINO (NNCF), ExecuTorch (XNNPACKQuantizer) and MNN (its quantization tool) quantise with their own
# post-training tools and are held to the same 2 points.
MAX_DROP = {"onnx": 2.0, "tensorrt": 2.0, "tflite": 3.0, "openvino": 2.0, "executorch": 2.0, "mnn": 2.0}  # points
NEEDS = {"tflite": "litert_torch", "openvino": "nncf", "executorch": "executorch", "mnn": "MNN"}


MNN_TANH = pytest.mark.xfail(strict=True, reason="MNN 3.6.1 runs LeNet-5's Tanh in int8 and loses it here "
                                                "(cosine 0.47, agreement 0.26; a ReLU LeNet-5 keeps cosine 1.0)")


@pytest.mark.parametrize("to, options", [("onnx", {}), ("tensorrt", {"prepare_only": True}), ("tflite", {}),
                                         ("openvino", {}), ("executorch", {}),
                                         pytest.param("mnn", {}, marks=MNN_TANH)],
                         ids=["onnx-qdq", "tensorrt-qdq-prepared", "tflite-full-integer", "openvino-nncf",
                              "executorch-xnnpack", "mnn-quant"])
def test_int8_of_a_trained_model_keeps_its_accuracy(trained_lenet5, to, options, export_kw):
    if to in NEEDS:
        pytest.importorskip(NEEDS[to], reason=f"needs the [{'tflite' if to == 'tflite' else to}] extra")
    from edgecnn.export import export_model

    ckpt, trained_top1 = trained_lenet5
    assert trained_top1 > 0.35  # far above chance (0.10): the decisions mean something
    kw = {**export_kw, "n_images": 1000, "calibration_images": 128}  # the CLI's default calibration set
    res = export_model("lenet5", to=to, precision="int8", checkpoint=ckpt, **kw, **options)
    assert res.ok, res.error
    m = res.record.metrics
    assert m["weights"] == "checkpoint" and m["judged_by"] == ["cosine", "top1_agreement"]
    assert m["n_images"] == 1000 and m["top1_reference"] > 35
    assert m["top1_drop"] <= MAX_DROP[to] + 1e-9, (m["top1_reference"], m["top1"])
    assert m["top1_agreement"] >= 90 and m["cosine"] >= 0.98

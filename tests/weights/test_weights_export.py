"""Exports from torchvision weights compute what torchvision's model with those
weights computes (max|d| <= 1e-4 in FP32 on real images prepared by
torchvision's own transforms), carry the weights' preprocessing in their
metadata, and INT8 calibrates on any image folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from weights_helpers import save_torchvision_weights

FP32_MAX_ABS_DIFF = 1e-4


def _torchvision_inputs(weights, archive, n=8) -> torch.Tensor:
    """Real CIFAR-10 test images through torchvision's own ``weights.transforms()``."""
    from PIL import Image

    from edgecnn.data import load_dataset

    t = weights.transforms()
    images = load_dataset("cifar10", "test", archive).subset(n, seed=3).images
    return torch.stack([t(Image.fromarray(im)) for im in images])


def _check_artifact(res, weights, archive, builder):
    """The artifact's logits against torchvision's model (same cached file)."""
    import torchvision

    from edgecnn.export._runners import open_runner

    assert res.ok, res.error
    x = _torchvision_inputs(weights, archive)
    reference = getattr(torchvision.models, builder)(weights=weights).eval()
    with torch.no_grad():
        want = reference(x).numpy()
    runner = open_runner(res.record.runtime, res.path, [1, 3, 224, 224])
    try:
        got = np.concatenate([np.asarray(runner.infer(x[i:i + 1].numpy())) for i in range(len(x))])
    finally:
        runner.close()
    assert np.abs(want).max() > 0.1  # real logits, not the ~1e-9 of untouched BatchNorm statistics
    assert np.abs(got - want).max() <= FP32_MAX_ABS_DIFF, np.abs(got - want).max()
    return np.abs(got - want).max()


@pytest.fixture
def mobilenet_v2_file(torch_home, cifar10_archive):
    from torchvision.models import MobileNet_V2_Weights

    from edgecnn.data import load_dataset

    w = MobileNet_V2_Weights.IMAGENET1K_V2
    save_torchvision_weights(w, torch_home, recalibrate_on=load_dataset("cifar10", "train", cifar10_archive)
                             .subset(64).images)
    return w


def test_onnx_of_mobilenet_v2_weights_equals_torchvision(mobilenet_v2_file, export_kw, cifar10_archive):
    from edgecnn.export import export_model

    res = export_model("mobilenet_v2", to="onnx", weights="IMAGENET1K_V2", **export_kw)
    _check_artifact(res, mobilenet_v2_file, cifar10_archive, "mobilenet_v2")
    assert res.path.name == "mobilenet_v2.IMAGENET1K_V2-224-fp32.onnx"  # weights in the name: nothing overwritten
    m = res.record.metrics
    assert m["weights"] == "IMAGENET1K_V2" and m["weights_source"] == "torchvision MobileNet_V2_Weights.IMAGENET1K_V2"
    assert m["bn_recalibrated_layers"] == 0 and m["max_abs_diff"] <= FP32_MAX_ABS_DIFF  # own parity: same inputs
    assert res.record.variant == "weights:IMAGENET1K_V2"
    meta = json.loads(res.metadata_path.read_text())
    assert meta["preprocessing"]["resize_size"] == 232 and meta["preprocessing"]["crop_size"] == 224
    assert meta["preprocessing"]["interpolation"] == "bilinear" and meta["dataset"] == "imagenet"
    assert meta["weights"] == "IMAGENET1K_V2" and len(meta["classes"]) == 1000 and meta["classes"][0] == "tench"
    from edgecnn.export.onnx import read_metadata

    assert read_metadata(res.path)["preprocessing"] == meta["preprocessing"]  # embedded in the ONNX file too


@pytest.mark.slow  # ~12 s; the ONNX twin (mobilenet_v2 weights) runs by default
@pytest.mark.tflite
def test_tflite_of_squeezenet_weights_equals_torchvision(torch_home, export_kw, cifar10_archive):
    pytest.importorskip("litert_torch", reason="needs the [tflite] extra")
    from torchvision.models import SqueezeNet1_1_Weights

    from edgecnn.export import export_model

    w = SqueezeNet1_1_Weights.IMAGENET1K_V1
    save_torchvision_weights(w, torch_home)
    res = export_model("squeezenet1_1", to="tflite", weights="DEFAULT", **export_kw)
    _check_artifact(res, w, cifar10_archive, "squeezenet1_1")


@pytest.mark.slow
@pytest.mark.tflite
def test_tflite_of_mobilenet_v2_weights_equals_torchvision(mobilenet_v2_file, export_kw, cifar10_archive):
    pytest.importorskip("litert_torch", reason="needs the [tflite] extra")
    from edgecnn.export import export_model

    res = export_model("mobilenet_v2", to="tflite", weights="IMAGENET1K_V2", **export_kw)
    _check_artifact(res, mobilenet_v2_file, cifar10_archive, "mobilenet_v2")


def test_int8_calibrates_on_any_image_folder(trained_lenet5, cifar_as_imagenet, export_kw):
    """--calibration-dir: JPEGs from a folder (any layout, no labels), prepared as
    the weights expect; the INT8 model keeps its FP32 accuracy as well as one
    calibrated on the training split does."""
    from edgecnn.export import export_model

    ckpt, _ = trained_lenet5
    kw = {**export_kw, "n_images": 500, "calibration_images": 128}  # the CLI's default calibration set
    folder = export_model("lenet5", to="onnx", precision="int8", weights=str(ckpt),
                          calibration_dir=cifar_as_imagenet.flat, **kw)
    train = export_model("lenet5", to="onnx", precision="int8", checkpoint=ckpt,
                         **{**kw, "out_dir": kw["out_dir"] / "train"})
    m, t = folder.record.metrics, train.record.metrics
    assert folder.path.exists() and folder.status in ("ok", "validation_failed")  # agreement bound: model-dependent
    assert m["calibration_source"] == f"{cifar_as_imagenet.flat} (128 images)"
    assert t["calibration_source"] == "cifar10 train (128 images)"
    assert m["weights"] == "best.pt" and m["preprocessing"]["mean"][0] == pytest.approx(0.4914)
    assert m["top1_reference"] == t["top1_reference"] > 35  # the same FP32 model, far above chance
    assert m["top1_drop"] <= 3.0 and abs(m["top1"] - t["top1"]) <= 2.0, (m["top1"], t["top1"], m["top1_reference"])
    assert m["cosine"] >= 0.98


def test_export_options_that_cannot_work_are_refused(export_kw, tmp_path, torch_home):
    from edgecnn.errors import InvalidOptionError
    from edgecnn.export import export_model

    with pytest.raises(InvalidOptionError, match="not both"):
        export_model("lenet5", weights="x.pth", checkpoint=tmp_path / "y.pt", **export_kw)
    with pytest.raises(InvalidOptionError, match="alexnet has no torchvision weights"):
        export_model("alexnet", weights="DEFAULT", **export_kw)

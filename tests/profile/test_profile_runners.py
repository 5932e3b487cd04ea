"""Runners on tiny models: same shape for every runtime, input checks,
per-layer times named after PyTorch modules, unsupported says why."""

from __future__ import annotations

import copy
import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.runtime import RUNNERS, RunnerLoadError, RunnerUnsupported
from edgecnn.runtime.onnxruntime_runner import module_of
from edgecnn.runtime.timing import random_inputs


def _tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 4, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)).eval()


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    torch.onnx.export(_tiny(), (torch.randn(1, 3, 16, 16),), str(path), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["output"])
    return path


def test_torch_and_onnxruntime_agree_and_check_inputs(tiny_onnx):
    x = random_inputs([1, 3, 16, 16])[0]
    with RUNNERS.get("torch")(threads=1, input_shape=[1, 3, 16, 16]).load(_tiny()) as t, \
            RUNNERS.get("onnxruntime")(threads=1).load(tiny_onnx) as o:
        np.testing.assert_allclose(t.infer(x), o.infer(x), atol=1e-4)
        assert o.input_shape == [1, 3, 16, 16] and o.describe()["threads"] == 1
        with pytest.raises(InvalidOptionError, match=r"input shape \[1, 3, 8, 8\] does not match"):
            o.infer(random_inputs([1, 3, 8, 8])[0])
        with pytest.raises(InvalidOptionError, match="dtype float64"):
            o.infer(x.astype(np.float64))
    with pytest.raises(RuntimeError, match="load"):
        RUNNERS.get("onnxruntime")().infer(x)


def test_per_layer_times_are_named_after_modules(tiny_onnx):
    xs = random_inputs([1, 3, 16, 16], count=2)
    with RUNNERS.get("onnxruntime")(threads=1).load(tiny_onnx) as o:
        rows = o.layer_times(xs, runs=3)
    names = {r["name"] for r in rows}
    assert {"0", "3", "4", "7"} <= names  # conv (BN+ReLU fused in), depthwise, pointwise, linear
    assert all(0 <= r["time_ms"] < 1e3 for r in rows)  # ONNX Runtime's profiler durations, none clamped
    assert sum(r["time_ms"] for r in rows if r["name"] == "0") > 0  # the first conv (55 k MACs) takes time
    with RUNNERS.get("torch")(threads=1).load(_tiny()) as t:
        trows = t.layer_times(xs, runs=2)
    assert [r["name"] for r in trows] == [str(i) for i in range(8)]
    assert trows[0]["op_type"] == "Conv2d" and all(r["time_ms"] > 0 for r in trows)


def test_onnx_node_names_map_to_module_names():
    assert module_of("/layer2/layer2.0/downsample/downsample.0/Conv") == "layer2.0.downsample.0"
    assert module_of("/features/features.0/features.0.0/Conv") == "features.0.0"
    assert module_of("/fc/Gemm") == "fc"


def test_bad_artifacts_and_missing_runtimes_say_why(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(RunnerLoadError, match="onnxruntime could not load"):
        RUNNERS.get("onnxruntime")().load(bad)
    with pytest.raises(RunnerLoadError, match="no such file"):
        RUNNERS.get("onnxruntime")().load(tmp_path / "missing.onnx")
    if importlib.util.find_spec("tensorrt") is None:
        reason = RUNNERS.get("tensorrt").unavailable_reason()
        assert "edgecnn[tensorrt]" in reason
        with pytest.raises(RunnerUnsupported):
            RUNNERS.get("tensorrt")().load(bad)
    if not torch.cuda.is_available():
        assert "CUDA" in RUNNERS.get("torch").unavailable_reason("cuda")
        reason = RUNNERS.get("onnxruntime").unavailable_reason("cuda")
        assert reason is None or "no CUDAExecutionProvider" in reason
    with pytest.raises(RunnerUnsupported, match="CUDA only"):
        RUNNERS.get("torch")(precision="fp16")


def test_torch_bf16_converts_weights_and_input_and_returns_float32():
    """bf16 runs on the CPU too (oneDNN kernels); the logits come back as float32,
    within bf16's rounding of the fp32 result."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
    x = random_inputs([2, 3, 8, 8])[0]
    with RUNNERS.get("torch")(threads=1).load(copy.deepcopy(model)) as r32:
        y32 = r32.infer(x)
    with RUNNERS.get("torch")(threads=1, precision="bf16", channels_last=True).load(copy.deepcopy(model)) as r16:
        assert next(r16._model.parameters()).dtype == torch.bfloat16
        y16 = r16.infer(x)
        assert r16.describe()["precision"] == "bf16" and "cudnn_allow_tf32" not in r16.describe()
    assert y16.dtype == np.float32 and y16.shape == y32.shape
    assert np.abs(y16 - y32).max() <= 0.05 * np.abs(y32).max()


@pytest.mark.tflite
def test_litert_runs_a_multi_signature_file(tmp_path):
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_litert")
    from edgecnn.export.artifacts import export_modules

    mods = {"a": nn.Conv2d(4, 4, 3, padding=1).eval(), "b": nn.Conv2d(4, 8, 1).eval()}
    arts = export_modules(mods, {"a": (1, 4, 8, 8), "b": (1, 4, 8, 8)}, "tflite", tmp_path)
    x = random_inputs([1, 4, 8, 8])[0]
    for name, out_c in (("a", 4), ("b", 8)):
        path, sig = arts[name]
        with RUNNERS.get("litert")(threads=1, signature=sig).load(path) as r:
            y = r.infer(x)
            assert y.shape == (1, out_c, 8, 8)
            ref = mods[name](torch.from_numpy(x)).detach().numpy()
            np.testing.assert_allclose(y, ref, atol=1e-4)

"""TensorRT: what needs no TensorRT (the prepared ONNX, symmetric Q/DQ INT8,
the trtexec command and script, metadata) runs here; the engine build runs
where ``import tensorrt`` works and is skipped with the reason elsewhere."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from edgecnn.export.tensorrt import tensorrt_available, trtexec_command, trtexec_script
from export_helpers import artifacts


def test_trtexec_flags_per_precision():
    base = trtexec_command("m-trt.onnx", "m.engine", "fp32", workspace_mib=512, timing_cache="t.cache")
    assert base == ["trtexec", "--onnx=m-trt.onnx", "--saveEngine=m.engine", "--memPoolSize=workspace:512",
                    "--timingCacheFile=t.cache"]
    assert "--fp16" in trtexec_command("a", "b", "fp16") and "--int8" not in trtexec_command("a", "b", "fp16")
    int8 = trtexec_command("a", "b", "int8")
    assert "--int8" in int8 and "--fp16" in int8  # Q/DQ layers in INT8, what stays float in FP16
    assert not any(c.startswith("--calib") for c in int8)  # explicit quantization: no calibrator
    dyn = trtexec_command("a", "b", "fp32", input_size=32, batch=4, dynamic_batch=True, max_batch=16)
    assert {"--minShapes=input:1x3x32x32", "--optShapes=input:4x3x32x32", "--maxShapes=input:16x3x32x32"} <= set(dyn)
    with pytest.raises(ValueError, match="int8_dynamic"):
        trtexec_command("a", "b", "int8_dynamic")


def test_trtexec_script_passes_the_flags_to_trtexec(tmp_path):
    cmd = trtexec_command("m-trt.onnx", "m.engine", "int8", timing_cache="trt-timing.cache")
    script = tmp_path / "build.sh"
    script.write_text(trtexec_script(cmd, {"model": "m", "precision": "int8", "input_size": 32}))
    fake = tmp_path / "fake-trtexec"
    fake.write_text('#!/bin/sh\necho "$PWD" "$@"\n')
    fake.chmod(0o755)
    out = subprocess.run(["bash", str(script), "--verbose"], capture_output=True, text=True,
                         env={**os.environ, "TRTEXEC": str(fake)}, cwd="/", timeout=30)
    assert out.returncode == 0, out.stderr
    # runs from its own folder, so the relative paths of the copied folder resolve on the target
    assert out.stdout.split() == [str(tmp_path), *cmd[1:], "--verbose"]


def test_prepare_only_int8_writes_a_symmetric_qdq_onnx_a_script_and_metadata(export_kw, dirs):
    import onnx
    from onnx import numpy_helper

    from edgecnn.export import export_model

    res = export_model("lenet5", to="tensorrt", precision="int8", prepare_only=True, **export_kw)
    assert res.ok, res.error
    assert artifacts(dirs[0]) == ["lenet5-32-int8-trt.onnx", "lenet5-32-int8-trt.onnx.json",
                                  "lenet5-32-int8-trtexec.sh"]
    proto = onnx.load(str(res.path))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    zero_points = [inits[n.input[2]] for n in proto.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert len(zero_points) >= 5
    # TensorRT's explicit quantization: int8 everywhere, zero point 0
    assert all(z.dtype == np.int8 and not z.any() for z in zero_points)
    m = res.record.metrics
    assert m["prepared_only"] is True and m["activation_type"] == "int8 symmetric"
    assert m["parity_precision"] == "int8" and m["cosine"] >= 0.98
    # a prepared build: the record is TensorRT's, checked by ONNX Runtime running the Q/DQ graph as written
    assert (res.record.runtime, res.record.status, m["parity_runtime"]) == ("tensorrt", "prepared", "onnxruntime")
    assert "float ops" in m["parity_emulation"]
    meta = json.loads(res.metadata_path.read_text())
    assert meta["format"] == "tensorrt" and meta["precision"] == "int8"
    assert meta["tensorrt"]["explicit_quantization"] is True and "--int8" in meta["tensorrt"]["trtexec"]
    assert meta["tensorrt"]["engine"] == "lenet5-32-int8.engine"
    assert os.access(dirs[0] / "lenet5-32-int8-trtexec.sh", os.X_OK)
    assert any("engine not built" in n for n in res.notes)


def test_prepare_only_fp16_dynamic_batch(export_kw):
    import onnx

    from edgecnn.export import export_model

    res = export_model("lenet5", to="tensorrt", precision="fp16", prepare_only=True, dynamic_batch=True,
                       max_batch=8, workspace_mib=256, **export_kw)
    assert res.ok, res.error
    assert onnx.load(str(res.path)).graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    cmd = json.loads(res.metadata_path.read_text())["tensorrt"]["trtexec"]
    assert "--fp16" in cmd and "--memPoolSize=workspace:256" in cmd and "--maxShapes=input:8x3x32x32" in cmd
    # the FP32 graph is what ONNX Runtime can check here; the note says so
    assert res.record.metrics["parity_precision"] == "fp32" and res.record.metrics["max_abs_diff"] <= 1e-4
    assert any("FP16" in n for n in res.notes)


@pytest.mark.skipif(tensorrt_available(), reason="TensorRT is installed here")
def test_without_tensorrt_a_build_stops_before_any_work(export_kw, dirs):
    from edgecnn.export import export_model
    from edgecnn.export.tensorrt import TensorRTNotInstalled

    with pytest.raises(TensorRTNotInstalled, match="TensorRT is not installed") as err:
        export_model("lenet5", to="tensorrt", precision="fp16", **export_kw)
    assert "--prepare-only" in str(err.value) and len(str(err.value).splitlines()) == 1
    assert not dirs[0].exists()


@pytest.mark.tensorrt
def test_engine_build_matches_pytorch(export_kw):
    try:
        import tensorrt  # noqa: F401
    except Exception as exc:  # ImportError, or a bindings wheel without its libraries
        pytest.skip(f"TensorRT does not import here ({type(exc).__name__}: {exc})")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("TensorRT imports but there is no CUDA GPU")
    from edgecnn.export import export_model

    for precision, cosine in (("fp32", 0.99999), ("fp16", 0.999), ("int8", 0.98)):
        res = export_model("resnet18", to="tensorrt", precision=precision, input_size=32, num_classes=10,
                           **export_kw)
        assert res.ok, res.error
        assert res.path.suffix == ".engine" and res.record.runtime == "tensorrt"
        assert res.record.metrics["cosine"] >= cosine and res.record.metrics["parity_precision"] == precision

"""OpenVINO, ExecuTorch (XNNPACK), NCNN and MNN exports: FP32 parity on real
images, the precision that ran named in the record, FP16 / BF16 / INT8 where
the runtime offers them, and the three ways an export can be refused or fail
(a precision the runtime cannot do, a runtime that is not installed, an
operator the converter cannot take)."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import torch
from torch import nn

from edgecnn.records import RecordStore
from export_helpers import artifacts, one_line_error

MODULE = {"openvino": "openvino", "executorch": "executorch", "ncnn": "pnnx", "mnn": "MNN"}
EXTRA_MODULES = {"openvino": ("openvino", "nncf"), "executorch": ("executorch",), "ncnn": ("ncnn", "pnnx"),
                 "mnn": ("MNN", "_tools")}
FORMATS = list(MODULE)


def marked(*fmts: str) -> list:
    """Parameters marked with their runtime (`pytest -m openvino` runs OpenVINO's)."""
    return [pytest.param(f, marks=getattr(pytest.mark, f)) for f in fmts]
# the files each format writes besides <artifact>.json
FILES = {"openvino": (".xml", ".bin"), "executorch": (".pte",), "ncnn": (".ncnn.param", ".ncnn.bin"),
         "mnn": (".mnn",)}


def _need(fmt: str) -> None:
    for mod in EXTRA_MODULES[fmt]:
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"needs the [{fmt}] extra ({mod} is not installed)")


def ov_cpu_features() -> set[str]:
    """What OpenVINO's CPU plugin says this CPU computes in (``OPTIMIZATION_CAPABILITIES``): FP32 always,
    BF16 with AVX512-BF16 or AMX, FP16 with AVX512-FP16 / AMX-FP16 or on ARM."""
    import openvino as ov

    return set(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def ov_runs(hint: str, features: set[str]) -> str:
    """The precision OpenVINO's CPU plugin runs for ``INFERENCE_PRECISION_HINT`` ``hint`` on a CPU with
    ``features``: f16 needs FP16 compute and falls back to bf16 where the CPU has BF16 (an fp16 IR runs
    in bf16 on an AVX512-BF16 CPU), as a bf16 hint does; everything else runs f32."""
    if hint == "f16" and "FP16" in features:
        return "f16"
    return "bf16" if hint in ("f16", "bf16") and "BF16" in features else "f32"


def check_fp16_record(fmt: str, m: dict, notes: list[str]) -> None:
    """An fp16 export's record: fp16 weights judged as fp16, and the precision that ran, which for
    OpenVINO follows from the CPU's features (``ov_runs``) and elsewhere is f16 or f32; a note says
    when it is not f16."""
    assert m["parity_precision"] == "fp16"
    if fmt == "openvino":
        assert m["inference_precision"] == ov_runs("f16", ov_cpu_features()), m["inference_precision"]
    else:
        assert m["inference_precision"] in ("f16", "f32")  # f32 on CPUs without fp16 arithmetic
    if m["inference_precision"] != "f16":
        assert notes and "fp16" in notes[0]


@pytest.mark.parametrize("fmt", marked(*FORMATS))
def test_fp32_matches_pytorch_and_names_the_precision_that_ran(fmt, export_kw, dirs):
    """mobilenet_v3_small at 32x32, random weights with BatchNorm re-estimated on real
    images (so the logits are not ~1e-9), 50 real test images: max|d| <= 1e-4."""
    _need(fmt)
    from edgecnn.export import export_model

    res = export_model("mobilenet_v3_small", to=fmt, precision="fp32", input_size=32, num_classes=10, **export_kw)
    assert res.status == "ok", res.error
    m = res.record.metrics
    assert m["max_abs_diff"] <= 1e-4 and m["top1_agreement"] == 100.0 and m["reference_logit_absmax"] > 1e-3
    assert m["bn_recalibrated_layers"] > 0 and m["parity_precision"] == "fp32"
    assert m["inference_precision"] == "f32" and res.record.runtime == fmt
    stem = "mobilenet_v3_small-32-fp32"
    assert artifacts(dirs[0]) == sorted([f"{stem}{s}" for s in FILES[fmt]] + [f"{stem}{FILES[fmt][0]}.json"])
    assert m["file_bytes"] == sum((dirs[0] / f"{stem}{s}").stat().st_size for s in FILES[fmt])  # all files
    meta = json.loads(res.metadata_path.read_text())
    assert meta["model"] == "mobilenet_v3_small" and meta["format"] == fmt and meta["input_size"] == 32
    assert meta["classes"][-1] == "truck" and len(meta["mean"]) == len(meta["std"]) == 3
    assert meta["status"] == "ok" and meta["parity"]["max_abs_diff"] == m["max_abs_diff"]
    if fmt in ("executorch", "ncnn"):  # the order the runner names the renamed layers by
        assert meta["layer_modules"][0]["name"] == "features.0.0" and meta["layer_modules"][-1]["type"] == "Linear"
    if fmt == "executorch":
        assert m["delegate_calls"] >= 1
    (rec,) = RecordStore(dirs[1]).load(kind="export")
    assert rec.ok and rec.format == fmt and rec.metrics["inference_precision"] == "f32"


@pytest.mark.openvino
def test_openvino_fp32_forces_f32_and_stores_the_hint_in_the_ir(export_kw):
    _need("openvino")
    import openvino as ov

    from edgecnn.export import export_model

    res = export_model("lenet5", to="openvino", precision="fp32", **export_kw)
    assert res.ok, res.error
    model = ov.Core().read_model(str(res.path))
    assert model.get_rt_info(["edgecnn", "inference_precision_hint"]).astype(str) == "f32"
    assert json.loads(model.get_rt_info(["edgecnn", "metadata"]).astype(str))["model"] == "lenet5"
    assert res.record.metrics["inference_precision_hint"] == "f32"


@pytest.mark.mnn
def test_mnn_fp32_limits_winograd_units_and_the_runner_applies_it(export_kw):
    """MNN's largest Winograd units miss fp32 parity (random resnet18 at 224: 2.6e-4 vs
    3.3e-6 at level 2): fp32 exports store WINOGRAD_MEMORY_LEVEL 2 in the sidecar, the
    record says so, the runner applies it unless an option overrides it; fp16 keeps MNN's."""
    _need("mnn")
    from edgecnn.export import export_model
    from edgecnn.export.mnn import FP32_WINOGRAD_LEVEL
    from edgecnn.runtime import get_runner

    res = export_model("lenet5", to="mnn", precision="fp32", **export_kw)
    assert res.ok, res.error
    assert FP32_WINOGRAD_LEVEL == 2 and res.record.metrics["mnn_winograd_memory_level"] == 2
    assert json.loads(res.metadata_path.read_text())["runtime_settings"]["winograd_memory_level"] == 2
    for options, level in (({}, 2), ({"winograd_memory_level": 0}, 0)):
        runner = get_runner("mnn")(threads=1, **options)
        runner.load(res.path)
        assert runner.describe()["winograd_memory_level"] == level
        assert runner.infer(np.zeros(runner.input_shape, np.float32)).shape == (1, 10)
        runner.close()
    half = export_model("lenet5", to="mnn", precision="fp16", **export_kw)
    assert "mnn_winograd_memory_level" not in half.record.metrics
    assert "winograd_memory_level" not in json.loads(half.metadata_path.read_text())["runtime_settings"]


@pytest.mark.openvino
def test_openvino_bf16_records_what_this_cpu_ran(export_kw):
    """bf16 runs bf16 only on CPUs with bf16 units; elsewhere OpenVINO falls back to
    f32, the record says so and parity is judged at fp32."""
    _need("openvino")
    from edgecnn.export import export_model

    res = export_model("lenet5", to="openvino", precision="bf16", **export_kw)
    assert res.ok, res.error
    m = res.record.metrics
    assert m["inference_precision_hint"] == "bf16"
    if ov_runs("bf16", ov_cpu_features()) == "bf16":
        assert m["inference_precision"] == "bf16" and m["parity_precision"] == "bf16"
    else:
        assert m["inference_precision"] == "f32" and m["parity_precision"] == "fp32"
        assert m["max_abs_diff"] <= 1e-4 and any("no bf16" in n for n in res.notes)


@pytest.mark.parametrize("fmt", marked("openvino", "executorch", "ncnn", "mnn"))
def test_fp16_stores_half_size_weights_and_is_judged_as_fp16(fmt, export_kw):
    _need(fmt)
    from edgecnn.export import export_model
    from edgecnn.models import count_params, create_model

    res = export_model("lenet5", to=fmt, precision="fp16", **export_kw)
    assert res.ok, res.error
    m = res.record.metrics
    assert m["cosine"] >= 0.999 and 0 < m["max_abs_diff"] < 0.05
    assert m["file_bytes"] < 0.6 * 4 * count_params(create_model("lenet5"))
    check_fp16_record(fmt, m, res.notes)


def test_openvino_fp16_expectation_follows_the_cpu_features(monkeypatch):
    """Both branches of ``ov_runs`` for an fp16 IR, with the CPU's features faked: bf16 on a CPU with
    BF16 (AVX512-BF16, AMX), f32 on one without (AVX2), f16 where it has FP16; a record of the other
    branch fails the check."""
    module = sys.modules[__name__]
    note = ["this CPU has no f16 compute: OpenVINO ran {} on the f16 weights; parity judged as fp16"]
    record = {ran: ({"parity_precision": "fp16", "inference_precision": ran}, [note[0].format(ran)])
              for ran in ("bf16", "f32")}
    for features, ran, other in (({"FP32", "BF16", "INT8"}, "bf16", "f32"), ({"FP32", "INT8"}, "f32", "bf16")):
        monkeypatch.setattr(module, "ov_cpu_features", lambda features=features: features)
        check_fp16_record("openvino", *record[ran])
        with pytest.raises(AssertionError):
            check_fp16_record("openvino", *record[other])
        with pytest.raises(AssertionError):  # not f16: a note must say so
            check_fp16_record("openvino", record[ran][0], [])
    monkeypatch.setattr(module, "ov_cpu_features", lambda: {"FP32", "FP16", "BF16"})
    check_fp16_record("openvino", {"parity_precision": "fp16", "inference_precision": "f16"}, [])


@pytest.mark.parametrize("fmt", marked("openvino", "executorch", "mnn"))
def test_int8_is_calibrated_on_real_images_and_runs(fmt, export_kw):
    """lenet5 INT8 by each runtime's own post-training quantizer. Random weights:
    cosine is reported, and judged (0.98); with random weights some quantizers miss
    it, which is a validation_failed record, not an error."""
    _need(fmt)
    from edgecnn.export import export_model
    from edgecnn.models import count_params, create_model

    res = export_model("lenet5", to=fmt, precision="int8", **export_kw)
    assert res.status in ("ok", "validation_failed"), res.error
    m = res.record.metrics
    assert m["parity_precision"] == "int8" and m["cosine"] > 0.8 and m["top1"] is not None
    assert m["file_bytes"] < 0.45 * 4 * count_params(create_model("lenet5"))  # int8 weights
    if fmt == "openvino":
        assert m["fake_quantize_ops"] > 0 and m["calibration_images"] == 64
    elif fmt == "mnn":
        assert m["calibration_images"] == 64 and m["feature_quantize_method"] == "KL"
    else:
        assert m["delegate_calls"] >= 1 and m["calibration_images"] == 64


@pytest.mark.parametrize("fmt", marked(*FORMATS))
def test_a_runtime_that_is_not_installed_is_one_line_naming_the_extra(fmt, main_cli, dirs, monkeypatch):
    for mod in EXTRA_MODULES[fmt]:
        monkeypatch.setitem(sys.modules, mod, None)  # `import mod` raises ImportError
    monkeypatch.setitem(sys.modules, "executorch.exir", None)
    r = main_cli("export", "lenet5", "--to", fmt, "--out", dirs[0], "--profiles", dirs[1])
    one_line_error(r, "is not installed", f"edgecnn[{fmt}]")
    assert not dirs[0].exists() and not dirs[1].exists()


class Erfinv(nn.Module):
    """An operator no converter here takes (no ONNX symbolic, not Core ATen, no NCNN layer)."""

    def forward(self, x):
        return torch.special.erfinv(torch.tanh(x) * 0.5)


@pytest.mark.parametrize("fmt", marked(*FORMATS))
def test_a_converter_failure_names_the_operator_and_leaves_no_file(fmt, export_kw, dirs):
    _need(fmt)
    from edgecnn.export import export_model
    from edgecnn.models import create_model

    model = create_model("lenet5", input_size=32)
    model.features[1] = Erfinv()
    res = export_model(model, to=fmt, **export_kw)
    assert res.status == "export_failed" and res.path is None
    assert "erfinv" in res.error and "\n" not in res.error
    assert not dirs[0].exists()  # the folder it created is gone with the partial files
    (rec,) = RecordStore(dirs[1]).load(kind="export")
    assert rec.status == "export_failed" and "erfinv" in rec.error and rec.format == fmt


@pytest.mark.slow
@pytest.mark.parametrize("fmt", marked(*FORMATS))
@pytest.mark.parametrize("model, size", [("resnet18", 32), ("mobilenet_v3_small", 224)])
def test_fp32_parity_bigger_models(fmt, model, size, export_kw):
    _need(fmt)
    from edgecnn.export import export_model

    res = export_model(model, to=fmt, precision="fp32", input_size=size, **export_kw)
    assert res.status == "ok", res.error
    assert res.record.metrics["max_abs_diff"] <= 1e-4 and res.record.metrics["inference_precision"] == "f32"

"""The OpenVINO, ExecuTorch, NCNN and MNN runners on a tiny model: they agree
with PyTorch, check their input, describe the settings that ran (threads,
precision) and give per-layer times named after the PyTorch modules."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import torch
from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.runtime import RUNNERS, RunnerLoadError, RunnerUnsupported
from edgecnn.records import RecordStore
from edgecnn.runtime.timing import random_inputs

NEEDS = {"openvino": ("openvino",), "executorch": ("executorch",), "ncnn": ("ncnn", "pnnx"), "mnn": ("MNN",)}
SHAPE = [1, 3, 16, 16]
RUNTIMES = [pytest.param(rt, marks=getattr(pytest.mark, rt)) for rt in NEEDS]  # `pytest -m ncnn` selects NCNN's


def _need(rt: str) -> None:
    for mod in NEEDS[rt]:
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"needs the [{rt}] extra ({mod} is not installed)")


def _tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 4, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)).eval()


def _sidecar(path, **meta) -> None:
    from edgecnn.runtime.layer_names import compute_modules

    meta.setdefault("layer_modules", compute_modules(_tiny(), torch.randn(*SHAPE)))
    meta.setdefault("input_shape", SHAPE)
    (path.parent / (path.name + ".json")).write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    from edgecnn.export.onnx import export_fp32

    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_fp32(_tiny(), torch.randn(*SHAPE), path, {"model": "tiny"})
    return path


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, tiny_onnx):
    """runtime -> the tiny model in its format, made by the exporters' own converters."""
    made = {}

    def make(rt: str):
        _need(rt)
        if rt in made:
            return made[rt]
        folder = tmp_path_factory.mktemp(rt)
        if rt == "openvino":  # the IR as the exporter writes it, without a precision hint: f32
            import openvino as ov

            from edgecnn.export.openvino import restore_module_names
            from edgecnn.runtime.layer_names import onnx_layer_labels

            model = ov.convert_model(str(tiny_onnx))
            restore_module_names(model, onnx_layer_labels(tiny_onnx))
            path = folder / "tiny.xml"
            ov.save_model(model, str(path), compress_to_fp16=False)
        elif rt == "mnn":
            from edgecnn.export.mnn import convert
            from edgecnn.runtime.layer_names import onnx_layer_labels

            path = folder / "tiny.mnn"
            convert(tiny_onnx, path, fp16=False)
            _sidecar(path, layer_labels=onnx_layer_labels(tiny_onnx))
        elif rt == "ncnn":
            from edgecnn.export.ncnn import run_pnnx

            param, weights = run_pnnx(_tiny(), torch.randn(*SHAPE), folder, fp16=False)
            path = folder / "tiny.ncnn.param"
            param.rename(path)
            weights.rename(folder / "tiny.ncnn.bin")
            _sidecar(path, runtime_settings={"runtime": "ncnn", "fp16": False, "input": "in0", "output": "out0"})
        else:
            from edgecnn.export.executorch import lower

            data, _ = lower(_tiny(), torch.randn(*SHAPE))
            path = folder / "tiny.pte"
            path.write_bytes(data)
            _sidecar(path, precision="fp32")
        made[rt] = path
        return path

    return make


@pytest.mark.parametrize("rt", RUNTIMES)
def test_runner_agrees_with_pytorch_and_checks_its_input(rt, artifact):
    path = artifact(rt)
    xs = random_inputs(SHAPE, count=3)
    with torch.no_grad():
        ref = [_tiny()(torch.from_numpy(x)).numpy() for x in xs]
    with pytest.raises(RuntimeError, match="load"):
        RUNNERS.get(rt)().infer(xs[0])
    with RUNNERS.get(rt)(threads=1).load(path) as r:
        for x, y in zip(xs, ref):
            np.testing.assert_allclose(r.infer(x), y, atol=1e-4)
        strided = np.asfortranarray(xs[0])  # a non-contiguous array gives the same answer
        np.testing.assert_allclose(r.infer(strided), ref[0], atol=1e-4)
        assert r.input_dtype == np.float32 and r.input_shape[1:] == SHAPE[1:]
        with pytest.raises(InvalidOptionError, match="dtype float64"):
            r.infer(xs[0].astype(np.float64))
        with pytest.raises(InvalidOptionError, match="input shape"):
            r.infer(random_inputs([1, 3, 8, 8])[0])
        d = r.describe()
        assert d["runtime"] == rt and d["threads"] == 1
        if rt == "openvino":
            assert (d["inference_precision"], d["inference_precision_hint"]) == ("f32", "f32")
            assert d["threads_used"] == 1 and d["performance_hint"] == "LATENCY" and d["num_streams"] == 1
        elif rt == "executorch":
            assert d["threads_used"] == 1 and d["delegate"] == "xnnpack"
        elif rt == "ncnn":
            assert d["fp16_storage"] is False and d["bf16_storage"] is False and d["inference_precision"] == "f32"
        else:
            assert d["mnn_precision"] == "high" and d["inference_precision"] == "f32" and "fp16" in d["cpu_features"]
            assert d["winograd_memory_level"] is None  # no exporter settings here: MNN's default
            # the input goes through one host tensor, refilled each call (the answers above came through it)
            assert r._feed.host_address is not None


@pytest.mark.parametrize("rt", RUNTIMES)
def test_per_layer_times_are_named_after_modules(rt, artifact):
    path = artifact(rt)
    with RUNNERS.get(rt)(threads=1).load(path) as r:
        rows = r.layer_times(random_inputs(SHAPE, count=2), runs=3)
    names = {row["name"] for row in rows}
    # conv (BN and ReLU folded in), depthwise, pointwise, linear: every runtime names them after the module
    assert {"0", "3", "4", "7"} <= names, names
    assert all(row["op_type"] and 0 <= row["time_ms"] < 1e3 for row in rows)  # none clamped: durations as timed
    assert sum(row["time_ms"] for row in rows if row["name"] == "0") > 0  # the first conv (55 k MACs) takes time
    assert RUNNERS.get(rt).layer_method


@pytest.mark.openvino
def test_openvino_precision_hint_is_applied_and_read_back(artifact):
    path = artifact("openvino")
    flags = open("/proc/cpuinfo").read()
    with RUNNERS.get("openvino")(threads=1, inference_precision="bf16").load(path) as r:
        ran = r.describe()["inference_precision"]
    assert ran == ("bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "f32")
    with pytest.raises(RunnerUnsupported, match="inference_precision must be one of"):
        RUNNERS.get("openvino")(inference_precision="int4").load(path)


@pytest.mark.ncnn
def test_ncnn_needs_its_weights_file(artifact, tmp_path):
    path = artifact("ncnn")
    lone = tmp_path / "lone.ncnn.param"
    lone.write_text(path.read_text())
    with pytest.raises(RunnerLoadError, match="weights"):
        RUNNERS.get("ncnn")().load(lone)
    assert RUNNERS.get("ncnn").companion_files(str(path)) == [str(path)[: -len(".param")] + ".bin"]


@pytest.mark.parametrize("rt, module", [("openvino", "openvino"), ("executorch", "executorch"), ("ncnn", "ncnn"),
                                        ("mnn", "MNN")])
def test_a_runtime_that_is_not_installed_says_which_extra(rt, module, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)
    if rt == "executorch":
        monkeypatch.setitem(sys.modules, "executorch.runtime", None)
    reason = RUNNERS.get(rt).unavailable_reason()
    assert reason and f"edgecnn[{rt}]" in reason
    art = tmp_path / "x.bin"
    art.write_bytes(b"x")
    with pytest.raises(RunnerUnsupported, match=rf"edgecnn\[{rt}\]"):
        RUNNERS.get(rt)().load(art)


# the files each runtime loads (an artifact and its weights)
FILES = {"openvino": (".xml", ".bin"), "executorch": (".pte",), "ncnn": (".ncnn.param", ".ncnn.bin"), "mnn": (".mnn",)}


def test_profile_times_the_new_runtimes_and_joins_their_layers(cli, tmp_path):
    """`edgecnn profile` picks each runner from the registry and its artifact by the
    runner's format: latency records and per-layer records whose conv/linear rows
    carry the runtime's own times."""
    rts = [rt for rt in NEEDS if all(importlib.util.find_spec(m) for m in NEEDS[rt])]
    if not rts:
        pytest.skip("none of openvino, executorch, ncnn, mnn is installed")
    out = tmp_path / "profiles"
    r = cli("profile", "--models", "lenet5", "--runtimes", ",".join(rts), "--no-separable", "--threads", "1",
            "--out", str(out), "--export-dir", str(tmp_path / "export"), "--runs", "3", "--min-time", "0.05",
            "--warmup", "1", "--no-report")
    assert r.returncode == 0, r.stderr
    store = RecordStore(out)
    lat = {x.runtime: x for x in store.load(kind="latency")}
    assert set(lat) == set(rts) and all(x.ok for x in lat.values()), {k: v.error for k, v in lat.items()}
    for rt, rec in lat.items():
        assert rec.format == rt and rec.metrics["latency_ms_p50"] > 0 and rec.metrics["runner"]["threads"] == 1
        assert rec.metrics["runner"].get("inference_precision", "f32") == "f32" or rt == "executorch"
        # the size is what the runtime loads: OpenVINO's .xml with its .bin, NCNN's .param with its .bin
        loaded = [tmp_path / "export" / f"lenet5-32-fp32{suffix}" for suffix in FILES[rt]]
        assert rec.metrics["artifact_bytes"] == sum(f.stat().st_size for f in loaded) > 0, (rt, loaded)
    layers = {x.runtime: x for x in store.load(kind="layer_latency")}
    for rt in rts:
        rec = layers[rt]
        assert rec.ok, rec.error
        timed = {row["name"] for row in rec.metrics["layers"] if row.get("time_ms") is not None and row.get("macs")}
        # lenet5's convolutions and linears matched to the cost rows by module name (OpenVINO runs
        # classifier.1-4 as one fused "Subgraph" named after its last layer, so classifier.2 has no time of its own)
        assert {"features.0", "features.3", "classifier.0", "classifier.4"} <= timed, (rt, timed)
        if rt != "openvino":
            assert "classifier.2" in timed, (rt, timed)
        assert rec.metrics["method"] == RUNNERS.get(rt).layer_method


def test_onnx_layers_renamed_by_the_optimizer_keep_their_module_names(tiny_onnx):
    """onnxscript's optimizer renames the nodes it rewrites (BatchNorm folded into a
    conv becomes ``node_Conv_0``); ONNX Runtime's rows, and the labels OpenVINO and MNN
    are given, still name the module (from the output tensor or the weight)."""
    import onnx

    from edgecnn.runtime.layer_names import onnx_layer_labels
    from edgecnn.runtime.onnxruntime_runner import module_of

    renamed = [n.name for n in onnx.load(str(tiny_onnx)).graph.node if not n.name.startswith("/")]
    labels = onnx_layer_labels(tiny_onnx)
    assert set(renamed) <= set(labels) and module_of(labels["logits"]) == "7"
    with RUNNERS.get("onnxruntime")(threads=1).load(tiny_onnx) as r:
        rows = r.layer_times(random_inputs(SHAPE, count=2), runs=2)
    names = {row["name"] for row in rows}
    assert {"0", "3", "4", "7"} <= names and not any(n.startswith("node_") for n in names), names


@pytest.mark.mnn
def test_the_device_runner_feeds_mnn_as_the_local_runner_does(artifact, monkeypatch):
    """One host tensor made at load and refilled on every call on a device too
    (remote/device_runner.py shares timing.mnn_input_feeder): no MNN.Tensor is
    made per call, and the answers are the local runner's."""
    _need("mnn")
    import MNN

    from edgecnn.remote import device_runner

    path = artifact("mnn")
    infer, shape, dtype, _, _, settings = device_runner.LOADERS["mnn"](str(path), 1, {"precision": "high"})
    made = []  # MNN.Tensor constructions after load (patched only now: MNN's createSession needs the real class)
    tensor = MNN.Tensor
    xs = random_inputs(shape, count=3)
    with RUNNERS.get("mnn")(threads=1, mnn_precision="high").load(path) as local:
        monkeypatch.setattr(MNN, "Tensor", lambda *a, **k: made.append(a[0]) or tensor(*a, **k))
        for x in xs * 2:
            np.testing.assert_array_equal(infer(x), local.infer(x))
        assert made == []  # six calls each, and not one new tensor: both refill their host tensor
        local.infer(np.asfortranarray(xs[0]))  # a strided array is made contiguous into the same tensor
        assert made == []
    assert list(shape) == SHAPE and dtype == "float32" and settings["mnn_precision"] == "high"

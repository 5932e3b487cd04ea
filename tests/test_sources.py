"""Bring your own model: files, factories and timm names through cost, profile,
eval, export and the report, with models that are not in the zoo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgecnn.errors import EdgeCNNError, MissingDependencyError
from edgecnn.models.sources import resolve_source

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FAST = ("--runs", "5", "--min-time", "0.1", "--warmup", "1")
timm = pytest.importorskip("timm", reason="timm is in the dev extra (pip install 'edgecnn[dev]')")


def edgecnn(*args, cwd=None, timeout=900):
    """The CLI as users call it; tests/ on PYTHONPATH so the test factory imports."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "edgecnn.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=timeout)


def torch_macs(module, shape) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.eval()(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A timm model exported by plain torch.onnx.export (dynamic spatial size), a
    TFLite file converted directly by litert-torch, and a .pt2 ExportedProgram."""
    root = tmp_path_factory.mktemp("mine")
    net = timm.create_model("mobilenetv4_conv_small", pretrained=False, num_classes=10).eval()
    onnx_path = root / "mine.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 64, 64),), str(onnx_path), dynamo=False, opset_version=17,
                      input_names=["x"], dynamic_axes={"x": {2: "h", 3: "w"}})
    sys.path.insert(0, str(TESTS))
    from sources_factory import tiny_separable_net

    tiny = tiny_separable_net().eval()
    out = {"timm": net, "onnx": onnx_path, "tiny": tiny}
    pt2 = root / "tiny.pt2"
    torch.export.save(torch.export.export(tiny, (torch.randn(1, 3, 32, 32),)), str(pt2))
    out["pt2"] = pt2
    try:
        import litert_torch

        tfl = root / "tiny.tflite"
        litert_torch.convert(tiny, (torch.randn(1, 3, 32, 32),)).export(str(tfl))
        out["tflite"] = tfl
    except ImportError:
        out["tflite"] = None
    return out


def test_each_source_resolves_with_its_id_shape_and_preprocessing(files):
    src = resolve_source(str(files["onnx"]), input_size=64)
    assert src.kind == "onnx" and src.input_shape == [3, 64, 64] and src.num_classes == 10
    assert src.id.startswith("mine-") and len(src.id) == len("mine-") + 8 and src.norm_from == "imagenet default"
    assert src.warnings and "ImageNet" in src.warnings[0]
    assert resolve_source(str(files["onnx"]), input_size=64).id == src.id  # stable
    timm_src = resolve_source("timm:mobilenetv4_conv_small")
    assert timm_src.id == "timm:mobilenetv4_conv_small" and timm_src.norm_from == "pretrained_cfg"
    fac = resolve_source("sources_factory:tiny_separable_net(width=8)", input_size=32)
    assert fac.kind == "factory" and fac.num_classes == 10 and fac.module().edgecnn_card.input_size == 32
    pt2 = resolve_source(str(files["pt2"]))
    assert pt2.kind == "exported_program" and pt2.input_shape == [3, 32, 32] and pt2.num_classes == 10
    given = resolve_source(str(files["onnx"]), input_size=64, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert given.norm_from == "given" and not given.warnings


def test_onnx_and_tflite_cost_equals_torch_flop_counter(files):
    from edgecnn.cost.sources import count_source

    onnx_src = resolve_source(str(files["onnx"]), input_size=64)
    ours = count_source(onnx_src).totals["conv_linear_macs"]
    assert ours == pytest.approx(torch_macs(files["timm"], [3, 64, 64]), rel=0.01)
    fac = resolve_source("sources_factory:tiny_separable_net", input_size=32)
    assert count_source(fac).totals["conv_linear_macs"] == pytest.approx(torch_macs(files["tiny"], [3, 32, 32]),
                                                                          rel=0.01)
    if files["tflite"] is not None:
        tfl = resolve_source(str(files["tflite"]))
        assert count_source(tfl).totals["conv_linear_macs"] == pytest.approx(
            torch_macs(files["tiny"], [3, 32, 32]), rel=0.01)


def test_cost_of_a_timm_name_prints_the_per_layer_table():
    r = edgecnn("cost", "timm:mobilenetv4_conv_small", "--per-layer", "--no-record")
    assert r.returncode == 0, r.stderr
    assert "timm:mobilenetv4_conv_small (timm)" in r.stdout and "per layer" in r.stdout
    assert "186,005,568" in r.stdout  # conv/linear MACs at 224 x 224


def test_profile_a_file_and_a_zoo_model_and_the_report_shows_both(files, tmp_path):
    out = tmp_path / "profiles"
    r = edgecnn("profile", "--models", f"{files['onnx']},lenet5", "--input-size", "32",
                "--runtimes", "onnxruntime,litert", "--no-separable", *FAST, "--out", out,
                "--export-dir", tmp_path / "export", "--no-report", "--json")
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)
    lat = {(x["model"], x["runtime"]): x for x in recs if x["kind"] == "latency"}
    mine = resolve_source(str(files["onnx"]), input_size=32).id
    assert lat[(mine, "onnxruntime")]["status"] == "ok" and lat[(mine, "onnxruntime")]["model_source"] == "ONNX file"
    assert lat[(mine, "litert")]["status"] == "unsupported" and "ONNX file" in lat[(mine, "litert")]["error"]
    assert lat[("lenet5", "onnxruntime")]["status"] == "ok"
    layers = [x for x in recs if x["kind"] == "layer_latency" and x["model"] == mine and x["status"] == "ok"]
    assert layers and sum(row.get("matched") is True for row in layers[0]["layers"]) >= 10  # joined to ONNX rows
    from edgecnn.report import build_report

    data = json.loads(build_report(out, tmp_path / "r.json", fmt="json").path.read_text())
    rows = {(row["model"], row["runtime"]) for row in data["tables"]["latency"]["rows"]}
    assert {(mine, "onnxruntime"), ("lenet5", "onnxruntime")} <= rows


def test_profile_a_factory_and_a_tflite_file(files, tmp_path):
    specs = ["sources_factory:tiny_separable_net"] + ([str(files["tflite"])] if files["tflite"] else [])
    r = edgecnn("profile", "--models", ",".join(specs), "--input-size", "32", "--runtimes", "onnxruntime,litert",
                "--no-separable", "--no-layers", *FAST, "--out", tmp_path / "p", "--export-dir", tmp_path / "e",
                "--no-report", "--json")
    assert r.returncode == 0, r.stderr
    lat = {(x["model"], x["runtime"]): x for x in json.loads(r.stdout) if x["kind"] == "latency"}
    assert lat[("sources_factory:tiny_separable_net", "onnxruntime")]["status"] == "ok"
    assert lat[("sources_factory:tiny_separable_net", "litert")]["status"] == "ok"
    if files["tflite"]:
        tfl = resolve_source(str(files["tflite"])).id
        assert lat[(tfl, "litert")]["status"] == "ok" and lat[(tfl, "litert")]["model_source"] == "TFLite file"
        assert lat[(tfl, "onnxruntime")]["status"] == "unsupported"


def test_eval_and_export_take_sources(files, tmp_path, cifar10_archive):
    r = edgecnn("eval", files["onnx"], "--input-size", "32", "--subset", "50", "--no-records", "--json",
                "--mean", "0.49,0.48,0.45", "--std", "0.25,0.24,0.26", "--data-dir", cifar10_archive)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n_images"] == 50
    r = edgecnn("export", "sources_factory:tiny_separable_net", "--to", "onnx", "--input-size", "32", "--out",
                tmp_path / "e", "--profiles", tmp_path / "p", "--n-images", "20", "--data-dir", cifar10_archive,
                "--json")
    assert r.returncode == 0, r.stderr
    [rec] = json.loads(r.stdout)
    assert rec["status"] == "ok" and rec["max_abs_diff"] <= 1e-4 and rec["model_source"] == "Python factory"


@pytest.mark.parametrize("args, says", [
    (["cost", "README.md"], "model"),  # not a model (an unknown zoo name)
    (["cost", "{bad}"], "not a readable ONNX model"),  # not a model file
    (["cost", "{truncated}"], "not a readable ONNX model"),
    (["cost", "{dynamic}"], "dynamic input size"),
    (["cost", "no_such_module_xyz:build"], "cannot import no_such_module_xyz"),
    (["cost", "sources_factory:not_a_module"], "returned str, not a torch.nn.Module"),
    (["cost", "timm:mobilenetv4_conv_smal"], "did you mean: timm:mobilenetv4_conv_small"),
    (["profile", "--models", "{dynamic}", "--out", "{tmp}/p"], "dynamic input size"),
    (["export", "{dynamic}", "--to", "onnx", "--out", "{tmp}/e"], "export converts PyTorch models"),
])
def test_bad_sources_are_one_line_and_write_nothing(args, says, files, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(Path(files["onnx"]).read_bytes()[:5000])
    fill = {"bad": bad, "truncated": truncated, "dynamic": files["onnx"], "tmp": tmp_path}
    r = edgecnn(*[a.format(**fill) for a in args], cwd=tmp_path)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert says in lines[0]
    assert not (tmp_path / "p").exists() and not (tmp_path / "e").exists() and not (tmp_path / "profiles").exists()


def test_timm_without_timm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm raises ImportError
    with pytest.raises(MissingDependencyError, match=r"edgecnn\[timm\]"):
        resolve_source("timm:mobilenetv4_conv_small")


def test_an_edgecnn_checkpoint_is_not_a_model_source(tmp_path):
    from edgecnn.models import create_model
    from edgecnn.models.checkpoint import save_checkpoint

    model = create_model("lenet5")
    save_checkpoint(tmp_path / "best.pt", {"model": "lenet5", "config": model.edgecnn_config,
                                           "state_dict": model.state_dict()})
    with pytest.raises(EdgeCNNError, match="is an edgecnn checkpoint, not a model: give the zoo model and "
                                           "--checkpoint"):
        resolve_source(str(tmp_path / "best.pt"), input_size=32)

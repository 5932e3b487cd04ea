"""`export --precision int8 --max-drop D` that lands: PTQ, then mixed
precision, then a QAT fine-tune (edgecnn/export/max_drop.py, edgecnn/train/max_drop.py), on the
4-epoch LeNet-5 of tests/conftest.py and real CIFAR-10 images."""

from __future__ import annotations

import json

import pytest

from edgecnn.export.max_drop import MAX_FLOAT_SHARE, budget_verdict, chain_verdict
from edgecnn.records import RecordStore


def test_the_verdict_weighs_the_drop_and_the_share_of_float_layers():
    assert budget_verdict({"top1_drop": 0.4, "n_images": 1000, "float_nodes": []}, 0.5, True)["max_drop_met"]
    over = budget_verdict({"top1_drop": 0.6, "n_images": 1000}, 0.5, True)
    assert not over["max_drop_met"] and over["max_drop_missed"] == "0.60 points > 0.5"
    # the search can always meet a budget by keeping every layer in float: that is not an INT8 model
    mostly_float = budget_verdict({"top1_drop": 0.0, "float_nodes": ["a", "b"], "quantisable_layers": 5}, 0.5, True)
    assert not mostly_float["max_drop_met"] and mostly_float["max_drop_float_share"] == 0.4 > MAX_FLOAT_SHARE
    assert budget_verdict({"search_drop": 0.2, "search_images": 300}, 0.5, True)["max_drop_measured_on"] == \
        "search images (300 training)"
    assert budget_verdict({}, 0.5, True)["max_drop_missed"] == "no top-1 was measured"
    assert budget_verdict({"top1_drop": 0.0}, 0.5, False)["max_drop_missed"] == "not exported"
    # a QAT step is judged against the FP32 model's top-1, not against its own fake-quantised float graph
    qat = chain_verdict({"top1": 48.0, "top1_drop": 0.0}, {"fp32_top1": 49.0, "max_drop": 0.5, "attempts": []}, True)
    assert not qat["max_drop_met"] and qat["max_drop_missed"] == "1.00 points > 0.5"


def test_qat_options_belong_to_max_drop(main_cli):
    r = main_cli("export", "lenet5", "--precision", "int8", "--qat-epochs", "1")
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "--qat-epochs and --qat-images belong to " \
        "--max-drop" in r.stderr
    r = main_cli("export", "lenet5", "--precision", "int8", "--max-drop", "0.5", "--qat-images", "0")
    assert r.returncode == 2 and "error:" in r.stderr


def test_a_miss_is_fine_tuned_with_qat_and_exported_again(trained_lenet5, tmp_path, cifar10_archive):
    """A PTQ export that missed the budget (its verdict forced: whether PTQ of this LeNet-5 misses 0 points
    depends on the CPU's kernels) goes through the real QAT fine-tune and the real export of its checkpoint."""
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    from edgecnn.cli.export import export_format
    from edgecnn.train.max_drop import escalate

    ckpt, _ = trained_lenet5
    common = dict(precision="int8", out_dir=tmp_path / "x", checkpoint=ckpt, input_size=None, batch=1, validate=True,
                  n_images=300, dataset="cifar10", data_dir=str(cifar10_archive), calibration_images=64,
                  profiles=tmp_path / "p", num_classes=None, weights=None, calibration_dir=None, speedup=False,
                  force_input_size=False)
    plan = [("onnx", {"max_drop": 0.5, "search_images": 300})]
    first = export_format("lenet5", "onnx", {**common, **plan[0][1]})
    assert first.ok and first.record.metrics["method"] in ("ptq", "mixed")
    assert first.record.metrics["max_drop"] == 0.5 and "max_drop_met" in first.record.metrics
    first.record.metrics.update(max_drop_met=False, max_drop_missed="forced by the test")
    warned, logged = [], []
    out = escalate("lenet5", [first], common, plan, 0.5, qat_epochs=1, qat_images=1024, export=export_format,
                   log=logged.append, warn=warned.append)
    assert len(out) == 1 and out[0] is not first and out[0].ok, out[0].error
    m = out[0].record.metrics
    assert m["method"] == "qat" and m["checkpoint"] == str(tmp_path / "x" / "qat-lenet5" / "best.pt")
    assert m["max_drop_attempts"][0]["method"] == first.record.metrics["method"]
    assert m["max_drop_reference_top1"] == first.record.metrics["top1_reference"]  # the FP32 model, same images
    assert m["max_drop_met"] == (m["max_drop_reference_top1"] - m["top1"] <= 0.5) and m["qat_seconds"] > 0
    assert any("QAT fine-tune" in line for line in logged)
    from edgecnn.cli.export import max_drop_line  # what the console prints of this real record

    printed = max_drop_line(m)
    assert printed.startswith(f"--max-drop 0.5 {'met' if m['max_drop_met'] else 'NOT met'} by qat (")
    drop = m["max_drop_reference_top1"] - m["top1"]
    assert f"({drop:.2f} points on parity test images (300))" in printed
    assert f"tried before: {first.record.metrics['method']} " in printed and "QAT fine-tune" in printed
    latest = [r for r in RecordStore(tmp_path / "p").load(kind="export") if r.format == "onnx"]
    assert [r.metrics["method"] for r in latest][-1] == "qat"  # both records kept; the newest is the QAT one


def test_max_drop_from_the_command_line_says_which_path_met_it(cli, trained_lenet5, tmp_path, cifar10_archive):
    ckpt, _ = trained_lenet5
    r = cli("export", "lenet5", "--checkpoint", str(ckpt), "--to", "onnx", "--precision", "int8", "--max-drop", "2",
            "--search-images", "300", "--n-images", "300", "--calibration-images", "64", "--no-speedup",
            "--qat-images", "1024", "--data-dir", str(cifar10_archive), "--out", str(tmp_path / "x"),
            "--profiles", str(tmp_path / "p"), "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)[-1]
    m = rec  # a record as JSON: its metrics at the top level
    assert m["max_drop"] == 2.0 and isinstance(m["max_drop_met"], bool)
    if m["method"] == "qat":  # PTQ and mixed missed 2 points: the chain went on
        assert m["max_drop_attempts"] and m["max_drop_attempts"][0]["method"] in ("ptq", "mixed")
    else:
        assert m["max_drop_met"] and m["top1_drop"] <= 2.0 and m["max_drop_float_share"] <= MAX_FLOAT_SHARE

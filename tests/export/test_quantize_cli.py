"""`edgecnn quantize-report`, `edgecnn quantize-methods` and the INT8 options of `edgecnn export`."""

from __future__ import annotations

import json



def test_quantize_report_ranks_every_layer_of_a_trained_checkpoint(main_cli, trained_lenet5, cifar10_archive):
    ckpt, _ = trained_lenet5
    res = main_cli("quantize-report", ckpt, "--n-images", "60", "--calibration-images", "32", "--data-dir",
                   cifar10_archive, "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    layers = rep["layers"]
    assert len(layers) >= 5 and {"layer", "op", "logit_error", "agreement", "top1"} <= set(layers[0])
    errors = [r["logit_error"] for r in layers]
    assert errors == sorted(errors, reverse=True)  # most sensitive first
    assert 0 <= rep["fp32_top1"] <= 100 and rep["int8"]["top1"] is not None and rep["int8_simulated"]["top1"]
    assert rep["n_images"] == 60
    text = main_cli("quantize-report", ckpt, "--n-images", "60", "--calibration-images", "32", "--data-dir",
                    cifar10_archive, "--top", "3")
    assert text.returncode == 0 and "most sensitive layers" in text.stdout and "simulated" in text.stdout
    assert layers[0]["layer"] in text.stdout


def test_bad_quantization_options_are_one_line(main_cli, tmp_path):
    res = main_cli("quantize-report", tmp_path / "missing.pt")
    assert res.returncode == 2 and res.stderr.startswith("error:") and "does not exist" in res.stderr
    res = main_cli("export", "lenet5", "--precision", "int8", "--quant-method", "per-chanel", "--out", tmp_path)
    assert res.returncode == 2 and "per-channel" in res.stderr and "Traceback" not in res.stderr
    res = main_cli("export", "lenet5", "--precision", "fp32", "--max-drop", "0.5", "--out", tmp_path)
    assert res.returncode == 2 and "apply to --precision int8" in res.stderr
    res = main_cli("export", "lenet5", "--to", "tflite", "--precision", "int8", "--quant-method", "entropy",
                   "--out", tmp_path)
    assert res.returncode == 2 and "min-max" in res.stderr
    assert not (tmp_path / "lenet5-32-int8.onnx").exists()


def test_quantize_methods_lists_what_auto_picks(main_cli):
    res = main_cli("quantize-methods", "--json")
    assert res.returncode == 0
    data = json.loads(res.stdout)
    names = {m["name"] for m in data["methods"]}
    assert {"per-channel", "reduce-range", "nncf", "cle-nncf-bc"} <= names and data["auto"] in names

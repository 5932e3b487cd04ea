"""The mean = std = 0.5 mistake, reproduced on a trained CIFAR-10 checkpoint and
caught: `edgecnn eval --mean 0.5 --std 0.5` warns, and the record carries the
accuracy with the weights' own normalisation beside, with the size of the drop."""

from __future__ import annotations

import json

import pytest


def test_the_half_half_mistake_is_caught_with_the_size_of_the_drop(trained_lenet5, main_cli, tmp_path,
                                                                   cifar10_archive):
    from edgecnn.records import RecordStore

    ckpt, _ = trained_lenet5
    own = main_cli("eval", ckpt, "--data-dir", cifar10_archive, "--subset", "500", "--no-records", "--json")
    assert own.returncode == 0, own.stderr
    own = json.loads(own.stdout)
    assert "normalization_check" not in own
    res = main_cli("eval", ckpt, "--data-dir", cifar10_archive, "--subset", "500", "--mean", "0.5", "--std", "0.5",
                   "--profiles", tmp_path / "p", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    check = out["normalization_check"]
    warning = " ".join(res.stderr.split())
    assert "warning: normalisation mean=(0.5, 0.5, 0.5) std=(0.5, 0.5, 0.5) differs from the weights' own" in warning
    assert f"{check['top1_own']:.2f}% with the weights' own" in warning
    assert check["n_images"] == 500 and check["used"] == {"mean": [0.5] * 3, "std": [0.5] * 3}
    assert check["own"]["mean"] == pytest.approx([0.4914, 0.4822, 0.4465])
    # the check's sample is the evaluated set here (500 of 500): its two figures are the two plain evaluations
    assert check["top1_own"] == pytest.approx(own["top1"]) and check["top1_used"] == pytest.approx(out["top1"])
    # the mistake costs accuracy, and the check says how much
    assert check["drop_points"] == pytest.approx(check["top1_own"] - check["top1_used"])
    assert check["drop_points"] >= 5.0, check
    assert out["top1"] < own["top1"] - 5.0
    (rec,) = RecordStore(tmp_path / "p").load(kind="accuracy")
    assert rec.metrics["normalization_check"]["drop_points"] == check["drop_points"]
    # the same normalisation as the weights': no warning, no check
    same = main_cli("eval", ckpt, "--data-dir", cifar10_archive, "--subset", "200", "--mean", "0.4914,0.4822,0.4465",
                    "--no-records", "--json")
    assert "normalization_check" not in json.loads(same.stdout) and "warning" not in same.stderr


def test_the_check_runs_on_pretrained_weights_with_their_own_preprocessing(torch_home, cifar_as_imagenet, main_cli):
    from torchvision.models import SqueezeNet1_1_Weights

    from weights_helpers import save_torchvision_weights

    save_torchvision_weights(SqueezeNet1_1_Weights.IMAGENET1K_V1, torch_home)
    res = main_cli("eval", "squeezenet1_1", "--weights", "DEFAULT", "--dataset", "imagefolder", "--data-dir",
                   cifar_as_imagenet.imagenet, "--subset", "20", "--std", "0.5", "--check-images", "10",
                   "--no-records", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    check = out["normalization_check"]
    assert check["n_images"] == 10 and check["own"]["std"] == pytest.approx([0.229, 0.224, 0.225])
    assert check["used"]["mean"] == pytest.approx([0.485, 0.456, 0.406])  # only --std was overridden
    assert "torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1.transforms()" in check["own_source"]
    assert out["preprocessing"]["std"] == [0.5, 0.5, 0.5] and "differs from the weights' own" in res.stderr
    bad = main_cli("eval", "squeezenet1_1", "--weights", "DEFAULT", "--std", "0", "--no-records")
    assert bad.returncode == 2 and "--std" in bad.stderr

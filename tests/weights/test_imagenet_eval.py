"""ImageNet-style evaluation: wnid folders map to torchvision's 1,000 class
indices, flat folders take a labels file, subsets are class-balanced, and a
CIFAR-10 checkpoint whose 10 logits are placed on matching ImageNet classes
scores on the wnid folder exactly what it scores on CIFAR-10."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from weights_helpers import CIFAR_TO_WNID, PER_CLASS

from edgecnn.data.datasets import DataError
from edgecnn.data.image_source import open_image_folder
from edgecnn.data.imagenet import imagenet_categories, imagenet_wnids, wnid_index


def test_the_shipped_wnid_list_is_timms_and_torchvisions_order():
    timm = pytest.importorskip("timm")
    ours = imagenet_wnids()
    theirs = (Path(timm.__file__).parent / "data" / "_info" / "imagenet_synsets.txt").read_text().split()
    assert list(ours) == theirs and len(ours) == 1000 and list(ours) == sorted(ours)
    cats = imagenet_categories()
    # spot checks of the pairing: index 0 tench (n01440764), 404 airliner, 999 toilet tissue
    assert (ours[0], cats[0]) == ("n01440764", "tench") and (ours[404], cats[404]) == ("n02690373", "airliner")
    assert (ours[999], cats[999]) == ("n15075141", "toilet tissue")


class OnImageNetClasses(torch.nn.Module):
    """A CIFAR-10 model whose 10 logits land on the ImageNet indices of matching
    classes; the other 990 logits are far below any real logit."""

    def __init__(self, inner: torch.nn.Module, classes: list[str]) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("index", torch.tensor([wnid_index()[CIFAR_TO_WNID[c]] for c in classes]))

    def forward(self, x):
        out = torch.full((x.shape[0], 1000), -1e9)
        out[:, self.index] = self.inner(x)
        return out


def test_a_cifar_checkpoint_on_wnid_folders_scores_its_cifar_accuracy(trained_lenet5, cifar_as_imagenet):
    from edgecnn.data.preprocess import default_preprocessing
    from edgecnn.models.checkpoint import load_checkpoint
    from edgecnn.train.eval_images import evaluate_source, torch_predict
    from edgecnn.train.evaluate import evaluate_target

    ckpt, _ = trained_lenet5
    # CIFAR-10's evaluation: the checkpoint on the same JPEGs under CIFAR-10's class names
    cifar = evaluate_target(ckpt, "imagefolder", str(cifar_as_imagenet.cifar), device="cpu")
    assert cifar.dataset == "imagefolder" and cifar.metrics["n_images"] == 10 * PER_CLASS
    model, info = load_checkpoint(ckpt)
    src = open_image_folder(cifar_as_imagenet.imagenet)
    assert (src.name, src.layout, src.num_classes, len(src)) == ("imagenet-partial", "wnid-folders", 1000, 10 * PER_CLASS)
    assert src.present() == sorted(wnid_index()[w] for w in CIFAR_TO_WNID.values())
    pre = default_preprocessing(32, info["mean"], info["std"], "checkpoint")
    m = evaluate_source(torch_predict(OnImageNetClasses(model, info["classes"])), src, pre, 64, 1000)
    assert cifar.metrics["top1"] > 30  # a trained model: the comparison means something
    assert m["top1"] == cifar.metrics["top1"] and m["top5"] == cifar.metrics["top5"]
    assert m["n_images"] == 10 * PER_CLASS and m["classes_present"] == 10 and "confusion" not in m
    per_class = [v for v in m["per_class_top1"] if v is not None]
    assert len(per_class) == 10 and m["per_class_top1"][0] is None  # tench: no images, no figure
    by_wnid = {imagenet_wnids()[i]: v for i, v in enumerate(m["per_class_top1"]) if v is not None}
    for i, c in enumerate(cifar.classes):  # class by class, too
        assert by_wnid[CIFAR_TO_WNID[c]] == pytest.approx(cifar.metrics["per_class_top1"][i])


def test_a_flat_folder_with_a_labels_file_gives_the_same_labels(cifar_as_imagenet, tmp_path):
    folders = open_image_folder(cifar_as_imagenet.imagenet)
    labels_file = cifar_as_imagenet.flat.parent / "labels.txt"
    flat = open_image_folder(cifar_as_imagenet.flat, labels=labels_file)
    assert flat.layout == "labels-file" and flat.name == "imagenet-partial"
    assert sorted(flat.labels.tolist()) == sorted(folders.labels.tolist())
    # the same labels as integer indices, and Kaggle's LOC_val_solution.csv found beside the images
    ints = tmp_path / "ints.txt"
    ints.write_text("".join(f"{ln.split()[0]},{wnid_index()[ln.split()[1]]}\n"
                            for ln in labels_file.read_text().splitlines()))
    assert open_image_folder(cifar_as_imagenet.flat, labels=ints).labels.tolist() == flat.labels.tolist()
    kaggle = tmp_path / "kaggle"
    kaggle.mkdir()
    rows = ["ImageId,PredictionString"]
    for ln in labels_file.read_text().splitlines()[:30]:
        name, wnid = ln.split()
        (kaggle / name).write_bytes((cifar_as_imagenet.flat / name).read_bytes())
        rows.append(f"{Path(name).stem},{wnid} 10 20 30 40")
    (kaggle / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    src = open_image_folder(kaggle)
    assert src.layout == "labels-file" and len(src) == 30


def test_subsets_are_class_balanced_and_decode_only_what_they_take(cifar_as_imagenet, monkeypatch):
    from edgecnn.data import image_source
    from edgecnn.data.preprocess import Preprocessing

    src = open_image_folder(cifar_as_imagenet.imagenet)
    sub = src.subset(30, seed=0)
    assert len(sub) == 30 and np.bincount(sub.labels, minlength=1000)[sub.present()].tolist() == [3] * 10
    assert sub.files == src.subset(30, seed=0).files and sub.files != src.subset(30, seed=1).files
    opened = []
    real = image_source._decode_crop
    monkeypatch.setattr(image_source, "_decode_crop", lambda d, n, p, w: opened.append(n) or real(d, n, p, w))
    crops = sub.crops(Preprocessing(24, 28))
    assert crops.shape == (30, 24, 24, 3) and crops.dtype == np.uint8 and len(opened) == 30


def test_folders_that_cannot_be_mapped_are_one_line(tmp_path, cifar_as_imagenet):
    jpg = next(cifar_as_imagenet.flat.iterdir()).read_bytes()

    def folder(name, classes):
        root = tmp_path / name
        for c in classes:
            (root / c).mkdir(parents=True)
            (root / c / "0.jpg").write_bytes(jpg)
        return root

    cases = [
        (folder("mixed", ["n01440764", "cat"]), "mix ImageNet classes"),
        (folder("in21k", ["n00004475"]), "outside ImageNet-1k"),
    ]
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.jpg").write_bytes(jpg)
    cases.append((flat, "--labels FILE"))
    for root, says in cases:
        with pytest.raises(DataError, match=says) as err:
            open_image_folder(root)
        assert "\n" not in str(err.value)
    labels = tmp_path / "l.txt"
    labels.write_text("b.jpg n01440764\n")
    with pytest.raises(DataError, match="no line in"):
        open_image_folder(flat, labels=labels)
    plain = open_image_folder(folder("plain", ["cat", "dog"]))  # no wnids: an ordinary class-folder tree
    assert (plain.name, plain.layout, plain.classes) == ("imagefolder", "class-folders", ["cat", "dog"])


def test_eval_of_torchvision_weights_on_an_imagenet_folder(torch_home, cifar_as_imagenet, main_cli, tmp_path):
    """`edgecnn eval MODEL --weights NAME --dataset imagefolder`: the weights' own
    preprocessing, and a record that names the weights and their source."""
    from torchvision.models import SqueezeNet1_1_Weights

    from weights_helpers import save_torchvision_weights

    from edgecnn.records import RecordStore

    save_torchvision_weights(SqueezeNet1_1_Weights.IMAGENET1K_V1, torch_home)
    res = main_cli("eval", "squeezenet1_1", "--weights", "DEFAULT", "--dataset", "imagefolder", "--data-dir",
                   cifar_as_imagenet.imagenet, "--subset", "20", "--profiles", tmp_path / "p", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["n_images"] == 20 and out["classes_present"] == 10 and len(out["classes"]) == 1000
    assert out["preprocessing"]["resize_size"] == 256 and out["data_layout"] == "wnid-folders"
    (rec,) = RecordStore(tmp_path / "p").load(kind="accuracy")
    assert (rec.model, rec.dataset, rec.variant, rec.input_shape) == ("squeezenet1_1", "imagenet-partial",
                                                                      "weights:IMAGENET1K_V1", [3, 224, 224])
    assert rec.metrics["weights"] == "IMAGENET1K_V1"
    assert rec.metrics["weights_source"] == "torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1"
    # ImageNet weights on CIFAR-10's 10 classes cannot be scored: one line
    bad = main_cli("eval", "squeezenet1_1", "--weights", "DEFAULT", "--dataset", "cifar10", "--no-records")
    assert bad.returncode == 2 and "has 1000 classes, cifar10 has 10" in bad.stderr
    none = main_cli("eval", "squeezenet1_1", "--no-records")
    assert none.returncode == 2 and "--weights" in none.stderr


def test_an_artifact_of_pretrained_weights_evaluates_with_their_preprocessing(torch_home, cifar_as_imagenet,
                                                                             main_cli, tmp_path, cifar10_archive):
    """The exported ONNX scores what the PyTorch model with the same weights
    scores on the same folder: the metadata brought the preprocessing along."""
    from torchvision.models import SqueezeNet1_1_Weights

    from weights_helpers import save_torchvision_weights

    from edgecnn.data import load_dataset
    from edgecnn.export import export_model
    from edgecnn.records import RecordStore

    save_torchvision_weights(SqueezeNet1_1_Weights.IMAGENET1K_V1, torch_home,
                             recalibrate_on=load_dataset("cifar10", "train", cifar10_archive).subset(32).images)
    res = export_model("squeezenet1_1", to="onnx", weights="DEFAULT", out_dir=tmp_path / "e", profiles=None,
                       data_dir=str(cifar10_archive), n_images=10)
    assert res.ok, res.error
    args = ("--dataset", "imagefolder", "--data-dir", cifar_as_imagenet.imagenet, "--subset", "60",
            "--profiles", tmp_path / "p", "--json")
    onnx = json.loads(main_cli("eval", res.path, *args).stdout)
    torch_ = json.loads(main_cli("eval", "squeezenet1_1", "--weights", "DEFAULT", *args).stdout)
    assert onnx["preprocessing"] == torch_["preprocessing"] and onnx["preprocessing"]["resize_size"] == 256
    assert onnx["n_images"] == torch_["n_images"] == 60
    assert onnx["top5"] == torch_["top5"] and onnx["loss"] == pytest.approx(torch_["loss"], rel=1e-4)
    recs = {r.format: r for r in RecordStore(tmp_path / "p").load(kind="accuracy")}
    assert recs["onnx"].variant == recs["pytorch"].variant == "weights:IMAGENET1K_V1"
    assert recs["onnx"].metrics["weights_source"] == "torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1"

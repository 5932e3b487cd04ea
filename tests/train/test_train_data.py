"""Data sources offline: torchvision's pickled CIFAR batches (built by hand here),
ImageFolder folders (cache invalidation, mixed sizes) and their errors."""

from __future__ import annotations

import pickle
import tarfile

import numpy as np
import pytest

from edgecnn.data import DataError, load_dataset
from edgecnn.errors import CorruptFileError


def _write_cifar10_root(root, images, labels, classes, per_batch):
    """torchvision's cifar-10-batches-py layout: five training batches, a test
    batch and batches.meta, pickled dicts with bytes keys like the originals."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def dump(name, sl):
        data = images[sl].transpose(0, 3, 1, 2).reshape(-1, 3072)
        with open(folder / name, "wb") as fh:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels[sl].tolist(), b"data": data}, fh)

    for i in range(5):
        dump(f"data_batch_{i + 1}", slice(i * per_batch, (i + 1) * per_batch))
    dump("test_batch", slice(5 * per_batch, None))
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [c.encode() for c in classes]}, fh)
    return folder


@pytest.fixture
def small_cifar(cifar10_test):
    """600 real CIFAR-10 test images (60 per class) in a shuffled order, so the
    first 500 ('train') and the last 100 ('test') both hold every class."""
    from edgecnn.data import ArrayDataset

    sub = cifar10_test.subset(600, seed=3)
    order = np.random.default_rng(3).permutation(600)
    return ArrayDataset(sub.images[order], sub.labels[order], sub.classes, "cifar10", "test", sub.source)


def test_torchvision_cifar10_batches_load_offline_in_every_form(tmp_path, small_cifar):
    ds = small_cifar
    folder = _write_cifar10_root(tmp_path / "root", ds.images, ds.labels, ds.classes, per_batch=100)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tf:  # what torchvision downloads
        tf.add(folder, arcname=folder.name)
    for source in (tmp_path / "root", folder, tmp_path / "cifar-10-python.tar.gz"):
        train = load_dataset("cifar10", "train", source)
        test = load_dataset("cifar10", "test", source)
        assert (len(train), len(test)) == (500, 100)
        assert train.classes == ds.classes and train.images.shape == (500, 32, 32, 3)
        # pixels survive the NCHW pickle layout round trip: HWC order, RGB, uint8
        assert np.array_equal(train.images, ds.images[:500]) and np.array_equal(test.labels, ds.labels[500:])


def test_torchvision_cifar100_layout(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("test", 10)):
        with open(folder / split, "wb") as fh:  # python-2 style: str keys after latin1 decoding
            pickle.dump({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         "fine_labels": rng.integers(0, 100, n).tolist(), "coarse_labels": [0] * n}, fh)
    with open(folder / "meta", "wb") as fh:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)]}, fh)
    ds = load_dataset("cifar100", "train", tmp_path)
    assert len(ds) == 30 and ds.num_classes == 100 and ds.labels.max() < 100


def test_torchvision_batches_missing_or_corrupt(tmp_path, small_cifar):
    ds = small_cifar
    folder = _write_cifar10_root(tmp_path, ds.images, ds.labels, ds.classes, per_batch=100)
    (folder / "data_batch_3").write_bytes(b"\x80\x04 truncated")
    with pytest.raises(CorruptFileError, match="data_batch_3"):
        load_dataset("cifar10", "train", tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="missing data_batch_3"):
        load_dataset("cifar10", "train", tmp_path)
    assert len(load_dataset("cifar10", "test", tmp_path)) == 100  # the test split needs only its own file


def _image_folder(root, sizes, classes=("a", "b")):
    from PIL import Image

    for split in ("train", "test"):
        for ci, c in enumerate(classes):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i, (w, h) in enumerate(sizes):
                Image.fromarray(np.full((h, w, 3), 40 + 100 * ci, np.uint8)).save(root / split / c / f"{i}.png")
    return root


def test_image_folder_cache_sees_files_replaced_inside_class_folders(tmp_path, private_cache):
    import os

    root = _image_folder(tmp_path / "imgs", [(8, 8)] * 3)
    first = load_dataset("imagefolder", "train", root)
    assert len(first) == 6 and first.classes == ["a", "b"]
    assert list(private_cache.rglob("*.npz"))  # decoded once, cached
    (root / "train" / "b" / "2.png").unlink()  # the top folder's mtime does not change
    assert len(load_dataset("imagefolder", "train", root)) == 5
    from PIL import Image

    img = root / "train" / "a" / "0.png"
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(img)  # same name, new pixels
    os.utime(img, ns=(1, 1))
    again = load_dataset("imagefolder", "train", root)
    assert again.images[0].max() == 7


def test_image_folder_of_mixed_sizes_needs_an_image_size(tmp_path, private_cache):
    root = _image_folder(tmp_path / "mixed", [(40, 30), (30, 50)])
    with pytest.raises(DataError, match="different sizes.*--input-size"):
        load_dataset("imagefolder", "train", root)
    ds = load_dataset("imagefolder", "train", root, image_size=20)
    assert ds.images.shape == (4, 20, 20, 3)  # shorter side resized, centre square kept


def test_train_and_eval_on_an_image_folder(tmp_path, private_cache, main_cli, small_cifar):
    """An ImageFolder tree end to end, and eval finds the training data by itself."""
    import json

    from PIL import Image

    ds = small_cifar
    root = tmp_path / "folder"
    for split, sl in (("train", slice(0, 500)), ("test", slice(500, 600))):
        for i, (img, y) in enumerate(zip(ds.images[sl], ds.labels[sl])):
            d = root / split / ds.classes[y]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{i}.png")
    run = tmp_path / "run"
    res = main_cli("train", "lenet5", "--dataset", "imagefolder", "--data-dir", root, "--epochs", "1",
                   "--batch-size", "50", "--recipe", "plain", "--out", run, "--no-records", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["num_classes"] == 10 and cfg["input_size"] == 32 and cfg["data_source"] == str(root.resolve())
    out = main_cli("eval", run / "last.pt", "--no-records", "--json")  # no --dataset, no --data-dir
    assert out.returncode == 0, out.stderr
    ev = json.loads(out.stdout)
    assert ev["dataset"] == "imagefolder" and ev["n_images"] == 100
    assert ev["top1"] == pytest.approx(summary["test_top1"], abs=1.01)

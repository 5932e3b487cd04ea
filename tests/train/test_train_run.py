"""`edgecnn train` / `edgecnn eval` end to end on a small real CIFAR-10 subset (CPU).

One short lenet5 run goes through the console script as a user would (a
subprocess); evaluation and the bad-input checks call the same CLI entry
point in this process (``main_cli``), which keeps the suite fast.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from edgecnn.records import RecordStore

QUICK = ("--subset", "640", "--test-subset", "300", "--batch-size", "64", "--epochs", "2")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, cifar10_archive):
    """One short lenet5 run shared by the tests below."""
    root = tmp_path_factory.mktemp("quick")
    res = subprocess.run([sys.executable, "-m", "edgecnn.cli", "train", "lenet5", *QUICK,
                          "--data-dir", str(cifar10_archive), "--out", str(root / "run"),
                          "--profiles", str(root / "profiles"), "--save-fp16", "--json"],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert res.returncode == 0, res.stderr
    return root, json.loads(res.stdout)


@pytest.fixture
def one_thread():
    """Evaluate with the thread count the quick run trained with, so logits match to the last bit."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_run_folder_has_config_metrics_and_checkpoints(quick_run, cifar10_archive):
    import torch

    root, summary = quick_run
    run = root / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        for key in ("train_loss", "train_top1", "test_loss", "test_top1", "lr", "epoch_s", "images_per_s"):
            assert np.isfinite(r[key]), key
        assert r["images_per_s"] > 0 and 0 <= r["test_top1"] <= 100
        assert r["epoch_s"] == pytest.approx(r["train_s"] + r["eval_s"])
    assert rows[-1]["lr"] == 0.0  # one-cycle ends at zero
    assert rows[0]["step"] == 10 and rows[1]["step"] == 20  # 640 images / 64 per step
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]  # it learns
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["seed"] == 0 and cfg["recipe"]["nesterov"] is True and cfg["num_classes"] == 10
    assert cfg["data_source"] == str(cifar10_archive.resolve())  # where the images came from, resolved
    assert summary["test_top1"] == rows[-1]["test_top1"] and summary["epochs"] == 2
    assert {"best.pt", "last.pt", "lenet5-fp16.pt"} <= {p.name for p in run.iterdir()}
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    best = torch.load(run / "best.pt", weights_only=False)
    assert best["metrics"]["top1"] == max(r["test_top1"] for r in rows)
    assert best["epoch"] == 1 + int(np.argmax([r["test_top1"] for r in rows]))


def test_checkpoint_format_and_fp16_weights(quick_run):
    import torch

    from edgecnn.models.checkpoint import FORMAT, load_checkpoint

    run = quick_run[0] / "run"
    ck = torch.load(run / "last.pt", weights_only=False)
    for key in ("format", "model", "config", "state_dict", "optimizer", "scheduler", "scaler", "epoch", "step",
                "rng_state", "metrics", "edgecnn_version"):
        assert key in ck, key
    assert ck["format"] == FORMAT and ck["model"] == "lenet5" and ck["epoch"] == 2 and ck["step"] == 20
    assert set(ck["rng_state"]) >= {"torch", "numpy", "python"}
    half = torch.load(run / "lenet5-fp16.pt", weights_only=False)
    assert all(v.dtype == torch.float16 for v in half["state_dict"].values())
    m32, _ = load_checkpoint(run / "last.pt")
    m16, _ = load_checkpoint(run / "lenet5-fp16.pt")
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(m32(x), m16(x), atol=2e-2)


def test_records_hold_the_training_curve_and_the_accuracy(quick_run):
    root, summary = quick_run
    store = RecordStore(root / "profiles")
    epochs = store.load(kind="train_epoch")
    assert [r.metrics["epoch"] for r in epochs] == [1, 2] and {r.variant for r in epochs} == {"run"}
    assert all(k in epochs[0].metrics for k in ("train_loss", "train_top1", "test_loss", "test_top1", "lr",
                                                "epoch_s", "images_per_s"))
    (train,) = store.load(kind="train")
    assert train.model == "lenet5" and train.dataset == "cifar10" and train.metrics["seed"] == 0
    (acc,) = store.load(kind="accuracy")
    assert acc.format == "pytorch" and acc.metrics["top1"] == summary["test_top1"]
    assert np.asarray(acc.metrics["confusion"]).sum() == 300 and len(acc.metrics["per_class_top1"]) == 10


def test_eval_of_the_checkpoint_reproduces_the_training_figure(quick_run, main_cli, one_thread, cifar10_archive):
    root, summary = quick_run
    res = main_cli("eval", root / "run" / "last.pt", "--subset", "300", "--data-dir", cifar10_archive,
                   "--profiles", root / "eval-profiles", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["top1"] == pytest.approx(summary["test_top1"], abs=1e-9)
    assert out["loss"] == pytest.approx(summary["test_loss"], rel=1e-5)
    conf = np.asarray(out["confusion"])
    assert conf.shape == (10, 10) and conf.sum() == 300
    assert out["top1"] == pytest.approx(100 * np.trace(conf) / 300) and out["top5"] >= out["top1"]
    per_class = 100 * np.diag(conf) / conf.sum(axis=1)
    assert np.allclose(out["per_class_top1"], per_class, atol=1e-3)
    (rec,) = RecordStore(root / "eval-profiles").load(kind="accuracy")
    assert (rec.model, rec.format, rec.precision, rec.dataset) == ("lenet5", "pytorch", "fp32", "cifar10")


def _export(root, to, precision, cifar10_archive):
    from edgecnn.export import export_model

    res = export_model("lenet5", to=to, precision=precision, out_dir=root / "export",
                       checkpoint=root / "run" / "last.pt", data_dir=str(cifar10_archive), n_images=20,
                       calibration_images=64, profiles=None)
    assert res.ok, res.error
    return res.path


def test_eval_of_an_onnx_export_matches_the_checkpoint(quick_run, main_cli, cifar10_archive):
    root, summary = quick_run
    onnx_path = _export(root, "onnx", "fp32", cifar10_archive)  # what `edgecnn export` writes
    res = main_cli("eval", onnx_path, "--subset", "300", "--data-dir", cifar10_archive,
                   "--profiles", root / "onnx-profiles", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    # the same weights and preprocessing: at most a near-tie among 300 images may flip
    assert out["format"] == "onnx" and out["top1"] == pytest.approx(summary["test_top1"], abs=0.34)
    assert out["loss"] == pytest.approx(summary["test_loss"], rel=1e-4)
    (rec,) = RecordStore(root / "onnx-profiles").load(kind="accuracy")
    assert (rec.format, rec.runtime, rec.precision, rec.model) == ("onnx", "onnxruntime", "fp32", "lenet5")
    assert rec.batch == 1  # the export has a static batch of 1: what was fed is recorded


@pytest.mark.slow  # ~18 s; tests/real_records.py evaluates an INT8 ONNX export in the default run
@pytest.mark.tflite
def test_eval_of_a_full_integer_tflite_export(quick_run, main_cli, cifar10_archive):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("litert_torch")
    root, summary = quick_run
    path = _export(root, "tflite", "int8", cifar10_archive)  # int8 input and output tensors
    res = main_cli("eval", path, "--subset", "300", "--data-dir", cifar10_archive, "--no-records", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["format"], out["precision"]) == ("tflite", "int8")
    # quantised input, dequantised logits: close to the float model, nowhere near chance
    assert out["top1"] == pytest.approx(summary["test_top1"], abs=5.0)
    assert out["loss"] == pytest.approx(summary["test_loss"], rel=0.1)


# ---------------------------------------------------------------------------- bad input
def _tar_of_images(path, members):
    """A .tar.gz holding PNG images at the given member names."""
    from PIL import Image

    with tarfile.open(path, "w:gz") as tf:
        for name in members:
            buf = io.BytesIO()
            Image.fromarray(np.full((32, 32, 3), 60, np.uint8)).save(buf, format="PNG")
            info = tarfile.TarInfo(name)
            info.size = len(buf.getvalue())
            tf.addfile(info, io.BytesIO(buf.getvalue()))
    return path


def test_missing_and_corrupt_data(main_cli, one_line_error, tmp_path, private_cache):
    run = tmp_path / "r"
    one_line_error(main_cli("train", "lenet5", "--data-dir", tmp_path / "nope", "--out", run, "--no-records"),
                   "does not exist")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    one_line_error(main_cli("train", "lenet5", "--data-dir", bad, "--out", run, "--no-records",
                            "--dataset", "imagefolder"), "cannot read archive")
    (tmp_path / "empty").mkdir()
    one_line_error(main_cli("train", "lenet5", "--dataset", "imagefolder", "--data-dir", tmp_path / "empty",
                            "--out", run, "--no-records"), "no train/ folder")
    folder = tmp_path / "folder"
    for split in ("train", "test"):
        (folder / split / "cat").mkdir(parents=True)
        (folder / split / "cat" / "0.jpg").write_bytes(b"not a jpeg")
    one_line_error(main_cli("train", "lenet5", "--dataset", "imagefolder", "--data-dir", folder, "--out", run,
                            "--no-records"), "train/cat/0.jpg", "not an image")
    assert not run.exists()  # a run that never started leaves no empty folder


def test_class_count_mismatch(main_cli, one_line_error, tmp_path, quick_run, cifar10_archive, monkeypatch):
    one_line_error(main_cli("train", "lenet5", "--num-classes", "100", "--data-dir", cifar10_archive,
                            "--out", tmp_path / "r", "--no-records"), "100", "10 classes")
    one_line_error(main_cli("train", "lenet5", "--dataset", "cifar100", "--data-dir", cifar10_archive,
                            "--out", tmp_path / "r", "--no-records"), "10 classes", "CIFAR-100 has 100")
    last = quick_run[0] / "run" / "last.pt"
    monkeypatch.setenv("EDGECNN_CACHE", str(tmp_path / "cache"))  # throw-away sets stay out of ~/.cache
    three = _tar_of_images(tmp_path / "three.tar.gz", [f"test/{c}/0.png" for c in "abc"])
    one_line_error(main_cli("eval", last, "--dataset", "imagefolder", "--data-dir", three, "--no-records"),
                   "10-class", "3 classes")
    # ten classes, but not CIFAR-10's: the class count alone would let this through
    ten = _tar_of_images(tmp_path / "ten.tar.gz", [f"test/c{i}/0.png" for i in range(10)])
    one_line_error(main_cli("eval", last, "--dataset", "imagefolder", "--data-dir", ten, "--no-records"),
                   "other classes", "'airplane'", "'c0'")


def test_unwritable_run_folder_and_existing_run_are_refused_and_kept(main_cli, one_line_error, tmp_path, quick_run):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    one_line_error(main_cli("train", "lenet5", "--out", blocker / "run", "--no-records"), "cannot write")
    one_line_error(main_cli("train", "lenet5", "--out", tmp_path / "ok", "--profiles", blocker / "p"),
                   "cannot write to profiles")
    run = quick_run[0] / "run"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    one_line_error(main_cli("train", "lenet5", "--out", run, "--no-records"), "--resume")
    longer = (*QUICK[:-2], "--epochs", "3")  # a one-cycle schedule cannot be stretched afterwards
    one_line_error(main_cli("train", "lenet5", *longer, "--out", run, "--no-records", "--resume"),
                   "other recipe settings")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing already saved is lost


def test_checkpoint_of_another_architecture_or_corrupt(main_cli, one_line_error, tmp_path, quick_run):
    import torch

    from edgecnn.errors import InvalidOptionError
    from edgecnn.models.checkpoint import load_checkpoint

    last = quick_run[0] / "run" / "last.pt"
    with pytest.raises(InvalidOptionError, match="is for lenet5, not mobilenet_v2"):
        load_checkpoint(last, "mobilenet_v2")
    bare = tmp_path / "bare.pt"
    torch.save(torch.load(last, weights_only=False)["state_dict"], bare)
    one_line_error(main_cli("eval", bare, "--no-records"), "bare state dict", "--model")
    one_line_error(main_cli("eval", bare, "--model", "mobilenet_v2", "--no-records"), "another architecture")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(last.read_bytes()[:1000])
    one_line_error(main_cli("eval", broken, "--no-records"), "cannot read checkpoint")
    # resuming a lenet5 run folder as another model
    run = tmp_path / "copy"
    run.mkdir()
    (run / "last.pt").write_bytes(last.read_bytes())
    one_line_error(main_cli("train", "mobilenet_v2", "--out", run, "--resume", "--no-records", "--subset", "64",
                            "--batch-size", "32"), "other model")
    assert (run / "last.pt").read_bytes() == last.read_bytes()


def test_unknown_model_recipe_and_bad_numbers(main_cli, one_line_error, tmp_path):
    run = tmp_path / "r"
    one_line_error(main_cli("train", "lenet", "--out", run, "--no-records"), "did you mean")
    one_line_error(main_cli("train", "lenet5", "--recipe", "fast", "--out", run, "--no-records"), "unknown recipe")
    one_line_error(main_cli("train", "lenet5", "--epochs", "0", "--out", run, "--no-records"), "--epochs")
    one_line_error(main_cli("train", "lenet5", "--subset", "0", "--out", run, "--no-records"), "--subset")
    one_line_error(main_cli("train", "lenet5", "--stochastic-depth", "0.1", "--subset", "64", "--out", run,
                            "--no-records"), "no residual blocks")
    one_line_error(main_cli("train", "lenet5", "--shake-shake", "--subset", "64", "--out", run, "--no-records"),
                   "Shake-Shake")
    one_line_error(main_cli("train", "lenet5", "--device", "tpu", "--out", run, "--no-records"), "--device must be")
    assert not run.exists()
    artifact = tmp_path / "m.onnx"  # --device is checked for artifacts too, though only checkpoints use it
    artifact.write_bytes(b"")
    one_line_error(main_cli("eval", artifact, "--device", "tpu", "--no-records"), "--device must be")


def test_tensorrt_engine_without_tensorrt_is_one_line(main_cli, one_line_error, tmp_path):
    try:
        import tensorrt  # noqa: F401

        pytest.skip("tensorrt is installed here; this checks the message when it is not")
    except ImportError:
        pass
    engine = tmp_path / "lenet5-32-fp16.engine"
    engine.write_bytes(b"not an engine")
    (tmp_path / "lenet5-32-fp16.engine.json").write_text(json.dumps({"model": "lenet5", "input_size": 32}))
    one_line_error(main_cli("eval", engine, "--no-records", "--subset", "10"), "tensorrt", "install")


def test_eval_of_the_tensorrt_ready_onnx_is_its_own_accuracy_record(quick_run, main_cli, cifar10_archive):
    from edgecnn.export import export_model

    root, summary = quick_run
    res = export_model("lenet5", to="tensorrt", precision="fp32", out_dir=root / "export-trt",
                       checkpoint=root / "run" / "last.pt", data_dir=str(cifar10_archive), n_images=20,
                       profiles=None, prepare_only=True)
    assert res.ok, res.error
    prepared = res.path.with_name("lenet5-32-fp32-trt.onnx")
    assert prepared.exists()
    out = main_cli("eval", prepared, "--subset", "300", "--data-dir", cifar10_archive,
                   "--profiles", root / "trt-profiles", "--json")
    assert out.returncode == 0, out.stderr
    (rec,) = RecordStore(root / "trt-profiles").load(kind="accuracy")
    # run on ONNX Runtime here, but not the same artifact as the plain ONNX export: told apart by variant
    assert (rec.format, rec.runtime, rec.variant) == ("onnx", "onnxruntime", "tensorrt-ready")
    assert json.loads(out.stdout)["top1"] == pytest.approx(summary["test_top1"], abs=0.34)

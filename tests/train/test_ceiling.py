"""The data set's ceiling with airbench (edgecnn/reference/ceiling.py): the data
files airbench reads, the CPU outcome, and the whole measurement with a fake
airbench that does trivial work on the CPU."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from edgecnn.records import RecordStore
from edgecnn.reference.ceiling import VARIANTS, airbench_ceiling, main, run_needs_s, write_airbench_data


def test_data_files_load_with_airbench_in_edgecnn_order(tmp_path, cifar10_archive):
    from edgecnn.data import load_dataset

    info = write_airbench_data(cifar10_archive, tmp_path, subset=200, test_subset=100)
    assert (info["train_images"], info["test_images"]) == (200, 100)
    assert sorted(os.listdir(tmp_path / "cifar10")) == ["test.pt", "train.pt"]  # no temporary file left
    airbench = pytest.importorskip("airbench")
    for split, n, train in (("train", 200, True), ("test", 100, False)):
        ours = load_dataset("cifar10", split, cifar10_archive).subset(n, 0)
        loader = airbench.CifarLoader(str(tmp_path / "cifar10"), train=train, gpu="cpu")
        # airbench holds images as fp16 / 255, NCHW: k / 255 in fp16 times 255 rounds back to k
        back = (loader.images.float() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        assert np.array_equal(back, ours.images) and np.array_equal(loader.labels.numpy(), ours.labels)
        assert loader.classes == list(ours.classes) and loader.classes[0] == "airplane"


def test_without_cuda_one_unsupported_record_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (rec,) = airbench_ceiling(work=tmp_path / "w", log=lambda m: None)
    assert (rec.status, rec.kind, rec.model) == ("unsupported", "accuracy", "airbench") and "CUDA" in rec.error
    assert not (tmp_path / "w").exists()  # nothing written for a measurement that cannot run
    monkeypatch.setitem(sys.modules, "airbench", None)  # import airbench raises ImportError
    (rec,) = airbench_ceiling(work=tmp_path / "w", log=lambda m: None)
    assert "airbench does not import" in rec.error and "CUDA" in rec.error and "dev" in rec.error
    RecordStore(tmp_path / "p").append(rec)  # it fits the schema


class FakeNet:
    def __init__(self, quality: float) -> None:
        self.quality = quality


def fake_airbench(calls: list) -> types.ModuleType:
    """train94/95 draw a 'quality' from torch's RNG (so the seed decides it),
    evaluate turns it into an accuracy; CifarLoader reads cifar10/*.pt from the
    working directory, as the real one does."""
    ab = types.ModuleType("airbench")
    hyp = {"net": {"tta_level": 2}}
    ab.lib_airbench94 = types.SimpleNamespace(hyp=hyp)
    ab.lib_airbench95 = types.SimpleNamespace(hyp=hyp)

    def trainer(name):
        def train(verbose=True):
            assert verbose is False and Path("cifar10/train.pt").exists()
            calls.append((name, Path.cwd()))
            return FakeNet(torch.rand(1).item())
        return train

    def warmup(name):
        return lambda: calls.append((name, print("header printed by the package")))

    ab.train94, ab.train95 = trainer("train94"), trainer("train95")
    ab.warmup94, ab.warmup95 = warmup("warmup94"), warmup("warmup95")

    class CifarLoader:
        def __init__(self, path, train=True, batch_size=500, gpu=0):
            self.data = torch.load(os.path.join(path, "train.pt" if train else "test.pt"))
            self.batch_size = batch_size

    def evaluate(net, loader, tta_level=0):
        assert tta_level == 2 and loader.batch_size == 2000 and len(loader.data["labels"]) == 50
        return 0.90 + 0.01 * net.quality

    ab.CifarLoader, ab.evaluate = CifarLoader, evaluate
    return ab


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: None)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "fake GPU")


def _expected(seed: int) -> float:
    torch.manual_seed(seed)
    return 100 * (0.90 + 0.01 * torch.rand(1).item())


def test_the_whole_measurement_and_the_handicap(tmp_path, cifar10_archive, monkeypatch, fake_cuda, capsys):
    calls: list = []
    monkeypatch.setitem(sys.modules, "airbench", fake_airbench(calls))
    cwd = Path.cwd()
    left = iter([1e9, 1e9, 0.0, 0.0])  # the third run of airbench94 finds no time left (and says so)
    recs = airbench_ceiling(["airbench94"], [0, 1, 2], work=tmp_path / "w", data=cifar10_archive,
                            time_left=lambda: next(left), log=lambda m: None, device_name="box",
                            subset=100, test_subset=50)
    assert Path.cwd() == cwd and "header" not in capsys.readouterr().out  # cwd restored, warm-up output swallowed
    assert [c[0] for c in calls] == ["warmup94", "train94", "train94"]
    assert all(c[1] == (tmp_path / "w").resolve() for c in calls if c[0] == "train94")
    runs, summary = recs[:-1], recs[-1]
    assert [r.variant for r in runs] == ["airbench94-seed0", "airbench94-seed1"]
    for seed, r in enumerate(runs):
        assert (r.source, r.dataset, r.runtime, r.device) == ("measured", "cifar10", "torch", "box")
        assert r.metrics["top1"] == pytest.approx(_expected(seed)) and r.metrics["seed"] == seed
        assert r.metrics["n_images"] == 50 and r.metrics["tta_level"] == 2 and r.env["gpu"] == "fake GPU"
    mean = (_expected(0) + _expected(1)) / 2
    m = summary.metrics
    assert (summary.source, summary.variant, m["top1"]) == ("published", "airbench94-ceiling", 94.01)
    assert m["measured_top1_mean"] == pytest.approx(mean) and m["measured_runs"] == 2 and m["skipped_runs"] == 1
    assert m["handicap_points"] == pytest.approx(94.01 - mean) and m["handicap_points"] > 0
    assert m["measured_top1_std"] == pytest.approx(abs(_expected(0) - _expected(1)) / 2 ** 0.5)
    assert "1000 runs" in m["reference"] and m["warmup_s"] >= 0
    RecordStore(tmp_path / "p").extend(recs)  # every record fits the schema


def test_failed_run_is_recorded_and_the_rest_go_on(tmp_path, cifar10_archive, monkeypatch, fake_cuda):
    calls: list = []
    ab = fake_airbench(calls)
    good, tries = ab.train95, []

    def first_fails(verbose=True):
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("CUDA out of memory")
        return good(verbose)

    ab.train95 = first_fails
    monkeypatch.setitem(sys.modules, "airbench", ab)
    recs = airbench_ceiling(["airbench95"], [0, 1], work=tmp_path, data=cifar10_archive, log=lambda m: None,
                            subset=100, test_subset=50)
    assert [(r.variant, r.status) for r in recs] == [("airbench95-seed0", "failed"), ("airbench95-seed1", "ok"),
                                                     ("airbench95-ceiling", "ok")]
    assert "out of memory" in recs[0].error and "RuntimeError" in recs[0].metrics["traceback"]
    assert recs[-1].metrics["measured_runs"] == 1 and "measured_top1_std" not in recs[-1].metrics
    assert recs[-1].metrics["handicap_points"] == pytest.approx(95.01 - recs[1].metrics["top1"])


def test_time_needed_per_run():
    v = VARIANTS["airbench94"]
    assert run_needs_s(v, []) == pytest.approx(3 * 3.83 + 30)
    assert run_needs_s(v, [4.0, 6.0]) == pytest.approx(9.0)


def test_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["--work", str(tmp_path / "w"), "--profiles", str(tmp_path / "p"), "--device-name", "cpu-box"]) == 0
    out = capsys.readouterr()
    assert "ceiling [measured]: unsupported" in out.out and "CUDA" in out.err
    (row,) = [json.loads(x) for x in (tmp_path / "p" / "cpu-box" / "accuracy.jsonl").read_text().splitlines()]
    assert row["status"] == "unsupported"
    for bad, words in ((["--work", "w", "--variants", "airbench99"], "unknown airbench variant"),
                       (["--work", "w", "--seeds", "0"], "--seeds"), (["--seeds", "2"], "--work"),
                       (["--work", "w", "--time-budget", "soon"], "soon")):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and words in err[0], err

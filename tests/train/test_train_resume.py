"""A run killed with SIGKILL mid-epoch and resumed ends with the same metrics and
weights as an uninterrupted run with the same seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

# mixup and the default recipe's crop, flip and cutout: every random draw must replay
ARGS = ("train", "lenet5", "--subset", "3000", "--test-subset", "400", "--batch-size", "32", "--epochs", "2",
        "--checkpoint-every", "5", "--mixup", "0.2", "--no-records")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
KEYS = ("train_loss", "train_top1", "test_loss", "test_top1", "test_top5", "lr", "step")


def _cmd(out, data, *extra):
    return [sys.executable, "-m", "edgecnn.cli", *ARGS, "--data-dir", str(data), "--out", str(out), *extra]


def _rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _position(path):
    import torch

    try:
        return torch.load(path, weights_only=False)["position"]
    except Exception:  # not written yet
        return None


def test_kill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, cifar10_archive):
    import torch

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(killed, cifar10_archive), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    # kill inside the second epoch, so the first epoch's row and the best checkpoint must survive too
    while True:
        assert proc.poll() is None, f"training ended before a mid-epoch-2 checkpoint: {proc.stderr.read()}"
        assert time.time() < deadline, "no mid-epoch-2 checkpoint within 300 s"
        pos = _position(killed / "last.pt")
        if pos and pos["epoch"] == 1 and pos["step_in_epoch"] > 0:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ck = torch.load(killed / "last.pt", weights_only=False)
    steps_per_epoch = 3000 // 32
    assert ck["step"] < 2 * steps_per_epoch, "the run finished before the kill; nothing was tested"
    assert ck["position"]["epoch"] == 1 and ck["position"]["step_in_epoch"] % 5 == 0
    assert len(_rows(killed)) == 1 and (killed / "best.pt").exists()

    resumed = subprocess.run(_cmd(killed, cifar10_archive, "--resume"), env=ENV, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    clean = tmp_path / "clean"
    full = subprocess.run(_cmd(clean, cifar10_archive), env=ENV, capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr

    a, b = _rows(killed), _rows(clean)
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b] == [1, 2]
    assert [r["resumed"] for r in a] == [False, True]
    for ra, rb in zip(a, b):
        for k in KEYS:
            assert ra[k] == pytest.approx(rb[k], rel=1e-5, abs=1e-6), (ra["epoch"], k)
    for name in ("last.pt", "best.pt"):
        ca = torch.load(killed / name, weights_only=False)
        cb = torch.load(clean / name, weights_only=False)
        assert ca["epoch"] == cb["epoch"] and ca["best_top1"] == pytest.approx(cb["best_top1"])
        for k in cb["state_dict"]:
            assert torch.allclose(ca["state_dict"][k], cb["state_dict"][k], rtol=1e-5, atol=1e-6), (name, k)


def test_resume_of_a_finished_run_trains_nothing_more(tmp_path, cifar10_archive, main_cli, one_line_error):
    run = tmp_path / "done"
    args = ("train", "lenet5", "--subset", "256", "--test-subset", "100", "--batch-size", "64", "--epochs", "1",
            "--no-records", "--data-dir", cifar10_archive, "--out", run, "--json")
    first = main_cli(*args)
    assert first.returncode == 0, first.stderr
    before, last = _rows(run), (run / "last.pt").read_bytes()
    again = main_cli(*args, "--resume")
    assert again.returncode == 0, again.stderr
    assert _rows(run) == before and (run / "last.pt").read_bytes() == last
    assert json.loads(again.stdout)["test_top1"] == json.loads(first.stdout)["test_top1"]
    one_line_error(main_cli(*args, "--resume", "--seed", "1"), "other seed")

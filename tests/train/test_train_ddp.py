"""The same `edgecnn train` under torchrun: DistributedDataParallel over gloo, two CPU processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# no random augmentation ("plain"): two ranks of 32 images must then take exactly the
# optimizer steps one process takes with batches of 64 (DDP averages the gradients)
ARGS = ("train", "lenet5", "--recipe", "plain", "--subset", "512", "--test-subset", "200", "--batch-size", "64",
        "--epochs", "2", "--device", "cpu")


@pytest.mark.slow  # two torchrun processes, ~13 s: `make test-all`
def test_torchrun_two_processes_gloo_equals_one_process(tmp_path, cifar10_archive, main_cli):
    import torch
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("this torch build has no gloo backend")
    logs, run, prof = tmp_path / "logs", tmp_path / "run", tmp_path / "profiles"
    # --standalone: a local rendezvous on a free port (--master_port=0 hangs)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "--log-dir", str(logs), "--redirects", "3",
           "-m", "edgecnn.cli", *ARGS, "--data-dir", str(cifar10_archive), "--out", str(run),
           "--profiles", str(prof), "--json"]
    res = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    outs = sorted(logs.rglob("stdout.log"))
    assert len(outs) == 2
    summaries = [json.loads(p.read_text()) for p in outs]
    assert sorted(s["rank"] for s in summaries) == [0, 1]
    assert all(s["world_size"] == 2 and s["ranks_in_sync"] for s in summaries)
    assert summaries[0]["param_checksum"] == summaries[1]["param_checksum"]
    assert summaries[0]["test_top1"] == summaries[1]["test_top1"]
    assert summaries[0]["train_loss"] == pytest.approx(summaries[1]["train_loss"])
    # only rank 0 wrote: one set of run files, one set of records
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.json", "last.pt", "metrics.jsonl"]
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[-1]["step"] == 2 * (512 // 64)
    assert len((prof / "local" / "train.jsonl").read_text().splitlines()) == 1
    assert len((prof / "local" / "train_epoch.jsonl").read_text().splitlines()) == 2
    rank1_err = [p for p in logs.rglob("stderr.log") if p.parent.name == "1"][0].read_text()
    assert "epoch 1/2" not in rank1_err  # rank 1 trains silently

    # one process, global batch 64: the same training up to float summation order
    single = tmp_path / "single"
    one = main_cli(*ARGS, "--data-dir", cifar10_archive, "--out", single, "--no-records", "--json")
    assert one.returncode == 0, one.stderr
    ref = [json.loads(line) for line in (single / "metrics.jsonl").read_text().splitlines()]
    for r_ddp, r_one in zip(rows, ref):
        for k in ("train_loss", "test_loss", "lr"):
            assert r_ddp[k] == pytest.approx(r_one[k], rel=1e-4, abs=1e-7), k
    wa = torch.load(run / "last.pt", weights_only=False)["state_dict"]
    wb = torch.load(single / "last.pt", weights_only=False)["state_dict"]
    for k in wb:
        assert torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-5), k

"""Quantisation-aware fine-tuning as a user runs it: `edgecnn train lenet5 --qat --checkpoint FP32.pt`,
then `edgecnn export ... --precision int8` of the QAT checkpoint to ONNX and TFLite, with the bad inputs
that must stop in one line. LeNet-5 on a small CIFAR-10 subset keeps it short."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
pytest.importorskip("torchao")

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
QAT = ("train", "lenet5", "--qat", "--subset", "512", "--test-subset", "200", "--batch-size", "32", "--epochs", "2",
       "--checkpoint-every", "4")


def cli(*args, timeout=600, check=True):
    res = subprocess.run([sys.executable, "-m", "edgecnn.cli", *map(str, args)], env=ENV, capture_output=True,
                         text=True, timeout=timeout)
    if check:
        assert res.returncode == 0, res.stderr[-3000:]
    return res


def rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def fp32_lenet(tmp_path_factory, cifar10_archive):
    """A LeNet-5 trained in float for one short epoch (about 40 % top-1): what QAT starts from."""
    run = tmp_path_factory.mktemp("fp32")
    cli("train", "lenet5", "--subset", "3072", "--test-subset", "200", "--batch-size", "64", "--epochs", "1",
        "--no-records", "--data-dir", cifar10_archive, "--out", run)
    return run / "best.pt"


@pytest.fixture(scope="module")
def qat_run(tmp_path_factory, cifar10_archive, fp32_lenet):
    out = tmp_path_factory.mktemp("qat")
    run, profiles = out / "run", out / "profiles"
    cli(*QAT, "--checkpoint", fp32_lenet, "--data-dir", cifar10_archive, "--out", run, "--profiles", profiles)
    return run, profiles


def test_qat_run_writes_a_qat_checkpoint_and_records(qat_run, fp32_lenet):
    import torch

    run, profiles = qat_run
    ck = torch.load(run / "last.pt", weights_only=False)
    q = ck["qat"]
    assert q["epochs"] == 2 and q["images"] == 2 * (512 // 32) * 32 and q["recipe"] == "qat"
    assert q["source_checkpoint"] == str(fp32_lenet.resolve())
    assert "per output channel" in q["scheme"]["weights"]
    # the fake quantisers' state is saved beside the weights: per-channel weight scales, per-tensor activations
    scales = {k: v for k, v in ck["state_dict"].items() if k.endswith(".scale")}
    assert scales and any(v.numel() > 1 for v in scales.values()) and any(v.numel() == 1 for v in scales.values())
    # it starts from the float weights: the first epoch is already near the source, not at chance (10 %)
    src = torch.load(fp32_lenet, weights_only=False)["metrics"]["top1"]
    assert rows(run)[0]["test_top1"] > max(25.0, src - 10.0)
    acc = [json.loads(line) for line in (profiles / "local" / "accuracy.jsonl").read_text().splitlines()]
    assert acc[-1]["precision"] == "int8-qat" and acc[-1]["qat"]["epochs"] == 2


def test_qat_checkpoint_exports_to_onnx_tflite_and_openvino_with_its_scales(qat_run, cifar10_archive, tmp_path):
    run, _ = qat_run
    res = cli("export", "lenet5", "--checkpoint", run / "last.pt", "--to", "onnx,tflite,openvino", "--precision", "int8",
              "--n-images", "100", "--no-speedup", "--data-dir", cifar10_archive, "--out", tmp_path / "x",
              "--profiles", tmp_path / "p", "--json")
    recs = {r["format"]: r for r in json.loads(res.stdout)}
    assert set(recs) == {"onnx", "tflite", "openvino"}
    for fmt, r in recs.items():
        m = r  # a record as JSON: its figures beside its identity
        assert r["status"] == "ok", (fmt, r.get("error"))
        assert m["method"] == "qat" and m["qat_epochs"] == 2 and m["qat_images"] == 1024, fmt
        assert m["cosine"] > 0.99 and m["top1_agreement"] >= 90, (fmt, m["cosine"], m["top1_agreement"])
        assert m["top1"] is not None and m["n_images"] == 100
        assert "calibration_images" not in m  # the trained scales, no calibration
    assert recs["onnx"]["qdq_nodes"] > 0
    # OpenVINO reads the same Q/DQ graph: its pairs become FakeQuantize ops with the trained scales
    assert recs["openvino"]["qdq_nodes"] == recs["onnx"]["qdq_nodes"] and recs["openvino"]["fake_quantize_ops"] > 0
    assert recs["tflite"]["op_counts"].get("CONV_2D", 0) >= 2
    meta = json.loads((tmp_path / "x" / "lenet5-32-int8.tflite.json").read_text())
    assert meta["input_quantization"]["scale"] > 0  # full integer: int8 input, as PTQ's


def test_killed_qat_run_resumes_to_the_same_result(qat_run, fp32_lenet, cifar10_archive, tmp_path):
    import torch

    clean, _ = qat_run
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "edgecnn.cli", *QAT, "--checkpoint", str(fp32_lenet), "--data-dir",
           str(cifar10_archive), "--out", str(killed), "--no-records"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while True:  # kill inside the second epoch
        assert proc.poll() is None, f"the run ended before a mid-epoch-2 checkpoint: {proc.stderr.read()[-2000:]}"
        assert time.time() < deadline
        try:
            pos = torch.load(killed / "last.pt", weights_only=False)["position"]
        except Exception:  # not written yet, or being renamed
            pos = None
        if pos and pos["epoch"] == 1 and pos["step_in_epoch"] > 0:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert torch.load(killed / "last.pt", weights_only=False)["step"] < 2 * (512 // 32)
    res = subprocess.run(cmd + ["--resume"], env=ENV, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "resuming" in res.stderr, res.stderr[-2000:]
    a, b = rows(killed), rows(clean)
    assert [r["resumed"] for r in a] == [False, True]
    for ra, rb in zip(a, b):
        for k in ("train_loss", "test_top1", "test_loss", "lr", "step"):
            assert ra[k] == pytest.approx(rb[k], rel=1e-5, abs=1e-6), (ra["epoch"], k)
    ca, cb = (torch.load(r / "last.pt", weights_only=False) for r in (killed, clean))
    assert ca["qat"]["images"] == cb["qat"]["images"]
    for k, v in cb["state_dict"].items():  # weights and every fake quantiser's scale
        assert torch.allclose(ca["state_dict"][k].float(), v.float(), rtol=1e-5, atol=1e-6), k


def test_bad_qat_requests_are_one_line(qat_run, fp32_lenet, cifar10_archive, main_cli, one_line_error, tmp_path):
    run, _ = qat_run
    out = ("--data-dir", cifar10_archive, "--no-records", "--subset", "256", "--out", tmp_path / "r")
    one_line_error(main_cli("train", "lenet5", "--qat", *out), "--checkpoint")
    one_line_error(main_cli("train", "lenet5", "--checkpoint", fp32_lenet, *out), "--qat")
    one_line_error(main_cli("train", "lenet5", "--qat", "--checkpoint", run / "best.pt", *out), "already a QAT")
    one_line_error(main_cli("train", "lenet5", "--qat", "--checkpoint", fp32_lenet, "--ema", "0.9", *out), "--ema")
    one_line_error(main_cli("train", "resnet18", "--qat", "--checkpoint", fp32_lenet, *out), "lenet5")
    assert not (tmp_path / "r").exists()
    exp = ("--checkpoint", run / "best.pt", "--n-images", "10", "--data-dir", cifar10_archive,
           "--out", tmp_path / "x", "--profiles", tmp_path / "p")
    one_line_error(main_cli("export", "lenet5", *exp, "--precision", "fp32"), "int8")
    one_line_error(main_cli("export", "lenet5", *exp, "--precision", "int8", "--to", "ncnn"), "ncnn")
    one_line_error(main_cli("export", "lenet5", *exp, "--precision", "int8", "--max-drop", "0.5"), "own scales")
    one_line_error(main_cli("eval", run / "best.pt", "--no-records", "--data-dir", cifar10_archive), "quantisation-aware")
    assert not (tmp_path / "x").exists()


def test_wrong_option_through_the_console_script(fp32_lenet, tmp_path):
    res = cli("train", "lenet5", "--qat", "--checkpoint", fp32_lenet, "--qat-epochs", "3", "--out", tmp_path / "r",
              check=False, timeout=120)
    assert res.returncode == 2 and "--qat-epochs" in res.stderr
    assert not (tmp_path / "r").exists()


def test_a_model_the_capture_cannot_take_is_one_line():
    from torch import nn

    from edgecnn.errors import InvalidOptionError
    from edgecnn.export.qat import prepare_qat

    class DataDependent(nn.Module):  # control flow on a value: torch.export cannot capture it
        edgecnn_config = {"name": "data_dependent"}

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            return y.mean((2, 3)) if y.sum() > 0 else -y.mean((2, 3))

    with pytest.raises(InvalidOptionError, match="data_dependent cannot be prepared for quantisation-aware"):
        prepare_qat(DataDependent(), 8)


def test_stochastic_depth_is_off_in_the_captured_qat_graph():
    """EfficientNet's StochasticDepth draws a bernoulli mask in training mode; a graph captured in training mode
    kept that draw in evaluation and export (TFLite and ExecuTorch refused aten.bernoulli.p, ONNX kept it).
    prepare_qat turns it off before the capture: no random op left in the graph, evaluation repeatable.
    The capture is checked on a small net with both kinds (torchvision's StochasticDepth, timm's DropPath);
    EfficientNet-B0 itself took 30 s to capture here, so for it the count is checked."""
    import torch
    from timm.layers import DropPath
    from torch import nn
    from torchvision.ops import StochasticDepth

    from edgecnn.export.qat import prepare_qat, without_stochastic_depth
    from edgecnn.models import create_model

    # one per MBConv block of the zoo's EfficientNet-B0 after the first
    assert without_stochastic_depth(create_model("efficientnet_b0", input_size=32, num_classes=10)) == 15

    class Block(nn.Module):
        def __init__(self, drop: nn.Module) -> None:
            super().__init__()
            self.conv, self.bn, self.drop = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), drop

        def forward(self, x):
            return x + self.drop(torch.relu(self.bn(self.conv(x))))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, padding=1)
            self.blocks = nn.Sequential(Block(StochasticDepth(0.5, "row")), Block(DropPath(0.5)))
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            return self.fc(self.blocks(self.stem(x)).mean((2, 3)))

    torch.manual_seed(0)
    qat = prepare_qat(Net(), 32)
    assert qat.edgecnn_qat["stochastic_depth_off"] == 2
    with torch.no_grad():
        qat.train()(torch.randn(8, 3, 32, 32))  # the observers see a batch
        qat.eval()
        x = torch.randn(4, 3, 32, 32)
        assert torch.equal(qat(x), qat(x))
    # the captured graph holds no random draw (what export would keep); converting it here took 15 s
    targets = {str(n.target) for n in qat.graph.graph.nodes if n.op == "call_function"}
    assert targets and not [t for t in targets if "bernoulli" in t]

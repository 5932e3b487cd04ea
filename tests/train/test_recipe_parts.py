"""The recipe parts a GPU run can switch one at a time: the weights' moving
average (``ema``), flip test-time augmentation (``tta_flip``), the
normalisation statistics (``norm``), which parameters get weight decay
(``wd_on``), ``--recipe-set FIELD=VALUE``, and the ``dawnbench`` recipe.
Tiny models and a few hundred CIFAR-10 images on the CPU."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.train.ema import WeightEma
from edgecnn.train.metrics import evaluate_model
from edgecnn.train.options import (DATASET_NORMS, TrainOptions, norm_stats, param_groups, parse_recipe_sets,
                                   resolve_recipe)
from edgecnn.train.recipes import Recipe, get_recipe

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class OneWeight(nn.Module):
    """One parameter and one buffer: the average's closed form by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([2.0]))
        self.register_buffer("count", torch.tensor([0.0]))


def test_ema_follows_its_closed_form_and_copies_buffers():
    model, d = OneWeight(), 0.9
    ema = WeightEma(model, d)
    ws = [5.0, -1.0, 3.0, 0.5]
    for i, w in enumerate(ws, 1):
        model.w.data.fill_(w)
        model.count.fill_(float(i))
        ema.update(model)
    # avg_n = d^n w_0 + (1 - d) * sum_k d^(n-k) w_k
    n = len(ws)
    expected = d ** n * 2.0 + (1 - d) * sum(d ** (n - k) * w for k, w in enumerate(ws, 1))
    assert ema.module.w.item() == pytest.approx(expected, rel=1e-6)
    assert ema.module.count.item() == n  # copied, not averaged
    assert ema.updates == n and not ema.module.w.requires_grad and model.w.item() == ws[-1]
    with pytest.raises(ValueError):
        WeightEma(model, 1.0)


def _trainer(tmp, data, **kw):
    from edgecnn.train.trainer import Trainer

    kw = {"subset": 256, "test_subset": 100, "batch_size": 64, "epochs": 1, "threads": 1, **kw}
    opts = TrainOptions(model="lenet5", data_dir=str(data), out=str(tmp / kw.pop("name", "run")), profiles=None, **kw)
    return Trainer(opts, log=lambda m: None)


def test_trainer_evaluates_and_saves_the_average_of_its_steps(tmp_path, cifar10_archive, monkeypatch):
    """The checkpoint's state_dict (what eval and export load) is the average of the
    weights after every step, by the formula; the trained weights are kept beside it."""
    from edgecnn.train.trainer import Trainer

    t = _trainer(tmp_path, cifar10_archive, ema=0.5)
    seen = [{k: v.detach().clone() for k, v in t.model.named_parameters()}]
    step = Trainer.train_step

    def recording(self, *a):
        out = step(self, *a)
        seen.append({k: v.detach().clone() for k, v in self.model.named_parameters()})
        return out

    monkeypatch.setattr(Trainer, "train_step", recording)
    summary = t.run()
    ckpt = torch.load(t.last_path, weights_only=False)
    assert len(seen) == 1 + 4 and ckpt["ema"] == {"decay": 0.5, "updates": 4}
    for name in seen[0]:
        avg = seen[0][name]
        for w in seen[1:]:
            avg = 0.5 * avg + 0.5 * w[name]
        assert torch.allclose(ckpt["state_dict"][name], avg, atol=1e-6), name
        assert torch.equal(ckpt["train_state_dict"][name], seen[-1][name])
    assert any(not torch.equal(ckpt["state_dict"][k], ckpt["train_state_dict"][k]) for k in seen[0])
    # the trainer's figure is the average's: evaluate it directly
    m = evaluate_model(t.ema.module, t.test_x, t.test_y, t.eval_tf, 10, 1024).result()
    assert summary["test_top1"] == m["top1"] and summary["test_loss"] == pytest.approx(m["loss"])


def test_resume_with_ema_is_exact(tmp_path, cifar10_archive, monkeypatch):
    """Stopped after a mid-epoch checkpoint and resumed, an EMA run ends with the
    metrics, trained weights and average of an uninterrupted one."""
    from edgecnn.train.trainer import Trainer

    kw = dict(ema=0.8, tta_flip=True, checkpoint_every=3, epochs=2)
    _trainer(tmp_path, cifar10_archive, name="clean", **kw).run()
    step, calls = Trainer.train_step, []

    def stop_at_8(self, *a):
        calls.append(1)
        if len(calls) == 8:  # 4 steps an epoch: the last checkpoint is the one after step 3 of epoch 2
            raise RuntimeError("killed")
        return step(self, *a)

    monkeypatch.setattr(Trainer, "train_step", stop_at_8)
    with pytest.raises(RuntimeError, match="killed"):
        _trainer(tmp_path, cifar10_archive, name="cut", **kw).run()
    monkeypatch.setattr(Trainer, "train_step", step)
    cut = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)
    assert cut["position"] == {"epoch": 1, "step_in_epoch": 3} and cut["ema"]["updates"] == cut["step"] == 7
    _trainer(tmp_path, cifar10_archive, name="cut", resume=True, **kw).run()
    rows = [[json.loads(x) for x in (tmp_path / n / "metrics.jsonl").read_text().splitlines()]
            for n in ("cut", "clean")]
    assert [r["resumed"] for r in rows[0]] == [False, True] and len(rows[1]) == 2
    for a, b in zip(*rows):
        for k in ("train_loss", "train_top1", "test_loss", "test_top1", "lr", "step"):
            assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9), k
    a, b = (torch.load(tmp_path / n / "last.pt", weights_only=False) for n in ("cut", "clean"))
    assert a["ema"] == b["ema"] == {"decay": 0.8, "updates": 8}
    for part in ("state_dict", "train_state_dict"):
        for k in b[part]:
            assert torch.allclose(a[part][k], b[part][k], rtol=1e-6, atol=1e-7), (part, k)


def test_tta_flip_is_the_mean_of_the_two_logits():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(10))
    images = torch.randint(0, 256, (12, 3, 8, 8), dtype=torch.uint8)
    labels = torch.randint(0, 10, (12,))
    pre = lambda x: x.float() / 255  # noqa: E731
    with torch.no_grad():
        x = pre(images)
        mean = 0.5 * (model(x) + model(x.flip(-1)))
    tta = evaluate_model(model, images, labels, pre, 10, batch_size=5, tta_flip=True).result()
    plain = evaluate_model(model, images, labels, pre, 10, batch_size=5).result()
    assert tta["loss"] == pytest.approx(nn.functional.cross_entropy(mean, labels).item(), rel=1e-6)
    assert tta["top1"] == pytest.approx(100 * (mean.argmax(1) == labels).float().mean().item())
    assert tta["loss"] != pytest.approx(plain["loss"], rel=1e-6)  # the mirror changes the figure


def test_norm_stats_reach_the_checkpoint_and_eval(tmp_path, cifar10_archive, main_cli):
    """lenet5's card has CIFAR-10's statistics; --norm imagenet trains with ImageNet's,
    and `edgecnn eval` and export read them back from the checkpoint."""
    from edgecnn.models.checkpoint import load_checkpoint_info

    run = tmp_path / "run"
    res = main_cli("train", "lenet5", "--norm", "imagenet", "--subset", "256", "--test-subset", "100",
                   "--batch-size", "64", "--epochs", "1", "--threads", "1", "--data-dir", cifar10_archive,
                   "--out", run, "--no-records", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    ckpt = torch.load(run / "last.pt", weights_only=False)
    assert (tuple(ckpt["mean"]), tuple(ckpt["std"])) == IMAGENET
    assert json.loads((run / "config.json").read_text())["recipe"]["norm"] == "imagenet"
    assert tuple(load_checkpoint_info(run / "last.pt")[1]["mean"]) == IMAGENET[0]  # what export embeds
    args = ("eval", run / "last.pt", "--subset", "100", "--data-dir", cifar10_archive, "--no-records", "--json")
    own = json.loads(main_cli(*args).stdout)
    assert own["top1"] == summary["test_top1"] and own["loss"] == pytest.approx(summary["test_loss"], rel=1e-5)
    # given the card's statistics, eval says they differ from the checkpoint's own (ImageNet's)
    card = json.loads(main_cli(*args, "--mean", "0.4914,0.4822,0.4465", "--std", "0.2470,0.2435,0.2616").stdout)
    check = card["normalization_check"]
    assert tuple(check["own"]["mean"]) == IMAGENET[0] and check["own_source"] == "the checkpoint's normalisation"


def test_norm_choices():
    assert norm_stats("card", "cifar10", (0.1,) * 3, (0.2,) * 3) == ((0.1,) * 3, (0.2,) * 3)
    assert norm_stats("imagenet", "cifar10", (0.1,) * 3, (0.2,) * 3) == IMAGENET
    assert norm_stats("cifar", "cifar10", None, None) == ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    assert norm_stats("cifar", "cifar100", None, None) == DATASET_NORMS["cifar100"]
    with pytest.raises(InvalidOptionError, match="imagefolder"):
        norm_stats("cifar", "imagefolder", None, None)


def test_wd_on_chooses_the_decayed_parameters():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    weights, rest = param_groups(model, 5e-4)
    assert [p.ndim for p in weights["params"]] == [4] and len(rest["params"]) == 3
    assert (weights["weight_decay"], rest["weight_decay"]) == (5e-4, 0.0)
    assert [g["weight_decay"] for g in param_groups(model, 5e-4, "all")] == [5e-4, 5e-4]


def test_recipe_set_types_conflicts_and_lr_scaling():
    assert parse_recipe_sets(["ema=0.999", "tta-flip=true", "cutout=0", "norm=cifar"]) == \
        {"ema": 0.999, "tta_flip": True, "cutout": 0, "norm": "cifar"}
    base = get_recipe("default")
    r = resolve_recipe(TrainOptions("lenet5", recipe_set=["batch_size=128", "wd_on=all"]))
    assert (r.batch_size, r.wd_on) == (128, "all") and r.lr == pytest.approx(base.lr / 4)
    for bad, words in ((["emma=0.9"], "did you mean ema"), (["ema"], "FIELD=VALUE"), (["ema=x"], "float"),
                       (["ema=1"], "--ema"), (["tta_flip=maybe"], "bool"), (["wd_on=bias"], "wd_on"),
                       (["ema=0.9", "ema=0.8"], "twice"), (["name=x"], "no field")):
        with pytest.raises(InvalidOptionError, match=words):
            resolve_recipe(TrainOptions("lenet5", recipe_set=bad))
    with pytest.raises(InvalidOptionError, match="both given"):
        resolve_recipe(TrainOptions("lenet5", ema=0.9, recipe_set=["ema=0.99"]))


def test_bad_recipe_parts_are_one_line(main_cli, one_line_error, tmp_path):
    run = tmp_path / "r"
    one_line_error(main_cli("train", "lenet5", "--recipe-set", "emma=0.9", "--out", run), "did you mean ema")
    one_line_error(main_cli("train", "lenet5", "--ema", "1.5", "--out", run), "--ema")
    one_line_error(main_cli("train", "lenet5", "--norm", "cifar", "--dataset", "imagefolder", "--data-dir", tmp_path,
                            "--out", run), "norm")
    assert not run.exists()


def test_a_run_from_before_the_new_fields_resumes(tmp_path, cifar10_archive, main_cli):
    """A checkpoint whose stored recipe lacks ema/tta_flip/norm/wd_on ran with their
    defaults, so --resume with those defaults is accepted."""
    run = tmp_path / "old"
    args = ("train", "lenet5", "--subset", "128", "--test-subset", "50", "--batch-size", "64", "--epochs", "1",
            "--threads", "1", "--data-dir", cifar10_archive, "--out", run, "--no-records")
    assert main_cli(*args).returncode == 0
    ckpt = torch.load(run / "last.pt", weights_only=False)
    for k in ("ema", "tta_flip", "norm", "wd_on"):
        del ckpt["train_config"]["recipe"][k]
    torch.save(ckpt, run / "last.pt")
    res = main_cli(*args, "--resume")
    assert res.returncode == 0 and "already finished" in res.stderr, res.stderr
    assert main_cli(*args, "--resume", "--ema", "0.9").returncode == 2


def test_budget_planning_leaves_the_average_untouched(tmp_path, cifar10_archive):
    t = _trainer(tmp_path, cifar10_archive, ema=0.9, time_budget=30, epochs=None)
    before = {k: v.clone() for k, v in t.ema.module.state_dict().items()}
    t.t_start = __import__("time").perf_counter()
    order = torch.randperm(t.n_train)
    t.budget.plan_now(t.model, order)
    assert t.ema.updates == 0 and t.budget.plan.timed_steps >= 1
    assert all(torch.equal(v, before[k]) for k, v in t.ema.module.state_dict().items())


def test_batchnorm_under_bf16_autocast_keeps_fp32_parameters_and_statistics():
    """What docs/train.md says: autocast does not cast batch_norm (it is on neither
    list); it takes the bf16 activations with its fp32 weight, bias and running
    statistics, which stay fp32 (on CUDA the kernel accumulates in fp32 too)."""
    conv, bn = nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = bn(conv(torch.randn(4, 3, 10, 10)))
    assert y.dtype == torch.bfloat16
    assert {t.dtype for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)} == {torch.float32}
    assert bn.running_mean.abs().sum() > 0  # the statistics were updated


def test_dawnbench_recipe_turns_every_part_on_and_claims_nothing():
    r = get_recipe("dawnbench")
    assert (r.ema, r.tta_flip, r.norm, r.wd_on, r.label_smoothing, r.cutout, r.epochs) == \
        (0.998, True, "cifar", "all", 0.2, 8, 24)
    assert "NOT measured" in r.description
    d = get_recipe("default")
    assert (d.ema, d.tta_flip, d.norm, d.wd_on) == (0.0, False, "card", "weights")  # off by default
    assert Recipe.from_dict({k: v for k, v in d.to_dict().items() if k != "ema"}) == d

"""Tensor-side augmentation, schedules and regularizers: exact, closed-form checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from edgecnn.data import augment as A
from edgecnn.errors import InvalidOptionError
from edgecnn.train.recipes import RECIPES, get_recipe, lr_factor


def _batch(n=6, side=8):
    return torch.arange(n * 3 * side * side, dtype=torch.int64).remainder(251).to(torch.uint8).view(n, 3, side, side)


def test_pad_crop_flip_is_a_window_of_the_padded_image_and_replays_from_its_seed():
    x = _batch()
    out = A.pad_crop_flip(x, A.step_generator("cpu", 0, 1, 2, 0), pad=2)
    again = A.pad_crop_flip(x, A.step_generator("cpu", 0, 1, 2, 0), pad=2)
    other = A.pad_crop_flip(x, A.step_generator("cpu", 0, 1, 3, 0), pad=2)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    assert torch.equal(out, again) and not torch.equal(out, other)
    xp = F.pad(x, (2, 2, 2, 2))
    for i in range(x.shape[0]):  # each output is some 8x8 window of the padded image, maybe mirrored
        windows = [xp[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(-1)) for w in windows)
    assert torch.equal(A.pad_crop_flip(x, A.step_generator("cpu", 1), pad=0, do_flip=False), x)


def test_normalize_matches_to_tensor_and_channels_last_keeps_values():
    from edgecnn.data import to_tensor

    x = _batch(2, 4)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    ref = to_tensor(x.permute(0, 2, 3, 1).numpy(), mean, std)
    got = A.normalize(x, mean, std, channels_last=True)
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(got, ref, atol=1e-5)


def test_cutout_zeroes_a_size_by_size_square_inside_the_image():
    x = torch.ones(200, 3, 32, 32)
    out = A.cutout(x, 8, A.step_generator("cpu", 5))
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert zeros.max() == 64 and zeros.min() >= 16  # a border centre clips the square to at least 4x4
    assert torch.all((out == 0).all(dim=1) == (out[:, :1] == 0).squeeze(1))  # same hole in every channel


def test_random_erasing_area_within_bounds_and_probability():
    x = torch.ones(400, 3, 32, 32)
    out = A.random_erasing(x, A.step_generator("cpu", 7), p=0.5, scale=(0.02, 0.33))
    frac = (out[:, 0] == 0).float().mean(dim=(1, 2))
    erased = frac > 0
    assert 0.35 < erased.float().mean() < 0.65
    assert frac[erased].max() <= 0.34 and frac[erased].min() >= 0.01


def test_random_resized_crop_size_and_full_box_is_a_resize():
    x = _batch(4, 16)
    out = A.random_resized_crop(x, 24, A.step_generator("cpu", 3))
    assert out.shape == (4, 3, 24, 24) and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 255
    full = A.random_resized_crop(torch.full((2, 3, 16, 16), 100, dtype=torch.uint8), 8,
                                 A.step_generator("cpu", 3), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(full, torch.full_like(full, 100.0), atol=1e-3)


def test_mixup_is_a_convex_combination_with_a_permuted_partner():
    x = torch.randn(16, 3, 4, 4)
    y = torch.arange(16)
    mixed, ya, yb, lam = A.mixup(x, y, 0.4, A.step_generator("cpu", 9))
    assert 0.0 <= lam <= 1.0 and torch.equal(ya, y)
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[yb], atol=1e-6)
    assert A.mixup(x, y, 0.0, A.step_generator("cpu", 9))[3] == 1.0


def test_onecycle_and_cosine_schedules_peak_then_reach_zero():
    total, warm = 100, 0.15
    one = [lr_factor(s, total, "onecycle", warm) for s in range(total)]
    assert one[0] == pytest.approx(0.1 + 0.9 / 15) and max(one) == pytest.approx(1.0) and one[14] == 1.0
    assert one[-1] == 0.0 and all(a >= b for a, b in zip(one[14:], one[15:]))
    cos = [lr_factor(s, total, "cosine", 0.05) for s in range(total)]
    assert cos[4] == pytest.approx(1.0) and cos[-1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InvalidOptionError):
        lr_factor(0, 10, "steps", 0.0)


def test_recipe_overrides_scale_lr_with_batch_and_refuse_bad_values():
    from edgecnn.train.trainer import TrainOptions, resolve_recipe

    base = get_recipe("default")
    assert base.nesterov and base.momentum > 0 and base.label_smoothing > 0  # the recipe the issue asks for
    # only --batch-size given: the peak lr follows it linearly (Goyal et al.)
    r = resolve_recipe(TrainOptions("lenet5", batch_size=128))
    assert r.batch_size == 128 and r.lr == pytest.approx(base.lr * 128 / base.batch_size)
    # an explicit --lr wins
    assert resolve_recipe(TrainOptions("lenet5", batch_size=128, lr=0.01)).lr == 0.01
    r = resolve_recipe(TrainOptions("lenet5", recipe="cosine", cutout=0, mixup=0.3))
    assert (r.schedule, r.cutout, r.mixup, r.epochs) == ("cosine", 0, 0.3, base.epochs)
    for bad in (dict(epochs=0), dict(batch_size=0), dict(lr=-1.0)):
        with pytest.raises(InvalidOptionError):
            resolve_recipe(TrainOptions("lenet5", **bad))
    assert "default" in RECIPES and "cosine" in RECIPES
    with pytest.raises(Exception, match="did you mean"):
        get_recipe("defualt")


def test_stochastic_depth_patches_resnet_blocks_without_changing_weights_or_eval_output():
    from torchvision.models import resnet18

    from edgecnn.train.regularizers import apply_stochastic_depth, residual_blocks

    torch.manual_seed(0)
    m = resnet18(num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    before, keys = m(x), list(m.state_dict())
    assert len(residual_blocks(m)) == 8
    assert apply_stochastic_depth(m, 0.2) == 8
    assert list(m.state_dict()) == keys
    assert torch.allclose(m(x), before, atol=1e-6)  # eval mode: identical function
    probs = [b.edgecnn_drop_prob for _, b, _ in residual_blocks(m)]
    assert probs[-1] == pytest.approx(0.2) and probs[0] == pytest.approx(0.2 / 8)
    apply_stochastic_depth(m, 0.5)
    m.train()
    xb = torch.randn(8, 3, 32, 32)
    torch.manual_seed(1)
    a = m(xb)
    torch.manual_seed(2)
    b = m(xb)
    torch.manual_seed(1)
    assert torch.equal(a, m(xb))  # replayable from the seed
    assert not torch.allclose(a, b)  # branches are dropped at random in training


def _block(kind):
    """A small network holding one residual block of ``kind`` (a whole model where
    that is cheap), so every block kind the hook knows is checked in a second."""
    from torch import nn

    from edgecnn.models import create_model

    if kind == "se_bottleneck":  # the SE unit sits on the branch: the hook must keep it
        from edgecnn.models.senet import SEBottleneck

        return nn.Sequential(SEBottleneck(64, 16))
    if kind == "preact":
        from edgecnn.models._classic_blocks import PreActBlock

        return nn.Sequential(PreActBlock(16, 16), PreActBlock(16, 32, stride=2))
    if kind == "pyramid":  # zero-padded shortcut
        from edgecnn.models.pyramidnet import PyramidBlock

        return nn.Sequential(PyramidBlock(16, 16, 1), PyramidBlock(16, 24, 2))
    if kind == "xception":
        from edgecnn.models.xception import XBlock, XceptionBlock

        return nn.Sequential(XceptionBlock(16, XBlock((16, 16), 1)))
    return create_model(kind, num_classes=10, input_size=32)


SD_KINDS = ["se_bottleneck", "preact", "pyramid", "xception", "mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5",
            "efficientnet_b0"]


def _train_mode_without_noise(model):
    """Training mode for the residual hooks, but BatchNorm and dropout frozen, so
    any randomness left in a forward pass is stochastic depth's."""
    model.train()
    for m in model.modules():
        if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.Dropout)):
            m.eval()


def _close(a, b):
    """Equal up to float noise, relative to the logits' scale (random-weight
    MobileNets give logits near 1e-9, where any absolute tolerance says 'equal')."""
    return float((a - b).abs().max()) <= 1e-4 * float(b.abs().max())


@pytest.mark.parametrize("kind", SD_KINDS)
def test_stochastic_depth_keeps_the_eval_function_and_drops_branches_in_training(kind):
    from torchvision.ops import StochasticDepth

    from edgecnn.train.regularizers import apply_stochastic_depth, residual_blocks

    torch.manual_seed(0)
    model = _block(kind)
    for m in model.modules():  # EfficientNet ships its own stochastic depth: off for the baseline
        if isinstance(m, StochasticDepth):
            m.p = 0.0
    x = torch.randn(4, 64 if kind == "se_bottleneck" else 16, 8, 8) if isinstance(model, torch.nn.Sequential) \
        else torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        before = model.eval()(x)
        _train_mode_without_noise(model)
        assert _close(model(x), before)  # baseline: nothing random left
        n = apply_stochastic_depth(model, 0.5)
        blocks = residual_blocks(model)
        assert n == len(blocks) > 0
        probs = [b.edgecnn_drop_prob for _, b, _ in blocks]
        assert probs[-1] == pytest.approx(0.5) and probs[0] == pytest.approx(0.5 / n)
        # eval: the very same function (an SE unit or a pre-activation order must survive the hook)
        assert _close(model.eval()(x), before)
        _train_mode_without_noise(model)
        torch.manual_seed(1)
        a = model(x)
        torch.manual_seed(1)
        again = model(x)
        torch.manual_seed(2)
        b = model(x)
    assert torch.equal(a, again)  # replayable from the seed (what exact resume relies on)
    assert not _close(a, b)  # branches are dropped at random in training


def test_stochastic_depth_is_refused_without_residual_blocks():
    from edgecnn.models import create_model
    from edgecnn.train.regularizers import apply_stochastic_depth

    for name in ("lenet5", "mobilenet_v1_025"):
        with pytest.raises(InvalidOptionError, match="no residual blocks"):
            apply_stochastic_depth(create_model(name, num_classes=10, input_size=32), 0.1)
    with pytest.raises(InvalidOptionError, match=r"\[0, 1\)"):
        apply_stochastic_depth(create_model("mobilenet_v2", num_classes=10, input_size=32), 1.0)


def test_shake_shake_forward_mix_eval_mean_and_split_gradient():
    from edgecnn.train.regularizers import ShakeShakeBlock, apply_shake_shake, shake_shake

    a = torch.ones(4, 2, requires_grad=True)
    b = torch.zeros(4, 2, requires_grad=True)
    out = shake_shake(a, b, training=True)
    assert torch.all((out >= 0) & (out <= 1))
    out.sum().backward()
    assert torch.allclose(a.grad + b.grad, torch.ones_like(a.grad))  # backward weights beta and 1 - beta
    assert torch.equal(shake_shake(torch.ones(2), torch.zeros(2), training=False), torch.full((2,), 0.5))
    net = torch.nn.Sequential(ShakeShakeBlock(3, 8, 2)).train()
    x = torch.randn(2, 3, 8, 8)
    assert net(x).shape == (2, 8, 4, 4)
    assert torch.equal(net(x), net(x))  # built as a plain two-branch block: branches averaged
    assert apply_shake_shake(net) == 1
    assert not torch.equal(net(x), net(x))  # shaking: a fresh random mix each training step
    assert torch.equal(net.eval()(x), net(x))  # evaluation averages the branches
    with pytest.raises(InvalidOptionError, match="two-branch"):
        apply_shake_shake(torch.nn.Linear(2, 2))


def test_shake_shake_26_turns_shaking_on_in_all_twelve_blocks():
    from edgecnn.models import create_model
    from edgecnn.train.regularizers import ShakeShakeBlock, apply_shake_shake

    model = create_model("shake_shake26_2x32d")
    assert apply_shake_shake(model) == 12
    assert all(m.shake for m in model.modules() if isinstance(m, ShakeShakeBlock))

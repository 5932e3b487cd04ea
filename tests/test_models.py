"""Registry-driven zoo tests: every registered model, no hand-kept list.

- parameter count equals the card's reference (exact for torchvision's counts,
  within the card's tolerance for papers' figures);
- conv + linear MACs (torch's FlopCounterMode / 2) match the card's reference MACs;
- a forward pass at the card's input size gives (1, num_classes): on torch's
  `meta` device, where modules get shapes but no storage and no initialisation
  (parameter counts, MACs and output shapes are the same as on the CPU; 61 models
  in ~9 s instead of ~75 s);
- a forward pass on real weights at the other size (CIFAR 32 <-> ImageNet 224)
  gives finite (batch, num_classes).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import edgecnn
from edgecnn.errors import InvalidOptionError
from edgecnn.models import count_params, create_model, get_card, list_models
from edgecnn.registry import UnknownNameError

ALL = list_models()
CONV_LINEAR_OPS = {"convolution", "_convolution", "addmm", "mm", "bmm"}


def conv_linear_macs(model, size):
    """Conv + linear multiply-accumulates from torch's counter (it counts 2 per MAC)."""
    counter = FlopCounterMode(display=False)
    first = next(iter(model.parameters()))
    with torch.no_grad(), counter:
        out = model(torch.randn(1, 3, size, size, device=first.device))
    counts = counter.get_flop_counts()["Global"]
    macs = sum(v for k, v in counts.items() if str(k).split(".")[1] in CONV_LINEAR_OPS)
    return out, macs // 2


def test_zoo_is_complete():
    required = [
        "lenet5", "alexnet", "zfnet", "nin",
        "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
        "googlenet", "inception_v3",
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "preact_resnet18",
        "resnext50_32x4d", "resnext101_32x8d", "wrn_28_10", "wide_resnet50_2", "pyramidnet110_a48",
        "se_resnet50", "densenet121", "densenet169", "densenet201", "densenet264", "xception",
        "squeezenet1_0", "squeezenet1_1",
        "mobilenet_v1", "mobilenet_v1_075", "mobilenet_v1_050", "mobilenet_v1_025",
        "mobilenet_v2", "mobilenet_v2_050", "mobilenet_v2_075", "mobilenet_v2_140",
        "mobilenet_v3_small", "mobilenet_v3_large",
        *[f"efficientnet_b{i}" for i in range(8)],
        "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "mnasnet1_0",
    ]
    missing = [n for n in required if n not in ALL]
    assert not missing, f"zoo is missing {missing}"


@pytest.mark.parametrize("name", ALL)
def test_card_reference_params_and_macs(name):
    card = get_card(name)
    ref = card.reference()
    assert ref is not None and ref.params, f"{name} has no reference parameter count"
    with torch.device("meta"):
        model = create_model(name).eval()
    params = count_params(model)
    if ref.tolerance == 0:
        assert params == ref.params, f"{name}: {params:,} params, reference {ref.params:,} ({ref.source})"
    else:
        assert abs(params - ref.params) <= ref.tolerance * ref.params, (
            f"{name}: {params:,} params, reference {ref.params:,} +-{ref.tolerance:.0%} ({ref.source})")
    out, macs = conv_linear_macs(model, card.input_size)
    assert out.shape == (1, card.num_classes)
    if ref.macs:
        assert abs(macs - ref.macs) <= ref.macs_tolerance * ref.macs, (
            f"{name}: {macs:,} conv+linear MACs, reference {ref.macs:,} +-{ref.macs_tolerance:.0%} ({ref.source})")


@pytest.mark.parametrize("name", ALL)
def test_forward_at_the_other_input_size(name):
    card = get_card(name)
    other, classes = (224, 1000) if card.input_size < 64 else (32, 10)
    if other < card.min_input_size:
        pytest.skip(f"{name} takes no input below {card.min_input_size}px")
    model = create_model(name, input_size=other, num_classes=classes).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, other, other))
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()


def test_public_api():
    assert "resnet18" in edgecnn.list_models("resnet*")
    m = edgecnn.create_model("resnet18", num_classes=10, input_size=32)
    assert m.edgecnn_config == {"name": "resnet18", "num_classes": 10, "input_size": 32}
    assert edgecnn.get_card("mobilenet_v2").paper


def test_unknown_model_suggests():
    with pytest.raises(UnknownNameError) as exc:
        create_model("mobilenet_v4")
    assert "mobilenet_v" in str(exc.value)


def test_too_small_input_is_a_clear_error():
    with pytest.raises(InvalidOptionError, match="cannot take 8x8"):
        create_model("lenet5", input_size=8)


def test_bad_width_multiplier_is_a_clear_error():
    with pytest.raises(InvalidOptionError, match="width_mult"):
        create_model("mobilenet_v1", width_mult=0.3)


def test_published_top1_figures_match_their_source():
    """Cards quoting torchvision's ImageNet top-1 quote it exactly (the report plots
    them as *published* accuracy when nothing was measured)."""
    import re

    import torchvision

    quoted = {name: get_card(name).reference() for name in ALL if get_card(name).reference().top1}
    assert {"mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "resnet18", "resnet50"} <= set(quoted)
    for name, ref in quoted.items():
        assert 0 < ref.top1 < 100 and ref.top1_source, name
        enum = re.match(r"torchvision (\w+)\.IMAGENET1K_V1", ref.top1_source)
        if enum:
            meta = getattr(torchvision.models, enum.group(1)).IMAGENET1K_V1.meta
            assert ref.top1 == meta["_metrics"]["ImageNet-1K"]["acc@1"], name

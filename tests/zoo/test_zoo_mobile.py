"""Mobile families: MobileNet v1/v2/v3, EfficientNet, ShuffleNet v2, MNASNet.

What the registry-driven tests in tests/test_models.py do not check: the
shape of the architectures (separable pairs, width multipliers, compound
scaling, the CIFAR strides) and the options' errors.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from edgecnn.errors import InvalidOptionError
from edgecnn.models import count_params, create_model, get_card, list_models

MOBILE = (list_models("mobilenet*") + list_models("efficientnet*") + list_models("shufflenet*")
          + list_models("mnasnet*"))


def convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def feature_side(model: nn.Module, size: int) -> int:
    """Side of the last feature map for a size x size image: the output of the last conv run
    (every family here ends its features with a conv, after the last SE block)."""
    sides: list[int] = []
    handles = [c.register_forward_hook(lambda m, i, o: sides.append(o.shape[-1])) for c in convs(model)]
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, size, size))
    for h in handles:
        h.remove()
    return sides[-1]


# -- MobileNet v1 --------------------------------------------------------------

def test_mobilenet_v1_has_13_depthwise_convs_each_followed_by_a_pointwise_conv():
    layers = convs(create_model("mobilenet_v1"))
    assert layers[0].groups == 1 and layers[0].kernel_size == (3, 3) and layers[0].stride == (2, 2)
    depthwise = [i for i, c in enumerate(layers) if c.groups > 1]
    assert len(depthwise) == 13
    assert len(layers) == 1 + 2 * 13
    for i in depthwise:
        dw, pw = layers[i], layers[i + 1]
        assert dw.groups == dw.in_channels == dw.out_channels and dw.kernel_size == (3, 3)
        assert pw.kernel_size == (1, 1) and pw.groups == 1 and pw.in_channels == dw.out_channels
    strides = [layers[i].stride[0] for i in depthwise]
    assert strides == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]


@pytest.mark.parametrize("width", [0.25, 0.5, 0.75, 1.0])
def test_mobilenet_v1_width_multiplier_scales_every_layer(width):
    model = create_model("mobilenet_v1", width_mult=width, input_size=32, num_classes=10)
    layers = convs(model)
    full = [c.out_channels for c in convs(create_model("mobilenet_v1", input_size=32, num_classes=10))]
    assert [c.out_channels for c in layers] == [int(c * width) for c in full]
    assert model.classifier.in_features == int(1024 * width)
    assert model.edgecnn_config["width_mult"] == width


def test_mobilenet_v1_named_widths_equal_the_option():
    for name, width in [("mobilenet_v1_075", 0.75), ("mobilenet_v1_050", 0.5), ("mobilenet_v1_025", 0.25)]:
        assert count_params(create_model(name)) == count_params(create_model("mobilenet_v1", width_mult=width))


def test_mobilenet_v1_cifar_stem_has_stride_one():
    model = create_model("mobilenet_v1", input_size=32, num_classes=10)
    assert convs(model)[0].stride == (1, 1)
    assert feature_side(model, 32) == 2  # 16x downsampling
    assert count_params(model) == 3_217_226  # kuangliu/pytorch-cifar MobileNet: same layers


@pytest.mark.parametrize("name,width", [("mobilenet_v1", 0.3), ("mobilenet_v1", 2.0), ("mobilenet_v2", 0.6),
                                        ("mobilenet_v2", 0.25)])
def test_unsupported_width_multiplier_is_a_clear_error(name, width):
    with pytest.raises(InvalidOptionError, match=rf"width_mult={width}.*choose one of"):
        create_model(name, width_mult=width)


def test_named_width_variants_take_no_width_option():
    with pytest.raises(InvalidOptionError, match="does not take option"):
        create_model("mobilenet_v1_050", width_mult=1.0)


# -- MobileNet v2 --------------------------------------------------------------

@pytest.mark.parametrize("width", [0.5, 0.75, 1.0, 1.4])
def test_mobilenet_v2_matches_torchvision_at_every_width(width):
    import torchvision

    ours = create_model("mobilenet_v2", width_mult=width, num_classes=10)
    theirs = torchvision.models.mobilenet_v2(weights=None, width_mult=width, num_classes=10)
    assert count_params(ours) == count_params(theirs)
    assert [(c.in_channels, c.out_channels, c.groups, c.stride) for c in convs(ours)] == [
        (c.in_channels, c.out_channels, c.groups, c.stride) for c in convs(theirs)]


def test_cifar_mobilenet_v2_strides_and_params():
    model = create_model("mobilenet_v2", input_size=32, num_classes=10)
    assert count_params(model) == 2_236_682
    assert feature_side(model, 32) == 4  # stem and the first stride-2 row at stride 1: 8x downsampling
    # kuangliu/pytorch-cifar quotes 2,296,922: its blocks add a 1x1 conv + BN projection shortcut
    # wherever a stride-1 block changes channels, and an expansion conv (32 -> 32) to the t=1 block
    projections = [(32, 16), (16, 24), (64, 96), (160, 320)]
    extra = sum(i * o + 2 * o for i, o in projections) + 32 * 32 + 2 * 32
    assert count_params(model) + extra == 2_296_922


# -- MobileNet v3 --------------------------------------------------------------

@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet_v3_large"])
def test_mobilenet_v3_is_torchvisions_network(name):
    import torchvision

    ours = create_model(name)
    theirs = getattr(torchvision.models, name)(weights=None)
    assert str(ours) == str(theirs)


# -- EfficientNet --------------------------------------------------------------

def test_efficientnet_scales_resolution_width_and_depth_together():
    from edgecnn.models.efficientnet import B0, SCALING
    from edgecnn.models.mobilenet_v2 import make_divisible

    sizes = [get_card(f"efficientnet_b{i}").input_size for i in range(8)]
    assert sizes == [224, 240, 260, 300, 380, 456, 528, 600]
    previous = (0.0, 0.0, 0)
    for i in range(8):
        width, depth, res, _ = SCALING[f"b{i}"]
        assert width >= previous[0] and depth > previous[1] and res > previous[2]
        previous = (width, depth, res)
        model = create_model(f"efficientnet_b{i}", input_size=32, num_classes=10)
        stem = model.features[0][0]
        assert stem.out_channels == make_divisible(32 * width)
        blocks = sum(len(stage) for stage in model.features[1:-1])
        assert blocks == sum(math.ceil(n * depth) for *_, n in B0)
        assert model.features[-1][0].out_channels == 4 * make_divisible(320 * width)
    # B0 has 16 MBConv blocks; B7 (depth x3.1) has 55
    assert sum(math.ceil(n * 3.1) for *_, n in B0) == 55


@pytest.mark.parametrize("classes", [10, 1000])
def test_efficientnet_starts_at_chance_level_loss_for_any_class_count(classes):
    """torchvision's classifier init, U(+-1/sqrt(classes)), made CIFAR-10's first loss ~3.9 and SGD from scratch
    diverged; the zoo draws it from U(+-1/sqrt(in_features)), so a fresh model starts near ln(classes)."""
    import torch

    torch.manual_seed(0)
    model = create_model("efficientnet_b0", input_size=32, num_classes=classes).train()
    fc = model.classifier[-1]
    assert fc.weight.abs().max() <= fc.in_features ** -0.5 and not fc.bias.any()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(64, 3, 32, 32)), torch.randint(0, classes, (64,)))
    assert abs(loss.item() - math.log(classes)) < 0.3


# -- MNASNet -------------------------------------------------------------------

def test_mnasnet_stacks_follow_the_table():
    from edgecnn.models.mnasnet import FIRST_STACK, STACKS

    model = create_model("mnasnet1_0")
    for (t, k, out, repeats, stride), stack in zip(STACKS, model.layers[FIRST_STACK:FIRST_STACK + 6]):
        assert len(stack) == repeats
        dw = stack[0].layers[3]
        assert dw.kernel_size == (k, k) and dw.stride == (stride, stride)
        assert dw.out_channels == t * stack[0].layers[0].in_channels
        assert stack[-1].layers[6].out_channels == out


# -- every mobile family -------------------------------------------------------

# total downsampling of each family's CIFAR variant (stem and early strides reduced, see the docstrings)
CIFAR_STRIDE = {"mobilenet_v1": 16, "mobilenet_v2": 8, "mobilenet_v3": 8, "efficientnet": 16,
                "shufflenet_v2": 8, "mnasnet": 8}


@pytest.mark.parametrize("name", MOBILE)
def test_cifar_variant_only_changes_strides(name):
    """Same parameters at 32 px as at 224 px (strides carry no weights); the last feature map is
    32 / stride at 32 px and 1x1 at min_input_size (= the CIFAR variant's total stride)."""
    card = get_card(name)
    stride = CIFAR_STRIDE[card.family]
    cifar = create_model(name, input_size=32, num_classes=10)
    assert count_params(cifar) == count_params(create_model(name, input_size=224, num_classes=10))
    assert feature_side(cifar, 32) == 32 // stride
    assert card.min_input_size == stride
    assert feature_side(create_model(name, input_size=stride, num_classes=10), stride) == 1
    with pytest.raises(InvalidOptionError, match="cannot take"):
        create_model(name, input_size=stride - 1)


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "efficientnet_b0", "shufflenet_v2_x1_0"])
def test_imagenet_variant_downsamples_32x(name):
    assert feature_side(create_model(name, num_classes=10), 224) == 7

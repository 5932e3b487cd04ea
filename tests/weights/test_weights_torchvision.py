"""torchvision weights load into zoo models from torch hub's cache, offline, and
compute what torchvision's own model with those weights computes; names the
architecture has no weights for are refused in one line."""

from __future__ import annotations

import pytest
import torch

from weights_helpers import save_torchvision_weights

from edgecnn.errors import InvalidOptionError
from edgecnn.models import MODELS, create_model
from edgecnn.models.weights import (
    WeightsUnavailable,
    build_with_weights,
    check_torchvision_fit,
    load_weights,
    resolve_weights,
)

WITH_TORCHVISION = [name for name, entry in MODELS.items() if entry.card.torchvision is not None]


def test_the_zoo_records_torchvision_weights_for_its_torchvision_architectures():
    assert len(WITH_TORCHVISION) >= 40
    assert {"mobilenet_v2", "mobilenet_v3_small", "resnet50", "vgg16", "efficientnet_b0", "googlenet",
            "squeezenet1_1", "mnasnet1_0", "shufflenet_v2_x1_0", "densenet121"} <= set(WITH_TORCHVISION)
    # edgecnn's own architectures that torchvision does not have get no entry
    for name in ("alexnet", "mobilenet_v1", "mobilenet_v2_050", "lenet5", "densenet264"):
        assert MODELS.get(name).card.torchvision is None


@pytest.mark.parametrize("name", WITH_TORCHVISION)
def test_each_card_fits_torchvisions_builder_at_its_weights_crop(name):
    """On the meta device (shapes only): every tensor of torchvision's layout has
    its place in the zoo model, by name or in order; DEFAULT names one file."""
    import os

    spec = resolve_weights("DEFAULT", name)
    assert spec.kind == "torchvision" and spec.name != "DEFAULT" and spec.file_name == os.path.basename(spec.url)
    size = spec.preprocessing.crop_size
    with torch.device("meta"):
        model = create_model(name, input_size=size)
    how = check_torchvision_fit(model, spec, name, size, 1000)
    assert how == ("order" if name == "mobilenet_v2" else "name")


def test_mobilenet_v2_loads_by_order_from_the_cache_and_equals_torchvision(torch_home):
    """edgecnn's MobileNet v2 names its tensors otherwise; they load in order
    from $TORCH_HOME/hub/checkpoints/<the URL's file name>, without the network."""
    import torchvision
    from torchvision.models import MobileNet_V2_Weights

    w = MobileNet_V2_Weights.IMAGENET1K_V2
    save_torchvision_weights(w, torch_home)
    model, spec = build_with_weights("mobilenet_v2", "DEFAULT")
    assert (spec.name, spec.extra["loaded_by"], spec.file_name) == ("IMAGENET1K_V2", "order", "mobilenet_v2-7ebf99e0.pth")
    assert model.edgecnn_weights is spec and not model.training
    pre = spec.preprocessing
    assert (pre.resize_size, pre.crop_size, pre.interpolation) == (232, 224, "bilinear")  # V2's own, not 256
    reference = torchvision.models.mobilenet_v2(weights=w).eval()  # torchvision reads the same cached file
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_googlenet_drops_the_aux_heads_and_maps_inputs_as_torchvision_does(torch_home):
    import torchvision
    from torchvision.models import GoogLeNet_Weights

    w = GoogLeNet_Weights.IMAGENET1K_V1
    save_torchvision_weights(w, torch_home, aux_logits=True, init_weights=True)  # the released file has aux heads
    model, spec = build_with_weights("googlenet", "IMAGENET1K_V1")
    assert model.transform_input is True and model.aux1 is None
    reference = torchvision.models.googlenet(weights=w).eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_names_and_architectures_without_weights_are_one_line(torch_home):
    cases = [
        (("mobilenet_v2", "IMAGENET1K_V3"), "did you mean IMAGENET1K_V2"),
        (("mobilenet_v2", "ResNet50_Weights.IMAGENET1K_V1"), "MobileNet_V2_Weights"),
        (("alexnet", "DEFAULT"), "alexnet has no torchvision weights"),
        (("mobilenet_v2_050", "DEFAULT"), "no torchvision weights"),
    ]
    for (model, name), says in cases:
        with pytest.raises(InvalidOptionError, match=says) as err:
            resolve_weights(name, model)
        assert "\n" not in str(err.value)
    with pytest.raises(InvalidOptionError, match="CIFAR variant"):  # same shapes, other strides: refused by size
        build_with_weights("mobilenet_v2", "DEFAULT", input_size=32)
    with pytest.raises(InvalidOptionError, match="has 1000 classes; this resnet18 has 10"):
        build_with_weights("resnet18", "DEFAULT", num_classes=10)
    assert resolve_weights("imagenet1k_v1", "resnet18").name == "IMAGENET1K_V1"  # case does not matter


def test_a_missing_file_without_network_is_one_line_naming_file_and_folder(torch_home, monkeypatch):
    with pytest.raises(WeightsUnavailable) as err:
        build_with_weights("resnet18", "IMAGENET1K_V1")
    msg = str(err.value)
    assert "\n" not in msg and "resnet18-f37072fd.pth" in msg and "$TORCH_HOME/hub/checkpoints/" in msg
    assert str(torch_home) in msg and "https://download.pytorch.org/models/resnet18-f37072fd.pth" in msg
    assert "a test tried to connect" in msg  # it did try to download (and the socket refused)
    monkeypatch.setenv("EDGECNN_OFFLINE", "1")  # offline: not even an attempt
    with pytest.raises(WeightsUnavailable, match="EDGECNN_OFFLINE is set"):
        build_with_weights("resnet18", "IMAGENET1K_V1")


def test_local_files_state_dicts_safetensors_and_checkpoints(tmp_path, torch_home):
    from safetensors.torch import save_file

    from edgecnn.models.checkpoint import save_checkpoint

    torch.manual_seed(3)
    src = create_model("lenet5")
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        want = src.eval()(x)
    torch.save(src.state_dict(), tmp_path / "plain.pth")
    save_file(src.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": src.state_dict(), "epoch": 3}, tmp_path / "wrapped.pt")
    save_checkpoint(tmp_path / "ckpt.pt", {"model": "lenet5", "config": src.edgecnn_config,
                                           "state_dict": src.state_dict(), "mean": [0.5] * 3, "std": [0.25] * 3,
                                           "classes": [f"c{i}" for i in range(10)], "dataset": "cifar10"})
    for f in ("plain.pth", "w.safetensors", "wrapped.pt", "ckpt.pt"):
        model, spec = build_with_weights("lenet5", str(tmp_path / f))
        with torch.no_grad():
            assert torch.equal(model(x), want), f
        assert spec.kind == "file" and spec.name == f
    assert spec.preprocessing.mean == (0.5, 0.5, 0.5) and "checkpoint's normalisation" in spec.preprocessing.source
    assert spec.categories[0] == "c0"
    with pytest.raises(InvalidOptionError, match="does not fit mobilenet_v2") as err:
        load_weights(create_model("mobilenet_v2"), str(tmp_path / "plain.pth"))
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidOptionError, match="checkpoint of lenet5, not resnet18"):
        load_weights(create_model("resnet18", input_size=32, num_classes=10), str(tmp_path / "ckpt.pt"))
    with pytest.raises(InvalidOptionError, match="does not exist"):
        resolve_weights(str(tmp_path / "nope.pth"), "lenet5")


def test_timm_tags_load_through_the_same_cache(torch_home):
    """timm's resnet18.tv_in1k is torchvision's file (same name): one file in the
    cache serves both, and timm's preprocessing comes from its config."""
    timm = pytest.importorskip("timm")
    import torchvision
    from torchvision.models import ResNet18_Weights

    from edgecnn.models.weights_timm import resolve_timm

    save_torchvision_weights(ResNet18_Weights.IMAGENET1K_V1, torch_home)
    model = timm.create_model("resnet18", pretrained=False)
    spec = load_weights(model, "tv_in1k", arch="timm:resnet18")
    assert spec.kind == "timm" and spec.source == "timm resnet18.tv_in1k" and spec.path.endswith("resnet18-f37072fd.pth")
    reference = torchvision.models.resnet18(weights=ResNet18_Weights.IMAGENET1K_V1).eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
    a1 = resolve_timm("resnet18", "a1_in1k").preprocessing  # timm's own recipe: bicubic, crop_pct 0.95
    assert (a1.interpolation, a1.crop_size, a1.resize_size) == ("bicubic", 224, 235)
    with pytest.raises(InvalidOptionError, match="did you mean a1_in1k"):
        resolve_timm("resnet18", "a1_in1")
    with pytest.raises(WeightsUnavailable) as err:  # not cached, no network: both places named
        load_weights(timm.create_model("resnet18"), "a1_in1k", arch="timm:resnet18")
    assert "resnet18_a1_0-d63eafa0.pth" in str(err.value) and "timm/resnet18.a1_in1k" in str(err.value)

import pytest

from edgecnn.registry import DuplicateNameError, Registry, UnknownNameError, expand_names


def make():
    reg = Registry("widget")
    for n in ("mobilenet_v1", "mobilenet_v2", "resnet18", "resnet50"):
        reg.add(n, n.upper())
    return reg


def test_register_get_and_refuse_duplicates():
    reg = make()
    assert reg.get("resnet18") == "RESNET18"
    with pytest.raises(DuplicateNameError):
        reg.add("resnet18", "again")


def test_wildcards_and_lists():
    reg = make()
    assert reg.list("mobilenet*") == ["mobilenet_v1", "mobilenet_v2"]
    assert reg.list("resnet5?,mobilenet_v1") == ["mobilenet_v1", "resnet50"]
    assert reg.list() == sorted(["mobilenet_v1", "mobilenet_v2", "resnet18", "resnet50"])


def test_miss_suggests_closest_names():
    reg = make()
    with pytest.raises(UnknownNameError) as exc:
        reg.get("resnet51")
    msg = str(exc.value)
    assert "unknown widget 'resnet51'" in msg and "resnet50" in msg


def test_expand_names_keeps_order_and_rejects_empty_wildcards():
    reg = make()
    assert expand_names(reg, "resnet50,mobilenet*") == ["resnet50", "mobilenet_v1", "mobilenet_v2"]
    with pytest.raises(UnknownNameError):
        expand_names(reg, "vgg*")
    with pytest.raises(UnknownNameError):
        expand_names(reg, "resnet18,nope")

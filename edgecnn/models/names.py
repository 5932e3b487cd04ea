"""The zoo's model names without loading the zoo.

Registering the zoo imports torch and torchvision (7 s on a 2-core machine);
checking ``--models mobilenet_v9`` should not. ``ZOO_NAMES`` is the list the
family files register, kept here as text; ``tests/test_model_names.py`` fails
when the two differ (regenerate with ``python -m edgecnn.models.names``).
"""

from __future__ import annotations

import sys

from edgecnn.registry import Registry

ZOO_NAMES = (
    "alexnet", "densenet121", "densenet169", "densenet201", "densenet264", "efficientnet_b0", "efficientnet_b1",
    "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5", "efficientnet_b6",
    "efficientnet_b7", "googlenet", "inception_v3", "lenet5", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0",
    "mnasnet1_3", "mobilenet_v1", "mobilenet_v1_025", "mobilenet_v1_050", "mobilenet_v1_075", "mobilenet_v2",
    "mobilenet_v2_050", "mobilenet_v2_075", "mobilenet_v2_140", "mobilenet_v3_large", "mobilenet_v3_small", "nin",
    "preact_resnet18", "pyramidnet110_a48", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50",
    "resnext101_32x8d", "resnext50_32x4d", "se_resnet50", "shake_shake26_2x32d", "shake_shake26_2x96d",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0",
    "squeezenet1_1", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "wide_resnet50_2", "wrn_28_10", "xception", "zfnet",
)


def model_names() -> Registry:
    """A registry of model names for checking and expanding ``--models``: the
    loaded zoo itself when this process has loaded it already (models registered
    through the API count then), else the name list above (no torch import).
    Lookups, wildcards and "did you mean" behave the same on both."""
    if "edgecnn.models._families" in sys.modules:
        from edgecnn.models import MODELS

        return MODELS
    names: Registry = Registry("model")
    for name in ZOO_NAMES:
        names.add(name, name)
    return names


def _source() -> str:
    """ZOO_NAMES as it should read, from the loaded zoo."""
    import textwrap

    from edgecnn.models import MODELS

    body = ", ".join(f'"{n}"' for n in MODELS)
    return "ZOO_NAMES = (\n" + textwrap.fill(body, 116, initial_indent="    ", subsequent_indent="    ") + ",\n)\n"


if __name__ == "__main__":  # print the table to paste above
    print(_source(), end="")

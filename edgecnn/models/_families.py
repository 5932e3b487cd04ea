"""Import every family module so its models register. One line per family file."""

import importlib

FAMILY_MODULES = [
    "edgecnn.models.lenet",
    "edgecnn.models.alexnet",
    "edgecnn.models.zfnet",
    "edgecnn.models.nin",
    "edgecnn.models.vgg",
    "edgecnn.models.inception",
    "edgecnn.models.resnet",
    "edgecnn.models.preact_resnet",
    "edgecnn.models.resnext",
    "edgecnn.models.wide_resnet",
    "edgecnn.models.pyramidnet",
    "edgecnn.models.shake_shake",
    "edgecnn.models.senet",
    "edgecnn.models.densenet",
    "edgecnn.models.xception",
    "edgecnn.models.squeezenet",
    "edgecnn.models.mobilenet_v1",
    "edgecnn.models.mobilenet_v2",
    "edgecnn.models.mobilenet_v3",
    "edgecnn.models.efficientnet",
    "edgecnn.models.shufflenet",
    "edgecnn.models.mnasnet",
]

for _mod in FAMILY_MODULES:
    importlib.import_module(_mod)

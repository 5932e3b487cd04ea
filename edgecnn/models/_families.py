"""Import every family module so its models register. One line per family file."""

import importlib

FAMILY_MODULES = [
    "edgecnn.models.lenet",
]

for _mod in FAMILY_MODULES:
    importlib.import_module(_mod)

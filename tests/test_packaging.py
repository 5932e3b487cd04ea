"""Every dependency has a tested upper bound, and what `make` installs meets it."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
REQUIREMENTS = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]] + [
    Requirement(r) for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items()
    for r in reqs if not r.startswith("edgecnn")]


@pytest.mark.parametrize("req", REQUIREMENTS, ids=str)
def test_each_dependency_has_an_upper_bound_that_the_installed_version_meets(req):
    assert any(spec.operator in ("<", "<=", "~=", "==") for spec in req.specifier), f"{req} has no upper bound"
    try:
        installed = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{req.name} is not installed here (an optional extra)")
    assert req.specifier.contains(installed, prereleases=True), f"{req.name} {installed} is outside {req.specifier}"

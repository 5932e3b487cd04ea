"""`make bench` runs every benchmark in benchmarks/, as the README says."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _recipe(makefile: str, target: str) -> tuple[list[str], str]:
    """(the prerequisites, the recipe's text) of ``target``."""
    m = re.search(rf"^{re.escape(target)}:([^\n]*)\n((?:\t[^\n]*\n)*)", makefile, re.M)
    assert m, f"no {target!r} target in the Makefile"
    return m.group(1).split(), m.group(2)


def _scripts(makefile: str, target: str) -> list[str]:
    """The benchmarks/ scripts ``target`` runs, its prerequisites' included."""
    deps, recipe = _recipe(makefile, target)
    found = re.findall(r"benchmarks/(bench_\w+\.py)", recipe)
    return found + [s for d in deps if d.startswith("bench") for s in _scripts(makefile, d)]


def test_make_bench_runs_every_benchmark_once_and_the_readme_says_how_many():
    makefile = (REPO / "Makefile").read_text()
    ran = _scripts(makefile, "bench")
    there = sorted(p.name for p in (REPO / "benchmarks").glob("bench_*.py"))
    assert sorted(ran) == there, "make bench and benchmarks/ disagree: list a new benchmark in the Makefile"
    quick = _scripts(makefile, "bench-quick")
    assert len(set(ran)) == len(ran) and set(quick) < set(ran)
    words = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split()
    readme = (REPO / "README.md").read_text()
    assert f"`make bench` runs all {words[len(there)]}" in readme
    assert f"`make bench-quick` the {words[len(quick)]}" in readme

"""The parts of edgecnn depend one way (docs/architecture.md): the import graph
between them, imports inside functions included, has no cycle and never
climbs from a lower layer to a higher one; no module is over 500 lines."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "edgecnn"

# bottom to top; a part may import its own layer (without a cycle) and the layers below
LAYERS = [
    {"edgecnn", "errors", "registry", "schema", "schema_fields", "schema_upgrade", "records", "join", "console",
     "jobs", "machine"},  # core
    {"models", "data"},
    {"cost", "export", "runtime", "devices"},
    {"train", "profile", "remote", "predict"},
    {"report", "select"},
    {"cli", "reference"},
]
LAYER_OF = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def part_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "edgecnn":
        return None
    return parts[1] if len(parts) > 1 else "edgecnn"


def import_graph() -> dict[str, dict[str, set[str]]]:
    """part -> imported part -> the 'module -> module' imports behind the edge."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in PKG.rglob("*.py"):
        module = ".".join(path.relative_to(PKG.parent).with_suffix("").parts)
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        src = part_of(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [base]
            else:
                continue
            for target in targets:
                dst = part_of(target)
                if dst and dst != src:
                    edges[src][dst].add(f"{module} -> {target}")
    return edges


def test_every_part_has_a_layer():
    parts = {p.name for p in PKG.iterdir() if (p.is_dir() and (p / "__init__.py").exists())}
    parts |= {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}
    assert not parts - set(LAYER_OF), f"place these in LAYERS (and docs/architecture.md): {parts - set(LAYER_OF)}"


def test_no_part_imports_a_higher_layer():
    bad = [f"{src} (layer {LAYER_OF[src]}) -> {dst} (layer {LAYER_OF[dst]}): {sorted(why)[0]}"
           for src, dsts in import_graph().items() for dst, why in dsts.items()
           if LAYER_OF.get(dst, -1) > LAYER_OF.get(src, -1)]
    assert not bad, "\n".join(bad)


def test_the_part_graph_has_no_cycle():
    edges = import_graph()
    seen: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(edges.get(node, {})):
            if seen.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                why = [sorted(edges[a][b])[0] for a, b in zip(cycle, cycle[1:])]
                pytest.fail("import cycle: " + " -> ".join(cycle) + "\n" + "\n".join(why))
            if nxt not in seen:
                visit(nxt, stack + [nxt])
        seen[node] = 2

    for part in sorted(edges):
        if part not in seen:
            visit(part, [part])


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(PKG.parent)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, long


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """A cycle and an upward import planted in a copy of the package are found."""
    import shutil

    copy = tmp_path / "edgecnn"
    shutil.copytree(PKG, copy)
    (copy / "models" / "_planted.py").write_text("def f():\n    from edgecnn.report import build_report\n")
    (copy / "report" / "_planted.py").write_text("import edgecnn.models\n")
    monkeypatch.setattr(__import__(__name__), "PKG", copy)
    with pytest.raises(AssertionError, match="models .layer 1. -> report"):
        test_no_part_imports_a_higher_layer()
    with pytest.raises(pytest.fail.Exception, match="import cycle"):
        test_the_part_graph_has_no_cycle()

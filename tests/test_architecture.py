"""The parts of edgecnn depend one way (docs/architecture.md): the import graph
between them, imports inside functions included, has no cycle and never
climbs from a lower layer to a higher one; no module is over 500 lines."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "edgecnn"
REAL_PKG = PKG

# bottom to top; a part may import its own layer (without a cycle) and the layers below
LAYERS = [
    {"version", "errors", "registry", "schema", "schema_fields", "schema_upgrade", "records", "join", "console",
     "jobs", "machine", "generated"},  # core
    {"models", "data"},
    {"cost", "export", "runtime", "devices"},
    {"train", "profile", "remote", "predict"},
    {"report", "select"},
    {"cli", "reference", "edgecnn"},  # edgecnn: the package root, the Python API's facade (models, select)
]
LAYER_OF = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def part_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "edgecnn":
        return None
    return parts[1] if len(parts) > 1 else "edgecnn"


def modules() -> dict[str, Path]:
    """edgecnn's module names -> their files (a package is its ``__init__.py``)."""
    out = {}
    for path in PKG.rglob("*.py"):
        module = ".".join(path.relative_to(PKG.parent).with_suffix("").parts)
        out[module[: -len(".__init__")] if module.endswith(".__init__") else module] = path
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks (imports for annotations only: no import at run time)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines |= set(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def file_imports(path: Path, module: str, known: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(imported module, names imported from it, line) of every import in ``path``
    that runs: ``import a.b``, ``from a import b`` (``a.b`` when that is a
    module: ``from edgecnn import models`` imports the models part), relative
    imports, and strings that name an edgecnn module (``importlib.import_module``
    and the lists it reads), but not imports under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    skip = _type_checking_lines(tree)
    out: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            out += [(sub, [], node.lineno) for sub in subs]
            names = [a.name for a in node.names if f"{base}.{a.name}" not in known]
            if names or not subs:
                out.append((base, names, node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known \
                and node.value.startswith("edgecnn."):
            out.append((node.value, [], node.lineno))
    return out


def import_graph() -> dict[str, dict[str, set[str]]]:
    """part -> imported part -> the 'module -> module' imports behind the edge."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    known = modules()
    for module, path in known.items():
        src = part_of(module)
        for target, _names, _line in file_imports(path, module, known):
            dst = part_of(target)
            if dst and dst != src:
                edges[src][dst].add(f"{module} -> {target}")
    return edges


def file_graph() -> dict[str, set[str]]:
    """module -> the modules of its own part it imports (not its own package's ``__init__``)."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        for target, _names, _line in file_imports(path, module, known):
            if target in known and target != module and part_of(target) == part_of(module) \
                    and not module.startswith(target + ".") and part_of(module) != "edgecnn":
                graph[module].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def own_length(fn: ast.AST) -> int:
    """A function's body (its docstring included, its signature not: a CLI
    command's option declarations are data), less the lines of the functions
    and classes defined inside it."""
    n = (fn.end_lineno or fn.lineno) - fn.body[0].lineno + 1
    for node in ast.walk(fn):
        if node is not fn and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            n -= (node.end_lineno or node.lineno) - node.lineno + 1
    return n


def long_functions(limit: int = 80) -> list[str]:
    out = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (n := own_length(node)) > limit:
                out.append(f"{path.relative_to(PKG.parent)}:{node.lineno} {node.name}: {n} lines")
    return sorted(out)


def private_imports() -> list[str]:
    """``from edgecnn.x import _name`` in another file (a package's own private submodules excepted)."""
    known = modules()
    out = []
    for module, path in known.items():
        for target, names, line in file_imports(path, module, known):
            if target.startswith("edgecnn") and target != module:
                out += [f"{path.relative_to(PKG.parent)}:{line}: from {target} import {n}" for n in names
                        if n.startswith("_") and not n.startswith("__")]
    return sorted(out)


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


# What is left to split (issue 31, "one place for each job"): each entry must still be a violation (the test
# fails when one is fixed and not removed here), and nothing else may become one.
KNOWN_CIRCLES: set[str] = set()
KNOWN_LONG: set[str] = set()
KNOWN_PRIVATE: set[str] = set()


def _ratchet(found: set, known: set, what: str) -> None:
    new, fixed = sorted(found - known), sorted(known - found)
    assert not new, f"{what}:\n" + "\n".join(map(str, new))
    assert not fixed, "fixed, so take them out of the known list in tests/test_architecture.py:\n" + \
        "\n".join(map(str, fixed))


def test_no_circle_between_files_of_a_part():
    found = {" <-> ".join(c) for c in circles(file_graph())}
    _ratchet(found, KNOWN_CIRCLES if PKG == REAL_PKG else set(),
             "import circles (move the shared piece down into a module of its own)")


def test_no_function_is_over_80_lines():
    found = {f"{x.split(':')[0]} {x.split(' ')[1].rstrip(':')}": x for x in long_functions()}
    new = {k for k in found if k not in KNOWN_LONG} if PKG == REAL_PKG else set(found)
    assert not new, "function bodies over 80 lines (nested functions counted apart):\n" + "\n".join(found[k] for k in
                                                                                               sorted(new))
    if PKG == REAL_PKG:
        _ratchet(set(found), KNOWN_LONG, "functions over 80 lines")


def test_no_private_name_is_imported_across_files():
    found = {f"{x.split(':')[0]}: {x.split(': ', 1)[1]}" for x in private_imports()}
    _ratchet(found, KNOWN_PRIVATE if PKG == REAL_PKG else set(), "private names imported from another file")


def test_from_edgecnn_import_and_importlib_strings_are_imports(tmp_path, monkeypatch):
    """``from edgecnn import report`` and ``import_module("edgecnn.report")`` in
    a low part are upward imports like any other."""
    import shutil

    copy = tmp_path / "edgecnn"
    shutil.copytree(PKG, copy)
    (copy / "models" / "planted_a.py").write_text("from edgecnn import report\n")
    monkeypatch.setattr(__import__(__name__), "PKG", copy)
    with pytest.raises(AssertionError, match="models .layer 1. -> report .layer 4.: edgecnn.models.planted_a"):
        test_no_part_imports_a_higher_layer()
    (copy / "models" / "planted_a.py").write_text("import importlib\nM = importlib.import_module('edgecnn.select')\n")
    with pytest.raises(AssertionError, match="models .layer 1. -> select"):
        test_no_part_imports_a_higher_layer()


def test_the_file_checks_can_fail(tmp_path, monkeypatch):
    """A circle between two files of one part, a function of 81 lines and a
    private name imported from another file, planted in a copy, are found;
    imports under TYPE_CHECKING and nested functions are not counted."""
    import shutil

    copy = tmp_path / "edgecnn"
    shutil.copytree(PKG, copy)
    (copy / "cost" / "planted_a.py").write_text("def f():\n    from edgecnn.cost import planted_b\n")
    (copy / "cost" / "planted_b.py").write_text("from edgecnn.cost.planted_a import f\n")
    body = "".join(f"    x{i} = {i}\n" for i in range(79))
    inner = "".join(f"        x{i} = {i}\n" for i in range(70))
    (copy / "cost" / "planted_c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from edgecnn.cost.planted_d import g\n"
        f"def long(a,\n         b):\n{body}    x79 = 1\n    return x0\n"
        f"def short():\n    def inner():\n{inner}        return 1\n    return inner\n")
    (copy / "cost" / "planted_d.py").write_text("from edgecnn.cost.planted_c import short\nfrom edgecnn.cost.engine "
                                                "import _private_thing\n")
    monkeypatch.setattr(__import__(__name__), "PKG", copy)
    with pytest.raises(AssertionError, match=r"edgecnn.cost.planted_a <-> edgecnn.cost.planted_b"):
        test_no_circle_between_files_of_a_part()
    assert [c for c in circles(file_graph()) if "edgecnn.cost.planted_c" in c] == []  # TYPE_CHECKING only
    with pytest.raises(AssertionError, match=r"planted_c.py:4 long: 81 lines") as err:
        test_no_function_is_over_80_lines()
    assert "short" not in str(err.value) and "inner" not in str(err.value)  # nested: each counted apart
    with pytest.raises(AssertionError, match=r"planted_d.py: from edgecnn.cost.engine import _private_thing"):
        test_no_private_name_is_imported_across_files()


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

"""The listings that answer from static data: `models`, `info`, `devices`, `formats`,
`runtimes`, `recipes` and usage errors, run as users run them (the console
script in a fresh process), never import torch, and the generated tables
they read stay equal to the live registries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EDGECNN = Path(sys.executable).with_name("edgecnn")  # the console script beside this interpreter

# (argv, exit code): each must answer without importing torch, torchvision or a runtime
STATIC = [
    (["models"], 0),
    (["models", "mobilenet*", "--json"], 0),
    (["info", "resnet18"], 0),
    (["info", "resnet18", "--json"], 0),
    (["devices", "--no-probe"], 0),
    (["formats"], 0),
    (["runtimes"], 0),
    (["recipes"], 0),
    (["info"], 2),  # missing argument
    (["models", "--nosuch"], 2),  # unknown option
    (["info", "resnet18", "--input-size"], 2),  # option without its value
    (["info", "lenet5", "--input-size", "8"], 2),  # below the model's smallest input
    (["profile", "--models", "lenet5", "--input-size", "-5"], 2),
    (["profile", "--models", "lenet5", "--input-size", "abc"], 2),
    (["profile", "--precision", "fp64"], 2),
    (["export", "mobilenet_v1", "--to", "onnxx"], 2),
    (["export", "mobilenet_v1", "--precision", "fp64"], 2),
    (["export", "mobilenet_v1", "--to", "ncnn", "--precision", "int8"], 2),
    (["export", "mobilenet_v1", "--to", "tflite", "--opset", "13"], 2),
    (["export", "lenet5", "--input-size", "8"], 2),
    (["export"], 2),  # missing argument
    (["cost", "mobilenet_v9"], 2),
]
HEAVY = ("torch", "torchvision", "onnxruntime", "tensorflow", "openvino", "executorch", "jax")

# Runs the console script's entry point the way the `edgecnn` script does, then says what it imported.
PROBE = ("import json, runpy, sys\n"
         "sys.argv = ['edgecnn'] + json.loads(sys.argv[1])\n"
         "try:\n"
         "    runpy.run_path({script!r}, run_name='__main__')\n"
         "except SystemExit as exc:\n"
         "    code = exc.code\n"
         "else:\n"
         "    code = 0\n"
         "heavy = sorted(m for m in {heavy!r} if m in sys.modules)\n"
         "print('\\nIMPORTED ' + json.dumps([code, heavy]), file=sys.stderr)\n")


def run_script(argv: list[str], cwd: Path) -> tuple[int, list[str], str, str]:
    """(exit code, heavy modules imported, stdout, stderr) of `edgecnn ARGV` run from the installed script."""
    code = PROBE.format(script=str(EDGECNN), heavy=HEAVY)
    res = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], cwd=cwd, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "COLUMNS": "160"})
    head, _, tail = res.stderr.rpartition("\nIMPORTED ")
    rc, heavy = json.loads(tail.strip())
    return rc, heavy, res.stdout, head


@pytest.mark.skipif(not EDGECNN.exists(), reason="the edgecnn console script is not installed beside python")
@pytest.mark.parametrize("argv,want", STATIC, ids=[" ".join(a) for a, _ in STATIC])
def test_static_commands_do_not_import_torch(argv, want, tmp_path):
    rc, heavy, out, err = run_script(argv, tmp_path)
    assert rc == want, (argv, rc, err)
    assert not heavy, f"`edgecnn {' '.join(argv)}` imported {heavy}"
    if want == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "Traceback" not in err
    else:
        assert out.strip() and "Traceback" not in err


def test_the_console_script_answers_as_the_module_does(tmp_path):
    """The installed `edgecnn` script itself (not `python -m`): a listing and a usage error."""
    if not EDGECNN.exists():
        pytest.skip("the edgecnn console script is not installed beside python")
    r = subprocess.run([str(EDGECNN), "models", "resnet1*", "--json"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert [c["name"] for c in json.loads(r.stdout)] == ["resnet101", "resnet152", "resnet18"]
    r = subprocess.run([str(EDGECNN), "info", "resnet51"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "did you mean: resnet50" in r.stderr, r.stderr


def test_runtimes_and_formats_tables_are_the_live_registries():
    """catalog_table.py is what `python -m edgecnn.cli.catalog` writes from the runtime and export registries."""
    from edgecnn.cli.catalog import TABLE, table_source

    assert table_source() == TABLE.read_text(encoding="utf-8"), (
        "edgecnn/cli/catalog_table.py is out of date: run `python -m edgecnn.cli.catalog`")


def test_the_table_check_fails_on_a_changed_table(tmp_path, monkeypatch):
    """The drift check can fail: a table missing one runtime is reported out of date (exit 1)."""
    from edgecnn.cli import catalog

    stale = tmp_path / "catalog_table.py"
    stale.write_text(catalog.table_source().replace("'runtime': 'ncnn'", "'runtime': 'ncnn2'"), encoding="utf-8")
    monkeypatch.setattr(catalog, "TABLE", stale)
    assert catalog.main(["--check"]) == 1


def test_installed_runtimes_are_found_without_importing_them():
    from edgecnn.cli.catalog import installed, runtime_status

    rows = {r["runtime"]: r for r in runtime_status()}
    assert set(rows) >= {"torch", "onnxruntime", "litert", "tensorrt"}
    assert rows["onnxruntime"]["version"] and rows["onnxruntime"]["available"]  # a core dependency
    version, why = installed("nosuch")
    assert version is None and "nosuch" in why


@pytest.mark.parametrize("fmt,precision,options", [
    ("onnx", "fp64", {}), ("ncnn", "int8", {}), ("tflite", "fp32", {"opset": 13}),
    ("onnx", "fp32", {"workspace_mib": 8, "opset": None}), ("openvino", "bf16", {}),
])
def test_static_export_checks_say_what_the_exporters_say(fmt, precision, options):
    """`edgecnn export` checks formats, precisions and options from the table before the exporters load;
    its lines are the exporters' own, word for word (and nothing is refused that they accept)."""
    from edgecnn.cli.catalog import check_format_options, check_precision
    from edgecnn.errors import InvalidOptionError
    from edgecnn.export import EXPORTERS

    def message(check) -> str | None:
        try:
            check()
        except InvalidOptionError as exc:
            return str(exc)
        return None

    static = message(lambda: (check_precision([fmt], precision), check_format_options([fmt], options)))
    assert static == message(lambda: EXPORTERS.get(fmt).check(precision, options))


def test_runtimes_json_says_what_is_installed(tmp_path):
    """`edgecnn runtimes --json` from the console script: installed runtimes with their version, the rest with
    how to install them; nothing imported. `--probe` asks the runners themselves (onnxruntime works here)."""
    rc, heavy, out, err = run_script(["runtimes", "--json"], tmp_path)
    assert rc == 0 and not heavy, (err, heavy)
    rows = {r["runtime"]: r for r in json.loads(out)}
    assert rows["onnxruntime"]["version"] and rows["onnxruntime"]["available"] and not rows["onnxruntime"]["probed"]
    for name, row in rows.items():
        assert row["available"] == (row["version"] is not None) and (row["reason"] is None) == row["available"]
        if not row["available"]:
            assert "pip install" in row["reason"], row
    rc, heavy, out, err = run_script(["runtimes", "--json", "--probe"], tmp_path)
    assert rc == 0, err
    probed = {r["runtime"]: r for r in json.loads(out)}
    assert probed["onnxruntime"]["available"] and probed["onnxruntime"]["probed"]
    assert all(probed[n]["version"] == rows[n]["version"] for n in rows)

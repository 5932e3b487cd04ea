"""The zoo's cost table counted ahead of time (edgecnn/cost/zoo_table.py):
the same rows as the engine, never used once stale, and `cost` of a zoo
model without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgecnn.cost import zoo_table
from edgecnn.cost.engine import count_model


def test_the_table_is_current_for_these_sources():
    state = zoo_table.table_state()
    if state.startswith("stale: counted with torch"):
        pytest.skip(f"the table was counted with another torch ({state}); it is then not used, which the "
                    f"fallback test below covers")
    assert state == "current", state


@pytest.mark.parametrize("name, precision", [("resnet50", "fp32"), ("mobilenet_v3_small", "int8"),
                                             ("efficientnet_b0", "fp16"), ("lenet5", "fp32"),
                                             ("densenet121", "bf16"), ("googlenet", "fp32")])
def test_table_rows_and_totals_equal_the_engines(name, precision):
    if zoo_table.table_state() != "current":
        pytest.skip(zoo_table.table_state())
    report, cfg = zoo_table.lookup(name, precision)
    live = count_model(name, None, precision)
    assert report.to_dict() == live.to_dict()
    assert cfg["input_size"] == live.input_shape[-1]


def test_other_sizes_classes_and_batches_are_counted_live():
    small = zoo_table.count_zoo("resnet18", 64)
    assert small.input_shape == [3, 64, 64]
    assert small.to_dict() == count_model("resnet18", 64).to_dict()
    assert zoo_table.count_zoo("resnet18", batch=2).totals["total_macs"] == \
        2 * zoo_table.count_zoo("resnet18").totals["total_macs"]
    assert zoo_table.count_zoo("resnet18", num_classes=10).totals["params"] < \
        zoo_table.count_zoo("resnet18").totals["params"]


def test_a_stale_table_is_not_used(monkeypatch):
    monkeypatch.setattr(zoo_table, "sources_digest", lambda: "edited-since")
    zoo_table._table.cache_clear()
    try:
        assert zoo_table.lookup("resnet18") is None
        assert zoo_table.table_state().startswith("stale: the cost engine or the zoo changed")
        assert zoo_table.count_zoo("resnet18").to_dict() == count_model("resnet18").to_dict()  # counted live
    finally:
        monkeypatch.undo()
        zoo_table._table.cache_clear()


def test_a_corrupt_table_is_not_used(monkeypatch, tmp_path):
    bad = tmp_path / "zoo_costs.json.gz"
    bad.write_bytes(b"not gzip at all")
    monkeypatch.setattr(zoo_table, "TABLE", bad)
    zoo_table._table.cache_clear()
    try:
        assert zoo_table.lookup("resnet18") is None
        assert zoo_table.table_state().startswith("unreadable")
        assert zoo_table.count_zoo("resnet18").totals["conv_linear_macs"] == \
            count_model("resnet18").totals["conv_linear_macs"]  # counted live
    finally:
        monkeypatch.undo()
        zoo_table._table.cache_clear()


def test_cost_of_a_zoo_model_does_not_import_torch(tmp_path):
    """What `edgecnn cost resnet50` runs, in a fresh interpreter: the table answers; torch never loads."""
    if zoo_table.table_state() != "current":
        pytest.skip(zoo_table.table_state())
    code = ("import json, sys\nfrom edgecnn.cli import main\n"
            f"code = main(['cost', 'resnet50', '--json', '--separable', '--profiles', {str(tmp_path)!r}])\n"
            "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    status = json.loads(lines[-1])
    assert status == {"code": 0, "torch": False}
    printed = json.loads("\n".join(lines[:-1]))
    assert printed["totals"]["conv_linear_macs"] == 4089184256 and printed["reference"]["macs"] == 4089000000
    assert (tmp_path / "local" / "cost.jsonl").is_file()

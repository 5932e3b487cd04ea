"""`edgecnn cost` as a user runs it: tables, JSON, records, bad input."""

from __future__ import annotations

import json

import pytest

from edgecnn.records import RecordStore


def test_json_separable_and_records(cli, tmp_path):
    res = cli("cost", "mobilenet_v1", "--json", "--separable", "--precision", "fp16", "--profiles", str(tmp_path))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["totals"]["conv_linear_macs"] == 568_740_352
    assert out["totals"]["params"] == 4_231_976
    assert out["totals"]["bytes_per_element"] == 2 and out["precision"] == "fp16"
    assert out["reference"]["macs"] == 569_000_000 and abs(out["reference"]["macs_diff"]) < 0.02
    assert len(out["separable"]) == 13 and all(p["matches"] for p in out["separable"])
    assert out["layers"][0]["name"] == "features.0.0" and out["layers"][0]["type"] == "Conv2d"
    store = RecordStore(tmp_path)
    (cost,) = store.load(kind="cost")
    assert cost.device == "local" and cost.source == "analytic" and cost.precision == "fp16"
    assert cost.metrics["macs"] == 568_740_352 and cost.metrics["layers"]
    sep = store.load(kind="separable")
    assert len(sep) == 13 and sep[0].variant == "features.1.0" and sep[0].metrics["m"] == 32


def test_table_per_layer_and_no_record(cli, tmp_path):
    res = cli("cost", "lenet5", "--per-layer", "--no-record", "--profiles", str(tmp_path), env={"COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    assert "conv/linear MACs" in res.stdout and "per layer" in res.stdout and "Conv2d" in res.stdout
    assert not any(tmp_path.iterdir())


def test_single_layer_check(cli, tmp_path):
    res = cli("cost", "--layer", "M=32,N=64,Dk=3,Df=112,stride=2", "--json", "--profiles", str(tmp_path))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["df"] == 56 and out["df_in"] == 112 and out["matches"]
    assert out["counted_ratio"] == pytest.approx(1 / 64 + 1 / 9)
    (rec,) = RecordStore(tmp_path).load(kind="separable")
    assert rec.variant == "M=32,N=64,Dk=3,Df=112,stride=2" and rec.metrics["macs_standard"] == 9 * 32 * 64 * 56 * 56


@pytest.mark.parametrize("args,msg", [
    (("cost", "mobilenet_v9"), "unknown model 'mobilenet_v9'; did you mean"),
    (("cost", "lenet5", "--precision", "fp64"), "--precision must be one of"),
    (("cost", "lenet5", "--input-size", "0"), "positive integers"),
    (("cost", "lenet5", "--input-size", "abc"), "--input-size takes"),
    (("cost", "--layer", "M=32,N=64,Dk=3"), "--layer is missing Df"),
    (("cost", "--layer", "M=32,N=64,Dk=3,Df=0"), "Df must be a positive integer"),
    (("cost", "lenet5", "--layer", "M=1,N=1,Dk=1,Df=1"), "not both"),
    (("cost",), "missing MODEL"),
    (("cost", "mobilenet_v1", "--input-size", "1x64x64"), "cannot run on a 1x1x64x64 input"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, msg):
    from edgecnn.cli import main  # in-process: the same entry point as the console script, without a torch start-up each

    assert main([*args, "--profiles", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and msg in lines[0], err
    assert not any(tmp_path.iterdir())


def test_bad_input_through_the_real_console_script(cli, tmp_path):
    res = cli("cost", "lenet5", "--input-size", "2x2", "--no-record")
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert res.stderr.startswith("error: lenet5 cannot take 2x2 input") or "cannot run" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1

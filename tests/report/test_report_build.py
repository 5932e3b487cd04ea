"""Building the report from the records the commands wrote: content, joins, bad input, CLI."""

import json
import re
import shutil
import stat

import pytest

from edgecnn.records import Record, RecordStore
from edgecnn.report import build_report
from edgecnn.report import collect, figures, tables


@pytest.fixture(scope="module")
def built(real_records, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "out" / "index.html"
    res = build_report(real_records.profiles, out, devices_dir=real_records.devices)
    return real_records, res, res.path.read_text(encoding="utf-8")


@pytest.fixture
def copy_of(real_records, tmp_path):
    """A copy of the real records to add rows to."""
    dst = tmp_path / "profiles"
    shutil.copytree(real_records.profiles, dst)
    return dst


def test_one_offline_page_with_every_section(built):
    real, res, html = built
    assert res.n_records == len(RecordStore(real.profiles).load())
    for anchor in ("pareto", "cost-time", "separable", "layers", "export", "training", "provenance"):
        assert f'id="{anchor}"' in html
    for div in ("fig-pareto", "fig-cost-time", "fig-separable", "fig-layers", "fig-training"):
        assert f'id="{div}"' in html
    # offline: no external script, stylesheet, font or MathJax, and plotly.js inlined once
    assert not re.search(r"<script[^>]+src=", html)
    assert "<link" not in html and "@import" not in html and "url(http" not in html
    assert "mathjax" not in html.split("</head>")[1].lower()
    assert html.count("plotly.js v") <= 2 and len(html) < 10e6
    assert stat.S_IMODE(res.path.stat().st_mode) & 0o044  # shareable, not 0600
    assert not list(res.path.parent.glob(".*tmp"))  # atomic write left nothing behind


BAD_ROWS = [
    {"kind": "latency", "model": "resnet34", "runtime": "onnxruntime", "latency_p50_ms": 12.0},  # no figure we know
    {"kind": "latency", "runtime": "torch", "latency_ms_p50": 3.0},  # missing model
    {"kind": "benchmark", "model": "resnet18"},  # unknown kind
    {"kind": "latency", "model": "x", "schema_version": 99, "latency_ms_p50": 1.0},  # newer schema
    {"kind": "separable", "model": "mobilenet_v1", "variant": "blocks.9"},  # no n, no ratio
]


def test_skipped_rows_are_listed_with_reasons(copy_of, tmp_path):
    legacy = copy_of / "local" / "legacy.jsonl"
    legacy.write_text("".join(json.dumps(r) + "\n" for r in BAD_ROWS) + '{"kind": "latency", "mod')
    res = build_report(copy_of, tmp_path / "index.html")
    text = "\n".join(res.skipped)
    assert "missing required field" in text  # no model
    assert "unknown record kind 'benchmark'" in text
    assert "newer than this edgecnn" in text
    assert "latency resnet34" in text and "latency_ms_p50" in text  # no headline latency
    assert "separable record without n" in text
    assert len(res.skipped) == 6  # + the torn last line
    html = res.path.read_text()
    assert f"{len(res.skipped)} record(s)" in html and "unknown record kind" in html


def test_an_unreadable_record_line_is_named_and_counted_in_the_exit_status(main_cli, tmp_path):
    """`edgecnn report` names each line it cannot read (file:line) and exits 1 with the page written;
    a folder with nothing readable is a one-line error (exit 2) and no page."""
    store = RecordStore(tmp_path / "p")
    path = store.append(Record(kind="latency", model="resnet18", runtime="onnxruntime", format="onnx",
                               input_shape=[3, 224, 224], metrics={"latency_ms_p50": 12.5}))
    with open(path, "a") as fh:
        fh.write('{"kind": "latency", "mod\n')
    r = main_cli("report", "--profiles", tmp_path / "p", "--out", tmp_path / "index.html")
    assert r.returncode == 1 and f"{path}:2:" in r.stderr.replace("\n", "") and "Traceback" not in r.stderr
    assert (tmp_path / "index.html").exists() and "from 1 records" in r.stdout
    r = main_cli("report", "--profiles", tmp_path / "p", "--out", tmp_path / "r.json", "--format", "json", "--json")
    assert r.returncode == 1 and [u.split(": ")[0] for u in json.loads(r.stdout)["unreadable"]] == [f"{path}:2"]
    path.write_text('{"kind": "latency", "mod\nnot json\n')
    r = main_cli("report", "--profiles", tmp_path / "p", "--out", tmp_path / "none.html")
    [line] = r.stderr.strip().splitlines()
    assert r.returncode == 2 and line.startswith("error: no record under") and f"{path}:1:" in line
    assert "(and 1 more)" in line and not (tmp_path / "none.html").exists()


def test_accuracy_is_matched_by_format_and_precision_and_never_invented(built):
    real = built[0]
    data = collect.load(real.profiles)
    look = collect.Lookup(data)

    def acc(fmt, precision, model="lenet5"):
        return look.accuracy_for(Record(kind="latency", model=model, format=fmt, precision=precision,
                                        input_shape=[3, 32, 32]))

    rec, note = acc("onnx", "int8")  # `edgecnn eval` of the INT8 ONNX export
    assert note == "onnx int8" and rec.metrics["target"].endswith("lenet5-32-int8.onnx")
    rec, note = acc("tflite", "int8")  # nothing evaluated it: the PyTorch fp32 figure, said so
    assert note == "pytorch fp32 (no tflite int8 accuracy record)"
    assert acc("onnx", "fp32", model="resnet50") == (None, "no accuracy record")
    pts = {(p["model"], p["runtime"]): p for p in collect.latency_points(data) if p["device"] == "local"}
    assert pts[("lenet5", "torch")]["acc_note"] == "pytorch fp32"


def test_cost_time_reports_the_achieved_rate(built):
    data = collect.load(built[0].profiles)
    for p in collect.latency_points(data):
        if p["source"] == "measured" and p["macs"]:
            assert p["gmacs"] == pytest.approx(p["macs"] * p["batch"] / p["latency_ms"] / 1e6)


def test_layer_views_draw_the_roof_of_their_own_record(built):
    data = collect.load(built[0].profiles)
    timed = [v for v in collect.layer_views(data) if v["timed"] and v["device"] == "local"]
    assert {v["runtime"] for v in timed} == {"torch", "onnxruntime", "litert"}
    for v in timed:
        assert v["peak"]["unit"] == "cpu" and v["peak"]["memory_bandwidth_gb_per_s"] > 0
        assert v["peak"]["source"].startswith("recorded with the measurements")
        assert sum(layer["share"] for layer in v["layers"] if layer["share"] is not None) == pytest.approx(1.0)


def test_separable_rows_carry_analytic_counted_and_measured(built):
    rows = collect.separable_rows(collect.load(built[0].profiles))
    sweep = [r for r in rows if r["block"] == "M=16,N=16,Dk=3,Df=8,stride=1"]
    assert {r["runtime"] for r in sweep} == {"torch", "onnxruntime", "litert"}
    assert all(r["analytic"] == pytest.approx(1 / 16 + 1 / 9) for r in sweep)
    assert all(r["counted"] is not None and r["measured"] is not None for r in sweep)


def test_export_table_keeps_outcomes_apart(built):
    html = built[2].split('id="export"')[1].split("</section>")[0]
    assert ">ok</span>" in html and ">prepared</span>" in html


def test_an_empty_records_folder_still_builds_and_a_missing_one_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    res = build_report(tmp_path / "empty", tmp_path / "index.html")
    assert res.n_records == 0 and "No records yet" in res.path.read_text()
    from edgecnn.errors import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="records folder .*nothing does not exist"):
        build_report(tmp_path / "nothing", tmp_path / "index2.html")
    assert not (tmp_path / "index2.html").exists()


def test_unusable_rows_still_build(tmp_path):
    folder = tmp_path / "p" / "local"
    folder.mkdir(parents=True)
    (folder / "latency.jsonl").write_text(
        json.dumps({"kind": "latency", "model": "m", "latency_ms_p50": "fast", "schema_version": 2}) + "\n"
        + json.dumps({"kind": "latency", "model": "m2", "status": "failed", "error": "runner crashed",
                      "schema_version": 2}) + "\n")
    (folder / "cost.jsonl").write_text(json.dumps({"kind": "cost", "model": "m3", "layers": "nope",
                                                   "schema_version": 2}) + "\n")
    res = build_report(tmp_path / "p", tmp_path / "index.html")
    html = res.path.read_text()
    assert res.n_records == 3
    assert any("latency m " in s or "latency m," in s for s in res.skipped)
    assert any("cost m3" in s for s in res.skipped)
    assert "runner crashed" in html  # failed measurement shown in the records table with its error


def test_newest_record_wins_and_older_is_marked_superseded(copy_of, tmp_path):
    store = RecordStore(copy_of)
    old = next(r for r in store.load(kind="latency", device="local") if r.runtime == "onnxruntime")
    new = Record.from_dict({**old.to_dict(), "latency_ms_p50": old.metrics["latency_ms_p50"] * 2,
                            "created_at": "2099-01-01T00:00:00+00:00"})
    store.append(new)
    pts = [p for p in collect.latency_points(collect.load(copy_of))
           if p["device"] == "local" and p["runtime"] == "onnxruntime"]
    assert [p["latency_ms"] for p in pts] == [new.metrics["latency_ms_p50"]]
    html = build_report(copy_of, tmp_path / "i.html").path.read_text()
    assert html.count('class="superseded"') == 1


def test_device_filter_and_unknown_device(built, cli, tmp_path):
    real = built[0]
    data = collect.load(real.profiles, device="jetson-orin-nano")
    lat = collect.latency_points(data)
    assert lat and {p["device"] for p in lat} == {"jetson-orin-nano"}
    assert collect.model_points(data)  # cost records are device-independent and stay
    proc = cli("report", "--profiles", str(real.profiles), "--out", str(tmp_path / "r.html"), "--device", "jetsn")
    assert proc.returncode == 2 and proc.stderr.startswith("error: no records for device 'jetsn'")
    assert "Traceback" not in proc.stderr


def test_cli_writes_the_page_the_json_and_the_data(built, cli, tmp_path):
    real = built[0]
    out = tmp_path / "deep" / "r.html"
    proc = cli("report", "--profiles", str(real.profiles), "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["n_records"] == built[1].n_records and out.exists() and info["size_bytes"] == out.stat().st_size
    proc = cli("report", "--profiles", str(real.profiles), "--format", "json", "--out", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data["tables"]) >= {"latency", "pareto", "cost_time", "separable", "roofs", "layers", "export",
                                   "training_runs", "training_curves"}


def test_no_accuracy_anywhere_draws_no_front_but_keeps_cost_views(real_records, tmp_path):
    for kind in ("cost", "latency"):
        (tmp_path / "p" / "local").mkdir(parents=True, exist_ok=True)
        shutil.copy(real_records.profiles / "local" / f"{kind}.jsonl", tmp_path / "p" / "local")
    html = build_report(tmp_path / "p", tmp_path / "i.html").path.read_text()
    assert 'id="fig-pareto"' not in html and "No accuracy record yet" in html
    assert 'id="fig-cost-time"' in html and "lenet5" in html.split('id="pareto"')[1].split("</section>")[0]


def test_selectors_switch_whole_groups(built):
    data = collect.load(built[0].profiles)
    groups = tables.pareto_groups(collect.model_points(data), collect.latency_points(data))
    fig = figures.pareto_figure(groups)
    (menu,) = fig.layout.updatemenus
    assert [b.label for b in menu.buttons] == [g["label"] for g in groups]
    shown = [[i for i, v in enumerate(b.args[0]["visible"]) if v] for b in menu.buttons]
    assert all(len(b.args[0]["visible"]) == len(fig.data) for b in menu.buttons)
    assert all(s for s in shown) and len({tuple(s) for s in shown}) == len(shown)  # disjoint trace sets
    # measured groups come before predicted ones; the page opens on a measured one
    labels = [g["label"] for g in groups]
    assert labels.index(next(lab for lab in labels if "predicted" in lab)) > labels.index(
        next(lab for lab in labels if "measured" in lab))
    assert "measured" in labels[menu.active]


def test_published_accuracy_is_labelled_and_a_measured_record_wins(tmp_path):
    from edgecnn.profile.pipeline import published_accuracy

    store = RecordStore(tmp_path / "profiles")
    pub = published_accuracy("mobilenet_v2", 224, 1000, "local")
    assert pub.source == "published" and pub.metrics["top1"] == 71.878
    assert "MobileNet_V2_Weights" in pub.metrics["reference"]
    assert published_accuracy("mobilenet_v2", 32, 10, "local") is None  # nothing published for CIFAR
    store.append(pub)
    store.append(Record(kind="latency", model="mobilenet_v2", runtime="onnxruntime", format="onnx",
                        input_shape=[3, 224, 224], metrics={"latency_ms_p50": 6.0, "macs": 300_774_272}))
    data = collect.load(tmp_path / "profiles")
    [pt] = collect.latency_points(data)
    assert pt["top1"] == pytest.approx(71.878) and pt["acc_note"].startswith("published imagenet top-1")
    html = build_report(tmp_path / "profiles", tmp_path / "index.html").path.read_text(encoding="utf-8")
    assert "PUBLISHED ImageNet figure" in html

    store.append(Record(kind="accuracy", model="mobilenet_v2", runtime="torch", format="pytorch",
                        input_shape=[3, 224, 224], dataset="imagenet", metrics={"top1": 70.1}))
    [pt] = collect.latency_points(collect.load(tmp_path / "profiles"))
    assert pt["top1"] == pytest.approx(70.1) and not pt["acc_note"].startswith("published")


def test_a_roof_below_a_measured_rate_is_raised_and_says_so():
    roof = {"gmacs_per_s": {"fp32": 166.2}, "memory_bandwidth_gb_per_s": 35.0, "kind": {"fp32": "derived"}}
    cpu = {"unit": "cpu", "gmacs_per_s": {"fp32": 166.2}}
    recs = [Record(kind="latency", model="resnet50", runtime="litert",
                   metrics={"latency_ms_p50": 20.6, "achieved_gmacs_per_s": 197.9, "device_peaks": cpu}),
            Record(kind="latency", model="resnet18", runtime="torch",
                   metrics={"latency_ms_p50": 18.0, "achieved_gmacs_per_s": 100.8, "device_peaks": cpu}),
            Record(kind="latency", model="resnet50", runtime="litert", source="predicted",
                   metrics={"latency_ms_p50": 4.5, "achieved_gmacs_per_s": 900.0, "device_peaks": cpu})]
    out = collect.raise_to_achieved(roof, recs, "local", "cpu")  # predictions never move a roof
    assert out["gmacs_per_s"] == {"fp32": 197.9} and out["raised"] == {"fp32": 166.2}
    assert out["memory_bandwidth_gb_per_s"] == 35.0
    same = collect.raise_to_achieved(roof, recs[1:2], "local", "cpu")  # below the roof: unchanged
    assert same["gmacs_per_s"] == {"fp32": 166.2} and same["raised"] == {}
    gpu = collect.raise_to_achieved(roof, recs, "local", "gpu")  # another unit's rates do not count
    assert gpu["gmacs_per_s"] == {"fp32": 166.2}

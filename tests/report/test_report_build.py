"""Building the report from records: content, joins, bad input, CLI."""

import json
import re
import stat

import pytest

from edgecnn.records import Record, RecordStore
from edgecnn.report import build_report
from edgecnn.report import collect, figures
from edgecnn.report.synthetic import write_synthetic


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    n = write_synthetic(root / "profiles", bad_rows=True, devices_dir=root / "devices")
    res = build_report(root / "profiles", root / "out" / "index.html", devices_dir=root / "devices")
    return root, n, res, res.path.read_text(encoding="utf-8")


def test_one_offline_page_with_every_section(built):
    root, n, res, html = built
    assert res.path == root / "out" / "index.html" and res.n_records == n + 2  # the old-schema rows load, then are skipped by the views
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
    assert not list((root / "out").glob(".*tmp"))  # atomic write left nothing behind


def test_skipped_rows_are_listed_with_reasons(built):
    _, _, res, html = built
    text = "\n".join(res.skipped)
    assert "missing required field" in text  # no model
    assert "unknown record kind 'benchmark'" in text
    assert "newer than this edgecnn" in text
    assert "latency resnet34" in text and "latency_ms_p50" in text  # older schema: old field name
    assert "separable record without n" in text
    assert len(res.skipped) == 6  # + the torn last line
    assert f"{len(res.skipped)} record(s)" in html and "unknown record kind" in html


def test_accuracy_is_matched_by_format_and_precision_and_never_invented(built):
    root = built[0]
    data = collect.load(root / "profiles", devices_dirs=[root / "devices"])
    pts = {(p["model"], p["runtime"], p["precision"]): p for p in collect.latency_points(data)}
    int8 = pts[("mobilenet_v2", "onnxruntime", "int8")]
    assert int8["top1"] == pytest.approx(71.9 - 2.5) and int8["acc_note"] == "onnx int8"
    fallback = pts[("mobilenet_v3_small", "onnxruntime", "int8")]  # no int8 accuracy record
    assert fallback["top1"] == pytest.approx(67.7) and "pytorch fp32 (no onnx int8" in fallback["acc_note"]
    assert pts[("resnet50", "torch", "fp32")]["acc_note"] == "pytorch fp32"
    lenet = pts[("lenet5", "onnxruntime", "fp32")]
    assert lenet["top1"] is None and lenet["acc_note"] == "no accuracy record"
    # lenet5 is in the cost vs time view but on no accuracy front
    cost_fig = figures.cost_time_figure(list(pts.values()))
    assert any("lenet5" in (t.hovertext[0] if t.hovertext else "") or
               any("lenet5" in h for h in (t.hovertext or [])) for t in cost_fig.data)
    groups = figures.pareto_groups(collect.model_points(data), list(pts.values()))
    fig = figures.pareto_figure(groups)
    assert not any("lenet5" in h for t in fig.data for h in (t.hovertext or []))
    local_fp32 = next(g for g in groups if g["label"].startswith("local · onnxruntime · fp32"))
    assert "lenet5" in {p["model"] for p in local_fp32["points"]}


def test_cost_time_reports_achieved_rate(built):
    root = built[0]
    data = collect.load(root / "profiles", devices_dirs=[root / "devices"])
    pts = [p for p in collect.latency_points(data) if p["runtime"] == "torch"]
    by = {p["model"]: p for p in pts}
    # synthetic torch rates: dense models ~45 GMAC/s, depthwise-heavy ~18
    assert by["resnet50"]["gmacs"] > 2 * by["mobilenet_v2"]["gmacs"]
    assert by["resnet50"]["gmacs"] == pytest.approx(by["resnet50"]["macs"] / by["resnet50"]["latency_ms"] / 1e6)


def test_roofline_uses_device_peaks_and_layer_times(built):
    root = built[0]
    data = collect.load(root / "profiles", devices_dirs=[root / "devices"])
    assert data.peaks["local"]["memory_bandwidth_gb_per_s"] == 25.6
    views = collect.layer_views(data)
    timed = [v for v in views if v["timed"]]
    assert timed and all(v["layers"] and v["peak"] for v in timed)
    shares = [l["share"] for l in timed[0]["layers"]]
    assert sum(shares) == pytest.approx(1.0)


def test_separable_rows_carry_analytic_counted_and_measured(built):
    root = built[0]
    data = collect.load(root / "profiles")
    rows = collect.separable_rows(data)
    sweep = [r for r in rows if r["block"] == "M=256,N=256,Dk=3,Df=14"]
    assert {r["runtime"] for r in sweep} == {"analytic", "torch", "onnxruntime"}
    assert all(r["analytic"] == pytest.approx(1 / 256 + 1 / 9) for r in sweep)
    assert all(r["measured"] is not None for r in sweep if r["runtime"] != "analytic")


def test_export_table_keeps_three_outcomes_apart(built):
    html = built[3]
    section = html.split('id="export"')[1].split("</section>")[0]
    for status in ("ok", "validation_failed", "export_failed"):
        assert f">{status}</span>" in section
    assert "unsupported op aten::silu_" in section  # the error travels with the failed export


def test_no_records_still_builds(tmp_path):
    res = build_report(tmp_path / "nothing", tmp_path / "index.html")
    html = res.path.read_text()
    assert res.n_records == 0 and "No records yet" in html
    assert any("no such folder" in s for s in res.skipped)


def test_only_unusable_records_still_builds(tmp_path):
    store = RecordStore(tmp_path / "p")
    store.append(Record(kind="latency", model="m", metrics={"latency_ms_p50": "fast"}))  # wrong type
    store.append(Record(kind="latency", model="m2", status="failed", error="runner crashed"))
    store.append(Record(kind="cost", model="m3", metrics={"layers": "nope"}))
    res = build_report(tmp_path / "p", tmp_path / "index.html")
    html = res.path.read_text()
    assert res.n_records == 3
    assert any("latency m " in s or "latency m," in s for s in res.skipped)
    assert any("cost m3" in s for s in res.skipped)
    assert "runner crashed" in html  # failed measurement shown in the records table with its error


def test_newest_record_wins_and_older_is_marked_superseded(tmp_path):
    store = RecordStore(tmp_path / "p")
    base = dict(kind="latency", model="resnet18", runtime="onnxruntime", format="onnx", input_shape=[3, 224, 224])
    store.append(Record(**base, metrics={"latency_ms_p50": 50.0}, created_at="2026-01-01T00:00:00+00:00"))
    store.append(Record(**base, metrics={"latency_ms_p50": 40.0}, created_at="2026-02-01T00:00:00+00:00"))
    data = collect.load(tmp_path / "p")
    (pt,) = collect.latency_points(data)
    assert pt["latency_ms"] == 40.0
    html = build_report(tmp_path / "p", tmp_path / "i.html").path.read_text()
    assert html.count('class="superseded"') == 1


def test_device_filter_and_unknown_device(tmp_path, cli):
    write_synthetic(tmp_path / "p")
    data = collect.load(tmp_path / "p", device="jetson-orin-nano")
    lat = collect.latency_points(data)
    assert lat and {p["device"] for p in lat} == {"jetson-orin-nano"}
    assert collect.model_points(data)  # cost records are device-independent and stay
    proc = cli("report", "--profiles", str(tmp_path / "p"), "--out", str(tmp_path / "r.html"), "--device", "jetsn")
    assert proc.returncode == 2 and proc.stderr.startswith("error: no records for device 'jetsn'")
    assert "Traceback" not in proc.stderr


def test_cli_writes_the_page_and_json(tmp_path, cli):
    write_synthetic(tmp_path / "p", n=60)
    out = tmp_path / "deep" / "r.html"
    proc = cli("report", "--profiles", str(tmp_path / "p"), "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["n_records"] == 60 and out.exists() and info["size_bytes"] == out.stat().st_size


def test_no_accuracy_anywhere_draws_no_front_but_keeps_cost_views(tmp_path):
    from edgecnn.report.synthetic import synthetic_records

    recs = [r for r in synthetic_records() if r.kind in ("cost", "latency")]
    RecordStore(tmp_path / "p").extend(recs)
    html = build_report(tmp_path / "p", tmp_path / "i.html").path.read_text()
    assert 'id="fig-pareto"' not in html and "No accuracy record yet" in html
    assert 'id="fig-cost-time"' in html and "resnet50" in html.split('id="pareto"')[1].split("</section>")[0]


def test_selectors_switch_whole_groups(built):
    root = built[0]
    data = collect.load(root / "profiles", devices_dirs=[root / "devices"])
    groups = figures.pareto_groups(collect.model_points(data), collect.latency_points(data))
    fig = figures.pareto_figure(groups)
    (menu,) = fig.layout.updatemenus
    assert [b.label for b in menu.buttons] == [g["label"] for g in groups]
    shown = [[i for i, v in enumerate(b.args[0]["visible"]) if v] for b in menu.buttons]
    assert all(len(b.args[0]["visible"]) == len(fig.data) for b in menu.buttons)
    assert all(s for s in shown) and len({tuple(s) for s in shown}) == len(shown)  # disjoint trace sets
    # measured groups come before predicted ones; the page opens on a measured one
    labels = [g["label"] for g in groups]
    assert labels.index(next(l for l in labels if "predicted" in l)) > labels.index(
        next(l for l in labels if "measured" in l))
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
    peak = {"fp32_gmacs_per_s": 166.2, "memory_bandwidth_gb_per_s": 35.0}
    recs = [Record(kind="latency", model="resnet50", runtime="litert", metrics={"achieved_gmacs_per_s": 197.9}),
            Record(kind="latency", model="resnet18", runtime="torch", metrics={"achieved_gmacs_per_s": 100.8}),
            Record(kind="latency", model="resnet50", runtime="litert", source="predicted",
                   metrics={"achieved_gmacs_per_s": 900.0})]  # predictions never move a roof
    out = collect.raise_to_achieved(peak, recs, "local")
    assert out == {"fp32_gmacs_per_s": 197.9, "fp32_gmacs_per_s_estimated": 166.2,
                   "memory_bandwidth_gb_per_s": 35.0}
    assert collect.raise_to_achieved(peak, recs[1:2], "local") == peak  # below the roof: unchanged

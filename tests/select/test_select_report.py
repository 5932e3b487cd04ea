"""The report's recommendation section on the real records: one pick per
device under the default budgets, the same one ``select`` makes, the front
over all runtimes and precisions, measured and predicted kept apart."""

from __future__ import annotations

import json

from edgecnn.records import RecordStore
from edgecnn.select import DEFAULT_BUDGETS, select


def test_the_report_marks_the_pick_and_the_front(select_records, tmp_path):
    from edgecnn.report import build_report

    out = build_report(select_records.profiles, tmp_path / "r.json", fmt="json", devices_dir=select_records.devices)
    data = json.loads(out.path.read_text())
    assert data["summary"]["budgets"] == "latency p50 <= 33.3 ms, batch 1"
    rows = data["tables"]["recommendation"]["rows"]
    for device in ("local", "jetson-orin-nano", "fake-phone"):
        mine = [r for r in rows if r["device"] == device]
        [pick] = [r for r in mine if r["pick"]]
        sel = select(select_records.profiles, device=device, **DEFAULT_BUDGETS, dataset=pick["dataset"])
        assert (pick["runtime"], pick["precision"], pick["latency_ms"]) == \
            (sel.chosen.runtime, sel.chosen.precision, sel.chosen.latency_ms)
        front = [r for r in mine if r["front"]]
        assert pick in front or any(r["source"] != pick["source"] for r in front)
        for f in front:  # nothing shippable beats a front row on both
            assert not [r for r in mine if r["latency_ms"] is not None and r["top1"] is not None and
                        not r["why"].startswith("export did not pass parity") and r["latency_ms"] <= f["latency_ms"]
                        and r["top1"] >= f["top1"] and (r["latency_ms"] < f["latency_ms"] or r["top1"] > f["top1"])]
    jetson = [r for r in rows if r["device"] == "jetson-orin-nano"]
    assert {r["source"] for r in jetson if r["latency_ms"] is not None} == {"predicted"}
    # the measurement that could not run is a failed record, shown with why, never a figure
    failed = [r for r in jetson if r["source"] == "measured"]
    assert all(r["latency_ms"] is None and r["why"] and not r["pick"] and not r["front"] for r in failed), failed
    # an export that failed parity on a runtime that was timed is listed, never on the front, never picked
    # (the fixture times onnxruntime and litert; a failed MNN export has no latency, so it is no option)
    assert any(r["why"].startswith("export did not pass parity") and not r["front"] and not r["pick"]
               for r in rows if r["device"] == "local") or not [
        x for x in RecordStore(select_records.profiles).load(kind="export")
        if x.status == "validation_failed" and x.runtime in ("onnxruntime", "litert")]
    html = build_report(select_records.profiles, tmp_path / "index.html", devices_dir=select_records.devices)
    page = html.path.read_text(encoding="utf-8")
    section = page.split('id="recommend"')[1].split("</section>")[0]
    devices = {r["device"] for r in rows}  # loopback-box too where sshd runs
    assert "latency p50 &lt;= 33.3 ms, batch 1" in section and section.count("Pick:") == len(devices)

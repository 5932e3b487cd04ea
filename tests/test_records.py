import json
import subprocess
import sys

import pytest

from edgecnn.records import LoadReport, Record, RecordStore, atomic_output, atomic_write_text


def rec(**kw):
    base = dict(kind="latency", model="resnet18", runtime="onnxruntime", format="onnx", batch=1,
                input_shape=[3, 224, 224], metrics={"latency_ms_p50": 12.5})
    base.update(kw)
    return Record(**base)


def test_round_trip_is_flat_and_lossless(tmp_path):
    store = RecordStore(tmp_path)
    r = rec()
    path = store.append(r)
    assert path == tmp_path / "local" / "latency.jsonl"
    row = json.loads(path.read_text())
    assert row["latency_ms_p50"] == 12.5 and row["model"] == "resnet18"  # flat, unit in the name
    (back,) = store.load()
    assert back.key() == r.key() and back.metrics == r.metrics


def test_failed_measurement_is_kept_with_its_error(tmp_path):
    store = RecordStore(tmp_path)
    store.append(rec(status="failed", error="runtime crashed", metrics={}))
    (back,) = store.load(kind="latency")
    assert back.status == "failed" and back.error == "runtime crashed"
    assert not store.has_ok(rec())


def test_a_device_that_did_not_answer_never_hides_a_measurement(tmp_path):
    """An ``unreachable`` record (source none: nothing was measured) after an ``ok`` one of the
    same identity: readers (the store, the report's and select's join) keep the measurement; a real
    failure after it, or a measurement after the unreachable one, does replace it."""
    from edgecnn.join import newest

    store = RecordStore(tmp_path)
    ok = rec(created_at="2026-01-01T00:00:00+00:00", metrics={"latency_ms_p50": 12.5, "threads": 2})
    down = rec(status="unreachable", error="jetson is unreachable", metrics={}, created_at="2026-02-01T00:00:00+00:00")
    store.extend([ok, down])
    [kept] = store.latest(kind="latency").values()
    assert kept.ok and kept.metrics["latency_ms_p50"] == 12.5 and store.current(rec()).ok
    used, superseded = newest(store.load(kind="latency"))
    assert [r.status for r in used] == ["ok"] and len(superseded) == 1
    assert [r.status for r in newest(list(reversed(store.load(kind="latency"))))[0]] == ["ok"]  # any order
    assert store.has_ok(rec()) and store.has_ok(rec(), {"threads": 2}) and not store.has_ok(rec(), {"threads": 1})
    store.append(rec(status="failed", error="crashed", metrics={}, created_at="2026-03-01T00:00:00+00:00"))
    assert store.current(rec()).status == "failed" and not store.has_ok(rec())  # a newer attempt failed: redo
    down_first = [rec(status="unreachable", error="down", metrics={}, created_at="2026-05-01T00:00:00+00:00"),
                  rec(created_at="2026-04-01T00:00:00+00:00")]
    assert [r.status for r in newest(down_first)[0]] == ["ok"]


def test_an_unreachable_record_is_not_measured_whoever_wrote_it(tmp_path):
    """Nothing is measured on a device that does not answer: its records say source none, also rows
    written before (which said measured) and ones a writer built from a measured template."""
    assert rec(status="unreachable", error="down", metrics={}).source == "none"
    assert rec(status="failed", error="crashed", metrics={}).source == "measured"  # tried and failed
    path = tmp_path / "jet" / "latency.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps({**rec(device="jet", metrics={}).to_dict(), "status": "unreachable",
                                "source": "measured", "error": "down", "schema_version": 2}) + "\n")
    [old] = RecordStore(tmp_path).load(kind="latency")
    assert (old.status, old.source) == ("unreachable", "none")
    with pytest.raises(ValueError, match="source 'none'"):
        rec(source="none")


def test_a_stored_figure_the_record_does_not_carry_is_not_compared(tmp_path):
    store = RecordStore(tmp_path)
    store.append(rec(metrics={"latency_ms_p50": 3.0, "threads": 4}))  # no timing_config (trtexec's, older rows)
    assert store.has_ok(rec(), {"threads": 4, "timing_config": {"runs": 20}})
    assert not store.has_ok(rec(), {"threads": 2, "timing_config": {"runs": 20}})


def test_bad_rows_are_skipped_and_reported(tmp_path):
    store = RecordStore(tmp_path)
    store.append(rec())
    p = tmp_path / "local" / "latency.jsonl"
    with open(p, "a") as fh:
        fh.write('{"kind": "latency"}\n')  # missing model
        fh.write('{"kind": "latency", "model": "x", "schema_version": 99}\n')
        fh.write('{"kind": "latency", "mod')  # torn last line
    store.append(rec(model="resnet50"))  # still lands on its own line
    report = LoadReport()
    got = store.load(report)
    assert [r.model for r in got] == ["resnet18", "resnet50"]
    assert len(report.skipped) == 3
    assert any("missing required field" in s for s in report.skipped)
    assert any("newer" in s for s in report.skipped)


def test_unknown_status_is_refused():
    with pytest.raises(ValueError):
        rec(status="great")


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "m.onnx"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("export crashed")
    assert list(tmp_path.iterdir()) == []
    atomic_write_text(target, "ok")
    assert target.read_text() == "ok"


def test_concurrent_appends_do_not_interleave(tmp_path):
    code = (
        "import sys; from edgecnn.records import Record, RecordStore\n"
        "s = RecordStore(sys.argv[1])\n"
        "pad = [{'op': 'x' * 500, 'layers': [], 'count': 1}]\n"
        "for i in range(200): s.append(Record(kind='cost', model=f'm{sys.argv[2]}_{i}', source='analytic',\n"
        "                                     metrics={'macs': i, 'params': i, 'unsupported_ops': pad}))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(k)]) for k in range(3)]
    assert all(p.wait(60) == 0 for p in procs)
    report = LoadReport()
    assert len(RecordStore(tmp_path).load(report)) == 600 and not report.skipped


def test_atomic_writes_leave_a_shareable_file_and_no_temporary(tmp_path):
    import os
    import stat

    from edgecnn.records import atomic_output, atomic_write_text

    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        with atomic_output(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(umask)
    for name in ("a.json", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644  # not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin"]

"""The report on records the real commands wrote: figures arrive unchanged.

Every test reads ``real_records`` (tests/report/conftest.py: train, eval,
export, profile, a predicted Jetson, a remote profile over a loopback sshd and
the adb parser), builds the report as data (``--format json``) and as a page,
and checks cells against the records they come from.
"""

from __future__ import annotations

import csv
import json
import shutil
from types import SimpleNamespace

import pytest

from edgecnn.records import RecordStore
from edgecnn.report import build_report
from edgecnn.schema import COMMON, KINDS, ROW_FIELDS, validate


@pytest.fixture(scope="module")
def rep(real_records, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    page = build_report(real_records.profiles, out / "index.html", devices_dir=real_records.devices)
    data = build_report(real_records.profiles, out / "report.json", devices_dir=real_records.devices, fmt="json")
    build_report(real_records.profiles, out / "csv", devices_dir=real_records.devices, fmt="csv")
    tables = json.loads(data.path.read_text())["tables"]
    records = RecordStore(real_records.profiles).load()
    return SimpleNamespace(html=page.path.read_text(encoding="utf-8"), tables=tables, records=records, out=out,
                           skipped=page.skipped)


def section(html: str, anchor: str) -> str:
    return html.split(f'id="{anchor}"')[1].split("</section>")[0]


def rows(rep, table: str, **where):
    return [r for r in rep.tables[table]["rows"] if all(r.get(k) == v for k, v in where.items())]


def test_real_records_build_without_skips(rep):
    assert rep.skipped == []
    kinds = {r.kind for r in rep.records}
    assert kinds >= {"cost", "latency", "layer_latency", "separable", "export", "accuracy", "train", "train_epoch"}


def test_every_real_separable_record_shows_both_times(rep):
    measured = [r for r in rep.records if r.kind == "separable" and r.ok and r.source == "measured"]
    assert measured, "profile --shape wrote no separable record"
    html = section(rep.html, "separable")
    for rec in measured:
        [row] = rows(rep, "separable", model=rec.model, block=rec.variant, runtime=rec.runtime)
        assert row["sep_ms"] == rec.metrics["separable_ms_p50"] and row["std_ms"] == rec.metrics["standard_ms_p50"]
        assert row["measured"] == rec.metrics["measured_ratio"]
        assert f">{rec.metrics['separable_ms_p50']:.3g}<" in html and f">{rec.metrics['standard_ms_p50']:.3g}<" in html


def test_latency_rows_carry_the_measured_figures_memory_and_size(rep):
    local = [r for r in rep.records if r.kind == "latency" and r.ok and r.device == "local"]
    assert {r.runtime for r in local} == {"torch", "onnxruntime", "litert"}
    for rec in local:
        [row] = rows(rep, "latency", device="local", model=rec.model, runtime=rec.runtime, source="measured")
        m = rec.metrics
        assert row["latency_ms"] == m["latency_ms_p50"] and row["statistic"] == "p50"
        assert row["p90"] == m["latency_ms_p90"]
        assert m["memory_peak_mb"] > m["memory_added_mb"] >= m["memory_load_mb"]  # running adds to loading
        assert (row["memory_added_mb"], row["memory_peak_mb"]) == (m["memory_added_mb"], m["memory_peak_mb"])
        assert row["artifact_bytes"] == m["artifact_bytes"] > 0
        assert "one process per runtime" in m["isolation"]
    lite = next(r for r in local if r.runtime == "litert")
    assert f">{lite.metrics['memory_added_mb']:.1f}<" in section(rep.html, "cost-time")


def test_phone_results_reach_the_report(rep):
    """adb records: benchmark_model prints a mean, not a median, and per-op rows."""
    [lat] = [r for r in rep.records if r.kind == "latency" and r.device == "fake-phone"]
    assert lat.ok and "latency_ms_p50" not in lat.metrics
    [row] = rows(rep, "latency", device="fake-phone")
    assert row["statistic"] == "mean" and row["latency_ms"] == pytest.approx(5.7063)
    assert row["memory_added_mb"] == pytest.approx(45.2109) and row["memory_peak_mb"] == pytest.approx(52.6484)
    ops = [r for r in rep.tables["layers"]["rows"] if "fake-phone" in r["view"]]
    assert len(ops) == 64 and ops[0]["time_ms"] == pytest.approx(0.412)
    assert ops[0]["type"] == "Convolution (NHWC, F32) IGEMM"
    assert sum(o["time_ms"] for o in ops) == pytest.approx(5.547, abs=0.01)


def test_prepared_tensorrt_builds_are_shown_as_prepared_never_ok(rep):
    trt = [r for r in rep.records if r.kind == "export" and r.format == "tensorrt"]
    assert {r.precision for r in trt} == {"fp32", "int8"}
    for rec in trt:  # fp32 passes its parity check on ONNX Runtime; int8 may fail it: never "ok" either way
        assert rec.status in ("prepared", "validation_failed") and rec.runtime == "tensorrt"
        assert rec.metrics["parity_runtime"] == "onnxruntime" and rec.metrics["max_abs_diff"] is not None
        [row] = rows(rep, "export", format="tensorrt", precision=rec.precision)
        assert row["status"] == rec.status and row["parity_runtime"] == "onnxruntime"
    assert next(r for r in trt if r.precision == "fp32").status == "prepared"
    table = section(rep.html, "export").split("<table", 1)[1]
    assert table.count(">prepared</span>") == sum(r.status == "prepared" for r in trt)


def test_top1_is_a_percent_everywhere(rep):
    exports = [r for r in rep.records if r.kind == "export" and r.metrics.get("top1") is not None]
    assert exports
    for rec in exports:
        [row] = rows(rep, "export", format=rec.format, precision=rec.precision)
        assert row["top1"] == rec.metrics["top1"] and 10 < row["top1"] <= 100  # a trained lenet5: tens of percent
        assert row["top1_reference"] == rec.metrics["top1_reference"]
    [acc] = [r for r in rep.records if r.kind == "accuracy" and r.format == "pytorch" and r.source == "measured"
             and r.metrics.get("target")]
    pts = [p for p in rep.tables["pareto"]["rows"] if p["model"] == "lenet5" and p["acc_note"] == "pytorch fp32"]
    assert pts and all(p["top1"] == acc.metrics["top1"] for p in pts)
    curves = rows(rep, "training_curves", model="lenet5")
    assert curves and all(1 < c["test_top1"] <= 100 for c in curves)


def test_a_broken_int8_model_at_0_9_percent_shows_as_0_9(real_records, tmp_path):
    """The old report multiplied any top-1 <= 1 by 100: 0.9 % became 90 %."""
    prof = tmp_path / "profiles"
    shutil.copytree(real_records.profiles, prof)
    store = RecordStore(prof)
    rec = next(r for r in store.load(kind="export") if r.format == "onnx" and r.precision == "int8")
    rec.metrics["top1"] = 0.9
    rec.status, rec.error = "validation_failed", "top-1 collapsed"
    rec.created_at = "2099-01-01T00:00:00+00:00"
    store.append(rec)
    out = build_report(prof, tmp_path / "r.json", fmt="json", devices_dir=real_records.devices)
    [row] = [r for r in json.loads(out.path.read_text())["tables"]["export"]["rows"]
             if r["format"] == "onnx" and r["precision"] == "int8"]
    assert row["top1"] == 0.9 and row["status"] == "validation_failed"


def test_roofs_come_from_the_measuring_device_not_the_builder(real_records, rep, monkeypatch, tmp_path):
    rec = next(r for r in rep.records if r.kind == "latency" and r.ok and r.device == "local")
    peaks = rec.metrics["device_peaks"]
    assert peaks["unit"] == "cpu" and peaks["device"] == "local"
    [roof] = rows(rep, "roofs", device="local", unit="cpu")
    assert roof["bandwidth"] == peaks["memory_bandwidth_gb_per_s"]
    assert roof["fp32"] >= peaks["gmacs_per_s"]["fp32"]  # raised only to a rate measured under it
    assert roof["source"].startswith("recorded with the measurements")
    # a machine building the report never benchmarks itself for it
    import edgecnn.devices.spec as spec

    def no_benchmark(*a, **k):
        raise AssertionError("the report benchmarked the machine that builds it")

    monkeypatch.setattr(spec, "measure_local", no_benchmark)
    monkeypatch.setattr(spec, "detect_local", no_benchmark)
    out = build_report(real_records.profiles, tmp_path / "r.json", fmt="json", devices_dir=real_records.devices)
    again = [r for r in json.loads(out.path.read_text())["tables"]["roofs"]["rows"] if r["device"] == "local"]
    assert again == [roof]


def test_predicted_rows_are_labelled_bounded_and_carry_their_error_band(rep):
    pred = rows(rep, "latency", device="jetson-orin-nano", source="predicted")
    assert {p["runtime"] for p in pred} >= {"onnxruntime", "litert"}
    for p in pred:
        rec = next(r for r in rep.records if r.kind == "latency" and r.source == "predicted"
                   and r.device == "jetson-orin-nano" and r.runtime == p["runtime"] and r.ok)
        assert p["latency_ms"] == rec.metrics["latency_ms_p50"] and p["band"]
        assert rec.metrics["achieved_gmacs_per_s"] <= rec.metrics["peak_gmacs_per_s"]
    unreachable = [r for r in rep.records if r.device == "jetson-orin-nano" and r.status == "unreachable"]
    assert unreachable and all(r.source == "none" for r in unreachable)  # nothing measured


def test_remote_records_over_ssh_carry_the_same_figures(real_records, rep):
    if real_records.remote is None:
        pytest.skip("OpenSSH is not installed here (scripts/system-deps.sh installs it)")
    remote = [r for r in rep.records if r.kind == "latency" and r.device == real_records.remote and r.ok]
    assert {r.runtime for r in remote} == {"onnxruntime", "litert"}
    for rec in remote:
        [row] = rows(rep, "latency", device=real_records.remote, runtime=rec.runtime)
        assert row["latency_ms"] == rec.metrics["latency_ms_p50"]
        assert row["memory_added_mb"] == rec.metrics["memory_added_mb"] is not None
        assert row["artifact_bytes"] == rec.metrics["artifact_bytes"] > 0


def test_csv_files_hold_the_same_rows(rep):
    with open(rep.out / "csv" / "latency.csv") as fh:
        lines = list(csv.reader(fh))
    assert lines[0][:3] == ["device", "model", "runtime"] and "latency (ms)" in lines[0]
    assert len(lines) - 1 == len(rep.tables["latency"]["rows"])
    col = lines[0].index("latency (ms)")
    assert {float(line[col]) for line in lines[1:]} == {r["latency_ms"] for r in rep.tables["latency"]["rows"]}


# fields no command run by real_records writes: GPU and TensorRT paths (not runnable here), optional figures
# of other tools, and analytic-only separable fields written by `edgecnn cost --separable`
NOT_WRITTEN_HERE = {
    "latency": {"includes_host_copies", "peak_sources", "predicted_for", "roofline_ms",  # the GPU reference
                # (edgecnn/reference, scripts/gpu_reference.py): written and checked in tests/train/test_gpu_reference.py
                "gpu_compute_ms_p50", "gpu_compute_ms_min", "gpu_compute_ms_max", "gpu_compute_ms_mean",
                "gpu_compute_ms_p90", "gpu_compute_ms_p99", "throughput_qps", "timing_note", "memory_init_mb",
                "layers", "calibration_device",
                # the per-op-class fit of predicted records before the latency model (read from old records only)
                "calibration",
                # device time apart from the copies, torch.compile, the plain-script fidelity check and the
                # TensorRT probe: CUDA paths and the GPU reference run, written and checked with a fake device
                # timer and on CPU tensors in tests/profile/test_device_timing.py,
                # tests/remote/test_device_runner_gpu.py and tests/train/test_gpu_reference.py
                "compile_mode", "compile_s", "copy_timing_config", "device_timer", "host_memory", "probe",
                "plain_ms_p50", "fidelity_interval", "fidelity_method", "fidelity_ratio", "fidelity_rounds",
                "fidelity_verdict",
                *(f"{s}_{f}" for s in ("h2d", "d2h") for f in ("bytes", "gb_per_s", "ms_p50", "ms_p90", "runs")),
                "end_to_end_ms_p50", "end_to_end_ms_p90", "end_to_end_runs"},
    "separable": {"df", "macs_separable", "macs_standard", "macs_depthwise", "macs_pointwise", "depth_multiplier",
                  "blocks", "depthwise_layer", "pointwise_layer"},
    "export": {"trtexec", "simplified", "inference_precision", "activation_type", "transpose_ops", "conv_ops",
               "layout_transpose_ops", "model_transpose_ops",  # tests/export/test_export_tflite.py
               "ops", "op_counts", "checkpoint",
               # pretrained weights and --calibration-dir: written and checked in tests/weights
               "weights_source", "preprocessing", "calibration_source",
               # INT8 --max-drop search and cross-layer equalisation: written and checked in tests/export
               # (test_export_trained.py, test_quantize.py)
               "bn_folded", "cle_iterations", "cle_pairs", "max_drop", "mixed_steps", "search_drop", "search_images",
               "search_top1", "search_top1_reference", "sensitivity_images", "sensitivity_ranked_with",
               "within_budget",
               # OpenVINO (NNCF) and MNN INT8: the fixture exports INT8 to ONNX, TFLite and TensorRT only; written and
               # checked in tests/export/test_export_runtimes.py
               "fake_quantize_ops", "feature_quantize_method", "weight_quantize_method",
               # --force-input-size: written and checked in tests/test_cli_input_size.py
               "input_size_forced", "trained_input_size",
               # a `train --qat` checkpoint's export: written and checked in tests/train/test_qat.py
               "qat_epochs", "qat_images", "qat_quantizer", "qat_scheme", "qat_source_checkpoint", "qat_source_top1",
               "qat_steps",
               # --max-drop's verdict and its QAT step: written and checked in tests/export/test_max_drop_qat.py
               "quantisable_layers", "max_drop_met", "max_drop_measured_on", "max_drop_float_share",
               "max_drop_missed", "max_drop_reference_top1", "max_drop_attempts", "qat_seconds"},
    "accuracy": {"reference", "split", "num_classes", "weights", "checkpoint",
                 "weights_dtype",  # eval of a --save-fp16 state dict: profiles/local/accuracy.jsonl holds one
                 "input_size_forced", "trained_input_size",  # --force-input-size: tests/test_cli_input_size.py
                 "qat",  # a `train --qat` run's accuracy and train records: tests/train/test_qat.py
                 # pretrained weights, ImageNet folders, --mean/--std: written and checked in tests/weights
                 "weights_source", "preprocessing", "normalization_check", "classes_present", "data_source",
                 "data_layout",
                 # the data set's ceiling (airbench on a GPU): written and checked in tests/train/test_ceiling.py
                 "handicap_points", "measured_runs", "measured_top1_mean", "measured_top1_std", "published_train_s",
                 "seed", "skipped_runs", "train_s", "tta_level", "warmup_s"},
    "layer_latency": {"op_types", "timing_method"},
    "train": {"rank", "qat",
              # --time-budget runs: tests/train/test_train_budget.py; --save-fp16: tests/train/test_train_run.py;
              # DDP: tests/train/test_train_ddp.py
              "budget_plan", "budget_replans", "budget_wall_s", "time_budget_s", "within_budget", "fp16_path",
              "ranks_in_sync"},
    "train_epoch": {"resumed", "steps"},  # steps: a budget re-plan's partial last epoch
    "prediction_error": set(KINDS["prediction_error"]),
    # edgecnn calibrate: written and checked in tests/select/test_select_predicted.py
    "calibration": set(KINDS["calibration"]),
    "cost": set(),
}


def test_schema_declarations_and_writers_stay_in_step(rep):
    """Every record the commands wrote matches its declaration, and every
    declared field is written by some command (or listed above with why not)."""
    seen: dict[str, set] = {k: set() for k in KINDS}
    rows_seen: set = set()
    for rec in rep.records:
        validate(rec)
        seen[rec.kind] |= {k for k, v in rec.metrics.items() if v is not None}
        for row in rec.metrics.get("layers") or []:
            rows_seen |= set(row)
    for kind, fields in KINDS.items():
        common = {f.name for f in COMMON}  # scripted runs' failure fields, where a model outside the zoo came from
        missing = set(fields) - seen[kind] - NOT_WRITTEN_HERE.get(kind, set()) - common
        assert not missing, f"{kind}: declared but never written: {sorted(missing)}"
    print("row fields never written:", sorted(set(ROW_FIELDS) - rows_seen))

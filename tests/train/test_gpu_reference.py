"""scripts/gpu_reference.py: the smoke run (the same phases as on the GPU, on
the CPU, in about a minute) in a subprocess where the packages the GPU machine
lacks or that the run must not need (plotly, jinja2, fvcore, onnx, litert,
...) cannot be imported; then its packed files, records and checkpoint. Also
the pieces: packing, guarded phases, predictions from devices/h200-box.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgecnn.records import LoadReport, Record, RecordStore

REPO = Path(__file__).resolve().parents[2]
# what the run must not need (the brief's list), and what the build machine's venv has but the GPU machine
# lacks (its package list in the device tool's KINDS.md)
BLOCKED = ("plotly", "jinja2", "fvcore", "onnx", "onnxscript", "litert_torch", "ai_edge_litert", "tensorflow",
           "tensorrt", "tflite_runtime", "ai_edge_quantizer", "iopath", "yacs", "executorch", "coremltools",
           "openvino", "nncf", "mnn", "ncnn", "pnnx", "torchao", "tomli", "pydantic", "omegaconf", "hydra",
           "termcolor", "kagglehub")
# sys.modules[name] = None makes `import name` fail as if it were not installed
RUN = ("import runpy, sys\n"
       "for name in {blocked!r}:\n"
       "    sys.modules[name] = None\n"
       "sys.argv = ['scripts/gpu_reference.py'] + {args!r}\n"
       "runpy.run_path('scripts/gpu_reference.py', run_name='__main__')\n"
       "leaked = sorted(n for n in sys.modules if n.split('.')[0] in {blocked!r} and sys.modules[n] is not None)\n"
       "assert not leaked, leaked\n")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, cifar10_archive):
    work = tmp_path_factory.mktemp("gpuref")
    pack_dir = work / "out"
    args = ["--smoke", "--out", str(work / "run"), "--pack-dir", str(pack_dir), "--data", str(cifar10_archive),
            "--git-commit", "abc123test"]
    res = subprocess.run([sys.executable, "-c", RUN.format(blocked=BLOCKED, args=args)], cwd=REPO,
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return work, pack_dir, res


def _unpacked(smoke, tmp_path):
    from edgecnn.reference.pack import unpack

    _, pack_dir, _ = smoke
    unpack(sorted(pack_dir.glob("gpuref.tar.gz*")), tmp_path)
    return tmp_path


def test_smoke_packs_at_most_8_small_files(smoke):
    work, pack_dir, res = smoke
    files = sorted(p for p in pack_dir.rglob("*") if p.is_file())
    assert 2 <= len(files) <= 8 and all(p.parent == pack_dir for p in files)
    assert all(p.stat().st_size < 16 * 10**6 for p in files)
    assert {p.name for p in files} >= {"summary.json", "gpuref.tar.gz"}
    summary = json.loads((pack_dir / "summary.json").read_text())
    assert summary["smoke"] is True and [f["file"] for f in summary["pack"]["files"]] == ["gpuref.tar.gz"]
    assert all(p["status"] == "ok" for p in summary["phases"]), summary["phases"]
    assert "== gpu reference run: summary ==" in res.stdout and summary["wall_s"] < summary["total_budget_s"]


def test_smoke_records_load_and_cover_every_kind(smoke, tmp_path):
    root = _unpacked(smoke, tmp_path)
    report = LoadReport()
    recs = list(RecordStore(root / "profiles").iter(report))
    assert not report.skipped
    kinds = {(r.kind, r.source) for r in recs if r.ok}
    assert kinds >= {("latency", "predicted"), ("latency", "measured"), ("layer_latency", "measured"),
                     ("separable", "measured"), ("train", "measured"), ("train_epoch", "measured"),
                     ("accuracy", "measured")}
    assert {r.device for r in recs} == {"h200-box"}
    for r in recs:
        assert r.env["git_commit"] == "abc123test" and "--smoke" in r.env["command"], r.kind
        assert r.env["torch_build"] == torch.__version__ and "edgecnn" in r.env["versions"]
    # what a CUDA-only configuration says on a CPU, instead of a silent gap
    unsupported = [r for r in recs if r.kind == "latency" and r.status == "unsupported"]
    assert {r.precision for r in unsupported} >= {"fp16"} and any("CUDA graphs" in r.error for r in unsupported)
    trains = {r.model: r for r in recs if r.kind == "train"}
    assert set(trains) == {"lenet5", "mobilenet_v1_025"}
    for t in trains.values():
        plan = t.metrics["budget_plan"]
        assert t.metrics["within_budget"] and plan["total_steps"] >= 1 and plan["step_s"] > 0


def test_smoke_times_device_steps_compile_and_fidelity(smoke, tmp_path):
    """The GPU phase's code paths on the CPU: device time with the copies beside
    it, torch.compile (dynamo's eager backend), the plain-script fidelity check,
    the separable sweep's achieved GMAC/s, and the TensorRT probe."""
    root = _unpacked(smoke, tmp_path)
    lat = [r for r in RecordStore(root / "profiles").load(kind="latency") if r.source == "measured"]
    split = [r for r in lat if r.ok and r.metrics.get("latency_measure") == "device_compute"]
    assert split and all(r.metrics["end_to_end_ms_p50"] > 0 and r.metrics["h2d_bytes"] > 0 and
                         r.metrics["device_timer"] == "host_clock" for r in split)
    host = [r for r in lat if r.ok and r.metrics.get("latency_measure") == "host_call"]
    assert host and all("h2d_ms_p50" not in r.metrics for r in host)
    (compiled,) = [r for r in lat if r.ok and r.variant == "compile"]
    assert compiled.batch == 2 and compiled.metrics["compile_mode"] == "default" and compiled.metrics["compile_s"] > 0
    (checked,) = [r for r in lat if r.ok and "fidelity_ratio" in r.metrics]
    assert (checked.precision, checked.batch, checked.variant) == ("fp32", 2, None)
    lo, hi = checked.metrics["fidelity_interval"]
    assert lo <= hi and checked.metrics["fidelity_rounds"] >= 5 and checked.metrics["plain_ms_p50"] > 0
    (probe,) = [r for r in lat if r.runtime == "tensorrt"]
    assert probe.status == "unsupported" and probe.metrics["probe"]["module"]["imports"] is False
    assert "looked_for" in probe.metrics["probe"] and "trtexec" in probe.error
    seps = [r for r in RecordStore(root / "profiles").load(kind="separable") if r.ok]
    assert seps and all(r.metrics["latency_measure"] == "device_compute" and r.metrics["separable_gmacs_per_s"] > 0
                        and r.metrics["standard_bytes"] > 0 for r in seps)
    summary = json.loads((smoke[1] / "summary.json").read_text())
    assert summary["machine"]["tensorrt"]["module"]["imports"] is False and "triton" in summary["machine"]
    assert "TensorRT module: no" in smoke[2].stdout


def test_smoke_predictions_precede_measurements(smoke, tmp_path):
    root = _unpacked(smoke, tmp_path)
    lat = RecordStore(root / "profiles").load(kind="latency", device="h200-box")
    predicted = [r for r in lat if r.source == "predicted"]
    measured = [r for r in lat if r.source == "measured" and r.ok]
    assert predicted and measured and max(r.created_at for r in predicted) <= min(r.created_at for r in measured)
    gpu = [r for r in predicted if r.variant == "predicted+cuda"]
    assert gpu and all(r.metrics["compute_unit"] == "gpu" and r.metrics["peak_gmacs_per_s"] in (33500.0, 494750.0)
                       for r in gpu)
    (cpu,) = [r for r in predicted if r.variant == "predicted"]
    assert cpu.metrics["compute_unit"] == "cpu" and cpu.metrics["roofline_ms"] > 0
    # the host CPU's parameters: the prior of the repository's other CPUs (never this device's own records)
    assert cpu.metrics["calibrated_on"] == 0 and cpu.metrics["prior_devices"]
    assert not any(d.startswith("h200-box") for d in cpu.metrics["prior_devices"])
    summary = json.loads((smoke[1] / "summary.json").read_text())
    (row,) = [p for p in summary["predictions"] if p["measured_ms"] is not None]
    assert row["unit"] == "cpu" and row["error"] == pytest.approx((row["predicted_ms"] - row["measured_ms"])
                                                                  / row["measured_ms"])


def test_smoke_checkpoint_reproduces_its_accuracy(smoke, tmp_path, cifar10_archive):
    from edgecnn.train.evaluate import evaluate_target

    root = _unpacked(smoke, tmp_path)
    ckpts = sorted((root / "profiles" / "checkpoints").glob("*.pt"))
    assert [p.name for p in ckpts] == ["lenet5-cifar10-h200-box-fp16.pt", "mobilenet_v1_025-cifar10-h200-box-fp16.pt"]
    sd = torch.load(ckpts[0], weights_only=False)["state_dict"]
    assert all(v.dtype == torch.float16 for v in sd.values() if v.is_floating_point())
    acc = {r.model: r for r in RecordStore(root / "profiles").load(kind="accuracy") if r.variant == "fp16-checkpoint"}
    res = evaluate_target(ckpts[0], "cifar10", str(cifar10_archive), subset=32, device="cpu")
    assert res.metrics["top1"] == pytest.approx(acc["lenet5"].metrics["top1"], abs=0.1)


def test_pack_cuts_big_runs_into_parts_and_refuses_too_many(tmp_path):
    from edgecnn.reference.pack import PackError, members, pack, unpack

    work = tmp_path / "work"
    (work / "profiles" / "checkpoints").mkdir(parents=True)
    blob = os.urandom(300_000)  # incompressible, like fp16 weights
    (work / "profiles" / "checkpoints" / "m-fp16.pt").write_bytes(blob)
    (work / "profiles" / ".tmp-probe.pt").write_bytes(b"x")
    (work / "summary.json").write_text("{}")
    files = members(work, ("profiles", "summary.json", "missing.txt"))
    assert [str(f.relative_to(work)) for f in files] == ["profiles/checkpoints/m-fp16.pt", "summary.json"]
    out = pack(work, files, tmp_path / "out", max_bytes=100_000, max_parts=6)
    assert [o["file"] for o in out] == [f"gpuref.tar.gz.part{i:02d}" for i in range(4)]
    assert all(o["bytes"] <= 100_000 for o in out)
    names = unpack(sorted((tmp_path / "out").glob("gpuref.tar.gz*")), tmp_path / "back")
    assert sorted(names) == ["profiles/checkpoints/m-fp16.pt", "summary.json"]
    assert (tmp_path / "back" / "profiles" / "checkpoints" / "m-fp16.pt").read_bytes() == blob
    with pytest.raises(PackError, match="more than the 2 allowed"):
        pack(work, files, tmp_path / "out2", max_bytes=100_000, max_parts=2)


def test_a_failing_phase_is_a_record_and_the_run_goes_on(tmp_path):
    from edgecnn.reference.config import smoke_config
    from edgecnn.reference.run import Context

    ctx = Context(cfg=smoke_config(), work=tmp_path, data=tmp_path, env={"command": "test"})

    def boom():
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    assert ctx.guard("latency:resnet18", "latency", "resnet18", boom) is None
    assert ctx.guard("separable", "separable", "layer", lambda: 42) == 42
    assert ctx.guard("train:x", "train", "x", lambda: 1, need_s=1e9) is None  # no time left: not started
    recs = RecordStore(tmp_path / "profiles").load()
    assert [(r.kind, r.model, r.status) for r in recs] == [("latency", "resnet18", "failed"), ("train", "x", "failed")]
    assert "illegal memory access" in recs[0].error and "Traceback" in recs[0].metrics["traceback"]
    assert recs[1].error.startswith("not started")
    assert [p["status"] for p in ctx.phases] == ["failed", "ok", "not started"]
    assert "FAILED RuntimeError" in (tmp_path / "log.txt").read_text()


def test_h200_predictions_come_from_the_toml_and_the_build_machine(tmp_path):
    from edgecnn.devices.spec import ComputeUnit, DeviceSpec, load_device
    from edgecnn.reference.config import REPO as ROOT
    from edgecnn.reference.predict import predict_all, reference_knowledge

    gpu = load_device("h200-box")
    assert gpu.peak("bf16", "gpu") == (494750.0, "fp16") and gpu.unit("gpu").memory_bandwidth_gb_per_s == 4800.0
    assert gpu.unit_of("torch") == "gpu"
    known = reference_knowledge((ROOT / "docs" / "records", ROOT / "profiles"), leave_out="h200-box")
    assert known.records and not any(r.device == "h200-box" for r in known.records)
    host = DeviceSpec(name="local", description="a test CPU", units={"cpu": ComputeUnit(
        "cpu", peak_gmacs_per_s={"fp32": 100.0}, memory_bandwidth_gb_per_s=10.0)})
    recs = predict_all(("resnet18",), gpu, host, known, gpu_runs=(("fp32", 1), ("fp16", 64)),
                       cpu_runs=(("fp32", 1),), device_name="h200-box", env={}, host_threads=16)
    by = {(r.variant, r.precision, r.batch): r for r in recs}
    g1, g64, c1 = by[("predicted+cuda", "fp32", 1)], by[("predicted+cuda", "fp16", 64)], by[("predicted", "fp32", 1)]
    assert all(isinstance(r, Record) and r.source == "predicted" and r.kind == "latency" for r in recs)
    assert g1.metrics["macs"] == 1_814_073_344 and g1.input_shape == [3, 224, 224]
    # the pure roofline of resnet18 at fp32 on the H200: at least its MACs over the fp32 peak
    assert g1.metrics["roofline_ms"] >= 1_814_073_344 / 33500e6
    assert g64.metrics["peak_gmacs_per_s"] == 494750.0 and g64.metrics["roofline_ms"] > g1.metrics["roofline_ms"] / 10
    assert c1.metrics["threads"] == 16 and c1.metrics["latency_ms_p50"] > g1.metrics["latency_ms_p50"]
    # no GPU has device-time records in the repository yet: the GPU prior is the roofline plus a launch cost per
    # kernel, 20 us in eager mode (edgecnn/predict/latency_model.py: what the first H200 run showed)
    kernels = sum(1 for r in g1.metrics["layers"] if r["predicted_ms"] > 0)
    assert g1.metrics["prior_devices"] == [] and g1.metrics["calibration_device"] is None
    assert g1.metrics["latency_ms_p50"] == pytest.approx(g1.metrics["roofline_ms"] + 0.02 * kernels)
    # the host CPU: the prior of the build machine's CPU records (written before fingerprints)
    assert any(d.startswith("local@unrecorded") for d in c1.metrics["prior_devices"])


def test_missing_data_is_one_line(tmp_path):
    res = subprocess.run([sys.executable, "scripts/gpu_reference.py", "--smoke", "--out", str(tmp_path / "x"),
                          "--data", str(tmp_path / "nope.tar.gz")], cwd=REPO, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"error: no CIFAR-10 data at {tmp_path / 'nope.tar.gz'} (give --data, set $EDGECNN_CIFAR10, or run "
        f"scripts/gpu_carry.sh)"]
    assert not (tmp_path / "x").exists()


def test_gpu_carry_copies_the_archive_and_checks_the_size(tmp_path):
    archive = tmp_path / "tiny.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + os.urandom(1000))
    dest = tmp_path / "carry"
    res = subprocess.run(["bash", "scripts/gpu_carry.sh", str(dest)], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "EDGECNN_CIFAR10": str(archive)})
    assert res.returncode == 0, res.stderr
    assert (dest / "cifar10-jpeg.tar.gz").read_bytes() == archive.read_bytes()
    commit = (dest / "COMMIT").read_text().strip()
    assert len(commit.removesuffix("-dirty")) == 12
    assert "of 64.0 MiB" in res.stdout and commit in res.stdout
    res = subprocess.run(["bash", "scripts/gpu_carry.sh", str(dest)], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "EDGECNN_CIFAR10": str(tmp_path / "none.tar.gz")})
    assert res.returncode == 2 and res.stderr.startswith("error: no CIFAR-10 archive")


def test_separable_sweep_takes_precision_batch_and_accel():
    from edgecnn.profile.separable import Shape, separable_records, time_shapes
    from edgecnn.runtime.timing import TimingConfig

    tiny = TimingConfig(warmup=1, warmup_s=0.0, runs=3, min_time_s=0.0, max_time_s=0.5)
    shapes = [Shape(8, 8, 3, 6)]
    res = time_shapes(shapes, ["torch"], config=tiny, device="cpu", precision="bf16", batch=2, threads=1)
    assert res[("torch", shapes[0].key)]["status"] == "ok"
    (rec,) = separable_records("layer", shapes, res, ["torch"], device="h200-box", precision="bf16", batch=2)
    assert (rec.precision, rec.batch, rec.variant, rec.metrics["accel"]) == ("bf16", 2, shapes[0].key, "cpu")
    (gpu,) = separable_records("layer", shapes, res, ["torch"], device="h200-box", accel="cuda")
    assert gpu.variant == shapes[0].key + "+cuda" and gpu.metrics["accel"] == "cuda"
    if not torch.cuda.is_available():
        out = time_shapes(shapes, ["torch"], config=tiny, device="cuda")
        assert out[("torch", shapes[0].key)]["status"] == "unsupported"


def test_a_compile_failure_is_recorded_and_the_job_trains_eagerly(tmp_path, monkeypatch):
    import dataclasses

    from edgecnn.reference import phases, training
    from edgecnn.reference.config import TrainJob, full_config
    from edgecnn.reference.run import Context

    calls = []

    def fake_train(model, seconds, *, compile_, run_suffix="", **kw):
        calls.append((compile_, run_suffix, round(seconds)))
        if compile_ is not False:
            raise RuntimeError("BackendCompilerFailed: triton could not build its launcher")
        return {"model": model, "test_top1": 95.5, "wall_s": 100.0, "setup_s": 3.0}

    monkeypatch.setattr(training, "train_reference", fake_train)
    cfg = dataclasses.replace(full_config(), total_s=400.0)
    ctx = Context(cfg=cfg, work=tmp_path, data=tmp_path, env={})
    phases._train(ctx, TrainJob("resnet18", 145.0, None, 95.0, 180.0), 145.0)
    assert [c[:2] for c in calls] == [(None, ""), (False, "-eager")]
    res = ctx.results["train"]["resnet18"]
    assert res["compile_failed"].startswith("RuntimeError: BackendCompilerFailed") and res["target_met"] is True
    (rec,) = RecordStore(tmp_path / "profiles").load(kind="train")
    assert rec.status == "failed" and rec.variant == "gpu-reference:train:resnet18:compiled"
    assert [p["status"] for p in ctx.phases] == ["ok"]


def test_import_brings_the_run_in_once_and_refuses_a_broken_one(smoke, tmp_path):
    """scripts/gpu_import.py: records appended once, checkpoints copied, run files kept; a corrupt record
    line or a checkpoint with other weights refuses the import with one line and writes nothing."""
    import shutil
    import tarfile

    _, pack_dir, _ = smoke
    profiles, runs = tmp_path / "profiles", tmp_path / "runs"
    cmd = [sys.executable, "scripts/gpu_import.py", str(pack_dir), "--profiles", str(profiles),
           "--runs-dir", str(runs)]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    n = len(list(RecordStore(profiles).iter()))
    assert n > 0 and "h200-box/latency:" in first.stdout
    assert sorted(p.name for p in (profiles / "checkpoints").iterdir()) == [
        "lenet5-cifar10-h200-box-fp16.pt", "mobilenet_v1_025-cifar10-h200-box-fp16.pt"]
    (kept,) = list(runs.iterdir())
    assert (kept / "summary.json").is_file() and "-all-abc123test" in kept.name
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and len(list(RecordStore(profiles).iter())) == n
    assert f"{n} records were there already" in again.stdout
    # a run whose latency file has a corrupt line: refused, nothing written
    bad = tmp_path / "bad"
    root = tmp_path / "unpacked"
    _unpacked(smoke, root)
    with open(root / "profiles" / "h200-box" / "latency.jsonl", "a") as fh:
        fh.write('{"kind": "latency", "model": "x", "latency_ms_p50": "fast"}\n')
    bad.mkdir()
    with tarfile.open(bad / "gpuref.tar.gz", "w:gz") as tar:
        tar.add(root / "profiles", arcname="profiles")
    fresh = tmp_path / "fresh"
    res = subprocess.run([sys.executable, "scripts/gpu_import.py", str(bad), "--profiles", str(fresh),
                          "--runs-dir", str(runs)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("error: h200-box/latency.jsonl") and not fresh.exists()
    # a checkpoint that would replace other weights
    (profiles / "checkpoints" / "lenet5-cifar10-h200-box-fp16.pt").write_bytes(b"other weights")
    shutil.rmtree(runs)
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "exists with other weights" in res.stderr and not runs.exists()

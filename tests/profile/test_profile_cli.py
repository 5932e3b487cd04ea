"""`edgecnn profile` as a user runs it: records, rerun skip, bad input,
predicted records for an unreachable device, the separable check."""

from __future__ import annotations

import json

import pytest

from edgecnn.records import RecordStore

FAST = ["--runs", "3", "--min-time", "0.05", "--warmup", "1", "--no-report"]


def test_profile_writes_records_and_a_rerun_skips(cli, tmp_path):
    out = tmp_path / "profiles"
    args = ["profile", "--models", "lenet5", "--runtimes", "torch,onnxruntime", "--no-separable",
            "--out", str(out), "--export-dir", str(tmp_path / "export"), *FAST]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert "latency on local" in r.stdout and "onnxruntime" in r.stdout
    store = RecordStore(out)
    lat = {x.runtime: x for x in store.load(kind="latency")}
    assert set(lat) == {"torch", "onnxruntime"} and all(x.ok for x in lat.values())
    assert lat["onnxruntime"].metrics["latency_ms_p50"] > 0 and lat["onnxruntime"].metrics["threads"] >= 1
    layers = {x.runtime: x for x in store.load(kind="layer_latency")}
    rows = [row for row in layers["onnxruntime"].metrics["layers"] if row.get("time_ms")]
    assert any(row["name"] == "features.0" and row["macs"] > 0 and row["achieved_gmacs_per_s"] for row in rows) or \
        any(row["macs"] and row["time_ms"] for row in rows)
    assert (tmp_path / "export" / "lenet5-32-fp32.onnx").exists()

    again = cli(*args)
    assert again.returncode == 0 and len(store.load(kind="latency")) == 2  # nothing re-measured
    assert "already measured" in again.stderr or "already measured" in again.stdout

    other = 1 if lat["onnxruntime"].metrics["threads"] != 1 else 2  # another --threads: measured, not skipped
    third = cli(*args, "--threads", str(other))
    assert third.returncode == 0, third.stderr
    assert "0 records written" not in third.stdout and len(store.load(kind="latency")) == 4
    assert {r.runtime: r.metrics["threads"] for r in store.latest(kind="latency").values()} == \
        {"torch": other, "onnxruntime": other}


@pytest.mark.parametrize("extra, message", [
    (["--device", "nosuch"], "unknown device 'nosuch'"),
    (["--device", "jets"], "ambiguous"),
    (["--runtimes", "onnxrt"], "did you mean: onnxruntime"),
    (["--models", "lenet"], "did you mean"),
    (["--precision", "fp8"], "--precision must be"),
    (["--shape", "32,32,3"], "--shape takes M,N,Dk,Df"),
    (["--cuda-graphs"], "--cuda-graphs needs --accel cuda"),
    (["--export-jobs", "0"], "--export-jobs"),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, extra, message):
    args = ["profile", "--out", str(tmp_path), *FAST]
    if "--models" not in extra:
        args += ["--models", "lenet5"]
    r = cli(*args, *extra)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _closed_loopback_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: connections are refused


def test_unreachable_device_is_an_error_unless_predictions_are_asked_for(cli, tmp_path):
    from edgecnn.devices.spec import REPO_DEVICES
    from edgecnn.records import RecordStore

    # the committed Jetson file, pointed at a closed loopback port: tests reach no other address
    devices = tmp_path / "devices"
    devices.mkdir()
    toml = (REPO_DEVICES / "jetson-orin-nano.toml").read_text()
    toml = toml.replace('host = "jetson"', 'host = "127.0.0.1"').replace("port = 22", f"port = {_closed_loopback_port()}")
    (devices / "jetson-orin-nano.toml").write_text(toml)
    out = tmp_path / "profiles"
    env = {"EDGECNN_DEVICES": str(devices)}
    r = cli("profile", "--models", "lenet5", "--device", "jetson", "--runtimes", "onnxruntime,torch",
            "--out", str(out), *FAST, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    [line] = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert "unreachable" in line and "--predict" in line
    recs = RecordStore(out).load(kind="latency")
    assert {x.status for x in recs} == {"unreachable"}
    rows = [json.loads(ln) for ln in (out / "jetson-orin-nano" / "latency.jsonl").read_text().splitlines()]
    assert len(rows) == len(recs) and {x["source"] for x in rows} == {"none"}  # nothing measured, as written

    r = cli("profile", "--models", "lenet5", "--device", "jetson", "--runtimes", "onnxruntime,torch",
            "--out", str(out), "--json", "--predict", *FAST, env=env)
    assert r.returncode == 0, r.stderr
    assert "PREDICTED" in r.stderr
    recs = json.loads(r.stdout)
    lat = {x["runtime"]: x for x in recs if x["kind"] == "latency" and x["source"] == "predicted"}
    assert lat["onnxruntime"]["device"] == "jetson-orin-nano" and lat["onnxruntime"]["variant"] == "predicted"
    assert lat["onnxruntime"]["latency_ms_p50"] > 0 and lat["onnxruntime"]["compute_unit"] == "cpu"
    assert lat["onnxruntime"]["peak_gmacs_per_s"] == 72.0  # the Orin Nano's CPU, not its GPU
    assert lat["onnxruntime"]["achieved_gmacs_per_s"] <= 72.0
    assert "--predict" in lat["onnxruntime"]["prediction_reason"]
    assert lat["torch"]["status"] == "unsupported"  # the Orin Nano TOML does not list torch


@pytest.mark.slow  # ~16 s; tests/real_records.py runs `profile --shape` in the default run
def test_separable_shape_on_the_command_line(cli, tmp_path):
    out = tmp_path / "profiles"
    r = cli("profile", "--shape", "32,32,3,14", "--runtimes", "torch,onnxruntime", "--out", str(out), *FAST)
    assert r.returncode == 0, r.stderr
    recs = {x.runtime: x for x in RecordStore(out).load(kind="separable")}
    for rt in ("torch", "onnxruntime"):
        m = recs[rt].metrics
        assert recs[rt].ok and recs[rt].variant == "M=32,N=32,Dk=3,Df=14,stride=1"
        assert m["analytic_ratio"] == pytest.approx(1 / 32 + 1 / 9)
        assert m["counted_ratio"] == pytest.approx(1 / 32 + 1 / 9)
        assert m["measured_ratio"] == pytest.approx(m["separable_ms_p50"] / m["standard_ms_p50"])
    assert "separable check" in r.stdout


def test_ctrl_c_exits_130_and_keeps_what_was_measured(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "profiles"
    proc = subprocess.Popen([sys.executable, "-m", "edgecnn.cli", "profile", "--models", "lenet5,resnet50",
                             "--runtimes", "torch", "--no-separable", "--no-layers", "--no-report",
                             # 2,000 calls: lenet5's take well under a second; resnet50's take until the 10 s
                             # cap of a slow model's rounds, time enough to interrupt it
                             "--runs", "2000", "--min-time", "0", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a test run started in the background inherits SIGINT ignored; a user's terminal does not
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    latency = out / "local" / "latency.jsonl"
    deadline = time.time() + 120
    while not (latency.exists() and latency.read_text().strip()) and time.time() < deadline:
        time.sleep(0.2)  # lenet5 is done; resnet50 is being timed (~10 s)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted; results written so far are kept" in err and "Traceback" not in err
    assert [r.model for r in RecordStore(out).load(kind="latency")] == ["lenet5"]


def _summary_row(stdout: str, model: str, runtime: str) -> dict:
    """The summary table's row of (model, runtime), by column name."""
    lines = stdout.splitlines()
    head = next(ln for ln in lines if "model" in ln and "thr" in ln)
    cols = [c.strip() for c in head.strip("┃").split("┃")]
    [row] = [ln for ln in lines if ln.startswith("│") and [c.strip() for c in ln.strip("│").split("│")][:2] ==
             [model, runtime]]
    return dict(zip(cols, (c.strip() for c in row.strip("│").split("│"))))


def test_a_rerun_asking_other_threads_or_timing_measures_that(main_cli, fake_runtime, tmp_path):
    """`edgecnn profile --threads 1` after `--threads 2` on the same models used to print the 2-thread table
    with "0 records written": it measures 1 thread, and the table shows what was asked for. The same
    configuration again is skipped; other timing settings are measured again."""
    out = tmp_path / "profiles"
    args = ["profile", "--models", "lenet5", "--runtimes", "fake", "--in-process", "--no-layers", "--no-separable",
            "--out", out, "--export-dir", tmp_path / "export", *FAST]
    store = RecordStore(out)

    def run(*extra: str) -> dict:
        r = main_cli(*args, *extra)
        assert r.returncode == 0, r.stderr
        return _summary_row(r.stdout, "lenet5", "fake") | {"stdout": r.stdout}

    def threads_measured() -> list[int]:
        return [r.metrics["threads"] for r in store.load(kind="latency")]

    assert run("--threads", "2")["thr"] == "2" and threads_measured() == [2]
    assert run("--threads", "1")["thr"] == "1" and threads_measured() == [2, 1]
    row = run("--threads", "1")  # as asked already: nothing measured, the same row
    assert row["thr"] == "1" and "0 records written" in row["stdout"] and threads_measured() == [2, 1]
    row = run("--threads", "2")  # back to 2: the newest record is the 1-thread one, so measured again
    assert row["thr"] == "2" and threads_measured() == [2, 1, 2]
    row = run("--threads", "2", "--runs", "7")  # other timing settings: measured with them
    last = store.load(kind="latency")[-1]
    assert threads_measured() == [2, 1, 2, 2] and last.metrics["timing_config"]["runs"] == 7
    assert int(row["runs"]) == last.metrics["runs"] >= 7


def test_what_a_rerun_must_match_follows_the_options():
    """The figures a stored measurement must carry for a rerun to skip it: the threads asked for, the
    timing settings and the isolation (separate processes or one), the per-layer runs."""
    from edgecnn.profile.local import asked_setup
    from edgecnn.profile.pipeline import ProfileOptions
    from edgecnn.runtime.timing import TimingConfig

    isolated = asked_setup(ProfileOptions(runtimes=["onnxruntime"], threads=2, layer_runs=4))
    assert isolated["latency"]["threads"] == 2 and "one process per runtime" in isolated["latency"]["isolation"]
    assert isolated["layer_latency"] == {"threads": 2, "layer_runs": 4} and isolated["separable"] == {"threads": 2}
    one = asked_setup(ProfileOptions(runtimes=["onnxruntime"], threads=2, layer_runs=4, isolate=False,
                                     timing=TimingConfig(runs=7)))
    assert one["latency"]["isolation"].startswith("none") and one["latency"]["timing_config"]["runs"] == 7
    assert one["latency"]["timing_config"] != isolated["latency"]["timing_config"]

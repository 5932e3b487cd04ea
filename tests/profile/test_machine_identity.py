"""A `local` record says which machine measured it (edgecnn/machine.py), and
another machine's `local` records are another device for the store, the
report and `select`: records from two machines show as two devices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edgecnn.devices.spec import load_device
from edgecnn.machine import device_of, fingerprint_of, label, this_machine
from edgecnn.profile.pipeline import ProfileOptions, profile_local
from edgecnn.records import RecordStore
from edgecnn.runtime.timing import TimingConfig
from profile_fakes import CLOCK

REPO = Path(__file__).resolve().parents[2]
TIMING = TimingConfig(warmup=1, warmup_s=0, runs=5, min_time_s=0, max_time_s=1)
# another machine of this project: the AVX-512 VM with VNNI and BF16 (docs: ../shared/TOOLCHAIN.md)
OTHER = fingerprint_of("AMD EPYC", "x86_64", {"avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16"}, 2,
                       24, None)


def _measure(root: Path) -> RecordStore:
    store = RecordStore(root)
    profile_local(["lenet5"], load_device("local"),
                  ProfileOptions(runtimes=["fake"], timing=TIMING, layers=False, separable=False, clock=CLOCK,
                                 isolate=False), store)
    return store


def _as_other_machine(src: Path, dst: Path, fp: dict | None) -> None:
    """The same lines as another machine would have written them (its fingerprint in env.fingerprint)."""
    for f in src.rglob("*.jsonl"):
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        for row in rows:
            if fp is None:
                row["env"].pop("fingerprint")
            else:
                row["env"]["fingerprint"] = fp
        out.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_every_local_record_carries_this_machines_fingerprint(tmp_path, fake_runtime):
    store = _measure(tmp_path / "profiles")
    recs = store.load()
    assert recs and all(r.env["fingerprint"] == this_machine() for r in recs)
    assert all(r.device == "local" for r in recs)  # read back here: this machine
    fp = this_machine()
    assert len(fp["id"]) == 10 and fp["cores"] >= 1 and set(fp["isa"]) <= set(OTHER["isa"]) | set(fp["isa"])
    assert fp["id"] != OTHER["id"] or fp["isa"] == OTHER["isa"]


def test_fingerprints_tell_apart_what_changes_kernels():
    base = fingerprint_of("AMD EPYC", "x86_64", {"avx2", "fma"}, 2, 24, None)
    assert fingerprint_of("AMD EPYC", "x86_64", {"fma", "avx2", "sse4_2", "lm"}, 2, 24, None)["id"] == base["id"]
    assert OTHER["id"] != base["id"] and "avx512_vnni" in OTHER["isa"] and "sse4_2" not in base["isa"]
    assert fingerprint_of("AMD EPYC", "x86_64", {"avx2", "fma"}, 4, 24, None)["id"] != base["id"]
    assert fingerprint_of("AMD EPYC", "x86_64", {"avx2", "fma"}, 2, 24, "NVIDIA H200")["id"] != base["id"]
    assert label(OTHER).startswith("AMD EPYC, avx2+fma+avx512f+avx512_vnni+avx512_bf16, 2 cores")
    assert device_of("jetson-orin-nano", {}) == "jetson-orin-nano"
    assert device_of("local", {}) == "local@unrecorded"
    assert device_of("local", {"fingerprint": OTHER}) == ("local" if OTHER["id"] == this_machine()["id"]
                                                      else f"local@{OTHER['id']}")


def test_two_machines_records_are_two_devices_in_store_report_and_select(tmp_path, fake_runtime):
    if OTHER["id"] == this_machine()["id"]:  # this machine is the AVX-512 VM: use another core count instead
        other = fingerprint_of(OTHER["cpu"], OTHER["arch"], set(OTHER["isa"]), OTHER["cores"] + 6, 24, None)
    else:
        other = OTHER
    root = tmp_path / "profiles"
    _measure(tmp_path / "here")
    _as_other_machine(tmp_path / "here", root, other)
    _measure(root)  # this machine measures the same model into the same folder: not skipped
    _as_other_machine(tmp_path / "here", tmp_path / "old", None)
    (root / "local" / "latency.jsonl").open("a").write((tmp_path / "old" / "local" / "latency.jsonl").read_text())
    lat = RecordStore(root).load(kind="latency")
    devices = sorted({r.device for r in lat})
    assert devices == ["local", f"local@{other['id']}", "local@unrecorded"]
    report = subprocess.run([sys.executable, "-m", "edgecnn.cli", "report", "--profiles", str(root), "--format",
                             "json", "--out", str(tmp_path / "r.json")], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert report.returncode == 0, report.stderr
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["devices"] == devices
    assert any(m.startswith("local = this machine: ") for m in summary["machines"])
    assert f"local@{other['id']} = {label(other)}" in summary["machines"]
    for dev in ("local", f"local@{other['id']}"):
        res = subprocess.run([sys.executable, "-m", "edgecnn.cli", "select", "--profiles", str(root), "--device",
                              dev, "--json"], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["device"] == dev

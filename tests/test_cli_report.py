"""`edgecnn report` on records folders with corrupt lines, run as users run it (the
console script): each bad line named with its file and line number on stderr,
exit 1 when a report was built from the rest, exit 2 with one `error:` line when
nothing was readable, 0 when every line was."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EDGECNN = Path(sys.executable).with_name("edgecnn")

pytestmark = pytest.mark.skipif(not EDGECNN.exists(), reason="the edgecnn console script is not installed")


def report(profiles: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(EDGECNN), "report", "--profiles", str(profiles), "--out", str(out), *extra],
                          cwd=out.parent, capture_output=True, text=True, timeout=300)


@pytest.fixture
def records(tmp_path) -> Path:
    """A records folder with the repository's committed accuracy records of this machine."""
    folder = tmp_path / "profiles" / "local"
    folder.mkdir(parents=True)
    shutil.copy(REPO / "profiles" / "local" / "accuracy.jsonl", folder / "accuracy.jsonl")
    return tmp_path / "profiles"


def test_clean_records_exit_0(records, tmp_path):
    r = report(records, tmp_path / "index.html")
    assert r.returncode == 0, r.stderr
    assert "unreadable" not in r.stderr and (tmp_path / "index.html").exists()


def test_each_corrupt_line_is_named_and_the_exit_code_is_1(records, tmp_path):
    path = records / "local" / "accuracy.jsonl"
    good = path.read_text(encoding="utf-8").splitlines()
    assert len(good) >= 2
    lines = good[:1] + ['{"kind": "accuracy", "mod'] + good[1:2] + ["[1, 2]"] + good[2:]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = report(records, tmp_path / "index.html")
    assert r.returncode == 1, (r.returncode, r.stderr)
    named = [line for line in r.stderr.splitlines() if "unreadable record line" in line]
    assert [n.split(str(path))[1].split(":")[1] for n in named] == ["2", "4"], r.stderr
    assert all(n.startswith("warning: ") for n in named)
    assert (tmp_path / "index.html").exists() and f"from {len(good)} records" in r.stdout
    r = report(records, tmp_path / "r.json", "--format", "json", "--json")
    assert r.returncode == 1
    unreadable = json.loads(r.stdout)["unreadable"]
    assert len(unreadable) == 2 and unreadable[0].startswith(f"{path}:2: ") and unreadable[1].startswith(f"{path}:4: ")


def test_nothing_readable_is_one_error_line_and_exit_2(tmp_path):
    folder = tmp_path / "profiles" / "local"
    folder.mkdir(parents=True)
    (folder / "latency.jsonl").write_text('{"kind": "latency", \nnot json\n', encoding="utf-8")
    r = report(tmp_path / "profiles", tmp_path / "index.html")
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no record under "), r.stderr
    assert "could be read" in lines[0] and "latency.jsonl:1:" in lines[0] and "(and 1 more)" in lines[0]
    assert not (tmp_path / "index.html").exists()


def test_report_usage_errors(tmp_path):
    for argv, want in ((["report", "--format", "pdf"], "--format must be one of"),
                       (["report", "--profiles"], "requires an argument"),
                       (["report", "--nosuch"], "No such option")):
        r = subprocess.run([str(EDGECNN), *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), (argv, r.stderr)
        assert want in r.stderr, (argv, r.stderr)

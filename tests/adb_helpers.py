"""A fake ``adb`` on PATH that logs its argv and answers like a phone with
LiteRT's ``benchmark_model`` (its output: a recorded real one, tests/remote/data),
for tests of the adb path and of the records it writes (tests/remote, tests/report)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

DATA = Path(__file__).parent / "remote" / "data"

FAKE_ADB = r'''#!{python}
"""A fake adb: logs argv, answers like a phone that has benchmark_model."""
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_ADB_LOG"], "a") as fh:
    fh.write(json.dumps(args) + "\n")
serial = args[1] if args[:1] == ["-s"] else None
rest = args[2:] if serial else args
if os.environ.get("FAKE_ADB_MODE") == "nodevice":
    sys.stderr.write(f"error: device '{{serial}}' not found\n" if serial else "error: no devices/emulators found\n")
    sys.exit(1)
if rest[0] == "push":
    print(f"{{rest[1]}}: 1 file pushed, 0 skipped. 41.3 MB/s (1024 bytes in 0.000s)")
elif rest[0] == "shell":
    cmd = rest[1]
    if "getprop" in cmd:
        print("Pixel 7\n14\narm64-v8a\nBM=yes\nCPUS=8")
    elif "benchmark_model --graph" in cmd:
        sys.stdout.write(open(os.environ["FAKE_ADB_OUTPUT"]).read())
    elif "scaling_governor" in cmd:
        for c in range(4):
            print(f"@@edgecnn-state governor cpu{{c}} schedutil 1803000")
sys.exit(0)
'''


def install_fake_adb(tmp_path: Path, monkeypatch):
    """Put the fake adb first on PATH (through ``monkeypatch``); returns a function
    that reads the argv of every call made so far."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    adb = bin_dir / "adb"
    adb.write_text(FAKE_ADB.format(python=sys.executable))
    adb.chmod(adb.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "adb.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_LOG", str(log))
    monkeypatch.setenv("FAKE_ADB_OUTPUT", str(DATA / "benchmark_model_xnnpack_mobilenet_v2.txt"))
    return lambda: [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


PHONE = {"name": "pixel-7", "connection": {"transport": "adb", "serial": "28031FDH2000QX",
                                           "workdir": "/data/local/tmp/edgecnn", "retries": 0},
         "runtimes": {"available": ["litert"]}}




def tflite_exporter(tmp_path: Path):
    """The artifact the exporter would write (its bytes do not matter to the fake phone)."""
    def export(model, fmt, precision, input_size, batch, out_dir):
        p = tmp_path / f"{model}-224-{precision}.tflite"
        p.write_bytes(b"TFL3" + bytes(64))
        return p
    return export



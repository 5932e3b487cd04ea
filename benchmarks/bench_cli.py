"""How long the `edgecnn` commands that answer from static data take, each in a
fresh process (what a user waits for). Targets: 0.5 s for help, listings and
usage errors; 1.5 s for `cost resnet50` (the zoo's cost table counted ahead, edgecnn/cost/zoo_table.py).

    .venv/bin/python benchmarks/bench_cli.py [--runs 5] [--only models,info] [--compare /path/to/other/checkout]

Each command runs --runs times in a new interpreter (`python -m edgecnn.cli`,
the console script's code path); the table shows the median, the fastest run,
the exit code and the target (the script fails only on a wrong exit code:
times depend on the machine and its load, which the header prints). With
--compare, the same commands run from another checkout's source (PYTHONPATH,
same interpreter and packages), alternating with this one run by run, so a
busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTING, COUNTING = 0.5, 1.5

# (label, argv, exit code, target seconds)
COMMANDS = [
    ("--help", ["--help"], 0, LISTING),
    ("models", ["models"], 0, LISTING),
    ("info resnet18", ["info", "resnet18"], 0, LISTING),
    ("devices", ["devices"], 0, LISTING),
    ("devices --no-probe", ["devices", "--no-probe"], 0, LISTING),
    ("formats", ["formats"], 0, LISTING),
    ("runtimes", ["runtimes"], 0, LISTING),
    ("recipes", ["recipes"], 0, LISTING),
    ("error: profile --models", ["profile", "--models", "mobilenet_v9"], 2, LISTING),
    ("error: export --to", ["export", "mobilenet_v1", "--to", "onnxx"], 2, LISTING),
    ("error: profile --input-size", ["profile", "--models", "lenet5", "--input-size", "-5"], 2, LISTING),
    ("error: profile --runtimes", ["profile", "--runtimes", "onnxrt"], 2, LISTING),
    ("error: export --precision", ["export", "mobilenet_v1", "--to", "ncnn", "--precision", "int8"], 2, LISTING),
    ("error: info --input-size", ["info", "lenet5", "--input-size", "8"], 2, LISTING),
    ("error: missing argument", ["info"], 2, LISTING),
    ("cost resnet50", ["cost", "resnet50", "--no-record"], 0, COUNTING),
]


def time_once(argv: list[str], source: Path | None) -> tuple[float, int]:
    """Seconds and exit code of one `python -m edgecnn.cli ARGV` in a fresh process."""
    env = dict(os.environ, COLUMNS="160")
    if source is not None:
        env["PYTHONPATH"] = str(source)
    with tempfile.TemporaryDirectory() as tmp:  # cost --no-record writes nothing; run from a clean folder anyway
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "edgecnn.cli", *argv], cwd=tmp, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0, res.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="fresh processes per command (median shown)")
    ap.add_argument("--only", default="", help="comma-separated labels (substring match)")
    ap.add_argument("--compare", type=Path, default=None, help="another checkout to time alternately")
    args = ap.parse_args()
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    commands = [c for c in COMMANDS if not wanted or any(w in c[0] for w in wanted)]
    sources = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    print(f"fresh `python -m edgecnn.cli` per run, median of {args.runs}; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    head = f"{'command':<28} {'target s':>8}"
    for name, _ in sources:
        head += f" {name + ' s':>10} {'min':>6} {'rc':>3}"
    print(head + "  verdict")
    slow = wrong = 0
    for label, argv, rc_want, target in commands:
        times: dict[str, list[float]] = {name: [] for name, _ in sources}
        rcs: dict[str, int] = {}
        for _ in range(args.runs):
            for name, src in sources:  # alternate, run by run
                t, rcs[name] = time_once(argv, src)
                times[name].append(t)
        line = f"{label:<28} {target:>8.1f}"
        for name, _ in sources:
            line += f" {statistics.median(times[name]):>10.2f} {min(times[name]):>6.2f} {rcs[name]:>3}"
        med = statistics.median(times["this"])
        ok = med <= target and rcs["this"] == rc_want
        slow += not ok
        wrong += rcs["this"] != rc_want
        verdict = "ok" if ok else (f"exit {rcs['this']}, wanted {rc_want}" if rcs["this"] != rc_want else "SLOW")
        print(f"{line}  {verdict}")
    print(f"{len(commands) - slow} of {len(commands)} within target")
    return 1 if wrong else 0  # a slow command is a figure to read, not a failure; a wrong exit code is


if __name__ == "__main__":
    sys.exit(main())

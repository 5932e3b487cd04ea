"""Report build time and page size over synthetic records (targets: 500
records build in under 10 s into a page under 10 MB).

    .venv/bin/python benchmarks/bench_report.py [--records 100,500,2000] [--repeats 3]

Prints a markdown table: records, median build time (s), page size (MB), and
whether the 500-record targets hold. Optionally renders the 500-record page with
headless Chromium (--render) and reports the render time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edgecnn.report import build_report

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_records import write_synthetic  # noqa: E402  (benchmarks/: not part of the installed package)

TARGET_S, TARGET_MB = 10.0, 10.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="edgecnn report build benchmark")
    ap.add_argument("--records", default="100,500,2000", help="comma-separated record counts")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--render", action="store_true", help="also time a headless Chromium render")
    ns = ap.parse_args(argv)
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="edgecnn-bench-report-") as tmp:
        for n in [int(v) for v in ns.records.split(",") if v.strip()]:
            prof, devs = Path(tmp) / f"p{n}", Path(tmp) / f"d{n}"
            write_synthetic(prof, n=n, devices_dir=devs)
            times, res = [], None
            for _ in range(ns.repeats):
                t0 = time.perf_counter()
                res = build_report(prof, Path(tmp) / f"r{n}.html", devices_dir=devs)
                times.append(time.perf_counter() - t0)
            med, mb = statistics.median(times), res.size_bytes / 1e6
            render = ""
            if ns.render and n == 500:
                from edgecnn.report.screenshot import drawn_figures, dump_dom

                t0 = time.perf_counter()
                drawn = drawn_figures(dump_dom(res.path))
                render = f"{time.perf_counter() - t0:.1f} s, {sum(1 for v in drawn.values() if v)}/{len(drawn)} drawn"
            verdict = "-"
            if n == 500:
                verdict = "yes" if (med < TARGET_S and mb < TARGET_MB) else "NO"
                ok = ok and verdict == "yes"
            rows.append((n, res.n_records, med, min(times), mb, render, verdict))
    print("| records asked | records read | build s (median) | build s (min) | page MB | chromium render | "
          f"500-record targets (<{TARGET_S:g} s, <{TARGET_MB:g} MB) |")
    print("|---:|---:|---:|---:|---:|---|---|")
    for n, read, med, mn, mb, render, verdict in rows:
        print(f"| {n} | {read} | {med:.2f} | {mn:.2f} | {mb:.2f} | {render or '-'} | {verdict} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Bring what a GPU run sent back into the repository, in one line (docs/gpu.md):

    .venv/bin/python scripts/gpu_import.py /work/.device/FILES_AT

FILES_AT is the folder the device tool put the run's files in (gpuref.tar.gz or
its .partNN pieces, summary.json, log.txt). Every record is checked against
the schema before anything is written; records are appended under profiles/
(rows already there are skipped), fp16 checkpoints copied to
profiles/checkpoints/, summary.json and log.txt kept under docs/gpu-runs/.
Exit 0 when imported, 2 when refused (one error line, nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    from edgecnn.errors import EdgeCNNError
    from edgecnn.reference.importer import import_run

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="the folder holding gpuref.tar.gz (or its parts) and summary.json")
    ap.add_argument("--profiles", type=Path, default=REPO / "profiles", help="records folder (default: profiles/)")
    ap.add_argument("--runs-dir", type=Path, default=REPO / "docs" / "gpu-runs",
                    help="where summary.json and log.txt are kept (default: docs/gpu-runs/)")
    ap.add_argument("--force", action="store_true", help="replace a checkpoint that exists with other weights")
    args = ap.parse_args(argv)
    try:
        res = import_run(args.folder, profiles=args.profiles, runs_dir=args.runs_dir, force=args.force)
    except EdgeCNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for key, n in sorted(res.records.items()):
        print(f"{key}: {n} records appended")
    print(f"{res.already} records were there already; checkpoints: {', '.join(res.checkpoints) or 'none'}; "
          f"run files: {res.run_dir or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bring a GPU run's packed files into the repository (``scripts/gpu_import.py``).

The device tool puts what came back from ``$OUT`` in a folder: ``gpuref.tar.gz``
(or its ``.partNN`` pieces), ``summary.json`` and the log. ``import_run``
unpacks the tarball into a temporary folder, reads every record through the
schema (a row that does not load or validate stops the import before
anything is written: nothing half-imported), then appends each device's
records to ``profiles/<device>/<kind>.jsonl`` (rows already there, byte for
byte, are not appended twice), copies the fp16 checkpoints to
``profiles/checkpoints/`` (an existing file with other bytes is an error
unless ``force``), and keeps ``summary.json`` and ``log.txt`` under
``docs/gpu-runs/<stamp>/`` for the docs to quote.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgecnn.errors import EdgeCNNError, InvalidOptionError
from edgecnn.records import LoadReport, RecordStore, append_jsonl, read_jsonl_records
from edgecnn.schema import validate


class ImportRefused(EdgeCNNError):
    """The packed run cannot be imported as it is (says why; nothing was written)."""


@dataclass
class ImportResult:
    records: dict[str, int] = field(default_factory=dict)  # "device/kind" -> rows appended
    already: int = 0  # rows that were there already
    checkpoints: list[str] = field(default_factory=list)
    run_dir: Path | None = None


def _parts(folder: Path) -> list[Path]:
    whole = folder / "gpuref.tar.gz"
    if whole.is_file():
        return [whole]
    parts = sorted(folder.glob("gpuref.tar.gz.part*"))
    if not parts:
        raise InvalidOptionError(f"no gpuref.tar.gz (or gpuref.tar.gz.partNN) in {folder}")
    return parts


def _checked_rows(profiles: Path) -> dict[Path, list[str]]:
    """relative path -> its rows, each loaded and validated (else ImportRefused)."""
    out: dict[Path, list[str]] = {}
    store = RecordStore(profiles)
    for path in store.files():
        report = LoadReport()
        rows = []
        with open(path, encoding="utf-8") as fh:
            lines = [ln.rstrip("\n") for ln in fh if ln.strip()]
        recs = list(read_jsonl_records(path, report))
        if report.skipped or len(recs) != len(lines):
            raise ImportRefused(f"{path.relative_to(profiles)}: {'; '.join(report.skipped[:3]) or 'rows skipped'}")
        for rec, line in zip(recs, lines):
            try:
                validate(rec)
            except Exception as exc:  # noqa: BLE001 - any schema mismatch refuses the import
                raise ImportRefused(f"{path.relative_to(profiles)}: {exc}") from None
            rows.append(line)
        out[path.relative_to(profiles)] = rows
    return out


def import_run(folder: str | Path, *, profiles: str | Path = "profiles", runs_dir: str | Path = "docs/gpu-runs",
               force: bool = False) -> ImportResult:
    """Import the packed run in ``folder`` (see the module doc)."""
    from edgecnn.reference.pack import unpack

    folder, profiles, runs_dir = Path(folder), Path(profiles), Path(runs_dir)
    if not folder.is_dir():
        raise InvalidOptionError(f"{folder} is not a folder (give the folder the device tool put the files in)")
    with tempfile.TemporaryDirectory(prefix="edgecnn-gpu-import-") as tmp:
        root = Path(tmp)
        try:
            unpack(_parts(folder), root)
        except (OSError, EOFError, ValueError) as exc:
            raise ImportRefused(f"cannot unpack the run in {folder}: {type(exc).__name__}: {exc}") from None
        rows = _checked_rows(root / "profiles")
        ckpts = sorted((root / "profiles" / "checkpoints").glob("*.pt"))
        for c in ckpts:
            dest = profiles / "checkpoints" / c.name
            if dest.exists() and dest.read_bytes() != c.read_bytes() and not force:
                raise ImportRefused(f"{dest} exists with other weights (add --force to replace it)")
        result = ImportResult()
        for rel, lines in sorted(rows.items()):
            dest = profiles / rel
            have = set(dest.read_text(encoding="utf-8").splitlines()) if dest.exists() else set()
            new = [ln for ln in lines if ln not in have]
            result.already += len(lines) - len(new)
            if new:
                append_jsonl(dest, new)
                result.records[str(rel.with_suffix(""))] = len(new)
        for c in ckpts:
            (profiles / "checkpoints").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(c, profiles / "checkpoints" / c.name)
            result.checkpoints.append(c.name)
        result.run_dir = _keep_run_files(root, folder, runs_dir)
    return result


def _keep_run_files(root: Path, folder: Path, runs_dir: Path) -> Path | None:
    summary = root / "summary.json" if (root / "summary.json").is_file() else folder / "summary.json"
    if not summary.is_file():
        return None
    data = json.loads(summary.read_text(encoding="utf-8"))
    commit = str((data.get("env") or {}).get("git_commit") or "unknown")[:12]
    part = data.get("part") or ("smoke" if data.get("smoke") else "run")
    started = data.get("started") or min((r.created_at for r in RecordStore(root / "profiles").iter()),
                                         default="undated")
    stamp = f"{str(started)[:10]}-{part}-{commit}"
    dest = runs_dir / stamp
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(summary, dest / "summary.json")
    for name in ("log.txt",):
        src = root / name if (root / name).is_file() else folder / name
        if src.is_file():
            shutil.copyfile(src, dest / name)
    return dest

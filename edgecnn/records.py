"""Records: every measurement ends as one flat, self-describing JSON row.

A Record is identified by (kind, model, input_shape, dataset, device, runtime,
format, precision, batch) plus an optional ``variant`` (for example the layer
shape of a standalone separable check). Figures carry their unit in their
name (``macs``, ``params``, ``latency_ms_p50``, ``top1``). ``status`` is one of
STATUSES; a failed measurement is a record with a failed status and its
``error``, never dropped. ``source`` says how a figure was obtained:
``measured``, ``predicted`` (roofline estimate), ``analytic`` (formula) or
``published`` (a figure quoted from a paper or torchvision's weight
metadata, with its citation in ``reference``; edgecnn did not measure it).
On a record that is not ``ok`` there is no figure: ``source`` names the way
that was tried and ``status`` what became of it (a measurement that was
``unsupported`` or ``failed``). A device that did not answer (``unreachable``)
had nothing tried on it: its records' source is ``none``, whatever the writer
or an older row said (``Record.__post_init__``), so no reader counts them as
measured.

One record per identity is the one readers use (``replaces``): the newest,
except that an ``unreachable`` record never replaces an ``ok`` one, since a
device that did not answer says nothing about a figure measured before.

Stores are JSONL files under ``profiles/<device>/<kind>.jsonl``. Appends are a
single ``write`` of a whole line on a file opened with O_APPEND, followed by
fsync, so concurrent writers and interrupted runs never leave half a record;
a torn last line (power loss) is skipped on read and reported.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from edgecnn.machine import device_of, this_machine
from edgecnn.schema import SCHEMA_VERSION, field_of, upgrade, validate

KINDS = (
    "cost",  # analytic per-model cost (MACs, params, bytes), per-layer rows in `layers`
    "latency",  # timed inference of one model on one runtime/device
    "layer_latency",  # per-layer times joined to cost rows, in `layers`
    "separable",  # depthwise+pointwise vs standard conv: MACs and/or latency ratios
    "export",  # one exported artifact with its parity figures
    "accuracy",  # evaluation of a checkpoint or artifact on a dataset
    "train",  # one training run's summary
    "train_epoch",  # one epoch of a training run (the training curve)
    "prediction_error",  # a validation of the latency predictor against measurements (bench_predict.py)
    "calibration",  # the latency model's parameters fitted on a device's own measurements (edgecnn calibrate)
)

STATUSES = (
    "ok",
    "failed",  # attempted and failed (error says why)
    "export_failed",
    "validation_failed",
    "prepared",  # built for a runtime this machine cannot run (TensorRT here); parity from parity_runtime
    "unsupported",  # the runtime/format cannot do this here (error says why)
    "unreachable",  # the device could not be reached
)

SOURCES = ("measured", "predicted", "analytic", "published", "none")  # none: nothing measured (unreachable)

_IDENTITY = (
    "kind",
    "model",
    "input_shape",
    "dataset",
    "device",
    "runtime",
    "format",
    "precision",
    "batch",
    "variant",
)


@dataclass
class Record:
    kind: str
    model: str
    status: str = "ok"
    source: str = "measured"
    device: str = "local"
    runtime: str | None = None
    format: str | None = None
    precision: str = "fp32"
    batch: int = 1
    input_shape: list[int] | None = None  # one sample, NCHW without N: [3, 224, 224]
    dataset: str | None = None
    variant: str | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: _now())
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown record kind {self.kind!r}; expected one of {KINDS}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown record status {self.status!r}; expected one of {STATUSES}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown record source {self.source!r}; expected one of {SOURCES}")
        if self.status == "unreachable":  # nothing was measured; rows written before said "measured"
            self.source = "none"
        elif self.source == "none":
            raise ValueError(f"source 'none' (nothing measured) is for unreachable records, not {self.status!r} ones")
        if self.input_shape is not None:
            self.input_shape = [int(v) for v in self.input_shape]

    # -- identity -----------------------------------------------------------
    def key(self) -> tuple:
        """What makes two records "the same measurement" (for skip/resume)."""
        vals = []
        for name in _IDENTITY:
            v = getattr(self, name)
            vals.append(tuple(v) if isinstance(v, list) else v)
        return tuple(vals)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def metric(self, name: str) -> Any:
        """The figure ``name`` (None when absent). ``name`` must be declared for
        this record's kind in ``edgecnn.schema``: readers cannot ask for a field
        no writer writes."""
        field_of(self.kind, name)
        return self.metrics.get(name)

    # -- (de)serialisation: a flat row ----------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Flat row: identity and status fields, then the figures, then ``env``."""
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("metrics",)}
        clash = set(self.metrics) & set(row)
        if clash:
            raise ValueError(f"metric names clash with record fields: {sorted(clash)}")
        row.update(self.metrics)
        return row

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False, default=_json_default, allow_nan=False)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Record":
        """Inverse of ``to_dict``. Unknown top-level keys become metrics, so older
        and newer schema rows still load; a missing required field raises
        ``ValueError`` (the report skips such rows and says why)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"metrics"}
        missing = [k for k in ("kind", "model") if k not in row]
        if missing:
            raise ValueError(f"record is missing required field(s) {missing}")
        known = {k: v for k, v in row.items() if k in names}
        metrics = {k: v for k, v in row.items() if k not in names}
        return cls(**known, metrics=metrics)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} in a record")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------
# environment captured with each record
# ---------------------------------------------------------------------------
_ENV_CACHE: dict[str, Any] | None = None


def environment(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Package versions, host, CPU, threads and git commit (computed once)."""
    global _ENV_CACHE
    if _ENV_CACHE is None:
        from importlib import metadata

        versions = {}
        for pkg in ("edgecnn", "torch", "torchvision", "onnx", "onnxruntime", "ai-edge-litert",
                    "litert-torch", "fvcore", "numpy", "tensorrt"):
            try:
                versions[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                pass
        _ENV_CACHE = {
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "versions": versions,
            "git_commit": git_commit(),
            "fingerprint": this_machine(),
        }
    env = dict(_ENV_CACHE)
    if extra:
        env.update(extra)
    return env


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    """The commit of the edgecnn checkout, with ``-dirty`` if it has changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        if not sha:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


# ---------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------
@dataclass
class LoadReport:
    """What was skipped while reading records, and why (one line each)."""

    skipped: list[str] = field(default_factory=list)


class RecordStore:
    """JSONL records under a root folder: ``<root>/<device>/<kind>.jsonl``."""

    def __init__(self, root: str | os.PathLike = "profiles") -> None:
        self.root = Path(root)

    def path_for(self, record: Record) -> Path:
        return self.root / safe_name(record.device) / f"{record.kind}.jsonl"

    def append(self, record: Record) -> Path:
        """Validate ``record`` against ``edgecnn.schema`` (a mismatch is a bug in
        the writer: ``RecordSchemaError``) and append it as one line. A
        ``local`` record without a machine fingerprint gets this machine's: it
        is being written here."""
        validate(record)
        stamp(record)
        path = self.path_for(record)
        append_jsonl(path, [record.to_json()])
        return path

    def extend(self, records: Iterable[Record]) -> None:
        by_path: dict[Path, list[str]] = {}
        records = list(records)
        for r in records:
            validate(r)
            stamp(r)
        for r in records:
            by_path.setdefault(self.path_for(r), []).append(r.to_json())
        for path, lines in by_path.items():
            append_jsonl(path, lines)

    def files(self) -> list[Path]:
        if not self.root.exists():
            return []
        return sorted(self.root.rglob("*.jsonl"))

    def load(self, report: LoadReport | None = None, **where: Any) -> list[Record]:
        """All records (optionally filtered by field equality, e.g. kind="latency").
        Given both ``kind`` and ``device``, only the file ``append`` writes such
        records to is read, not the whole tree (``local/`` for ``local@<id>``). Unreadable rows are skipped and
        described in ``report``."""
        kind, device = where.get("kind"), where.get("device")
        if isinstance(kind, str) and isinstance(device, str):
            # another machine's local records are stored under local/ too (edgecnn.machine.device_of)
            stored = "local" if device.startswith("local@") else device
            path = self.root / safe_name(stored) / f"{kind}.jsonl"
            rows: Iterable[Record] = read_jsonl_records(path, report) if path.exists() else ()
        else:
            rows = self.iter(report)
        return [rec for rec in rows if all(getattr(rec, k, rec.metrics.get(k)) == v for k, v in where.items())]

    def iter(self, report: LoadReport | None = None) -> Iterator[Record]:
        for path in self.files():
            yield from read_jsonl_records(path, report)

    def latest(self, **where: Any) -> dict[tuple, Record]:
        """The record readers use per identity (``replaces``)."""
        latest: dict[tuple, Record] = {}
        for rec in self.load(**where):
            old = latest.get(rec.key())
            if old is None or replaces(rec, old):
                latest[rec.key()] = rec
        return latest

    def current(self, record_like: Record) -> Record | None:
        """The record readers use for this identity (``replaces``), or None."""
        path = self.path_for(record_like)
        if not path.exists():
            return None
        key, best = record_like.key(), None
        for rec in read_jsonl_records(path):
            if rec.key() == key and (best is None or replaces(rec, best)):
                best = rec
        return best

    def has_ok(self, record_like: Record, setup: dict[str, Any] | None = None) -> bool:
        """Is the record readers use for this identity ``ok``, and measured with
        each (figure, value) of ``setup`` (the threads, the timing settings)?
        A rerun skips what this says is there (resume), and measures again
        what was measured some other way. A figure the record does not carry
        (trtexec's records, older rows) cannot differ and is not compared."""
        rec = self.current(record_like)
        return rec is not None and rec.ok and all(rec.metrics.get(k, v) == v for k, v in (setup or {}).items())


def replaces(rec: Record, old: Record) -> bool:
    """Does ``rec`` take ``old``'s place as the record of their identity? The
    newer does (``created_at``; at equal times ``rec``, read later), except
    that an ``unreachable`` record never replaces an ``ok`` one (and an ``ok``
    one always replaces an ``unreachable`` one)."""
    if old.ok and rec.status == "unreachable":
        return False
    if rec.ok and old.status == "unreachable":
        return True
    return str(old.created_at or "") <= str(rec.created_at or "")


def read_jsonl_records(path: Path, report: LoadReport | None = None) -> Iterator[Record]:
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
                version = row.get("schema_version", 0)
                if not isinstance(version, int) or version > SCHEMA_VERSION:
                    raise ValueError(f"schema_version {version} is newer than this edgecnn ({SCHEMA_VERSION})")
                rec = Record.from_dict(upgrade(row))
                rec.device = device_of(rec.device, rec.env)  # another machine's "local" is not this one
                yield rec
            except (ValueError, TypeError) as exc:
                if report is not None:
                    report.skipped.append(f"{path}:{lineno}: {exc}")


def stamp(record: Record) -> None:
    """Give a ``local`` record written here this machine's fingerprint when it has none."""
    if record.device == "local" and not (isinstance(record.env, dict) and record.env.get("fingerprint")):
        record.env = {**(record.env or {}), "fingerprint": this_machine()}


def append_jsonl(path: Path, lines: list[str]) -> None:
    """Append whole lines with one write on an O_APPEND descriptor, then fsync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # a torn previous line (crash mid-write) must not swallow this one
        if os.fstat(fd).st_size > 0:
            with open(path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _shareable(path: str | os.PathLike) -> None:
    """mkstemp makes files 0600; give the finished file the mode a plain ``open``
    would (0666 less the umask), so artifacts and runs are readable by others."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write a file so readers see the old or the new content, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _shareable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


class atomic_output:
    """Context manager giving a temporary path beside ``path``; it is renamed
    onto ``path`` only if the block succeeds (for writers that want a filename,
    such as ``torch.save`` or ``torch.onnx.export``)::

        with atomic_output("export/m.onnx") as tmp:
            torch.onnx.export(model, x, tmp)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix + ".tmp",
                                   dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self.tmp is not None
        if exc_type is None:
            if not self.tmp.exists() or self.tmp.stat().st_size == 0:
                self.tmp.unlink(missing_ok=True)
                raise OSError(f"writing {self.path} produced an empty file")
            _shareable(self.tmp)
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def check_writable(out_dir: Path) -> None:
    """Raise one line if ``out_dir`` cannot be created or written. Creates nothing:
    a missing folder is checked through its nearest existing parent (the export
    creates it only when it writes the artifact)."""
    from edgecnn.errors import InvalidOptionError

    target = out_dir
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        what = "it is a file" if target == out_dir else f"{target} is a file"
        raise InvalidOptionError(f"cannot write to output folder {out_dir}: {what}, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".edgecnn-write-test.", dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InvalidOptionError(f"cannot write to output folder {out_dir}: {exc.strerror or exc}") from None


def safe_name(name: str) -> str:
    """``name`` as a file or folder name: anything but letters, digits and ``-_.`` becomes ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "unknown"

"""Pack a run's files into a few files small enough to bring back from the
GPU machine (its tool returns at most 8 files of at most 16 MiB, no more than
two folders deep).

One gzipped tar of the chosen members; when it is larger than ``max_bytes``
it is cut into ``NAME.tar.gz.part00``, ``.part01``, ... (join them with
``cat NAME.tar.gz.part* | tar xz``). Each file's size and SHA-256 are
returned for the summary.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Iterable

from edgecnn.errors import EdgeCNNError

MAX_BYTES = 15 * 2**20  # under both 16 MB and 16 MiB


class PackError(EdgeCNNError):
    """The packed files would not fit the limits."""


def members(work: Path, patterns: Iterable[str]) -> list[Path]:
    """Files under ``work`` matching the glob ``patterns`` (folders taken whole), sorted, unique."""
    found: dict[str, Path] = {}
    for pat in patterns:
        for p in sorted(work.glob(pat)):
            for f in ([p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())):
                if not f.name.startswith("."):  # no temporary or probe files
                    found[str(f.relative_to(work))] = f
    return [found[k] for k in sorted(found)]


def pack(work: Path, files: list[Path], dest: Path, *, name: str = "gpuref", max_bytes: int = MAX_BYTES,
         max_parts: int = 6) -> list[dict]:
    """Write ``files`` (inside ``work``; stored relative to it) as ``dest/NAME.tar.gz``,
    cut into parts of at most ``max_bytes`` when larger. Returns [{file, bytes,
    sha256}]; raises PackError when more than ``max_parts`` parts are needed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=9) as tar:
        for f in files:
            tar.add(f, arcname=str(f.relative_to(work)), recursive=False)
    data = buf.getvalue()
    n_parts = max(1, -(-len(data) // max_bytes))
    if n_parts > max_parts:
        raise PackError(f"the packed run is {len(data) / 2**20:.1f} MiB: {n_parts} parts of "
                        f"{max_bytes / 2**20:.0f} MiB, more than the {max_parts} allowed")
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob(f"{name}.tar.gz*"):
        old.unlink()
    out = []
    for i in range(n_parts):
        chunk = data[i * max_bytes:(i + 1) * max_bytes]
        path = dest / (f"{name}.tar.gz" if n_parts == 1 else f"{name}.tar.gz.part{i:02d}")
        path.write_bytes(chunk)
        out.append({"file": path.name, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
    return out


def unpack(parts: list[Path], into: Path) -> list[str]:
    """Join ``parts`` (in name order) and extract them into ``into``; returns the member names."""
    data = b"".join(p.read_bytes() for p in sorted(parts))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
        tar.extractall(into, filter="data")
    return names

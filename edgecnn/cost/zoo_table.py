"""Every zoo model's cost table at its card's input size, counted ahead of
time, so that ``edgecnn cost resnet50`` and the latency predictor need not
import torch (2-5 s on a 2-core machine) to read a table that never changes.

``zoo_costs.json.gz`` beside this file holds, per zoo model, the rows the
engine (``edgecnn.cost.engine.count_model``) counts at the card's input size,
1 sample, fp32 bytes, and the totals; other precisions scale every byte
count by their bytes per element (the engine prices weights and
activations at one width). It also holds a digest of the sources that
decide those rows (the cost engine and formulas, the zoo's model files) and
the torch version that traced them: where either differs from this
installation's, the table is not used and the model is counted live.
``python -m edgecnn.cost.zoo_table`` writes the table, ``--check`` compares it
with a fresh count; ``tests/cost/test_zoo_table.py`` keeps it equal to the
engine's.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Optional

from edgecnn.cost.rows import (BYTES_PER_ELEMENT, CostReport, LayerCost, UnsupportedOp, bytes_per_element,
                               cost_totals)

TABLE = Path(__file__).with_name("zoo_costs.json.gz")
_PKG = Path(__file__).resolve().parents[1]
COLUMNS = ("name", "type", "op", "category", "input_shape", "output_shape", "kernel", "stride", "groups", "macs",
           "params", "bytes_read", "bytes_written", "in_channels", "out_channels")


def sources_digest() -> str:
    """A hash of the files whose change can change a counted row."""
    h = hashlib.sha256()
    files = [_PKG / "cost" / n for n in ("rows.py", "engine.py", "formulas.py")]
    files += sorted(p for p in (_PKG / "models").glob("*.py") if p.name != "cards_table.py")
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def torch_version() -> str:
    """The installed torch's version, read from its metadata (no import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return ""


def _read() -> Optional[dict[str, Any]]:
    try:
        return json.loads(gzip.decompress(TABLE.read_bytes()))
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def _table() -> Optional[dict[str, Any]]:
    data = _read()
    if data is None or data.get("sources") != sources_digest() or data.get("torch") != torch_version():
        return None
    return data


def table_state() -> str:
    """'current'; 'stale: ...' (the sources or torch changed since it was written); 'missing'; or 'unreadable'."""
    data = _read()
    if data is None:
        return "unreadable: not gzip JSON (python -m edgecnn.cost.zoo_table)" if TABLE.exists() else "missing"
    if data.get("sources") != sources_digest():
        return "stale: the cost engine or the zoo changed (python -m edgecnn.cost.zoo_table)"
    if data.get("torch") != torch_version():
        return f"stale: counted with torch {data.get('torch')}, this is torch {torch_version()}"
    return "current"


def lookup(name: str, precision: str = "fp32") -> Optional[tuple[CostReport, dict[str, Any]]]:
    """(the cost report, the model's config) of zoo model ``name`` at its
    card's input size and classes, 1 sample, at ``precision``; None where the
    table lacks it or is stale."""
    table = _table()
    entry = table["models"].get(name) if table else None
    if entry is None:
        return None
    bpe = bytes_per_element(precision)
    rows = []
    for values in entry["rows"]:
        d = dict(zip(COLUMNS, values))
        d["bytes_read"] = d["bytes_read"] * bpe // 4
        d["bytes_written"] = d["bytes_written"] * bpe // 4
        total = d["bytes_read"] + d["bytes_written"]
        rows.append(LayerCost(**d, arithmetic_intensity=round(d["macs"] / total, 4) if total else 0.0))
    unsupported = [UnsupportedOp(**u) for u in entry["unsupported"]]
    report = CostReport(layers=rows, totals=cost_totals(rows, entry["params"], bpe), unsupported=unsupported,
                        input_shape=list(entry["input_shape"]), precision=precision, batch=1)
    return report, dict(entry["config"])


def count_zoo(name: str, input_size: Optional[int] = None, precision: str = "fp32", batch: int = 1,
              num_classes: Optional[int] = None) -> CostReport:
    """``engine.count_model`` (same arguments, same report), from the table
    where it holds the answer: the card's input size and classes, batch 1."""
    if batch == 1 and num_classes is None:
        found = lookup(name, precision if precision in BYTES_PER_ELEMENT else "fp32")
        if found is not None and input_size in (None, found[1]["input_size"]):
            return found[0]
    from edgecnn.cost.engine import count_model

    return count_model(name, input_size, precision, batch, num_classes)


def build() -> dict[str, Any]:
    """Count every zoo model now (imports torch and the zoo)."""
    import torch

    from edgecnn.cost.engine import count_model
    from edgecnn.models import MODELS, create_model

    models = {}
    for name in MODELS.list():
        report = count_model(name)
        with torch.device("meta"):
            cfg = dict(create_model(name).edgecnn_config)
        rows = [[r.to_dict().get(c) for c in COLUMNS] for r in report.layers]
        models[name] = {"config": cfg, "input_shape": report.input_shape, "params": report.totals["params"],
                        "unsupported": [u.to_dict() for u in report.unsupported], "rows": rows}
    return {"sources": sources_digest(), "torch": torch_version(), "columns": list(COLUMNS), "models": models}


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fresh = build()
    if "--check" in argv:
        same = _read() == fresh
        print(f"{TABLE} is {'up to date' if same else 'out of date: run python -m edgecnn.cost.zoo_table'}")
        return 0 if same else 1
    text = json.dumps(fresh, separators=(",", ":"), sort_keys=True).encode()
    tmp = TABLE.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
    tmp.replace(TABLE)
    print(f"wrote {TABLE} ({len(fresh['models'])} models, {TABLE.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

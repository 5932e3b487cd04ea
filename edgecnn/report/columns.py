"""The page's tables: a column (key, label, unit, format) and a table of rows
(written into the page, and out as JSON and CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: str = ""  # "" for text
    fmt: str = ""  # format spec for the page ("" = as text; "si" = 1.2 M; "siB" = 1.2 MB)


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": [{"key": c.key, "label": c.label, "unit": c.unit} for c in self.columns],
                "rows": [{c.key: _plain(r.get(c.key)) for c in self.columns} for r in self.rows]}

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([f"{c.label} ({c.unit})" if c.unit else c.label for c in self.columns])
        for r in self.rows:
            w.writerow(["" if r.get(c.key) is None else _plain(r.get(c.key)) for c in self.columns])
        return buf.getvalue()


def _plain(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if hasattr(v, "item"):
        return v.item()
    return v

"""The pieces every record field is declared with (``edgecnn/schema.py``
declares the fields themselves): value types, the rules for when a field is
required, ``Field`` with its unit and range, and shorthands for milliseconds,
percent and counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

# value types ---------------------------------------------------------------
NUM, INT, STR, BOOL, LIST, DICT, ANY = "number", "integer", "string", "boolean", "list", "object", "any"


def type_ok(value: Any, typ: str) -> bool:
    if typ == ANY:
        return True
    if typ == NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if typ == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == STR:
        return isinstance(value, str)
    if typ == BOOL:
        return isinstance(value, bool)
    if typ == LIST:
        return isinstance(value, (list, tuple))
    if typ == DICT:
        return isinstance(value, dict)
    raise ValueError(f"unknown field type {typ!r}")


# when a field is required --------------------------------------------------
Rule = Callable[[Any], bool]  # record -> is the field required on it?


def ok(rec: Any) -> bool:
    return rec.status == "ok"


def ok_measured(rec: Any) -> bool:
    return rec.status == "ok" and rec.source == "measured"


def ok_predicted(rec: Any) -> bool:
    return rec.status == "ok" and rec.source == "predicted"


def ok_measured_gpu(rec: Any) -> bool:
    """An ok measurement the torch or TensorRT runner took on a CUDA device."""
    return ok_measured(rec) and "cuda" in (rec.variant or "").split("+")


def parity_ran(rec: Any) -> bool:
    return rec.status in ("ok", "validation_failed", "prepared") and rec.dataset is not None


@dataclass(frozen=True)
class Field:
    """One metric field: its unit ("" when it has none), value type, when it is
    required, and its allowed range (inclusive; None = open)."""

    name: str
    unit: str
    type: str
    doc: str = ""
    required: Optional[Rule] = None
    lo: Optional[float] = None
    hi: Optional[float] = None

    def check(self, value: Any) -> Optional[str]:
        """None when ``value`` fits, else what is wrong (``None`` values fit:
        an optional figure that is unknown)."""
        if value is None:
            return None
        if not type_ok(value, self.type):
            return f"{self.name} must be a {self.type}, got {type(value).__name__} {value!r:.60}"
        if self.type in (NUM, INT):
            if self.lo is not None and value < self.lo:
                return f"{self.name} = {value} is below {self.lo} ({self.unit or 'no unit'})"
            if self.hi is not None and value > self.hi:
                return f"{self.name} = {value} is above {self.hi} ({self.unit or 'no unit'})"
        return None


def declare_fields(*fields: Field) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for f in fields:
        if f.name in out:
            raise ValueError(f"field {f.name!r} declared twice")
        out[f.name] = f
    return out


def ms(name: str, doc: str = "", required: Optional[Rule] = None) -> Field:
    return Field(name, "ms", NUM, doc, required, lo=0.0)


def pct(name: str, doc: str = "", required: Optional[Rule] = None) -> Field:
    return Field(name, "%", NUM, doc, required, lo=0.0, hi=100.0)


def count(name: str, doc: str = "", required: Optional[Rule] = None) -> Field:
    return Field(name, "count", INT, doc, required, lo=0)

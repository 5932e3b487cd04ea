"""Joins across record kinds, shared by the report and ``select``.

Records of different kinds describe one model from different sides: its
latency on a device (``latency``), its cost (``cost``), its accuracy
(``accuracy``) and how its export fared (``export``). This module holds the
few rules that put them together, so the report and the selector join the
same way:

- ``newest``: the newest record per identity (``Record.key``; later
  ``created_at`` wins, equal times: the later line), except that a device
  that did not answer (``unreachable``) never hides a measurement
  (``records.replaces``);
- ``Lookup``: the cost and the accuracy record that belong to a latency point
  (same model and input shape; accuracy of the same format and precision,
  else the model's PyTorch fp32 figure, else a published one, labelled);
- ``export_format_of``: the export format an artifact format comes from
  (a TensorRT ``engine`` is built by the ``tensorrt`` exporter).

Figures are read through the schema (``Record.metric``); units as declared
there (top-1 in percent, latency in ms).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from edgecnn.records import Record, replaces

PYTORCH_FORMATS = {None, "", "pytorch", "torch", "eager", "torchscript"}
# artifact format a runtime loads -> the exporter that makes it (None: no export, the nn.Module itself)
EXPORT_FORMAT = {"pytorch": None, "onnx": "onnx", "tflite": "tflite", "engine": "tensorrt", "tensorrt": "tensorrt"}


def num(value: Any) -> float | None:
    """A finite float, or None for anything else (strings, NaN, bools, None)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def norm_format(fmt: str | None) -> str:
    return "pytorch" if fmt in PYTORCH_FORMATS else str(fmt).lower()


def export_format_of(fmt: str | None) -> str | None:
    """The export format (``edgecnn export --to``) behind an artifact format:
    onnx -> onnx, tflite -> tflite, engine -> tensorrt; None for PyTorch."""
    f = norm_format(fmt)
    return EXPORT_FORMAT.get(f, f)


def same_shape(a: list[int] | None, b: list[int] | None) -> bool:
    """Equal input shapes, an unknown shape matching any."""
    return a is None or b is None or list(a) == list(b)


def identity(rec: Record) -> tuple:
    """What makes two records the same measurement; training epochs also by epoch."""
    key = rec.key()
    if rec.kind == "train_epoch":
        key = key + (str(rec.metric("epoch")),)
    return key


def newest(records: Iterable[Record]) -> tuple[list[Record], set[int]]:
    """(the record readers use per identity, in input order; id() of the
    others). A later ``created_at`` wins, on equal times the later record;
    an ``unreachable`` record never wins over an ``ok`` one (``replaces``)."""
    records = list(records)
    best: dict[tuple, Record] = {}
    superseded: set[int] = set()
    for rec in records:
        key = identity(rec)
        old = best.get(key)
        if old is not None and not replaces(rec, old):
            superseded.add(id(rec))
            continue
        if old is not None:
            superseded.add(id(old))
        best[key] = rec
    keep = {id(v) for v in best.values()}
    return [r for r in records if id(r) in keep], superseded


class Lookup:
    """Cost and accuracy per model, for joining onto latency points."""

    def __init__(self, records: Iterable[Record]) -> None:
        records = list(records)
        # oldest first, so [-1] below is the newest match
        self.cost = sorted((r for r in records if r.kind == "cost" and r.ok), key=lambda r: str(r.created_at or ""))
        self.acc = sorted((r for r in records if r.kind == "accuracy" and r.ok and num(r.metric("top1")) is not None),
                          key=lambda r: str(r.created_at or ""))

    def cost_for(self, rec: Record) -> Record | None:
        hits = [c for c in self.cost if c.model == rec.model and same_shape(c.input_shape, rec.input_shape)]
        same_prec = [c for c in hits if c.precision == rec.precision]
        pick = same_prec or hits
        return pick[-1] if pick else None

    def accuracy_for(self, rec: Record) -> tuple[Record | None, str]:
        """Accuracy of the same format and precision as ``rec``; else the
        PyTorch fp32 accuracy of the model on the same dataset (the note says
        so); else a published figure; else (None, "no accuracy record").

        A measured record replaces a published one of the same model where it
        is on the published figure's dataset (a partial ImageNet folder does
        not replace ImageNet's top-1). Where ``rec`` names pretrained weights
        (export records do), records of those weights come first. The note
        names the weights that gave the figure."""
        fmt = norm_format(rec.format if rec.format is not None else
                          (None if rec.runtime in (None, "torch") else rec.runtime))
        hits = [a for a in self.acc if a.model == rec.model and same_shape(a.input_shape, rec.input_shape)
                and (rec.dataset is None or a.dataset is None or a.dataset == rec.dataset)]
        want = rec.metric("weights") if rec.kind in ("export", "accuracy") else None
        if named_weights(want):
            same = [a for a in hits if a.metric("weights") == want]
            hits = same or hits
        published = [a for a in hits if a.source == "published"]
        published_on = {a.dataset for a in published}
        measured = [a for a in hits if a.source != "published" and (not published or a.dataset in published_on)]
        exact = [a for a in measured if norm_format(a.format) == fmt and a.precision == rec.precision]
        if exact:
            return exact[-1], f"{fmt} {rec.precision}{weights_note(exact[-1])}"
        base = [a for a in measured if norm_format(a.format) == "pytorch" and a.precision == "fp32"]
        if base:
            if fmt == "pytorch" and rec.precision == "fp32":
                return base[-1], f"pytorch fp32{weights_note(base[-1])}"
            return base[-1], f"pytorch fp32{weights_note(base[-1])} (no {fmt} {rec.precision} accuracy record)"
        pub_base = [a for a in published if norm_format(a.format) == "pytorch" and a.precision == "fp32"]
        if pub_base:  # only a figure quoted from a paper / torchvision: say so wherever it is shown
            pub = pub_base[-1]
            return pub, (f"published {pub.dataset or ''} top-1, not measured here "
                         f"({pub.metric('reference') or 'source not recorded'}){weights_note(pub)}")
        return None, "no accuracy record"


def named_weights(weights: Any) -> bool:
    """Pretrained weights with a name (IMAGENET1K_V2, a timm tag, a file), not
    a checkpoint trained here, random or a given module."""
    return isinstance(weights, str) and weights not in ("", "checkpoint", "random", "given")


def weights_note(acc: Record) -> str:
    """``, weights IMAGENET1K_V2 (torchvision ...)`` for an accuracy record of named weights."""
    w = acc.metric("weights")
    if not named_weights(w):
        return ""
    src = acc.metric("weights_source")
    return f", weights {w}" + (f" ({src})" if src and src != acc.metric("reference") else "")

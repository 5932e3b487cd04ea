"""What the records say about one model's weights in one format and precision.

Latency does not depend on the weights; accuracy and export parity do. This
module answers, for a latency record, which sets of weights it could ship
with and, for each, the accuracy and the export verdict that belong to them:

- **weights** are named by the checkpoint file they came from (the training
  run's ``checkpoint``, an ``eval``'s ``target``, an export's ``checkpoint``;
  an evaluated artifact is traced to its export record's checkpoint), or
  ``published`` for a figure quoted from a paper or torchvision;
- **accuracy**, best evidence first: the accuracy record of the same weights,
  format and precision (``measured``); else the PyTorch fp32 accuracy of the
  same weights when the export to this format and precision passed its parity
  check (``pytorch_fp32_parity``); else a published figure (``published``);
  else none;
- **parity**: the newest export record of (model, format, precision, input)
  for these weights (any weights when they are ``published`` or unknown):
  ``ok`` and ``prepared`` passed, ``validation_failed`` and ``export_failed``
  did not.

All figures are read through the schema (``Record.metric``); top-1 in percent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from edgecnn.join import export_format_of, norm_format, num, same_shape
from edgecnn.records import Record

PUBLISHED = "published"
FAILED_EXPORT = ("validation_failed", "export_failed")
PASSED_EXPORT = ("ok", "prepared")

# accuracy evidence, most trusted first (the rank of a tier is its index)
ACCURACY_TIERS = ("measured", "pytorch_fp32_parity", "published", "none")


def norm_path(path: object) -> str | None:
    return os.path.normpath(str(path)) if isinstance(path, str) and path else None


@dataclass
class Accuracy:
    """The top-1 (percent) an option is judged by, and where it comes from."""

    top1: float | None
    tier: str  # one of ACCURACY_TIERS
    note: str
    record: Record | None = None
    dataset: str | None = None

    @property
    def rank(self) -> int:
        return ACCURACY_TIERS.index(self.tier)


@dataclass
class Parity:
    """The export verdict for one (model, weights, format, precision)."""

    status: str | None  # the export record's status; None: no export record (or no export needed)
    record: Record | None = None
    needed: bool = True  # False for PyTorch itself (nothing exported)

    @property
    def failed(self) -> bool:
        return self.status in FAILED_EXPORT

    @property
    def passed(self) -> bool:
        return self.status in PASSED_EXPORT


class Evidence:
    """Accuracy and export records, indexed for ``weights_for`` and ``resolve``."""

    def __init__(self, records: Iterable[Record]) -> None:
        records = sorted(records, key=lambda r: str(r.created_at or ""))  # oldest first: [-1] is the newest
        self.acc: dict[str, list[Record]] = {}  # model -> its accuracy records, oldest first
        self.exports: dict[str, list[Record]] = {}  # model -> its export records, oldest first
        for r in records:
            if r.kind == "accuracy" and r.ok and num(r.metric("top1")) is not None:
                self.acc.setdefault(r.model, []).append(r)
            elif r.kind == "export":
                self.exports.setdefault(r.model, []).append(r)
        self.export_at = {p: x for xs in self.exports.values() for x in xs if (p := norm_path(x.metric("path")))}

    # -- weights ------------------------------------------------------------
    def export_weights(self, x: Record) -> str:
        """The weights an export record was made from: its checkpoint, or what
        it says (``random``, ``given``)."""
        kind = x.metric("weights")
        ckpt = norm_path(x.metric("checkpoint"))
        if kind == "checkpoint" and ckpt:
            return ckpt
        return str(kind or "unknown")

    def accuracy_weights(self, a: Record) -> str:
        if a.source == "published":
            return PUBLISHED
        if norm_format(a.format) == "pytorch":
            return norm_path(a.metric("checkpoint")) or norm_path(a.metric("target")) or "unknown"
        artifact = norm_path(a.metric("target")) or norm_path(a.metric("checkpoint"))
        x = self.export_at.get(artifact) if artifact else None
        return self.export_weights(x) if x is not None else (artifact or "unknown")

    def _acc(self, lat: Record, dataset: str | None) -> list[Record]:
        return [a for a in self.acc.get(lat.model, ()) if same_shape(a.input_shape, lat.input_shape)
                and (dataset is None or a.dataset == dataset)]

    def weights_for(self, lat: Record, dataset: str | None = None) -> list[str | None]:
        """Every set of weights the records tie to ``lat``'s model in its format
        and precision (trained checkpoints first, ``published`` last); ``[None]``
        when nothing is known about its weights."""
        fmt, ef = norm_format(lat.format), export_format_of(lat.format)
        keys: list[str] = []
        for a in self._acc(lat, dataset):
            if a.source == "published":
                continue
            same = self._same_artifact(a, fmt) and a.precision == lat.precision
            base = norm_format(a.format) == "pytorch" and a.precision == "fp32" and (ef is not None or fmt == "pytorch")
            if same or (base and (ef is None or self._exports(lat, self.accuracy_weights(a)))):
                keys.append(self.accuracy_weights(a))
        if ef is not None:
            keys += [self.export_weights(x) for x in self._exports(lat, None)
                     if x.metric("weights") == "checkpoint" and norm_path(x.metric("checkpoint"))]
        out: list[str | None] = list(dict.fromkeys(k for k in keys if k not in ("unknown", "random")))
        if any(a.source == "published" and norm_format(a.format) == "pytorch" for a in self._acc(lat, dataset)):
            out.append(PUBLISHED)
        return out or [None]

    def _same_artifact(self, a: Record, fmt: str) -> bool:
        """Was ``a`` measured on the kind of artifact a ``fmt`` runtime loads?
        (A TensorRT-ready ONNX evaluated with ONNX Runtime is neither an ONNX
        export nor a TensorRT engine.)"""
        if _acc_format(a) != fmt:
            return False
        x = self.export_at.get(norm_path(a.metric("target")) or "")
        return x is None or export_format_of(x.format) == export_format_of(fmt)

    # -- the export verdict ---------------------------------------------------
    def _exports(self, lat: Record, weights: str | None) -> list[Record]:
        """Export records of ``lat``'s model, export format, precision and input
        (the same batch preferred), made from ``weights`` (any, for None or
        ``published``); oldest first."""
        ef = export_format_of(lat.format)
        if ef is None:
            return []
        xs = [x for x in self.exports.get(lat.model, ()) if norm_format(x.format) == ef
              and x.precision == lat.precision and same_shape(x.input_shape, lat.input_shape)]
        if weights not in (None, PUBLISHED):
            xs = [x for x in xs if self.export_weights(x) == weights]
        same_batch = [x for x in xs if x.batch == lat.batch]
        return same_batch or xs

    def parity(self, lat: Record, weights: str | None) -> Parity:
        if export_format_of(lat.format) is None:
            return Parity(None, needed=False)
        xs = self._exports(lat, weights)
        return Parity(xs[-1].status, xs[-1]) if xs else Parity(None)

    # -- accuracy ---------------------------------------------------------------
    def accuracy(self, lat: Record, weights: str | None, parity: Parity, dataset: str | None = None) -> Accuracy:
        """The top-1 of ``lat``'s model with ``weights`` in its format and
        precision, best evidence first (see the module doc)."""
        fmt = norm_format(lat.format)
        hits = [a for a in self._acc(lat, dataset) if weights is not None and self.accuracy_weights(a) == weights]
        same = [a for a in hits if self._same_artifact(a, fmt) and a.precision == lat.precision]
        if same and weights != PUBLISHED:
            a = same[-1]
            return Accuracy(num(a.metric("top1")), "measured", f"measured: {fmt} {lat.precision} on "
                            f"{_images(a)} {a.dataset or ''} images", a, a.dataset)
        base = [a for a in hits if norm_format(a.format) == "pytorch" and a.precision == "fp32"]
        if base and weights == PUBLISHED:
            a = base[-1]
            return Accuracy(num(a.metric("top1")), "published", f"published {a.dataset or ''} top-1 of the "
                            f"architecture, not measured here ({a.metric('reference') or 'source not recorded'})",
                            a, a.dataset)
        if base and parity.passed:
            a = base[-1]
            ran = parity.record.metric("parity_runtime") if parity.record is not None else None
            how = (f"is a prepared build whose parity was checked on {ran}" if parity.status == "prepared"
                   else "passed parity")
            return Accuracy(num(a.metric("top1")), "pytorch_fp32_parity",
                            f"pytorch fp32 top-1 of these weights ({_images(a)} {a.dataset or ''} images); the "
                            f"{export_format_of(lat.format)} {lat.precision} export {how}", a, a.dataset)
        if base and fmt != "pytorch" and not parity.passed:
            why = "failed parity" if parity.failed else "has no export record with a parity check"
            return Accuracy(None, "none", f"no {fmt} {lat.precision} accuracy record, and the export {why}")
        if weights is None:
            return Accuracy(None, "none", "no accuracy record for this model")
        return Accuracy(None, "none", f"no {fmt} {lat.precision} accuracy record for these weights")


def _acc_format(a: Record) -> str:
    """An accuracy record's format as a latency record names it (a TensorRT
    engine is ``engine`` there, ``tensorrt`` in eval records)."""
    f = norm_format(a.format)
    return "engine" if f == "tensorrt" else f


def _images(a: Record) -> str:
    n = a.metric("n_images")
    return f"{n}" if isinstance(n, int) else "?"

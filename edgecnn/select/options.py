"""Options: what could ship to one device, one per latency record and weights.

An option is a (model, weights, runtime, format, precision, batch) on a
device, with the figures ``select`` judges it by:

- **latency** (ms): the latency record's p50 (a tool that reports only a mean,
  LiteRT's ``benchmark_model``, gives its mean, labelled), its p90 for
  ``--tail``; ``measured`` or ``predicted`` (roofline), a prediction with its
  error band (``error_band``: the share within +-10/25 %, median and p90
  |error| of the latest validation);
- **accuracy** (top-1 %, see ``evidence``): measured in this format and
  precision, else PyTorch fp32 of the same weights behind a passed parity
  check, else published, else unknown;
- **size** (bytes): the latency record's ``artifact_bytes`` (what the runtime
  loaded), else the export record's ``file_bytes``;
- **memory** (MB): the latency record's ``memory_peak_mb``, the peak resident
  memory of the process that ran the model (runtime and interpreter included).

Latency records that are not ``ok`` (unsupported, failed, unreachable) become
options without a latency, so the output can say why they are missing; so do
prepared TensorRT builds (``edgecnn export --to tensorrt`` where TensorRT is
not installed) on a device that has no TensorRT timing of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from edgecnn.join import export_format_of, newest, norm_format, num, same_shape
from edgecnn.records import Record
from edgecnn.schema import headline_latency
from edgecnn.select.evidence import PUBLISHED, Accuracy, Evidence, Parity


@dataclass
class Reason:
    """Why an option was excluded: a code (counted), and the specifics."""

    code: str
    text: str
    miss: float | None = None  # how far over (or under) its limit, in the constraint's unit
    relative: float | None = None  # miss / limit


@dataclass
class Option:
    device: str
    model: str
    weights: str | None  # a checkpoint path, "published", or None (nothing known)
    runtime: str
    format: str
    precision: str
    batch: int
    input_shape: list[int] | None
    variant: str | None
    status: str  # the latency record's status ("prepared": an untimed TensorRT build)
    source: str  # latency: measured | predicted
    latency_ms: float | None  # headline: p50 (or the mean a tool reported instead)
    statistic: str  # p50 | mean | none
    latency_p90_ms: float | None
    error_band: dict[str, Any] | None
    accuracy: Accuracy
    parity: Parity
    size_bytes: float | None
    size_from: str
    memory_mb: float | None
    memory_from: str
    record: Record | None  # the latency record (None for an untimed build)
    error: str | None = None
    noisy: bool = False
    threads: int | None = None
    reasons: list[Reason] = field(default_factory=list)

    # -- figures the constraints and the ranking read -------------------------
    @property
    def export_format(self) -> str | None:
        return export_format_of(self.format)

    @property
    def top1(self) -> float | None:
        return self.accuracy.top1

    @property
    def dataset(self) -> str | None:
        return self.accuracy.dataset

    def budget_latency(self, tail: bool = False) -> float | None:
        """The latency a budget is checked against: p50 (or the tool's mean), or p90 with ``tail``."""
        return self.latency_p90_ms if tail else self.latency_ms

    def rank_latency(self, tail: bool = False) -> float | None:
        """The latency the ranking orders by: a prediction at its validated
        band's pessimistic end (its central figure when it has no validated
        band), a measurement as measured."""
        pess = self.pessimistic_ms(tail)
        return pess if pess is not None else self.budget_latency(tail)

    @property
    def configuration(self) -> tuple:
        """What a measurement and a prediction of the same thing share (the
        ``predicted`` mark of the variant left out)."""
        variant = "+".join(p for p in (self.variant or "").split("+") if p and p != "predicted") or None
        return (self.model, self.runtime, self.format, self.precision, self.batch,
                tuple(self.input_shape or ()), variant)

    @property
    def weights_here(self) -> bool | None:
        """Are the option's weights (a checkpoint file) on this machine? None
        when there is no file to look for (published figures, no weights)."""
        if not self.weights or self.weights == PUBLISHED:
            return None
        from pathlib import Path

        return Path(self.weights).exists()

    @property
    def top1_images(self) -> int | None:
        """The test images behind the top-1 (for its binomial interval)."""
        rec = self.accuracy.record
        n = rec.metrics.get("n_images") if rec is not None else None
        return int(n) if isinstance(n, (int, float)) and n > 0 else None

    def pessimistic_ms(self, tail: bool = False) -> float | None:
        """A prediction's pessimistic end: latency x (1 + p90 |error|) of its
        validated band (90 % of validated predictions erred by less); None
        for a measurement or a prediction without a validated band."""
        lat = self.budget_latency(tail)
        band = self.error_band or {}
        p90 = num(band.get("p90_abs_error"))
        if self.source != "predicted" or lat is None or not band.get("validated") or p90 is None:
            return None
        return lat * (1.0 + p90)

    @property
    def label(self) -> str:
        rt = self.runtime + (f"[{self.variant}]" if self.variant and self.variant != "predicted" else "")
        return f"{self.model} {rt} {self.format} {self.precision} b{self.batch}"

    @property
    def weights_label(self) -> str:
        if self.weights is None:
            return "unknown"
        if self.weights == PUBLISHED:
            return "published"
        parts = self.weights.replace("\\", "/").split("/")
        return "/".join(parts[-2:]) if len(parts) > 2 else self.weights

    def to_dict(self) -> dict[str, Any]:
        band = self.error_band
        return {
            "device": self.device, "model": self.model, "weights": self.weights, "runtime": self.runtime,
            "format": self.format, "export_format": self.export_format, "precision": self.precision,
            "batch": self.batch, "input_shape": self.input_shape, "variant": self.variant, "status": self.status,
            "latency_source": self.source, "latency_ms": self.latency_ms, "latency_statistic": self.statistic,
            "latency_p90_ms": self.latency_p90_ms, "error_band": band, "pessimistic_ms": self.pessimistic_ms(),
            "top1": self.top1, "top1_from": self.accuracy.tier, "top1_note": self.accuracy.note,
            "dataset": self.dataset, "parity": self.parity.status if self.parity.needed else "not needed",
            "size_bytes": self.size_bytes, "size_from": self.size_from, "memory_mb": self.memory_mb,
            "memory_from": self.memory_from, "noisy": self.noisy, "threads": self.threads, "error": self.error,
            "rank_latency_ms": self.rank_latency(), "weights_on_this_machine": self.weights_here,
            "reasons": [{"code": r.code, "text": r.text, "miss": r.miss, "relative": r.relative}
                        for r in self.reasons],
        }


def _group(rec: Record) -> tuple:
    return (rec.model, rec.runtime, norm_format(rec.format), rec.precision, rec.batch,
            tuple(rec.input_shape or ()))


def build_options(records: Iterable[Record], device: str, dataset: str | None = None) -> list[Option]:
    """Every option on ``device`` the records describe (newest record per
    identity), untimed and failed ones included with their status."""
    used, _ = newest(records)
    ev = Evidence(used)
    lat = [r for r in used if r.kind == "latency" and r.device == device]
    ok_groups = {_group(r) for r in lat if r.ok}
    out: list[Option] = []
    for rec in lat:
        if not rec.ok and _group(rec) in ok_groups:
            continue  # a failed attempt where another record (a prediction, a retry) has the figure
        for weights in ev.weights_for(rec, dataset):
            out.append(_option(rec, weights, ev, dataset))
    out += _untimed_builds(lat, ev, device, dataset)
    return out


def _option(rec: Record, weights: str | None, ev: Evidence, dataset: str | None) -> Option:
    parity = ev.parity(rec, weights)
    acc = ev.accuracy(rec, weights, parity, dataset)
    lat, statistic = headline_latency(rec) if rec.ok else (None, "none")
    size, size_from = num(rec.metric("artifact_bytes")), "artifact_bytes (latency record)"
    if size is None and parity.record is not None:
        size, size_from = num(parity.record.metric("file_bytes")), "file_bytes (export record)"
    if size is None:
        size_from = "unknown"
    memory = num(rec.metric("memory_peak_mb"))
    band = rec.metric("error_band") if rec.source == "predicted" else None
    threads = rec.metric("threads")
    return Option(
        device=rec.device, model=rec.model, weights=weights, runtime=rec.runtime or "?",
        format=norm_format(rec.format), precision=rec.precision, batch=rec.batch, input_shape=rec.input_shape,
        variant=rec.variant, status=rec.status, source=rec.source, latency_ms=lat if lat and lat > 0 else None,
        statistic=statistic, latency_p90_ms=num(rec.metric("latency_ms_p90")) if rec.ok else None,
        error_band=band if isinstance(band, dict) else None, accuracy=acc, parity=parity, size_bytes=size,
        size_from=size_from, memory_mb=memory,
        memory_from="memory_peak_mb: peak resident memory of the process that ran it" if memory is not None
        else "unknown", record=rec, error=rec.error, noisy=bool(rec.metric("noisy")),
        threads=threads if isinstance(threads, int) else None)


def _untimed_builds(lat: list[Record], ev: Evidence, device: str, dataset: str | None) -> list[Option]:
    """Prepared TensorRT builds with no TensorRT latency record on a device
    that has TensorRT records at all: listed, never chosen."""
    if not any(r.runtime == "tensorrt" for r in lat):
        return []
    out = []
    seen = set()
    for x in (r for xs in ev.exports.values() for r in xs if r.status == "prepared"):
        timed = any(r.runtime == "tensorrt" and r.model == x.model and r.precision == x.precision
                    and same_shape(r.input_shape, x.input_shape) for r in lat)
        key = (x.model, x.precision, tuple(x.input_shape or ()), x.batch, ev.export_weights(x))
        if timed or key in seen:
            continue
        seen.add(key)
        probe = Record(kind="latency", model=x.model, status="unsupported", device=device, runtime="tensorrt",
                       format="engine", precision=x.precision, batch=x.batch, input_shape=x.input_shape)
        weights = ev.export_weights(x)
        parity = Parity(x.status, x)
        opt = _option(probe, weights if weights not in ("random", "unknown") else None, ev, dataset)
        opt.parity, opt.record, opt.status = parity, None, "prepared"
        opt.size_bytes, opt.size_from = num(x.metric("file_bytes")), "file_bytes (export record)"
        opt.error = f"prepared TensorRT build ({x.metric('path') or 'path not recorded'}): no engine timed on {device}"
        out.append(opt)
    return out

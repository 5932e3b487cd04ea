"""Turn records into the plain rows the report draws: no plotting here.

Everything is tolerant: a record without the figure a view needs is listed in
``ReportData.skipped`` with the reason, and never crashes the build. Figures
use the newest record per identity (later ``created_at`` wins); superseded
records stay in the records table, marked so.

Units: latency in ms (the p50 is the headline), MACs as one multiply-accumulate,
bytes, top-1 in percent (records may hold a fraction in [0, 1] or a percent;
a value <= 1 is read as a fraction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgecnn.records import LoadReport, Record, RecordStore

PYTORCH_FORMATS = {None, "", "pytorch", "torch", "eager", "torchscript"}


def num(value: Any) -> float | None:
    """A finite float, or None for anything else (strings, NaN, bools, None)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def percent(value: Any) -> float | None:
    """Top-1/top-5 as a percentage: fractions (<= 1) are scaled by 100."""
    v = num(value)
    if v is None or v < 0:
        return None
    return v * 100.0 if v <= 1.0 else v


def norm_format(fmt: str | None) -> str:
    return "pytorch" if fmt in PYTORCH_FORMATS else str(fmt).lower()


def shape_text(shape: list[int] | None) -> str:
    return "x".join(str(v) for v in shape) if shape else "-"


@dataclass
class ReportData:
    """Everything the page needs, as plain Python rows."""

    records: list[Record] = field(default_factory=list)  # all loaded, file order
    rid: dict[int, int] = field(default_factory=dict)  # id(record) -> record number (1-based)
    used: list[Record] = field(default_factory=list)  # newest per identity
    superseded: set[int] = field(default_factory=set)  # id(record) of older duplicates
    skipped: list[str] = field(default_factory=list)
    peaks: dict[str, dict[str, float]] = field(default_factory=dict)  # device -> [peak]
    device: str | None = None

    def number(self, rec: Record) -> int:
        return self.rid.get(id(rec), 0)

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.used if r.kind == kind]

    def skip(self, rec: Record, reason: str) -> None:
        self.skipped.append(f"record #{self.number(rec)} ({rec.kind} {rec.model}"
                            f"{' ' + rec.runtime if rec.runtime else ''}, {rec.device}): {reason}")


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------
DEVICE_KINDS = {"latency", "layer_latency"}  # kinds that belong to one device


def load(profiles_dir: str | Path, device: str | None = None,
         devices_dirs: list[Path] | None = None) -> ReportData:
    """Read every record under ``profiles_dir`` (skipping unreadable rows with
    the reason), keep the newest per identity, load device peak figures."""
    report = LoadReport()
    store = RecordStore(profiles_dir)
    records = list(store.iter(report))
    data = ReportData(records=records, skipped=list(report.skipped), device=device)
    data.rid = {id(r): i for i, r in enumerate(records, 1)}
    if not Path(profiles_dir).exists():
        data.skipped.append(f"{profiles_dir}: no such folder (no records yet; run `edgecnn profile`)")

    newest: dict[tuple, Record] = {}
    for rec in records:
        if device is not None and rec.device != device and _device_bound(rec):
            continue
        key = rec.key()
        if rec.kind == "train_epoch":
            key = key + (str(rec.metrics.get("epoch")),)
        old = newest.get(key)
        if old is not None and str(old.created_at or "") > str(rec.created_at or ""):
            data.superseded.add(id(rec))
            continue
        if old is not None:
            data.superseded.add(id(old))
        newest[key] = rec
    keep = {id(v) for v in newest.values()}
    data.used = [r for r in records if id(r) in keep]

    dirs = devices_dirs or default_devices_dirs(profiles_dir)
    for name in sorted({r.device for r in data.used if r.device}):
        peak = load_peak(name, dirs)
        if peak:
            data.peaks[name] = raise_to_achieved(peak, data.used, name)
    return data


def raise_to_achieved(peak: dict[str, float], records: list[Record], device: str) -> dict[str, float]:
    """A roof must not sit below what was measured under it. An estimated peak
    can (a VM reports its base clock; the cores boost above it): then the
    compute roof of that precision is raised to the best whole-model rate
    measured on the device, and ``<precision>_gmacs_per_s_estimated`` keeps the
    original figure so the page says what was done."""
    out = dict(peak)
    for rec in records:
        rate = num(rec.metrics.get("achieved_gmacs_per_s"))
        key = f"{rec.precision}_gmacs_per_s"
        if (rec.kind != "latency" or rec.device != device or rec.source != "measured" or not rec.ok
                or rate is None or key not in out):
            continue
        if rate > out[key]:
            out.setdefault(f"{rec.precision}_gmacs_per_s_estimated", out[key])
            out[key] = round(rate, 1)
    return out


def _device_bound(rec: Record) -> bool:
    return rec.kind in DEVICE_KINDS or (rec.kind == "separable" and rec.runtime is not None)


def default_devices_dirs(profiles_dir: str | Path) -> list[Path]:
    """``devices/`` beside the profiles folder, in the working folder, and in
    the edgecnn checkout."""
    here = Path(__file__).resolve().parents[2] / "devices"
    out = []
    for d in (Path(profiles_dir).resolve().parent / "devices", Path.cwd() / "devices", here):
        if d not in out:
            out.append(d)
    return out


def load_peak(device: str, dirs: list[Path]) -> dict[str, float]:
    """The ``[peak]`` figures of ``<dir>/<device>.toml`` (GMAC/s per precision,
    GB/s), or {} when there is no such file or it cannot be read. A file that
    asks for detection (``detect = true``, the ``local`` device) is completed by
    ``edgecnn.devices.load_device`` (estimated from this CPU; bandwidth cached)."""
    import tomllib

    for d in dirs:
        path = d / f"{device}.toml"
        if not path.is_file():
            continue
        try:
            with open(path, "rb") as fh:
                spec = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError):
            return {}
        peak = spec.get("peak") or {}
        if not isinstance(peak, dict):
            return {}
        out = {k: float(v) for k, v in peak.items() if num(v) is not None and not isinstance(v, bool)}
        if peak.get("detect") and not ("fp32_gmacs_per_s" in out and "memory_bandwidth_gb_per_s" in out):
            out = {**_detected_peak(device), **out}
        return out
    return {}


def _detected_peak(device: str) -> dict[str, float]:
    try:
        from edgecnn.devices.spec import load_device

        spec = load_device(device)
        out = {f"{p}_gmacs_per_s": float(v) for p, v in spec.peak_gmacs_per_s.items() if num(v)}
        if num(spec.memory_bandwidth_gb_per_s):
            out["memory_bandwidth_gb_per_s"] = float(spec.memory_bandwidth_gb_per_s)
        return out
    except Exception:  # detection is a nicety here: no roof is better than no report
        return {}


# ---------------------------------------------------------------------------
# joins: cost and accuracy of a model
# ---------------------------------------------------------------------------
def _same_shape(a: list[int] | None, b: list[int] | None) -> bool:
    return a is None or b is None or list(a) == list(b)


class Lookup:
    """Cost and accuracy per model, for joining onto latency points."""

    def __init__(self, data: ReportData) -> None:
        # oldest first, so [-1] below is the newest match
        self.cost = sorted((r for r in data.of("cost") if r.ok), key=lambda r: str(r.created_at or ""))
        self.acc = sorted((r for r in data.of("accuracy") if r.ok and percent(r.metrics.get("top1")) is not None),
                          key=lambda r: str(r.created_at or ""))

    def cost_for(self, rec: Record) -> Record | None:
        hits = [c for c in self.cost if c.model == rec.model and _same_shape(c.input_shape, rec.input_shape)]
        same_prec = [c for c in hits if c.precision == rec.precision]
        pick = same_prec or hits
        return pick[-1] if pick else None

    def accuracy_for(self, rec: Record) -> tuple[Record | None, str]:
        """Accuracy of the same format and precision as ``rec``; else the
        PyTorch fp32 accuracy of the model on the same dataset (the note says
        so); else (None, "no accuracy record")."""
        fmt = norm_format(rec.format if rec.format is not None else
                          (None if rec.runtime in (None, "torch") else rec.runtime))
        hits = [a for a in self.acc if a.model == rec.model and _same_shape(a.input_shape, rec.input_shape)
                and (rec.dataset is None or a.dataset is None or a.dataset == rec.dataset)]
        exact = [a for a in hits if norm_format(a.format) == fmt and a.precision == rec.precision]
        measured_exact = [a for a in exact if a.source != "published"]
        if measured_exact:
            return measured_exact[-1], f"{fmt} {rec.precision}"
        base = [a for a in hits if norm_format(a.format) == "pytorch" and a.precision == "fp32"]
        measured_base = [a for a in base if a.source != "published"]
        if measured_base:
            if fmt == "pytorch" and rec.precision == "fp32":
                return measured_base[-1], "pytorch fp32"
            return measured_base[-1], f"pytorch fp32 (no {fmt} {rec.precision} accuracy record)"
        if base:  # only a figure quoted from a paper / torchvision: say so wherever it is shown
            pub = base[-1]
            return pub, (f"published {pub.dataset or ''} top-1, not measured here "
                         f"({pub.metrics.get('reference') or 'source not recorded'})")
        return None, "no accuracy record"


# ---------------------------------------------------------------------------
# views
# ---------------------------------------------------------------------------
def provenance(data: ReportData, rec: Record) -> str:
    env = rec.env if isinstance(rec.env, dict) else {}
    commit = env.get("git_commit") or "?"
    host = env.get("host") or "?"
    return (f"record #{data.number(rec)} · {rec.source} · {rec.device} ({host}) · "
            f"commit {commit} · {str(rec.created_at or '?')[:19]}")


def latency_points(data: ReportData, look: Lookup | None = None) -> list[dict[str, Any]]:
    """One row per usable latency record, joined with cost and accuracy."""
    look = look or Lookup(data)
    rows = []
    for rec in data.of("latency"):
        if not rec.ok:
            continue  # failed measurements are in the records table with their error
        m = rec.metrics
        lat = num(m.get("latency_ms_p50"))
        if lat is None or lat <= 0:
            data.skip(rec, "no positive latency_ms_p50 (older schema or missing field)")
            continue
        cost = look.cost_for(rec)
        macs = num(m.get("macs")) or (num(cost.metrics.get("macs")) if cost else None)
        params = num(m.get("params")) or (num(cost.metrics.get("params")) if cost else None)
        batch = rec.batch if isinstance(rec.batch, int) and rec.batch > 0 else 1
        gmacs = num(m.get("achieved_gmacs_per_s"))
        if gmacs is None and macs:
            gmacs = macs * batch / (lat / 1e3) / 1e9
        acc, note = look.accuracy_for(rec)
        rows.append(dict(
            rec=rec, model=rec.model, device=rec.device, runtime=rec.runtime or "?",
            format=norm_format(rec.format), precision=rec.precision, batch=batch,
            input=shape_text(rec.input_shape), source=rec.source, latency_ms=lat,
            p90=num(m.get("latency_ms_p90")), macs=macs, params=params, gmacs=gmacs,
            top1=percent(acc.metrics.get("top1")) if acc else None, acc_note=note,
            acc_rec=acc, noisy=bool(m.get("noisy")), threads=m.get("threads"),
            prov=provenance(data, rec),
        ))
    return rows


def model_points(data: ReportData, look: Lookup | None = None) -> list[dict[str, Any]]:
    """One row per cost record (device-independent MACs and params) with the
    model's PyTorch fp32 accuracy when there is one."""
    look = look or Lookup(data)
    rows = []
    for rec in data.of("cost"):
        if not rec.ok:
            continue
        macs, params = num(rec.metrics.get("macs")), num(rec.metrics.get("params"))
        if macs is None and params is None:
            data.skip(rec, "cost record without macs or params")
            continue
        probe = Record(kind="latency", model=rec.model, input_shape=rec.input_shape, dataset=rec.dataset,
                       format="pytorch", precision="fp32")
        acc, note = look.accuracy_for(probe)
        rows.append(dict(rec=rec, model=rec.model, input=shape_text(rec.input_shape), macs=macs,
                         params=params, top1=percent(acc.metrics.get("top1")) if acc else None,
                         acc_note=note, acc_rec=acc, source="analytic", format="pytorch",
                         precision=rec.precision, device="any", runtime="-", latency_ms=None,
                         prov=provenance(data, rec)))
    return rows


def separable_rows(data: ReportData) -> list[dict[str, Any]]:
    rows = []
    for rec in data.of("separable"):
        if not rec.ok:
            continue
        m = rec.metrics
        n, dk = num(m.get("n")), num(m.get("dk"))
        analytic = num(m.get("analytic_ratio"))
        if analytic is None and n and dk:
            analytic = 1.0 / n + 1.0 / dk ** 2
        if n is None or analytic is None:
            data.skip(rec, "separable record without n or analytic_ratio")
            continue
        rows.append(dict(
            rec=rec, rec_n=data.number(rec), model=rec.model, block=rec.variant or "-", device=rec.device,
            runtime=rec.runtime or "analytic", m=num(m.get("m")), n=n, dk=dk, df=num(m.get("df")),
            stride=num(m.get("stride")), analytic=analytic, counted=num(m.get("counted_ratio")),
            measured=num(m.get("measured_ratio")), sep_ms=num(m.get("latency_ms_separable")),
            std_ms=num(m.get("latency_ms_standard")), prov=provenance(data, rec)))
    return rows


def layer_views(data: ReportData) -> list[dict[str, Any]]:
    """Per-layer tables: measured (layer_latency) first, then analytic (cost)
    for models without per-layer times."""
    views = []
    timed_models = set()
    for rec in data.of("layer_latency"):
        layers = rec.metrics.get("layers")
        if not rec.ok or not isinstance(layers, list) or not layers:
            if rec.ok:
                data.skip(rec, "layer_latency record without a layers list")
            continue
        rows = [_layer_row(l) for l in layers if isinstance(l, dict)]
        rows = [r for r in rows if r is not None]
        total_ms = sum(r["time_ms"] or 0 for r in rows)
        for r in rows:  # share of the summed layer times, when the record does not carry it
            if r["share"] is None and r["time_ms"] is not None and total_ms > 0:
                r["share"] = r["time_ms"] / total_ms
        timed_models.add(rec.model)
        views.append(dict(rec=rec, model=rec.model, device=rec.device, runtime=rec.runtime or "?",
                          precision=rec.precision, timed=True, layers=rows,
                          peak=data.peaks.get(rec.device, {}), prov=provenance(data, rec)))
    for rec in data.of("cost"):
        layers = rec.metrics.get("layers")
        if rec.ok and isinstance(layers, list) and layers and rec.model not in timed_models:
            rows = [r for r in (_layer_row(l) for l in layers if isinstance(l, dict)) if r is not None]
            views.append(dict(rec=rec, model=rec.model, device="-", runtime="analytic", precision=rec.precision,
                              timed=False, layers=rows, peak={}, prov=provenance(data, rec)))
    return views


def _layer_row(layer: dict[str, Any]) -> dict[str, Any] | None:
    macs = num(layer.get("macs"))
    nbytes = num(layer.get("bytes"))
    if nbytes is None:
        parts = [num(layer.get("bytes_read")), num(layer.get("bytes_written"))]
        nbytes = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    ai = num(layer.get("arithmetic_intensity"))
    if ai is None and macs is not None and nbytes:
        ai = macs / nbytes
    return dict(name=str(layer.get("name", "?")), type=str(layer.get("type", "?")), macs=macs, bytes=nbytes,
                ai=ai, time_ms=num(layer.get("time_ms")), share=num(layer.get("share")),
                params=num(layer.get("params")), cat=layer_category(layer))


def layer_category(layer: dict[str, Any]) -> str:
    """depthwise conv | pointwise conv | conv | linear | other, from the cost
    row's groups/kernel/category when present, else from its type and name."""
    typ = f"{layer.get('type', '')} {layer.get('op', '')} {layer.get('name', '')}".lower()
    groups, cin = num(layer.get("groups")), num(layer.get("in_channels"))
    kernel = layer.get("kernel")
    cat = str(layer.get("category") or "").lower()
    if "depthwise" in typ or ".dw" in typ or (groups and groups > 1 and cin and groups == cin):
        return "depthwise conv"
    if "pointwise" in typ or ".pw" in typ or (cat == "conv" and isinstance(kernel, list) and set(kernel) == {1}):
        return "pointwise conv"
    if cat == "conv" or "conv" in typ:
        return "conv"
    if cat == "linear" or "linear" in typ or "gemm" in typ or "matmul" in typ:
        return "linear"
    return "other"


def export_rows(data: ReportData, look: Lookup | None = None) -> list[dict[str, Any]]:
    look = look or Lookup(data)
    rows = []
    for rec in data.of("export"):
        m = rec.metrics
        top1, ref = percent(m.get("top1")), percent(m.get("top1_reference"))
        acc, note = look.accuracy_for(rec)
        if top1 is None and acc is not None and note.startswith(norm_format(rec.format)):
            top1 = percent(acc.metrics.get("top1"))
        if ref is None:
            base_probe = Record(kind="export", model=rec.model, input_shape=rec.input_shape, dataset=rec.dataset,
                                format="pytorch", precision="fp32")
            base, _ = look.accuracy_for(base_probe)
            ref = percent(base.metrics.get("top1")) if base else None
        rows.append(dict(rec=rec, rec_n=data.number(rec), model=rec.model, format=norm_format(rec.format),
                         precision=rec.precision,
                         status=rec.status, error=rec.error or "", export_s=num(m.get("export_s")),
                         file_bytes=num(m.get("file_bytes")), max_abs_diff=num(m.get("max_abs_diff")),
                         mean_abs_diff=num(m.get("mean_abs_diff")), cosine=num(m.get("cosine")),
                         top1_agreement=percent(m.get("top1_agreement")), top1=top1, top1_reference=ref,
                         drop=(ref - top1) if (ref is not None and top1 is not None) else None,
                         prov=provenance(data, rec)))
    return rows


def training_runs(data: ReportData) -> list[dict[str, Any]]:
    """One entry per training run (variant = run id) with its epochs in order."""
    runs: dict[tuple, dict[str, Any]] = {}
    for rec in data.of("train_epoch"):
        epoch = num(rec.metrics.get("epoch"))
        if epoch is None:
            data.skip(rec, "train_epoch record without an epoch number")
            continue
        key = (rec.model, rec.variant or "-", rec.device)
        run = runs.setdefault(key, dict(model=rec.model, run=rec.variant or "-", device=rec.device,
                                        epochs=[], summary=None))
        m = rec.metrics
        run["epochs"].append(dict(epoch=epoch, train_loss=num(m.get("train_loss")),
                                  test_loss=num(m.get("test_loss")), train_top1=percent(m.get("train_top1")),
                                  test_top1=percent(m.get("test_top1")), lr=num(m.get("lr")),
                                  epoch_s=num(m.get("epoch_s")), images_per_s=num(m.get("images_per_s")),
                                  rec=rec))
    for rec in data.of("train"):
        key = (rec.model, rec.variant or "-", rec.device)
        run = runs.setdefault(key, dict(model=rec.model, run=rec.variant or "-", device=rec.device,
                                        epochs=[], summary=None))
        run["summary"] = rec
    for run in runs.values():
        run["epochs"].sort(key=lambda e: e["epoch"])
    return list(runs.values())

"""Turn records into the plain rows the report draws: no plotting here.

Everything is tolerant: a record without the figure a view needs is listed in
``ReportData.skipped`` with the reason, and never crashes the build. Figures
use the newest record per identity (later ``created_at`` wins); superseded
records stay in the records table, marked so.

Every figure is read through the record schema (``Record.metric`` and
``schema.row_value``), so a view cannot ask for a field no writer writes.
Units: latency in ms (the p50 is the headline; a tool that reports no median
gives its mean, labelled so), MACs as one multiply-accumulate, bytes, top-1
in percent (the schema's unit everywhere; nothing is guessed).

Roofs (peak compute and memory bandwidth) come from the figures recorded
with the measurements (``device_peaks``: the measuring device's unit), else
from that device's TOML; never from a benchmark of the machine building the
report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgecnn import join
from edgecnn.join import PYTORCH_FORMATS, norm_format, num  # noqa: F401  (re-exported: the report's helpers)
from edgecnn.records import LoadReport, Record, RecordStore
from edgecnn.schema import headline_latency, row_value


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
    unreadable: list[str] = field(default_factory=list)  # lines not read at all ("file:line: why"), also in skipped
    # device -> unit -> roof: gmacs_per_s per precision, memory_bandwidth_gb_per_s, kind, where it came from
    roofs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
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
    the reason), keep the newest per identity, and the roof of each device."""
    report = LoadReport()
    store = RecordStore(profiles_dir)
    records = list(store.iter(report))
    data = ReportData(records=records, skipped=list(report.skipped), unreadable=list(report.skipped), device=device)
    data.rid = {id(r): i for i, r in enumerate(records, 1)}

    kept = [r for r in records if device is None or r.device == device or not _device_bound(r)]
    data.used, data.superseded = join.newest(kept)
    for name in sorted({r.device for r in data.used if r.device}):
        roofs = recorded_roofs(data.used, name) or toml_roofs(name, devices_dirs)
        if roofs:
            data.roofs[name] = {u: raise_to_achieved(roof, data.used, name, u) for u, roof in roofs.items()}
    return data


def recorded_roofs(records: list[Record], device: str) -> dict[str, dict[str, Any]]:
    """unit -> the roof recorded with the newest measurement of ``device`` on
    that unit (``device_peaks``)."""
    out: dict[str, dict[str, Any]] = {}
    for rec in sorted(records, key=lambda r: str(r.created_at or "")):
        if rec.device != device or rec.kind not in DEVICE_KINDS or rec.source != "measured" or not rec.ok:
            continue
        peaks = rec.metric("device_peaks")
        if isinstance(peaks, dict) and peaks.get("unit"):
            out[str(peaks["unit"])] = {"gmacs_per_s": dict(peaks.get("gmacs_per_s") or {}),
                                       "memory_bandwidth_gb_per_s": num(peaks.get("memory_bandwidth_gb_per_s")),
                                       "kind": dict(peaks.get("kind") or {}),
                                       "source": f"recorded with the measurements ({str(rec.created_at)[:19]})"}
    return out


def toml_roofs(device: str, dirs: list[Path] | None = None) -> dict[str, dict[str, Any]]:
    """unit -> roof from the device's TOML (``edgecnn.devices.spec``'s search
    path, ``dirs`` first) for a device whose records carry none (predicted-only
    devices, records of older versions). A unit that asks for detection
    (``local``) is skipped: the machine building the report is not the one
    that measured."""
    from edgecnn.devices.spec import device_files, read_device_file
    from edgecnn.errors import EdgeCNNError

    path = device_files(dirs).get(device)
    if path is None:
        return {}
    try:
        spec = read_device_file(path, detect=False)
    except EdgeCNNError:
        return {}
    return {u: {"gmacs_per_s": dict(cu.peak_gmacs_per_s), "memory_bandwidth_gb_per_s": cu.memory_bandwidth_gb_per_s,
                "kind": dict(cu.kind), "source": f"{path.name} (device file)"}
            for u, cu in spec.units.items() if cu.peak_gmacs_per_s and cu.memory_bandwidth_gb_per_s}


def raise_to_achieved(roof: dict[str, Any], records: list[Record], device: str, unit: str) -> dict[str, Any]:
    """A roof must not sit below what was measured under it. A derived peak can
    (a VM reports its base clock; the cores boost above it): then the compute
    roof of that precision is raised to the best whole-model rate measured on
    the device's unit, and ``raised`` keeps the original figure so the page says
    what was done."""
    out = {**roof, "gmacs_per_s": dict(roof.get("gmacs_per_s") or {}), "raised": {}}
    for rec in records:
        rate = num(rec.metric("achieved_gmacs_per_s")) if rec.kind == "latency" else None
        peaks = rec.metric("device_peaks") if rec.kind == "latency" else None
        if (rec.device != device or rec.source != "measured" or not rec.ok or rate is None
                or not isinstance(peaks, dict) or peaks.get("unit") != unit):
            continue
        have = out["gmacs_per_s"].get(rec.precision)
        if have is not None and rate > have:
            out["raised"].setdefault(rec.precision, have)
            out["gmacs_per_s"][rec.precision] = round(rate, 1)
    return out


def _device_bound(rec: Record) -> bool:
    return rec.kind in DEVICE_KINDS or (rec.kind == "separable" and rec.runtime is not None)


# ---------------------------------------------------------------------------
# joins: cost and accuracy of a model (the rules live in edgecnn/join.py, shared with select)
# ---------------------------------------------------------------------------
class Lookup(join.Lookup):
    """``join.Lookup`` over the records the report uses (newest per identity)."""

    def __init__(self, data: ReportData) -> None:
        super().__init__(data.used)



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
        lat, statistic = headline_latency(rec)
        if lat is None or lat <= 0:
            data.skip(rec, "no positive latency_ms_p50 (or benchmark_model mean)")
            continue
        cost = look.cost_for(rec)
        macs = num(rec.metric("macs")) or (num(cost.metric("macs")) if cost else None)
        params = num(cost.metric("params")) if cost else None
        batch = rec.batch if isinstance(rec.batch, int) and rec.batch > 0 else 1
        gmacs = num(rec.metric("achieved_gmacs_per_s"))
        if gmacs is None and macs:
            gmacs = macs * batch / (lat / 1e3) / 1e9
        acc, note = look.accuracy_for(rec)
        band = rec.metric("error_band") if rec.source == "predicted" else None
        rows.append(dict(
            rec=rec, rec_n=data.number(rec), model=rec.model, device=rec.device, runtime=rec.runtime or "?",
            format=norm_format(rec.format), precision=rec.precision, batch=batch, input=shape_text(rec.input_shape),
            source=rec.source, latency_ms=lat, statistic=statistic, p90=num(rec.metric("latency_ms_p90")),
            macs=macs, params=params, gmacs=gmacs, top1=num(acc.metric("top1")) if acc else None, acc_note=note,
            acc_rec=acc, noisy=bool(rec.metric("noisy")), threads=rec.metric("threads"),
            memory_added_mb=num(rec.metric("memory_added_mb")), memory_peak_mb=num(rec.metric("memory_peak_mb")),
            artifact_bytes=num(rec.metric("artifact_bytes")), unit=rec.metric("compute_unit"),
            error_band=band if isinstance(band, dict) else None, prov=provenance(data, rec),
            config=rec.variant or "-", timed=timed_text(rec), **device_split(rec),
        ))
    return rows


MEASURE_TEXT = {"device_compute": "device compute (input on the device)",
                "end_to_end": "end to end (copies included)", "host_call": "host call"}


def timed_text(rec: Record) -> str:
    """What a latency record's headline times, in words for the page."""
    if rec.source != "measured":
        return rec.source
    measure = rec.metric("latency_measure")
    if measure is None:
        return "host call" if "cuda" not in (rec.variant or "") else "end to end (copies included)"
    return MEASURE_TEXT.get(measure, str(measure))


def device_split(rec: Record) -> dict[str, Any]:
    """The copies, end-to-end figure, compile time and fidelity of a GPU record (None where absent)."""
    out = {k: num(rec.metric(f"{k}_ms_p50")) for k in ("h2d", "d2h", "end_to_end")}
    if out["end_to_end"] is None and rec.metric("latency_measure") == "end_to_end":
        out["end_to_end"] = num(rec.metric("latency_ms_p50"))
    interval = rec.metric("fidelity_interval")
    out.update(compile_s=num(rec.metric("compile_s")), fidelity=num(rec.metric("fidelity_ratio")),
               fidelity_interval=(f"{interval[0]:.3f}-{interval[1]:.3f}" if isinstance(interval, list) and
                                  len(interval) == 2 else None),
               fidelity_verdict=rec.metric("fidelity_verdict"), measure=rec.metric("latency_measure"))
    return out


def model_points(data: ReportData, look: Lookup | None = None) -> list[dict[str, Any]]:
    """One row per cost record (device-independent MACs and params) with the
    model's PyTorch fp32 accuracy when there is one."""
    look = look or Lookup(data)
    rows = []
    for rec in data.of("cost"):
        if not rec.ok:
            continue
        macs, params = num(rec.metric("macs")), num(rec.metric("params"))
        if macs is None and params is None:
            data.skip(rec, "cost record without macs or params")
            continue
        probe = Record(kind="latency", model=rec.model, input_shape=rec.input_shape, dataset=rec.dataset,
                       format="pytorch", precision="fp32")
        acc, note = look.accuracy_for(probe)
        rows.append(dict(rec=rec, rec_n=data.number(rec), model=rec.model, input=shape_text(rec.input_shape),
                         macs=macs, params=params, top1=num(acc.metric("top1")) if acc else None,
                         acc_note=note, acc_rec=acc, source="analytic", format="pytorch",
                         precision=rec.precision, device="any", runtime="-", latency_ms=None, batch=1,
                         prov=provenance(data, rec)))
    return rows


def separable_rows(data: ReportData) -> list[dict[str, Any]]:
    rows = []
    for rec in data.of("separable"):
        if not rec.ok:
            continue
        n, dk = num(rec.metric("n")), num(rec.metric("dk"))
        analytic = num(rec.metric("analytic_ratio"))
        if analytic is None and n and dk:
            analytic = 1.0 / n + 1.0 / dk ** 2
        if n is None or analytic is None:
            data.skip(rec, "separable record without n or analytic_ratio")
            continue
        rows.append(dict(
            rec=rec, rec_n=data.number(rec), model=rec.model, block=rec.variant or "-", device=rec.device,
            runtime=rec.runtime or "analytic", source=rec.source, m=num(rec.metric("m")), n=n, dk=dk,
            df=num(rec.metric("df_in")) if rec.metric("df_in") is not None else num(rec.metric("df")),
            stride=num(rec.metric("stride")), analytic=analytic, counted=num(rec.metric("counted_ratio")),
            measured=num(rec.metric("measured_ratio")), sep_ms=num(rec.metric("separable_ms_p50")),
            std_ms=num(rec.metric("standard_ms_p50")), precision=rec.precision, batch=rec.batch,
            timed=MEASURE_TEXT.get(rec.metric("latency_measure") or "", "host call") if rec.runtime else "-",
            sep_tflops=_tflops(rec.metric("separable_gmacs_per_s")),
            std_tflops=_tflops(rec.metric("standard_gmacs_per_s")), prov=provenance(data, rec)))
    return rows


def _tflops(gmacs: Any) -> float | None:
    """Achieved TFLOP/s, counted as 2 x MACs (labelled so on the page), from GMAC/s."""
    v = num(gmacs)
    return 2.0 * v / 1e3 if v is not None else None


def layer_views(data: ReportData) -> list[dict[str, Any]]:
    """Per-layer tables: measured (layer_latency) first, then analytic (cost)
    for models without per-layer times. Each measured view carries the roof of
    its own record's device unit."""
    views = []
    timed_models = set()
    for rec in data.of("layer_latency"):
        layers = rec.metric("layers")
        if not rec.ok or not isinstance(layers, list) or not layers:
            if rec.ok:
                data.skip(rec, "layer_latency record without a layers list")
            continue
        rows = [_layer_row(l) for l in layers if isinstance(l, dict)]
        total_ms = sum(r["time_ms"] or 0 for r in rows)
        for r in rows:  # share of the summed layer times, when the record does not carry it
            if r["share"] is None and r["time_ms"] is not None and total_ms > 0:
                r["share"] = r["time_ms"] / total_ms
        timed_models.add(rec.model)
        views.append(dict(rec=rec, rec_n=data.number(rec), model=rec.model, device=rec.device,
                          runtime=rec.runtime or "?", precision=rec.precision, timed=True, layers=rows,
                          peak=_view_roof(data, rec), prov=provenance(data, rec)))
    for rec in data.of("cost"):
        layers = rec.metric("layers")
        if rec.ok and isinstance(layers, list) and layers and rec.model not in timed_models:
            rows = [_layer_row(l) for l in layers if isinstance(l, dict)]
            views.append(dict(rec=rec, rec_n=data.number(rec), model=rec.model, device="-", runtime="analytic",
                              precision=rec.precision, timed=False, layers=rows, peak={},
                              prov=provenance(data, rec)))
    return views


def _view_roof(data: ReportData, rec: Record) -> dict[str, Any]:
    """The flat roof a layer view draws: peak GMAC/s of the record's precision
    and the bandwidth of the unit it ran on, and where they came from."""
    peaks = rec.metric("device_peaks")
    unit = peaks.get("unit") if isinstance(peaks, dict) else None
    roofs = data.roofs.get(rec.device, {})
    roof = roofs.get(unit) if unit else (roofs.get("cpu") or next(iter(roofs.values()), None))
    if not roof:
        return {}
    comp = roof["gmacs_per_s"].get(rec.precision) or roof["gmacs_per_s"].get("fp32")
    return {"unit": unit or next(iter(roofs)), "compute_gmacs_per_s": comp,
            "memory_bandwidth_gb_per_s": roof.get("memory_bandwidth_gb_per_s"), "source": roof.get("source"),
            "raised_from": roof.get("raised", {}).get(rec.precision)}


def _layer_row(layer: dict[str, Any]) -> dict[str, Any]:
    macs = num(row_value(layer, "macs"))
    nbytes = num(row_value(layer, "bytes"))
    if nbytes is None:
        parts = [num(row_value(layer, "bytes_read")), num(row_value(layer, "bytes_written"))]
        nbytes = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    ai = num(row_value(layer, "arithmetic_intensity"))
    if ai is None and macs is not None and nbytes:
        ai = macs / nbytes
    return dict(name=str(row_value(layer, "name") or "?"), type=str(row_value(layer, "type") or "?"), macs=macs,
                bytes=nbytes, ai=ai, time_ms=num(row_value(layer, "time_ms")), share=num(row_value(layer, "share")),
                params=num(row_value(layer, "params")), cat=layer_category(layer))


def layer_category(layer: dict[str, Any]) -> str:
    """depthwise conv | pointwise conv | conv | linear | other (the layer-class
    rule of ``edgecnn.cost.layer_class``, named for the page)."""
    from edgecnn.cost.layer_class import layer_class as op_class

    return {"depthwise": "depthwise conv", "pointwise": "pointwise conv", "conv": "conv", "linear": "linear"}.get(
        op_class(layer), "other")


def export_rows(data: ReportData, look: Lookup | None = None) -> list[dict[str, Any]]:
    look = look or Lookup(data)
    rows = []
    for rec in data.of("export"):
        top1, ref = num(rec.metric("top1")), num(rec.metric("top1_reference"))
        acc, note = look.accuracy_for(rec)
        if top1 is None and acc is not None and note.startswith(norm_format(rec.format)):
            top1 = num(acc.metric("top1"))
        if ref is None:
            base_probe = Record(kind="export", model=rec.model, input_shape=rec.input_shape, dataset=rec.dataset,
                                format="pytorch", precision="fp32")
            base, _ = look.accuracy_for(base_probe)
            ref = num(base.metric("top1")) if base else None
        rows.append(dict(rec=rec, rec_n=data.number(rec), model=rec.model, format=norm_format(rec.format),
                         precision=rec.precision, status=rec.status, error=rec.error or "",
                         parity_runtime=rec.metric("parity_runtime") or "",
                         export_s=num(rec.metric("export_s")), file_bytes=num(rec.metric("file_bytes")),
                         max_abs_diff=num(rec.metric("max_abs_diff")), mean_abs_diff=num(rec.metric("mean_abs_diff")),
                         cosine=num(rec.metric("cosine")), top1_agreement=num(rec.metric("top1_agreement")),
                         top1=top1, top1_reference=ref,
                         drop=(ref - top1) if (ref is not None and top1 is not None) else None,
                         method=rec.metric("quant_method") or "", float_layers=_count(rec.metric("float_nodes")),
                         speedup=num(rec.metric("speedup")), speedup_macs=num(rec.metric("speedup_macs")),
                         device=rec.device, batch=rec.batch, prov=provenance(data, rec)))
    return rows


def _count(v: Any) -> int | None:
    return len(v) if isinstance(v, (list, tuple)) else None


def training_runs(data: ReportData) -> list[dict[str, Any]]:
    """One entry per training run (variant = run id) with its epochs in order."""
    runs: dict[tuple, dict[str, Any]] = {}
    for rec in data.of("train_epoch"):
        epoch = num(rec.metric("epoch"))
        if epoch is None:
            data.skip(rec, "train_epoch record without an epoch number")
            continue
        key = (rec.model, rec.variant or "-", rec.device)
        run = runs.setdefault(key, dict(model=rec.model, run=rec.variant or "-", device=rec.device,
                                        epochs=[], summary=None))
        run["epochs"].append(dict(epoch=epoch, train_loss=num(rec.metric("train_loss")),
                                  test_loss=num(rec.metric("test_loss")), train_top1=num(rec.metric("train_top1")),
                                  test_top1=num(rec.metric("test_top1")), lr=num(rec.metric("lr")),
                                  epoch_s=num(rec.metric("epoch_s")), images_per_s=num(rec.metric("images_per_s")),
                                  rec=rec))
    for rec in data.of("train"):
        key = (rec.model, rec.variant or "-", rec.device)
        run = runs.setdefault(key, dict(model=rec.model, run=rec.variant or "-", device=rec.device,
                                        epochs=[], summary=None))
        run["summary"] = rec
    for run in runs.values():
        run["epochs"].sort(key=lambda e: e["epoch"])
    return list(runs.values())

"""Build the report from records (no re-measuring): one offline HTML page, or its data.

``build_report`` reads ``profiles/``, turns the records into the report's
tables (``tables.report_tables``), draws each section with plotly from the
same rows, renders ``templates/report.html.j2`` with jinja2 and writes the page
atomically. The plotly.js bundle is inlined once; no request leaves the page
(no CDN, fonts or MathJax). ``fmt="json"`` writes every table and plotted
series as one JSON file instead, ``fmt="csv"`` one CSV file per table.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgecnn.records import Record, atomic_write_text
from edgecnn.report import collect, figures, figures_detail, tables
from edgecnn.report.collect import ReportData, num, shape_text

from edgecnn.schema import KINDS, headline_latency

FORMATS = ("html", "json", "csv")


@dataclass
class ReportResult:
    """Where the page went, how many records it read, and what it skipped (one
    line each, with the reason)."""

    path: Path
    n_records: int
    skipped: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # record lines not read at all: "file:line: why"
    build_s: float = 0.0
    size_bytes: int = 0


def build_report(profiles_dir: str | Path = "profiles", out: str | Path = "reports/index.html",
                 device: str | None = None, devices_dir: str | Path | None = None,
                 fmt: str = "html") -> ReportResult:
    """Read every record under ``profiles_dir`` and write the report to ``out``.

    ``fmt``: ``html`` (the page), ``json`` (every table and plotted series in one
    file) or ``csv`` (``out`` is a folder: one ``<table>.csv`` per table).
    ``device`` keeps only that device's latency and per-layer records (cost,
    accuracy, export and training records are device-independent and stay).
    ``devices_dir`` is where ``<device>.toml`` peak figures are looked up for
    devices whose records carry none. A missing records folder is a one-line
    error; bad records are skipped and listed in the result and on the page
    (lines that could not be read at all also in ``unreadable``, with file
    and line). A folder whose record lines are all unreadable is an error
    (``CorruptFileError``): a page from nothing readable would say nothing.
    """
    from edgecnn.errors import CorruptFileError, InvalidOptionError

    if fmt not in FORMATS:
        raise InvalidOptionError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    t0 = time.perf_counter()
    if not Path(profiles_dir).is_dir():
        what = "is not a folder" if Path(profiles_dir).exists() else "does not exist"
        raise InvalidOptionError(f"records folder {profiles_dir} {what}; give --profiles the folder `edgecnn "
                                 f"profile`/`export`/`train` wrote (default profiles/)")
    dirs = [Path(devices_dir)] if devices_dir else None
    data = collect.load(profiles_dir, device=device, devices_dirs=dirs)
    if data.unreadable and not data.records:
        more = f" (and {len(data.unreadable) - 1} more)" if len(data.unreadable) > 1 else ""
        raise CorruptFileError(f"no record under {profiles_dir} could be read: {data.unreadable[0]}{more}")
    if device is not None and data.records and not any(r.device == device for r in data.records):
        known = sorted({r.device for r in data.records})
        raise InvalidOptionError(f"no records for device {device!r} under {profiles_dir}; "
                                 f"devices with records: {', '.join(known)}")
    tabs = tables.report_tables(data)
    summary = _summary(data, str(profiles_dir))
    if fmt == "html":
        text = render(data, profiles_dir=str(profiles_dir), tabs=tabs)
        path = atomic_write_text(out, text)  # 0666 less the umask: a report is for sharing
        size = len(text.encode("utf-8"))
    elif fmt == "json":
        text = tables.to_json(tabs, summary, data.skipped)
        path = atomic_write_text(out, text)
        size = len(text.encode("utf-8"))
    else:
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise InvalidOptionError(f"--format csv writes one file per table into a folder; {out} is a file")
        size = 0
        for name, table in tabs.items():
            size += len(atomic_write_text(folder / f"{name}.csv", table.to_csv()).read_bytes())
        path = folder
    return ReportResult(path=Path(path), n_records=len(data.records), skipped=list(data.skipped),
                        unreadable=list(data.unreadable), build_s=time.perf_counter() - t0, size_bytes=size)


def render(data: ReportData, profiles_dir: str = "profiles", tabs: dict[str, tables.Table] | None = None) -> str:
    """The page as a string."""
    import jinja2
    import plotly.io as pio
    import plotly.offline

    tabs = tabs or tables.report_tables(data)
    lat, models = tabs["latency"].points, tabs["latency"].model_points  # type: ignore[attr-defined]
    sep = tabs["separable"].rows
    layers = tabs["layers"].views  # type: ignore[attr-defined]
    runs = tabs["training_runs"].runs  # type: ignore[attr-defined]

    config = {"displaylogo": False, "responsive": True}
    used = {id(r) for r in data.used}

    def html_of(fig, div_id: str) -> str | None:
        if fig is None:
            return None
        return pio.to_html(fig, include_plotlyjs=False, full_html=False, include_mathjax=False, config=config,
                           div_id=div_id, default_width="100%", validate=False)

    has_acc = any(p["top1"] is not None for p in lat + models)
    figs = {
        "pareto": html_of(figures.pareto_figure(tables.pareto_groups(models, lat)), "fig-pareto") if has_acc else None,
        "cost_time": html_of(figures.cost_time_figure(lat), "fig-cost-time"),
        "gpu": html_of(figures_detail.gpu_figure(tabs["gpu"].rows), "fig-gpu"),
        "predicted": html_of(figures_detail.prediction_figure(tabs["predicted_pairs"].rows), "fig-predicted"),
        "separable": html_of(figures_detail.separable_figure(sep), "fig-separable"),
        "layers": html_of(figures_detail.layer_figure(layers), "fig-layers"),
        "training": html_of(figures_detail.training_figure(runs), "fig-training"),
        "int8": html_of(figures_detail.int8_figure(tabs["export"].rows), "fig-int8"),
        "int8_speed": html_of(figures_detail.int8_speed_figure(tabs["export"].rows), "fig-int8-speed"),
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(si=figures.fmt_si, ms=figures.fmt_ms, pct=_pct, f=_fmt, cell=_cell)
    template = env.get_template("report.html.j2")
    return template.render(
        plotly_js=plotly.offline.get_plotlyjs(), figs=figs, recommendations=recommendation_groups(tabs), n_figures=sum(v is not None for v in figs.values()),
        summary=_summary(data, profiles_dir), skipped=data.skipped, tables=tabs,
        records=[_record_row(data, r, used) for r in data.records],
        lat_missing_acc=sorted({p["model"] for p in lat if p["top1"] is None}),
        costed_models=sorted({p["model"] for p in lat + models}),
        predicted=any(p["source"] == "predicted" for p in lat),
        int8_pays=_int8_pays(data),
    )


def _int8_pays(data: ReportData) -> list[str]:
    """Per device and runtime, where INT8 paid against FP32 (export records
    with a measured speed-up; ``edgecnn.export.int8_pays``)."""
    from edgecnn.export.int8_pays import summaries

    devices = sorted({r.device for r in data.used if r.kind == "export"})
    return [f"{dev}: {text}" for dev in devices for text in summaries(data.used, dev).values()]


def recommendation_groups(tabs: dict[str, tables.Table]) -> list[dict[str, Any]]:
    """The recommendation table split per (device, dataset) for the page: the
    pick, the front (pick included) and every option, each a small Table."""
    rec = tabs["recommendation"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rec.rows:
        groups.setdefault((row["device"], row["dataset"]), []).append(row)
    messages = {(r.device, r.dataset or "-"): r.selection.message for r in getattr(rec, "recs", [])}
    out = []
    for (device, dataset), rows in groups.items():
        front = [r for r in rows if r["front"] or r["pick"]]
        cols = [c for c in rec.columns if c.key not in ("device", "dataset")]  # the group's heading says them
        out.append(dict(device=device, dataset=dataset, pick=next((r for r in rows if r["pick"]), None),
                        message=messages.get((device, dataset)),
                        front=tables.Table(rec.name, rec.title, cols, front),
                        all=tables.Table(rec.name, rec.title, cols, rows),
                        n_measured=sum(r["source"] == "measured" and r["latency_ms"] is not None for r in rows),
                        n_predicted=sum(r["source"] == "predicted" for r in rows)))
    return out


def _cell(value: Any, column: tables.Column) -> str:
    """One table cell as the page shows it."""
    if value is None or value == "":
        return "-" if column.unit else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column.fmt == "siB":
        return figures.fmt_si(value, "B")
    if column.fmt == "si":
        return figures.fmt_si(value)
    if column.fmt and isinstance(value, (int, float)):
        return format(value, column.fmt)
    return str(value)


def _pct(v: Any) -> str:
    return "missing" if v is None else f"{v:.2f}"


def _fmt(v: Any, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec)


def _summary(data: ReportData, profiles_dir: str) -> dict[str, Any]:
    envs = [r.env for r in data.records if isinstance(r.env, dict)]
    versions: dict[str, set] = {}
    for e in envs:
        for k, v in (e.get("versions") or {}).items() if isinstance(e.get("versions"), dict) else []:
            versions.setdefault(k, set()).add(str(v))
    dates = sorted(str(r.created_at) for r in data.records if r.created_at)
    return dict(
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        profiles_dir=profiles_dir, device=data.device, n_records=len(data.records), n_used=len(data.used),
        kinds=sorted(Counter(r.kind for r in data.used).items()),
        statuses=sorted(Counter(r.status for r in data.used).items()),
        devices=sorted({r.device for r in data.used}),
        hosts=sorted({str(e.get("host")) for e in envs if e.get("host")}),
        machines=machine_rows(data),
        commits=sorted({str(e.get("git_commit")) for e in envs if e.get("git_commit")}),
        versions={k: ", ".join(sorted(v)) for k, v in sorted(versions.items())},
        first=dates[0][:19] if dates else "-", last=dates[-1][:19] if dates else "-",
        synthetic=any(e.get("synthetic") for e in envs),
        n_skipped=len(data.skipped), budgets=_budgets_text(),
    )


def machine_rows(data: ReportData) -> list[str]:
    """One line per machine behind a ``local`` device: which is this one, and
    what each other one was (``edgecnn.machine``)."""
    from edgecnn.machine import label, this_machine

    seen: dict[str, str] = {}
    for r in data.used:
        if r.device == "local" or r.device.startswith("local@"):
            fp = r.env.get("fingerprint") if isinstance(r.env, dict) else None
            seen.setdefault(r.device, label(fp if r.device != "local" else this_machine()))
    return [f"{d} = {'this machine: ' if d == 'local' else ''}{text}" for d, text in sorted(seen.items())]


def _budgets_text() -> str:
    from edgecnn.select import DEFAULT_BUDGETS, Constraints

    return Constraints(**DEFAULT_BUDGETS).describe()


HEADLINES = (("latency_ms_p50", "p50 {:.3g} ms"), ("top1", "top-1 {}"), ("measured_ratio", "measured ratio {:.3g}"),
             ("counted_ratio", "counted ratio {:.3g}"), ("macs", "{} MACs"), ("test_top1", "test top-1 {}"),
             ("max_abs_diff", "max |diff| {:.2g}"))


def _headline(rec: Record) -> str:
    parts = []
    declared = KINDS.get(rec.kind, {})
    for key, fmt in HEADLINES:
        if key not in declared:
            continue
        v = num(rec.metric(key))
        if key == "latency_ms_p50" and rec.kind == "latency":
            v, stat = headline_latency(rec)
            fmt = f"{stat} {{:.3g}} ms"
        if v is None:
            continue
        if key in ("top1", "test_top1"):
            parts.append(fmt.format(f"{v:.2f} %"))
        elif key == "macs":
            parts.append(fmt.format(figures.fmt_si(v)))
        else:
            parts.append(fmt.format(v))
        if len(parts) == 2:
            break
    if isinstance(rec.metric("layers") if "layers" in declared else None, list):
        parts.append(f"{len(rec.metric('layers'))} layers")
    return " · ".join(parts)


def _record_row(data: ReportData, rec: Record, used: set[int]) -> dict[str, Any]:
    env = rec.env if isinstance(rec.env, dict) else {}
    return dict(n=data.number(rec), kind=rec.kind, model=rec.model, status=rec.status, source=rec.source,
                device=rec.device, runtime=rec.runtime or "", format=rec.format or "", precision=rec.precision,
                batch=rec.batch, input=shape_text(rec.input_shape), dataset=rec.dataset or "",
                variant=rec.variant or "", headline=_headline(rec), created=str(rec.created_at or "")[:19],
                commit=str(env.get("git_commit") or ""), host=str(env.get("host") or ""),
                versions=", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items()
                                   if k in ("edgecnn", "torch", "onnxruntime", "ai-edge-litert", "tensorrt"))
                if isinstance(env.get("versions"), dict) else "",
                error=rec.error or "", superseded=id(rec) in data.superseded,
                excluded=id(rec) not in data.superseded and id(rec) not in used)

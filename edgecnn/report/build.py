"""Build the one-file offline HTML report from records (no re-measuring).

``build_report`` reads ``profiles/``, draws each section with plotly, renders
``templates/report.html.j2`` with jinja2 and writes the page atomically. The
plotly.js bundle is inlined once; no request leaves the page (no CDN, fonts or
MathJax).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgecnn.records import Record, atomic_write_text
from edgecnn.report import collect, figures, figures_detail
from edgecnn.report.collect import ReportData, num, percent, shape_text


@dataclass
class ReportResult:
    """Where the page went, how many records it read, and what it skipped (one
    line each, with the reason)."""

    path: Path
    n_records: int
    skipped: list[str] = field(default_factory=list)
    build_s: float = 0.0
    size_bytes: int = 0


def build_report(profiles_dir: str | Path = "profiles", out: str | Path = "reports/index.html",
                 device: str | None = None, devices_dir: str | Path | None = None) -> ReportResult:
    """Read every record under ``profiles_dir`` and write the report to ``out``.

    ``device`` keeps only that device's latency and per-layer records (cost,
    accuracy, export and training records are device-independent and stay).
    ``devices_dir`` is where ``<device>.toml`` peak figures are looked up
    (default: ``devices/`` beside the profiles folder, in the working folder
    and in the checkout). Never raises on bad records: they are skipped and
    listed in the result and on the page.
    """
    from edgecnn.errors import InvalidOptionError

    t0 = time.perf_counter()
    dirs = [Path(devices_dir)] if devices_dir else None
    data = collect.load(profiles_dir, device=device, devices_dirs=dirs)
    if device is not None and data.records and not any(r.device == device for r in data.records):
        known = sorted({r.device for r in data.records})
        raise InvalidOptionError(f"no records for device {device!r} under {profiles_dir}; "
                                 f"devices with records: {', '.join(known)}")
    html = render(data, profiles_dir=str(profiles_dir))
    path = atomic_write_text(out, html)  # 0666 less the umask: a report is for sharing
    return ReportResult(path=Path(path), n_records=len(data.records), skipped=list(data.skipped),
                        build_s=time.perf_counter() - t0, size_bytes=len(html.encode("utf-8")))


def render(data: ReportData, profiles_dir: str = "profiles") -> str:
    """The page as a string."""
    import jinja2
    import plotly.io as pio
    import plotly.offline

    look = collect.Lookup(data)
    lat = collect.latency_points(data, look)
    models = collect.model_points(data, look)
    sep = collect.separable_rows(data)
    layers = collect.layer_views(data)
    exports = collect.export_rows(data, look)
    runs = collect.training_runs(data)

    config = {"displaylogo": False, "responsive": True}
    used = {id(r) for r in data.used}

    def html_of(fig, div_id: str) -> str | None:
        if fig is None:
            return None
        return pio.to_html(fig, include_plotlyjs=False, full_html=False, include_mathjax=False, config=config,
                           div_id=div_id, default_width="100%", validate=False)

    has_acc = any(p["top1"] is not None for p in lat + models)
    figs = {
        "pareto": html_of(figures.pareto_figure(figures.pareto_groups(models, lat)), "fig-pareto") if has_acc else None,
        "cost_time": html_of(figures.cost_time_figure(lat), "fig-cost-time"),
        "separable": html_of(figures_detail.separable_figure(sep), "fig-separable"),
        "layers": html_of(figures_detail.layer_figure(layers), "fig-layers"),
        "training": html_of(figures_detail.training_figure(runs), "fig-training"),
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(si=figures._si, ms=figures._ms, pct=_pct, f=_fmt)
    template = env.get_template("report.html.j2")
    return template.render(
        plotly_js=plotly.offline.get_plotlyjs(), figs=figs, n_figures=sum(v is not None for v in figs.values()),
        summary=_summary(data, profiles_dir), skipped=data.skipped, sep_rows=sep, export_rows=exports,
        runs=[_run_row(r) for r in runs], records=[_record_row(data, r, used) for r in data.records],
        lat_missing_acc=sorted({p["model"] for p in lat if p["top1"] is None}),
        costed_models=sorted({p["model"] for p in lat + models}),
        peaks=data.peaks,
    )


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
        commits=sorted({str(e.get("git_commit")) for e in envs if e.get("git_commit")}),
        versions={k: ", ".join(sorted(v)) for k, v in sorted(versions.items())},
        first=dates[0][:19] if dates else "-", last=dates[-1][:19] if dates else "-",
        synthetic=any(e.get("synthetic") for e in envs),
        n_skipped=len(data.skipped),
    )


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    eps = run["epochs"]
    tops = [e["test_top1"] for e in eps if e["test_top1"] is not None]
    secs = [e["epoch_s"] for e in eps if e["epoch_s"] is not None]
    summary: Record | None = run["summary"]
    final = percent(summary.metrics.get("test_top1")) if summary else None
    return dict(model=run["model"], run=run["run"], device=run["device"], epochs=len(eps),
                best=max(tops) if tops else None, final=final if final is not None else (tops[-1] if tops else None),
                total_s=sum(secs) if secs else None)


HEADLINES = (("latency_ms_p50", "p50 {:.3g} ms"), ("top1", "top-1 {}"), ("measured_ratio", "measured ratio {:.3g}"),
             ("counted_ratio", "counted ratio {:.3g}"), ("macs", "{} MACs"), ("test_top1", "test top-1 {}"),
             ("max_abs_diff", "max |diff| {:.2g}"))


def _headline(rec: Record) -> str:
    m = rec.metrics
    parts = []
    for key, fmt in HEADLINES:
        v = num(m.get(key))
        if v is None:
            continue
        if key in ("top1", "test_top1"):
            parts.append(fmt.format(f"{percent(v):.2f} %"))
        elif key == "macs":
            parts.append(fmt.format(figures._si(v)))
        else:
            parts.append(fmt.format(v))
        if len(parts) == 2:
            break
    if isinstance(m.get("layers"), list):
        parts.append(f"{len(m['layers'])} layers")
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

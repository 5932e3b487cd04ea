"""Plotly figures for the report, built from the rows in ``collect``.

Each function returns a ``plotly.graph_objects.Figure`` or ``None`` when it has
nothing to draw. Selectors are plotly dropdowns that toggle trace visibility,
so one figure holds every device x runtime x precision group and the page
stays small. Hover text names the record each point comes from.
"""

from __future__ import annotations

import math
from typing import Any

from edgecnn.report.pareto import spans_decades
from edgecnn.report.tables import AXES, front_flags, pareto_groups  # noqa: F401 (pareto_groups: the page's menu)

HEIGHT = 470
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f"]


def fmt_si(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    for div, s in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g} {s}{unit}"
    return f"{v:.3g} {unit}".rstrip()


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g} ms"


def _pct(v: float | None) -> str:
    return "missing" if v is None else f"{v:.2f} %"


def page_layout(fig, height: int = HEIGHT, top: int = 70, bottom: int = 60, menu: list | None = None,
            active: int = 0) -> None:
    """Shared look: no in-figure title (the page's heading names the figure), the
    legend in a row above the plots, an optional dropdown above the legend."""
    plot_h = max(height - top - bottom, 100)
    fig.update_layout(height=height, template="plotly_white", margin=dict(l=60, r=20, t=top, b=bottom),
                      hoverlabel=dict(align="left", font_size=12),
                      legend=dict(orientation="h", yanchor="bottom", y=1 + 26 / plot_h, x=0, font_size=11))
    if menu:
        fig.update_layout(updatemenus=[dict(buttons=menu, active=active, x=0, xanchor="left", y=1 + (top - 6) / plot_h,
                                            yanchor="top", direction="down", bgcolor="#ffffff",
                                            font=dict(size=12))])


def menu_buttons(n_traces: int, labels: list[str], traces_of: list[list[int]], layouts: list[dict]) -> list[dict]:
    """Dropdown entries: entry ``i`` shows only the traces in ``traces_of[i]``
    and applies ``layouts[i]``."""
    buttons = []
    for label, idxs, lay in zip(labels, traces_of, layouts):
        visible = [False] * n_traces
        for i in idxs:
            visible[i] = True
        buttons.append(dict(label=label, method="update", args=[{"visible": visible}, lay]))
    return buttons


def below(px: float, height: int, top: int, bottom: int) -> float:
    """Paper y coordinate ``px`` pixels below the plot area."""
    return -px / max(height - top - bottom, 100)


def point_hover(p: dict[str, Any]) -> str:
    lines = [f"<b>{p['model']}</b> ({p.get('input', '-')})",
             f"{p.get('device', '-')} · {p.get('runtime', '-')} · {p.get('format', '-')} {p.get('precision', '')}"
             + (f" · batch {p['batch']}" if p.get("batch", 1) != 1 else ""),
             f"latency {p.get('statistic', 'p50')}: {fmt_ms(p.get('latency_ms'))} ({p.get('source', '-')})"
             if p.get("latency_ms") else
             f"latency: - ({p.get('source', '-')})",
             f"MACs: {fmt_si(p.get('macs'))} · params: {fmt_si(p.get('params'))}",
             f"top-1: {_pct(p.get('top1'))} [{p.get('acc_note', '')}]"]
    if p.get("gmacs"):
        lines.append(f"achieved: {p['gmacs']:.3g} GMAC/s")
    if p.get("memory_added_mb") is not None or p.get("artifact_bytes"):
        lines.append(f"memory added: {p['memory_added_mb']:.1f} MB" if p.get("memory_added_mb") is not None
                     else "memory: not recorded")
        lines[-1] += f" · artifact: {fmt_si(p.get('artifact_bytes'), 'B')}"
    if p.get("source") == "predicted":
        from edgecnn.report.tables import band_text

        lines.append(f"prediction error band: {band_text(p.get('error_band')) or 'none recorded'}")
    if p.get("noisy"):
        lines.append("<i>noisy measurement</i>")
    lines.append(f"<span style='font-size:10px'>{p.get('prov', '')}</span>")
    return "<br>".join(lines)


# ---------------------------------------------------------------------------
# 1. Pareto fronts
# ---------------------------------------------------------------------------
PARETO_BOX = (540, 115, 115)  # height, top and bottom margins (px)
def pareto_figure(groups: list[dict[str, Any]]):
    """Top-1 against latency, MACs and parameters; one dropdown entry per group;
    front points joined by a line; points without accuracy listed, not drawn."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not groups:
        return None
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[t for _, t in AXES])
    per_group: list[list[int]] = []
    layouts = []
    titles = [a.to_plotly_json() for a in fig.layout.annotations]
    # open on the first measured deployment with accuracy, else the analytic view
    default = next((i for i, g in enumerate(groups) if g["points"] and g["points"][0].get("latency_ms")
                    and any(p["top1"] is not None for p in g["points"])), 0)
    for gi, g in enumerate(groups):
        idxs = []
        flags = front_flags(g["points"])  # the same fronts the report's data (tables.py) lists
        pts = [p for p in g["points"] if p.get("top1") is not None]
        missing = sorted({p["model"] for p in g["points"] if p.get("top1") is None})
        fallback = sorted({p["model"] for p in pts if "no " in p.get("acc_note", "") and "record" in p["acc_note"]})
        published = sorted({p["model"] for p in pts if p.get("acc_note", "").startswith("published")})
        lay = {}
        for ci, (key, title) in enumerate(AXES, 1):
            usable = [p for p in pts if p.get(key)]
            front = sorted((p for p in usable if flags[id(p)].get(key)), key=lambda p: (p[key], -p["top1"]))
            rest = [p for p in usable if not flags[id(p)].get(key)]
            for sub, is_front in ((rest, False), (front, True)):
                fig.add_trace(go.Scatter(
                    x=[p[key] for p in sub], y=[p["top1"] for p in sub], hovertext=[point_hover(p) for p in sub],
                    hovertemplate="%{hovertext}<extra></extra>", mode="lines+markers+text" if is_front else "markers",
                    text=[p["model"] for p in sub] if is_front else None, textposition="top center", cliponaxis=False,
                    textfont=dict(size=10, color="#7a1c1c"),
                    name="Pareto front" if is_front else "dominated", legendgroup="front" if is_front else "dom",
                    showlegend=ci == 1,
                    line=dict(color="#d62728", width=1.5, shape="hv") if is_front else None,
                    marker=dict(size=11 if is_front else 8, color="#d62728" if is_front else "#9aa5b1",
                                symbol=[("diamond" if p["source"] == "predicted" else "circle")
                                        + ("-open" if p.get("acc_note", "").startswith("published") else "")
                                        for p in sub],
                                line=dict(width=1, color="white")),
                    visible=gi == default), row=1, col=ci)
                idxs.append(len(fig.data) - 1)
            axis = "xaxis" if ci == 1 else f"xaxis{ci}"
            lay[f"{axis}.type"] = "log" if spans_decades([p[key] for p in usable]) else "linear"
            lay[f"{axis}.title.text"] = title + (" · log" if lay[f"{axis}.type"] == "log" else "")
        notes = []
        if missing:
            notes.append("no accuracy record (not on these fronts; see cost vs time): " + ", ".join(missing))
        if fallback:
            notes.append("top-1 from PyTorch fp32 (no record for this format/precision): " + ", ".join(fallback))
        if published:
            notes.append("top-1 is a PUBLISHED ImageNet figure (paper or torchvision weights; open markers), "
                         "not measured here: " + ", ".join(published))
        if not pts:
            notes.append("no point here has an accuracy record")
        lay["annotations"] = titles + [dict(
            text="<br>".join(notes) or "every model here has an accuracy record", xref="paper", yref="paper",
            x=0, y=below(58, *PARETO_BOX), showarrow=False, xanchor="left", yanchor="top", align="left",
            font=dict(size=11))]
        per_group.append(idxs)
        layouts.append(lay)
    buttons = menu_buttons(len(fig.data), [g["label"] for g in groups], per_group, layouts)
    page_layout(fig, *PARETO_BOX, menu=buttons, active=default)
    fig.update_layout(layouts[default])
    fig.update_yaxes(title_text="top-1 (%)", row=1, col=1)
    return fig


# ---------------------------------------------------------------------------
# 2. cost vs time
# ---------------------------------------------------------------------------
def cost_time_figure(latency_pts: list[dict]):
    """Measured latency against MACs per runtime, with iso-GMAC/s guides, and
    the achieved GMAC/s per model (depthwise-heavy models run slower per MAC)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pts = [p for p in latency_pts if p["source"] == "measured" and p.get("macs")]
    if not pts:
        return None
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, column_widths=[0.5, 0.5],
                        subplot_titles=["latency p50 against MACs (log-log)", "achieved GMAC/s per model"])
    series: dict[tuple, list[dict]] = {}
    for p in pts:
        series.setdefault((p["device"], p["runtime"], p["precision"]), []).append(p)
    for si, (key, sp) in enumerate(sorted(series.items())):
        color = PALETTE[si % len(PALETTE)]
        name = " · ".join(key)
        fig.add_trace(go.Scatter(x=[p["macs"] * p["batch"] for p in sp], y=[p["latency_ms"] for p in sp],
                                 mode="markers", name=name, legendgroup=name, marker=dict(size=9, color=color),
                                 hovertext=[point_hover(p) for p in sp], hovertemplate="%{hovertext}<extra></extra>"),
                      row=1, col=1)
        one = sorted([p for p in sp if p["batch"] == 1 and p.get("gmacs")], key=lambda p: p["macs"])
        fig.add_trace(go.Bar(x=[p["model"] for p in one], y=[p["gmacs"] for p in one], name=name, legendgroup=name,
                             showlegend=False, marker_color=color, hovertext=[point_hover(p) for p in one],
                             hovertemplate="%{hovertext}<extra></extra>"), row=1, col=2)
    xs = [p["macs"] * p["batch"] for p in pts]
    lo, hi = min(xs) / 2, max(xs) * 2
    for rate in (1, 10, 100, 1000):
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo / (rate * 1e9) * 1e3, hi / (rate * 1e9) * 1e3], mode="lines",
                                 line=dict(dash="dot", width=1, color="#b0b0b0"), name=f"{rate} GMAC/s",
                                 showlegend=False, hoverinfo="name"), row=1, col=1)
    ys = [p["latency_ms"] for p in pts]
    fig.update_xaxes(type="log", title_text="MACs per inference (batch x per-sample)", row=1, col=1)
    fig.update_yaxes(type="log", title_text="latency p50 (ms) · dotted: 1/10/100/1000 GMAC/s",
                     range=[math.log10(min(ys) / 3), math.log10(max(ys) * 3)], row=1, col=1)
    fig.update_xaxes(title_text="model (by MACs), batch 1", categoryorder="array",
                     categoryarray=[p["model"] for p in sorted(pts, key=lambda p: p["macs"])], row=1, col=2)
    fig.update_yaxes(title_text="GMAC/s (MACs / latency)", row=1, col=2)
    page_layout(fig)
    fig.update_layout(barmode="group")
    return fig

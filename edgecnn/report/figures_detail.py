"""Plotly figures for the "why" sections: the separable check, per-layer
rooflines and training curves (see ``figures`` for the Pareto and cost views)."""

from __future__ import annotations

import math
from typing import Any, Callable

from edgecnn.report.figures import PALETTE, page_layout, fmt_ms, fmt_si, below, menu_buttons


# ---------------------------------------------------------------------------
# 3. the separable check
# ---------------------------------------------------------------------------
def separable_figure(rows: list[dict[str, Any]]):
    """Ratios (separable / standard) against N: analytic 1/N + 1/Dk^2 as a
    curve, counted MAC ratios and measured latency ratios per runtime/device."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not rows:
        return None
    standalone = [r for r in rows if r["block"].startswith("M=") or r["model"] in ("separable_layer", "layer", "-")]
    in_models = [r for r in rows if r not in standalone]
    panels = [(standalone, "standalone layer sweep"), (in_models, "blocks inside models")]
    panels = [p for p in panels if p[0]]
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=[t for _, t in panels])
    legend_seen: set[str] = set()
    colors: dict[str, str] = {}
    for ci, (sub, _) in enumerate(panels, 1):
        for dk in sorted({r["dk"] for r in sub if r["dk"]}):
            ns = sorted({r["n"] for r in sub})
            lo, hi = min(ns) / 1.5, max(ns) * 1.5
            xs = [lo * (hi / lo) ** (i / 40) for i in range(41)]
            name = f"analytic 1/N + 1/{int(dk)}²"
            fig.add_trace(go.Scatter(x=xs, y=[1 / x + 1 / dk ** 2 for x in xs], mode="lines", name=name,
                                     legendgroup=name, showlegend=name not in legend_seen,
                                     line=dict(color="#333", dash="dash"), hoverinfo="name"), row=1, col=ci)
            legend_seen.add(name)
        counted = [r for r in sub if r["counted"] is not None and r["runtime"] == "analytic"] or \
                  [r for r in sub if r["counted"] is not None]
        if counted:
            _sep_points(fig, go, counted, "counted", "counted MAC ratio", "#2ca02c", "x", ci, legend_seen)
        by_rt: dict[str, list] = {}
        for r in sub:
            if r["measured"] is not None:
                key = f"{r['runtime']} · {r['device']}"
                if r.get("precision") not in (None, "fp32") or (r.get("batch") or 1) != 1:
                    key += f" · {r['precision']} b{r['batch']}"
                if r.get("timed", "").startswith("device"):
                    key += " · device time"
                elif r.get("timed", "").startswith("end to end"):
                    key += " · copies included"
                by_rt.setdefault(key, []).append(r)
        for key, pts in sorted(by_rt.items()):
            color = colors.setdefault(key, PALETTE[len(colors) % len(PALETTE)])
            _sep_points(fig, go, pts, "measured", f"measured latency ratio: {key}", color, "circle", ci, legend_seen)
    fig.update_xaxes(type="log", title_text="N (output channels) · log")
    fig.update_yaxes(type="log", title_text="separable / standard · log (below 1: separable cheaper)", col=1)
    fig.add_hline(y=1.0, line=dict(color="#999", width=1))
    page_layout(fig)
    return fig


def _sep_points(fig, go, pts, field, name, color, symbol, col, seen):
    fig.add_trace(go.Scatter(
        x=[r["n"] for r in pts], y=[r[field] for r in pts], mode="markers", name=name, legendgroup=name,
        showlegend=name not in seen, marker=dict(color=color, symbol=symbol, size=9),
        hovertext=[f"<b>{r['model']}</b> {r['block']}<br>M={_i(r['m'])} N={_i(r['n'])} Dk={_i(r['dk'])} "
                   f"Df={_i(r['df'])} stride={_i(r['stride'])}<br>analytic {r['analytic']:.4f} · counted "
                   f"{_f(r['counted'])} · measured {_f(r['measured'])}<br>separable {fmt_ms(r['sep_ms'])} · standard "
                   f"{fmt_ms(r['std_ms'])}<br><span style='font-size:10px'>{r['prov']}</span>" for r in pts],
        hovertemplate="%{hovertext}<extra></extra>"), row=1, col=col)
    seen.add(name)


def _i(v) -> str:
    return "-" if v is None else str(int(v))


def _f(v) -> str:
    return "-" if v is None else f"{v:.4f}"


# ---------------------------------------------------------------------------
# 4. per-layer roofline
# ---------------------------------------------------------------------------
CATEGORY_COLORS = {"depthwise conv": "#d62728", "pointwise conv": "#1f77b4", "conv": "#2ca02c",
                   "linear": "#9467bd", "other": "#7f7f7f"}


MAX_BARS = 40
LAYER_BOX = (600, 115, 170)  # height, top and bottom margins (px)


def layer_figure(views: list[dict[str, Any]]):
    """Per layer, for the model chosen in the dropdown: a roofline (achieved
    GMAC/s against arithmetic intensity, under the device's peaks) and each
    layer's share of MACs, bytes and time."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not views:
        return None
    fig = make_subplots(rows=1, cols=2, column_widths=[0.42, 0.58], horizontal_spacing=0.08,
                        subplot_titles=["roofline (marker area: share of time)", "share per layer"])
    titles = [a.to_plotly_json() for a in fig.layout.annotations]
    per_view, layouts = [], []
    for vi, v in enumerate(views):
        idx = []
        layers = v["layers"]
        vis = vi == 0
        tot_macs = sum(l["macs"] or 0 for l in layers) or 1
        tot_bytes = sum(l["bytes"] or 0 for l in layers) or 1
        timed = [l for l in layers if l["time_ms"] and l["macs"] and l["ai"]]
        note = []
        for cat, color in CATEGORY_COLORS.items():
            pts = [l for l in timed if l["cat"] == cat]
            if not pts:
                continue
            fig.add_trace(go.Scatter(
                x=[l["ai"] for l in pts], y=[l["macs"] / (l["time_ms"] / 1e3) / 1e9 for l in pts], mode="markers",
                name=cat, legendgroup=cat, visible=vis,
                marker=dict(color=color, opacity=0.8, sizemode="area", sizemin=4,
                            size=[max(l["share"] or 0, 0) * 100 for l in pts], sizeref=0.08),
                hovertext=[_layer_hover(l, tot_macs, tot_bytes) for l in pts],
                hovertemplate="%{hovertext}<extra></extra>"), row=1, col=1)
            idx.append(len(fig.data) - 1)
        peak = v["peak"]
        bw = peak.get("memory_bandwidth_gb_per_s")
        comp = peak.get("compute_gmacs_per_s")
        if timed and bw and comp:
            ais = [l["ai"] for l in timed]
            lo, hi = min(ais + [comp / bw]) / 2, max(ais + [comp / bw]) * 2
            xs = [lo, comp / bw, hi]
            fig.add_trace(go.Scatter(x=xs, y=[min(comp, x * bw) for x in xs], mode="lines", visible=vis,
                                     name=f"roof ({peak.get('unit')}): {comp:g} GMAC/s, {bw:g} GB/s",
                                     line=dict(color="#333"),
                                     hoverinfo="name"), row=1, col=1)
            idx.append(len(fig.data) - 1)
        elif timed:
            note.append(f"no roof recorded for {v['device']} (nor peak figures in its TOML): roof not drawn")
        if not timed:
            note.append("no per-layer times (analytic cost only): roofline needs a layer_latency record")
        idx += _layer_share_bars(fig, go, layers, tot_macs, tot_bytes, vis, note)
        per_view.append(idx)
        layouts.append({"annotations": titles + [dict(
            text=(" · ".join(note) + "<br>" if note else "") + f"<span style='font-size:10px'>{v['prov']}</span>",
            xref="paper", yref="paper", x=0, y=below(112, *LAYER_BOX), showarrow=False, xanchor="left", yanchor="top", align="left",
            font=dict(size=11))]})
    labels = [f"{v['model']} · {v['device']} · {v['runtime']} · {v['precision']}" if v["timed"] else
              f"{v['model']} · analytic (no times)" for v in views]
    buttons = menu_buttons(len(fig.data), labels, per_view, layouts)
    fig.update_xaxes(type="log", title_text="arithmetic intensity (MACs / byte) · log", row=1, col=1)
    fig.update_yaxes(type="log", title_text="achieved GMAC/s · log", row=1, col=1)
    fig.update_xaxes(tickangle=-60, tickfont=dict(size=9), row=1, col=2)
    fig.update_yaxes(title_text="% of model total", row=1, col=2)
    page_layout(fig, *LAYER_BOX, menu=buttons)
    fig.update_layout(barmode="group", showlegend=True)
    fig.update_layout(layouts[0])
    return fig


def _layer_share_bars(fig, go, layers: list[dict], tot_macs: float, tot_bytes: float, vis: bool,
                      note: list[str]) -> list[int]:
    """The share of MACs, bytes (and time, where timed) per layer as bars in
    the right panel; the heaviest ``MAX_BARS`` layers, small elementwise ops
    left out (said in ``note``). Returns the traces added."""
    shown = [l for l in layers if l["cat"] != "other" or (l["share"] or 0) >= 0.01]
    if len(shown) > MAX_BARS:  # keep the heaviest layers, in model order
        weight = {id(l): max((l["macs"] or 0) / tot_macs, l["share"] or 0) for l in shown}
        keep = set(sorted(weight, key=weight.get, reverse=True)[:MAX_BARS])
        shown = [l for l in shown if id(l) in keep]
    hidden = len(layers) - len(shown)
    if hidden:
        note.append(f"{hidden} small or elementwise ops (BN, activations, adds) not drawn as bars; "
                    f"totals include them")
    names = [l["name"] for l in shown]
    bars = [("MACs", [(l["macs"] or 0) / tot_macs * 100 for l in shown], "#1f77b4"),
            ("bytes", [(l["bytes"] or 0) / tot_bytes * 100 for l in shown], "#ff7f0e")]
    if any(l["share"] is not None or l["time_ms"] for l in layers):
        tot_t = sum(l["time_ms"] or 0 for l in layers) or 1
        bars.append(("time", [(l["share"] * 100 if l["share"] is not None else (l["time_ms"] or 0) / tot_t * 100)
                              for l in shown], "#d62728"))
    idx = []
    for label, ys, color in bars:
        fig.add_trace(go.Bar(x=names, y=ys, name=f"share of {label} (%)", marker_color=color, visible=vis,
                             legendgroup=f"bar-{label}",
                             hovertext=[_layer_hover(l, tot_macs, tot_bytes) for l in shown],
                             hovertemplate=f"{label}: %{{y:.1f}} %<br>%{{hovertext}}<extra></extra>"), row=1, col=2)
        idx.append(len(fig.data) - 1)
    return idx


def _layer_hover(l: dict, tot_macs: float, tot_bytes: float) -> str:
    time = f"{l['time_ms']:.3g} ms ({(l['share'] or 0) * 100:.1f} % of time)" if l["time_ms"] else "not timed"
    return (f"<b>{l['name']}</b> ({l['type']})<br>MACs {fmt_si(l['macs'])} ({(l['macs'] or 0) / tot_macs * 100:.1f} %)"
            f" · bytes {fmt_si(l['bytes'], 'B')}<br>intensity {l['ai']:.3g} MAC/B<br>" if l["ai"] is not None else
            f"<b>{l['name']}</b> ({l['type']})<br>MACs {fmt_si(l['macs'])} · bytes {fmt_si(l['bytes'], 'B')}<br>") + time


# ---------------------------------------------------------------------------
# 6. training curves
# ---------------------------------------------------------------------------
def training_figure(runs: list[dict[str, Any]]):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    runs = [r for r in runs if r["epochs"]]
    if not runs:
        return None
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07,
                        subplot_titles=["loss (solid: test, dotted: train)", "top-1 % (solid: test, dotted: train)",
                                        "seconds per epoch"])
    for ri, run in enumerate(runs):
        color = PALETTE[ri % len(PALETTE)]
        name = f"{run['model']} · {run['run']}"
        ep = [e["epoch"] for e in run["epochs"]]
        for col, test_key, train_key in ((1, "test_loss", "train_loss"), (2, "test_top1", "train_top1"),
                                         (3, "epoch_s", None)):
            fig.add_trace(go.Scatter(x=ep, y=[e[test_key] for e in run["epochs"]], mode="lines+markers", name=name,
                                     legendgroup=name, showlegend=col == 1, line=dict(color=color),
                                     marker=dict(size=4), hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.4g}}"
                                     f"<extra>{test_key}</extra>"), row=1, col=col)
            if train_key:
                fig.add_trace(go.Scatter(x=ep, y=[e[train_key] for e in run["epochs"]], mode="lines", name=name,
                                         legendgroup=name, showlegend=False, line=dict(color=color, dash="dot"),
                                         hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.4g}}<extra>{train_key}</extra>"),
                              row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    page_layout(fig)
    return fig


# ---------------------------------------------------------------------------
# 5. INT8: accuracy lost against speed gained
# ---------------------------------------------------------------------------
def _marker_traces(fig: Any, pts: list[dict[str, Any]], group: Callable[[dict], str], x: Callable[[dict], float],
                   y: Callable[[dict], float], hover: Callable[[str, dict], str]) -> None:
    """One marker trace per group of ``pts`` (sorted by name), a palette colour each."""
    import plotly.graph_objects as go

    groups: dict[str, list[dict[str, Any]]] = {}
    for r in pts:
        groups.setdefault(group(r), []).append(r)
    for i, (name, grp) in enumerate(sorted(groups.items())):
        fig.add_trace(go.Scatter(x=[x(r) for r in grp], y=[y(r) for r in grp], mode="markers", name=name,
                                 marker=dict(size=10, color=PALETTE[i % len(PALETTE)]),
                                 hovertext=[hover(name, r) for r in grp], hoverinfo="text"))


def int8_figure(rows: list[dict[str, Any]]):
    """Top-1 drop (points) against speed-up over the FP32 twin, one point per
    quantised export that has both; one trace per model x format."""
    import plotly.graph_objects as go

    pts = [r for r in rows if r.get("speedup") is not None and r.get("drop") is not None]
    if not pts:
        return None
    fig = go.Figure()
    _marker_traces(fig, pts, lambda r: f"{r['model']} {r['format']}", lambda r: r["speedup"], lambda r: r["drop"],
                   lambda name, r: f"{name} {r['precision']} {r['method'] or ''}<br>drop {r['drop']:+.2f} points, "
                                   f"speed-up {r['speedup']:.2f}x<br>layers in float: {_i(r.get('float_layers'))}"
                                   f"<br>record #{r['rec_n']}")
    fig.add_hline(y=0, line=dict(color="#999", dash="dot"))
    fig.add_vline(x=1, line=dict(color="#999", dash="dot"))
    page_layout(fig)
    fig.update_xaxes(title="speed-up over the FP32 artifact, same runtime (x)")
    fig.update_yaxes(title="top-1 drop against PyTorch (points; lower is better)")
    return fig


def int8_speed_figure(rows: list[dict[str, Any]]):
    """Speed-up over the FP32 twin against the conv + linear MACs of one timed
    call (log scale), one trace per device x runtime: where INT8 pays."""
    import plotly.graph_objects as go

    pts = [r for r in rows if r.get("speedup") is not None and r.get("speedup_macs")]
    if not pts:
        return None
    fig = go.Figure()
    _marker_traces(fig, pts, lambda r: f"{r['device']} {r['parity_runtime'] or r['format']}",
                   lambda r: r["speedup_macs"] / 1e6, lambda r: r["speedup"],
                   lambda name, r: f"{r['model']} {r['format']} {r['method'] or ''} batch {r['batch']}<br>"
                                   f"{r['speedup_macs'] / 1e6:.1f} MMACs per call, speed-up {r['speedup']:.2f}x"
                                   f"<br>record #{r['rec_n']}")
    fig.add_hline(y=1, line=dict(color="#999", dash="dot"))
    page_layout(fig)
    fig.update_xaxes(title="conv + linear MMACs per timed call (counted; log)", type="log")
    fig.update_yaxes(title="INT8 speed-up over FP32, same runtime (measured; above 1: INT8 faster)")
    return fig


# ---------------------------------------------------------------------------
# GPU latency: device time against the copies
# ---------------------------------------------------------------------------
GPU_PARTS = (("latency_ms", "device compute", "#1f77b4"), ("h2d", "host to device (pinned)", "#ff7f0e"),
             ("d2h", "device to host (pinned)", "#2ca02c"), ("end_to_end", "end to end (numpy in and out)", "#7f7f7f"))


def gpu_figure(rows: list[dict[str, Any]]):
    """Per (device, batch) a menu entry: for each model and configuration, the
    device compute time, the two copies and the end-to-end call as bars (a
    record that timed only the whole call shows its end-to-end bar alone)."""
    import plotly.graph_objects as go

    if not rows:
        return None
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["device"], r["batch"], r["model"]), []).append(r)
    fig = go.Figure()
    traces_of, labels, layouts = [], [], []
    for gi, ((dev, batch, model), pts) in enumerate(sorted(groups.items())):
        xs = [f"{p['precision']} · {str(p['config']).removeprefix('cuda').lstrip('+') or 'eager'}" for p in pts]
        idx = []
        for key, name, color in GPU_PARTS:
            ys = [p.get(key) for p in pts]
            if not any(v is not None for v in ys):
                continue
            idx.append(len(fig.data))
            fig.add_trace(go.Bar(x=xs, y=ys, name=name, marker_color=color, visible=gi == 0,
                                 hovertemplate="%{x}<br>" + name + ": %{y:.3g} ms<extra></extra>"))
        traces_of.append(idx)
        labels.append(f"{dev} · batch {batch} · {model}")
        layouts.append({})
    page_layout(fig, height=520, bottom=190, menu=menu_buttons(len(fig.data), labels, traces_of, layouts)
            if len(labels) > 1 else None)
    fig.update_layout(barmode="group", showlegend=True)
    fig.update_yaxes(type="log", title_text="ms · log")
    return fig


def prediction_figure(pairs: list[dict[str, Any]]):
    """Predicted against measured latency (log-log), one colour per device and
    runtime, with the diagonal and the +-10 % band."""
    import plotly.graph_objects as go

    if not pairs:
        return None
    fig = go.Figure()
    groups: dict[tuple, list[dict]] = {}
    for r in pairs:
        groups.setdefault((r["device"], r["runtime"]), []).append(r)
    for i, ((dev, rt), rows) in enumerate(sorted(groups.items())):
        fig.add_trace(go.Scatter(
            x=[r["measured_ms"] for r in rows], y=[r["predicted_ms"] for r in rows], mode="markers",
            name=f"{dev} · {rt}", marker=dict(size=9, color=PALETTE[i % len(PALETTE)]),
            hovertext=[f"{r['model']} {r['precision']} b{r['batch']} {r['config']}<br>measured {r['measured_ms']:.3g} ms"
                       f"<br>predicted {r['predicted_ms']:.3g} ms ({r['error']:+.0f} %)" for r in rows],
            hovertemplate="%{hovertext}<extra></extra>"))
    vals = [v for r in pairs for v in (r["measured_ms"], r["predicted_ms"])]
    lo, hi = min(vals) / 2, max(vals) * 2
    for k, dash, name in ((1.0, "solid", "predicted = measured"), (1.1, "dot", "+10 %"), (0.9, "dot", "-10 %")):
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo * k, hi * k], mode="lines", name=name, hoverinfo="name",
                                 line=dict(dash=dash, width=1, color="#808080"), showlegend=k == 1.0))
    page_layout(fig)
    fig.update_xaxes(type="log", title_text="measured latency (ms, log)", range=[math.log10(lo), math.log10(hi)])
    fig.update_yaxes(type="log", title_text="predicted latency (ms, log)", range=[math.log10(lo), math.log10(hi)])
    return fig

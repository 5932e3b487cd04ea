"""The report's figures as data: every table and plotted series, as the page shows it.

``report_tables(data)`` turns the collected rows (``collect``) into named
``Table`` objects: the page renders its tables from them, its plots are drawn
from the same rows, and ``edgecnn report --format json|csv`` writes them, so
the numbers can be taken elsewhere and tests can check cells against records.
Values are the unrounded figures (units in the column's ``unit``); the page
only formats them.
"""

from __future__ import annotations

import json
from typing import Any

from edgecnn.report import collect
from edgecnn.report.columns import Column, Table
from edgecnn.report.pareto import pareto_front


C = Column
RECORD = C("rec_n", "record")

LATENCY_COLUMNS = [
    C("device", "device"), C("model", "model"), C("runtime", "runtime"), C("format", "format"),
    C("precision", "precision"), C("config", "configuration"), C("batch", "batch"), C("input", "input"),
    C("source", "source"), C("timed", "what was timed"),
    C("statistic", "statistic"), C("latency_ms", "latency", "ms", ".3g"), C("p90", "p90", "ms", ".3g"),
    C("gmacs", "achieved", "GMAC/s", ".3g"), C("memory_added_mb", "memory added", "MB", ".1f"),
    C("memory_peak_mb", "process peak", "MB", ".1f"), C("artifact_bytes", "artifact", "bytes", "siB"),
    C("top1", "top-1", "%", ".2f"), C("acc_note", "top-1 from"), C("band", "prediction error band"), RECORD,
]
PARETO_COLUMNS = [
    C("group", "group"), C("model", "model"), C("source", "latency source"), C("latency_ms", "latency", "ms"),
    C("macs", "MACs", "MACs"), C("params", "parameters", "count"), C("top1", "top-1", "%"),
    C("acc_note", "top-1 from"), C("front_latency_ms", "on the latency front"), C("front_macs", "on the MACs front"),
    C("front_params", "on the parameters front"), RECORD,
]
COST_TIME_COLUMNS = [
    C("series", "series"), C("model", "model"), C("batch", "batch"), C("macs_per_inference", "MACs", "MACs"),
    C("latency_ms", "latency p50", "ms"), C("gmacs", "achieved", "GMAC/s"), RECORD,
]
GPU_COLUMNS = [
    C("device", "device"), C("model", "model"), C("runtime", "runtime"), C("precision", "precision"),
    C("config", "configuration"), C("batch", "batch"), C("timed", "headline"),
    C("latency_ms", "device compute", "ms", ".3g"), C("h2d", "host to device", "ms", ".3g"),
    C("d2h", "device to host", "ms", ".3g"), C("end_to_end", "end to end", "ms", ".3g"),
    C("gmacs", "achieved", "GMAC/s", ".4g"), C("compile_s", "compile", "s", ".1f"),
    C("fidelity", "edgecnn / plain script", "ratio", ".3f"), C("fidelity_interval", "95 % interval"),
    C("fidelity_verdict", "fidelity"), RECORD,
]
SEPARABLE_COLUMNS = [
    C("model", "model"), C("block", "block"), C("device", "device"), C("runtime", "runtime"),
    C("precision", "precision"), C("batch", "batch"), C("timed", "what was timed"), C("m", "M", "", ".0f"),
    C("n", "N", "", ".0f"), C("dk", "Dk", "", ".0f"), C("df", "Df", "", ".0f"), C("stride", "stride", "", ".0f"),
    C("analytic", "analytic 1/N+1/Dk²", "ratio", ".4f"), C("counted", "counted MACs", "ratio", ".4f"),
    C("measured", "measured latency", "ratio", ".4f"), C("sep_ms", "separable", "ms", ".3g"),
    C("std_ms", "standard", "ms", ".3g"), C("sep_tflops", "separable achieved (2 x MACs)", "TFLOP/s", ".3g"),
    C("std_tflops", "standard achieved (2 x MACs)", "TFLOP/s", ".3g"), RECORD,
]
ROOF_COLUMNS = [
    C("device", "device"), C("unit", "unit"), C("fp32", "fp32 peak", "GMAC/s", ".4g"),
    C("fp16", "fp16 peak", "GMAC/s", ".4g"), C("int8", "int8 peak", "GMAC/s", ".4g"),
    C("bandwidth", "memory bandwidth", "GB/s", ".4g"), C("kinds", "kind of each figure"),
    C("raised", "raised to a measured rate"), C("source", "from"),
]
LAYER_COLUMNS = [
    C("view", "view"), C("name", "layer"), C("type", "type"), C("cat", "class"), C("macs", "MACs", "MACs"),
    C("bytes", "bytes", "bytes"), C("ai", "intensity", "MACs/byte"), C("time_ms", "time", "ms"),
    C("share", "share of time", "ratio"), C("gmacs", "achieved", "GMAC/s"),
]
EXPORT_COLUMNS = [
    C("model", "model"), C("format", "format"), C("precision", "precision"), C("status", "status"),
    C("parity_runtime", "parity run on"), C("export_s", "export", "s", ".2f"), C("file_bytes", "file", "bytes", "siB"),
    C("max_abs_diff", "max |diff|", "logit", ".2e"), C("mean_abs_diff", "mean |diff|", "logit", ".2e"),
    C("cosine", "cosine", "ratio", ".6f"), C("top1_agreement", "top-1 agree", "%", ".1f"),
    C("top1", "top-1", "%", ".2f"), C("top1_reference", "reference", "%", ".2f"),
    C("drop", "drop", "points", "+.2f"), C("method", "INT8 method"), C("float_layers", "layers in float", "", ".0f"),
    C("speedup", "speed-up vs FP32", "ratio", ".2f"), C("error", "error"), RECORD,
]
RUN_COLUMNS = [
    C("model", "model"), C("run", "run"), C("device", "device"), C("epochs", "epochs"),
    C("best", "best test top-1", "%", ".2f"), C("final", "final test top-1", "%", ".2f"),
    C("total_s", "time", "s", ".0f"),
]
RECOMMEND_COLUMNS = [
    C("device", "device"), C("dataset", "top-1 on"), C("pick", "pick"), C("front", "on the front"),
    C("meets", "meets the budgets"), C("model", "model"), C("weights", "weights"), C("runtime", "runtime"),
    C("format", "format"), C("precision", "precision"), C("batch", "batch"),
    C("latency_ms", "latency", "ms", ".3g"), C("statistic", "statistic"), C("source", "latency"),
    C("band", "prediction error band"), C("top1", "top-1", "%", ".2f"), C("top1_from", "top-1"),
    C("size_bytes", "artifact", "bytes", "siB"), C("memory_mb", "process peak", "MB", ".1f"),
    C("why", "why not"), RECORD,
]
CURVE_COLUMNS = [
    C("model", "model"), C("run", "run"), C("epoch", "epoch"), C("train_loss", "train loss", "nats"),
    C("test_loss", "test loss", "nats"), C("train_top1", "train top-1", "%"), C("test_top1", "test top-1", "%"),
    C("lr", "lr"), C("epoch_s", "epoch time", "s"), C("images_per_s", "images/s", "images/s"),
]


def band_text(band: dict[str, Any] | None) -> str:
    if not band:
        return ""
    if not band.get("validated"):
        return f"not validated: {band.get('note', '')}"
    return (f"{band['within_10_pct']:.0f} % within +-10 %, {band['within_25_pct']:.0f} % within +-25 %, "
            f"median |error| {band['median_abs_error'] * 100:.0f} % ({band.get('models')} models)")


def report_tables(data: collect.ReportData) -> dict[str, Table]:
    """Every table and plotted series of the page, from the collected rows."""
    look = collect.Lookup(data)
    lat = collect.latency_points(data, look)
    models = collect.model_points(data, look)
    tables = {
        "latency": Table("latency", "Latency per device, runtime and precision", LATENCY_COLUMNS,
                         [{**p, "band": band_text(p.get("error_band"))} for p in lat]),
        "pareto": Table("pareto", "Pareto fronts: every point of every menu entry", PARETO_COLUMNS,
                        pareto_rows(models, lat)),
        "cost_time": Table("cost_time", "Cost vs time: measured latency against MACs", COST_TIME_COLUMNS,
                           cost_time_rows(lat)),
        "gpu": Table("gpu", "GPU latency: device compute, copies and end to end per precision, layout and batch",
                     GPU_COLUMNS, gpu_rows(lat)),
        "separable": Table("separable", "The separable check", SEPARABLE_COLUMNS, collect.separable_rows(data)),
        "roofs": Table("roofs", "Roofs drawn (peak compute and memory bandwidth per device unit)", ROOF_COLUMNS,
                       roof_rows(data)),
        "layers": Table("layers", "Per-layer rows of every view", LAYER_COLUMNS, layer_rows(data)),
        "export": Table("export", "Export quality", EXPORT_COLUMNS, collect.export_rows(data, look)),
    }
    from edgecnn.report import predicted
    from edgecnn.select import recommend

    pairs = predicted.pair_rows(lat)
    tables["predicted_pairs"] = Table("predicted_pairs", "Predicted against measured, per configuration",
                                      predicted.PAIR_COLUMNS, pairs)
    tables["prediction_error"] = Table("prediction_error", "Prediction error per device and runtime",
                                       predicted.SUMMARY_COLUMNS, predicted.summary_rows(pairs))
    recs = recommend(data.used)
    tables["recommendation"] = Table("recommendation", "Recommendation per device: the front over all runtimes and "
                                     "precisions, and the pick under the default budgets", RECOMMEND_COLUMNS,
                                     recommendation_rows(data, recs))
    runs = collect.training_runs(data)
    tables["training_runs"] = Table("training_runs", "Training runs", RUN_COLUMNS, [run_row(r) for r in runs])
    tables["training_curves"] = Table("training_curves", "Training curves", CURVE_COLUMNS,
                                      [{"model": r["model"], "run": r["run"], **e} for r in runs for e in r["epochs"]])
    # the rows the plots draw from: kept beside the tables, not written out twice
    tables["latency"].points, tables["latency"].model_points = lat, models  # type: ignore[attr-defined]
    tables["layers"].views = collect.layer_views(data)  # type: ignore[attr-defined]
    tables["training_runs"].runs = runs  # type: ignore[attr-defined]
    tables["recommendation"].recs = recs  # type: ignore[attr-defined]
    return tables


def gpu_rows(lat: list[dict]) -> list[dict[str, Any]]:
    """Measured latency on a GPU (the torch runner on CUDA, TensorRT), device
    by device, batch by batch: the headline with the copies beside it."""
    rows = [{**p, "latency_ms": p["latency_ms"] if p.get("measure") == "device_compute" else None}
            for p in lat if p["source"] == "measured" and (p.get("measure") in ("device_compute", "end_to_end")
                                                           or "cuda" in str(p.get("config")))]
    return sorted(rows, key=lambda p: (p["device"], p["batch"], p["model"], p["precision"], str(p["config"])))


def pareto_groups(model_pts: list[dict], latency_pts: list[dict]) -> list[dict[str, Any]]:
    """Groups of points, one per menu entry of the page: the device-independent
    analytic view first, then one per device x runtime x precision (x batch)."""
    groups = []
    if model_pts:
        groups.append(dict(label="all models: analytic MACs/params, PyTorch fp32 top-1", points=model_pts))
    by: dict[tuple, list[dict]] = {}
    for p in latency_pts:  # a configuration (CUDA graphs, channels-last, ...) is a menu entry of its own
        config = p.get("config") or "-"
        if config.startswith("predicted"):
            config = config.removeprefix("predicted").lstrip("+") or "-"
        by.setdefault((p["device"], p["runtime"], config, p["precision"], p["batch"]), []).append(p)

    def order(kv):  # measured before predicted, batch 1 first, then by name
        (dev, rt, config, prec, batch), pts = kv
        return (all(p["source"] == "predicted" for p in pts), batch != 1, dev, rt, config, prec, batch)

    for (dev, rt, config, prec, batch), pts in sorted(by.items(), key=order):
        src = sorted({p["source"] for p in pts})
        label = (f"{dev} · {rt}" + (f"[{config}]" if config != "-" else "") + f" · {prec}" +
                 (f" · batch {batch}" if batch != 1 else "") + f" ({'/'.join(src)})")
        groups.append(dict(label=label, points=pts))
    return groups


AXES = (("latency_ms", "latency p50 (ms)"), ("macs", "MACs"), ("params", "parameters"))


def front_flags(points: list[dict]) -> dict[int, dict[str, bool]]:
    """id(point) -> {axis key: on that axis's front} for points with a top-1."""
    out: dict[int, dict[str, bool]] = {id(p): {} for p in points}
    pts = [p for p in points if p.get("top1") is not None]
    for key, _ in AXES:
        usable = [p for p in pts if p.get(key)]
        on = {id(usable[i]) for i in pareto_front([p[key] for p in usable], [p["top1"] for p in usable])}
        for p in usable:
            out[id(p)][key] = id(p) in on
    return out


def pareto_rows(models: list[dict], lat: list[dict]) -> list[dict[str, Any]]:
    rows = []
    for g in pareto_groups(models, lat):
        flags = front_flags(g["points"])
        for p in g["points"]:
            f = flags[id(p)]
            rows.append({"group": g["label"], "model": p["model"], "source": p["source"],
                         "latency_ms": p.get("latency_ms"), "macs": p.get("macs"), "params": p.get("params"),
                         "top1": p.get("top1"), "acc_note": p.get("acc_note"),
                         "front_latency_ms": f.get("latency_ms"), "front_macs": f.get("macs"),
                         "front_params": f.get("params"), "rec_n": p.get("rec_n")})
    return rows


def cost_time_rows(lat: list[dict]) -> list[dict[str, Any]]:
    return [{"series": f"{p['device']} · {p['runtime']} · {p['precision']}", "model": p["model"],
             "batch": p["batch"], "macs_per_inference": p["macs"] * p["batch"], "latency_ms": p["latency_ms"],
             "gmacs": p["gmacs"], "rec_n": p["rec_n"]}
            for p in lat if p["source"] == "measured" and p.get("macs")]


def roof_rows(data: collect.ReportData) -> list[dict[str, Any]]:
    rows = []
    for dev, units in sorted(data.roofs.items()):
        for unit, roof in sorted(units.items()):
            g = roof.get("gmacs_per_s") or {}
            rows.append({"device": dev, "unit": unit, "fp32": g.get("fp32"), "fp16": g.get("fp16"),
                         "int8": g.get("int8"), "bandwidth": roof.get("memory_bandwidth_gb_per_s"),
                         "kinds": ", ".join(f"{k} {v}" for k, v in sorted((roof.get("kind") or {}).items())),
                         "raised": ", ".join(f"{k} from {v:g}" for k, v in (roof.get("raised") or {}).items()),
                         "source": roof.get("source")})
    return rows


def layer_rows(data: collect.ReportData) -> list[dict[str, Any]]:
    rows = []
    for v in collect.layer_views(data):
        view = f"{v['model']} · {v['device']} · {v['runtime']} · {v['precision']}" if v["timed"] else \
            f"{v['model']} · analytic"
        for layer in v["layers"]:
            t, macs = layer["time_ms"], layer["macs"]
            rows.append({"view": view, **layer, "gmacs": macs / (t * 1e6) if (t and macs) else None})
    return rows


def recommendation_rows(data: collect.ReportData, recs: list | None = None) -> list[dict[str, Any]]:
    """Per device (and dataset of the top-1): every option, the Pareto front
    over latency p50 and top-1 across all runtimes and precisions, and the
    option ``edgecnn select`` picks under ``select.DEFAULT_BUDGETS``."""
    from edgecnn.select import recommend

    rows = []
    for rec in recs if recs is not None else recommend(data.used):
        for o in rec.options:
            tier = {"measured": "measured", "pytorch_fp32_parity": "measured (PyTorch fp32, parity passed)",
                    "published": "published", "none": "unknown"}[o.accuracy.tier]
            rows.append({"device": o.device, "dataset": rec.dataset or "-", "pick": o is rec.pick,
                         "front": id(o) in rec.front, "meets": not o.reasons, "model": o.model,
                         "weights": o.weights_label, "runtime": o.runtime, "format": o.format,
                         "precision": o.precision, "batch": o.batch, "latency_ms": o.latency_ms,
                         "statistic": o.statistic, "source": o.source, "band": band_text(o.error_band),
                         "top1": o.top1, "top1_from": tier, "top1_note": o.accuracy.note,
                         "size_bytes": o.size_bytes, "memory_mb": o.memory_mb,
                         "why": "; ".join(r.text for r in o.reasons),
                         "rec_n": data.number(o.record) if o.record is not None else None})
    return rows


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    eps = run["epochs"]
    tops = [e["test_top1"] for e in eps if e["test_top1"] is not None]
    secs = [e["epoch_s"] for e in eps if e["epoch_s"] is not None]
    summary = run["summary"]
    final = collect.num(summary.metric("test_top1")) if summary else None
    return dict(model=run["model"], run=run["run"], device=run["device"], epochs=len(eps),
                best=max(tops) if tops else None, final=final if final is not None else (tops[-1] if tops else None),
                total_s=sum(secs) if secs else None)


def to_json(tables: dict[str, Table], summary: dict[str, Any], skipped: list[str]) -> str:
    return json.dumps({"summary": summary, "skipped": skipped,
                       "tables": {name: t.to_dict() for name, t in tables.items()}}, indent=1, default=str) + "\n"

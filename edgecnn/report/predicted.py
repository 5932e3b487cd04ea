"""Predicted beside measured: where a device has both a prediction and a
measurement of the same configuration, the pair, its error, a scatter of
predicted against measured latency with the +-10 % band, and the error per
device and runtime (share within +-10 % and +-25 %, median |error|, Spearman).

A GPU prediction is of device compute time, so it is paired only with a
measurement that timed the device alone (``latency_measure =
"device_compute"``); a figure with the host copies inside is not its match.
"""

from __future__ import annotations

import statistics
from typing import Any

from edgecnn.report.columns import Column as C

PAIR_COLUMNS = [
    C("device", "device"), C("model", "model"), C("runtime", "runtime"), C("precision", "precision"),
    C("config", "configuration"), C("batch", "batch"), C("measured_ms", "measured", "ms", ".3g"),
    C("predicted_ms", "predicted", "ms", ".3g"), C("error", "error", "%", "+.1f"),
    C("calibrated_on", "device's own measurements behind it"), C("params_source", "parameters from"),
    C("rec_n", "predicted record"), C("measured_rec_n", "measured record"),
]
SUMMARY_COLUMNS = [
    C("device", "device"), C("runtime", "runtime"), C("pairs", "pairs"),
    C("within_10", "within +-10 %", "%", ".0f"), C("within_25", "within +-25 %", "%", ".0f"),
    C("median_abs", "median |error|", "%", ".1f"), C("spearman", "Spearman", "ratio", ".3f"),
]


def _config(p: dict[str, Any]) -> str:
    parts = [x for x in str(p.get("config") or "-").split("+") if x and x not in ("predicted", "-")]
    return "+".join(parts) or "-"


def pair_rows(lat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per predicted point with a measured point of the same configuration."""
    measured: dict[tuple, dict] = {}
    for p in lat:
        if p["source"] == "measured" and p.get("latency_ms"):
            gpu = "cuda" in _config(p) or p.get("unit") == "gpu"
            if gpu and p.get("measure") != "device_compute":
                continue
            measured[(p["device"], p["model"], p["runtime"], p["precision"], p["batch"], _config(p))] = p
    rows = []
    for p in lat:
        if p["source"] != "predicted" or not p.get("latency_ms"):
            continue
        m = measured.get((p["device"], p["model"], p["runtime"], p["precision"], p["batch"], _config(p)))
        if m is None:
            continue
        rec = p["rec"]
        rows.append({"device": p["device"], "model": p["model"], "runtime": p["runtime"], "precision": p["precision"],
                     "config": _config(p), "batch": p["batch"], "measured_ms": m["latency_ms"],
                     "predicted_ms": p["latency_ms"],
                     "error": (p["latency_ms"] - m["latency_ms"]) / m["latency_ms"] * 100.0,
                     "calibrated_on": rec.metrics.get("calibrated_on"), "params_source": rec.metrics.get("params_source"),
                     "rec_n": p.get("rec_n"), "measured_rec_n": m.get("rec_n")})
    return sorted(rows, key=lambda r: (r["device"], r["runtime"], r["precision"], r["batch"], r["model"]))


def _spearman(a: list[float], b: list[float]) -> float | None:
    from edgecnn.predict.validate import spearman

    return spearman(a, b)


def summary_rows(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The error of the pairs per (device, runtime)."""
    groups: dict[tuple, list[dict]] = {}
    for r in pairs:
        groups.setdefault((r["device"], r["runtime"]), []).append(r)
    out = []
    for (dev, rt), rows in sorted(groups.items()):
        errs = [abs(r["error"]) for r in rows]
        out.append({"device": dev, "runtime": rt, "pairs": len(rows),
                    "within_10": 100.0 * sum(e <= 10 for e in errs) / len(errs),
                    "within_25": 100.0 * sum(e <= 25 for e in errs) / len(errs),
                    "median_abs": statistics.median(errs),
                    "spearman": _spearman([r["measured_ms"] for r in rows], [r["predicted_ms"] for r in rows])})
    return out

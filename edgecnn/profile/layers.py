"""Join per-layer times from a runner to the cost table's rows.

Each joined row has the cost row's name, type, op class, MACs, bytes and
arithmetic intensity, the measured ``time_ms`` and the achieved GMAC/s.
Runtimes that fuse (ONNX Runtime: Conv+BN+activation) report one time for
several cost rows: the conv row gets the time and the rows folded into it
are marked ``fused_into``. Timed nodes that match no cost row are kept at the
end with their runtime name (``matched: false``), never dropped.
"""

from __future__ import annotations

from typing import Any, Sequence

from edgecnn.cost.layer_class import layer_class as op_class
from edgecnn.predict.roofline import fused_rows

_ELEMENTWISE_OPS = {"add": ("Add", "Sum"), "mul": ("Mul",), "relu": ("Relu",), "hardtanh": ("Clip",),
                    "max_pool2d": ("MaxPool",), "avg_pool2d": ("AveragePool",), "adaptive_avg_pool2d":
                    ("GlobalAveragePool", "ReduceMean", "AveragePool"), "mean": ("ReduceMean", "GlobalAveragePool")}


# what each runtime calls a convolution or a matrix product (ONNX Runtime, torch, OpenVINO, NCNN, MNN, XNNPACK)
_COMPUTE_OPS = {"Conv", "FusedConv", "Gemm", "MatMul", "FusedGemm", "Conv2d", "Linear", "Convolution",
                "GroupConvolution", "FullyConnected", "ConvolutionDepthWise", "ConvolutionDepthwise", "InnerProduct",
                "Deconvolution", "DeconvolutionDepthWise"}
_COMPUTE_PREFIXES = ("Convolution (", "Fully Connected", "Deconvolution (")


# what a layer timed alone carries beside its time (edgecnn.profile.isolated): its call, its copies, and
# whether the call was below the copies (then it has no time)
TIMED_ALONE = ("call_ms", "input_set_ms", "output_get_ms", "below_copies")


def _row(c: Any) -> dict[str, Any]:
    d = c.to_dict() if hasattr(c, "to_dict") else dict(c)
    return {k: d.get(k) for k in ("name", "type", "op", "category", "kernel", "stride", "groups", "in_channels",
                                  "out_channels", "input_shape", "output_shape", "macs", "params",
                                  "bytes_read", "bytes_written", "arithmetic_intensity")}


def join_layer_times(cost_layers: Sequence[Any], timed: Sequence[dict[str, Any]], *, runtime: str,
                     batch: int = 1) -> list[dict[str, Any]]:
    """Cost rows (``LayerCost`` or dicts, counted at ``batch``) + runner rows
    ``{name, op_type, time_ms}`` -> joined rows (see module doc)."""
    rows = [_row(c) for c in cost_layers]
    for r in rows:
        r["op_class"] = op_class(r)
        r["time_ms"] = None
    by_name: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        base = str(r["name"]).split("#")[0]
        by_name.setdefault(base, []).append(i)
        if ":" in base:  # functional op in a container's forward: "layer1.0:add"
            by_name.setdefault(base.split(":")[0], []).append(i)
    extra = []
    for t in timed:
        idx = _match(rows, by_name, t)
        if idx is None:
            extra.append({"name": t.get("name"), "type": t.get("op_type"), "op_class": "elementwise",
                          "macs": None, "time_ms": t["time_ms"], "matched": False, "node": t.get("node"),
                          **{k: t[k] for k in TIMED_ALONE if k in t}})
            continue
        r = rows[idx]
        if t["time_ms"] is not None:
            r["time_ms"] = (r["time_ms"] or 0.0) + float(t["time_ms"])
        r["runtime_op"] = t.get("op_type")
        r.update({k: t[k] for k in TIMED_ALONE if k in t})
        r["matched"] = True
    if runtime != "torch":
        compute_timed = {i for i, r in enumerate(rows) if r["op_class"] != "elementwise" and r["time_ms"]}
        owner = None
        folded = fused_rows(rows)
        for i in range(len(rows)):
            if i in compute_timed:
                owner = i
            elif i in folded and rows[i]["time_ms"] is None and owner is not None:
                rows[i]["fused_into"] = rows[owner]["name"]
            elif rows[i]["op_class"] != "elementwise":
                owner = None
    for r in rows + extra:
        r.setdefault("matched", r.get("time_ms") is not None)
        t = r.get("time_ms")
        macs = r.get("macs")
        r["achieved_gmacs_per_s"] = (macs / (t * 1e6)) if (t and macs) else None
    return rows + extra


def _match(rows: list[dict], by_name: dict[str, list[int]], t: dict[str, Any]) -> int | None:
    cands = by_name.get(str(t.get("name")), [])
    if not cands:
        return None
    if len(cands) == 1:
        return cands[0]
    op = str(t.get("op_type", ""))
    compute = op in _COMPUTE_OPS or op.startswith(_COMPUTE_PREFIXES)
    for i in cands:  # pick the cost row of the same kind, first one not yet timed
        r = rows[i]
        if compute and r["op_class"] != "elementwise" and r["time_ms"] is None:
            return i
        if not compute and r["op_class"] == "elementwise" and r["time_ms"] is None:
            if any(op in names for key, names in _ELEMENTWISE_OPS.items() if key == r.get("op")) or op == r.get("type"):
                return i
    for i in cands:
        if rows[i]["time_ms"] is None and (rows[i]["op_class"] != "elementwise") == compute:
            return i
    return cands[0]


def summarize_layers(rows: Sequence[dict[str, Any]], total_ms: float | None = None) -> dict[str, Any]:
    """Totals per op class: time, MACs, share of the measured layer time."""
    out: dict[str, dict[str, float]] = {}
    timed = sum(r["time_ms"] or 0 for r in rows)
    for r in rows:
        c = out.setdefault(r.get("op_class") or "elementwise", {"time_ms": 0.0, "macs": 0, "layers": 0})
        c["time_ms"] += r.get("time_ms") or 0.0
        c["macs"] += r.get("macs") or 0
        c["layers"] += 1
    for c in out.values():
        c["share"] = c["time_ms"] / timed if timed else 0.0
        c["achieved_gmacs_per_s"] = c["macs"] / (c["time_ms"] * 1e6) if c["time_ms"] else None
    res: dict[str, Any] = {"by_class": out, "layers_time_ms": timed}
    below = [r["name"] for r in rows if r.get("below_copies")]
    if below:  # timed, but faster than their own copies: no time (edgecnn.profile.isolated)
        res["below_copies"] = below
    if total_ms:
        res["unattributed_ms"] = max(0.0, total_ms - timed)
    return res

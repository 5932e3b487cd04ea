"""Which layers INT8 hurts, and mixed precision that keeps the worst in float.

Sensitivity (``layer_sensitivity``): for every layer of an FP32 ONNX graph
(``quantize.LAYER_OPS``), a model where **only that layer** is INT8 (ONNX
Runtime's ``nodes_to_quantize``, calibration ranges computed once and cached)
runs on a few hundred real images; its logits are compared with the FP32
model's. Figures per layer: ``logit_error`` (sum of squared logit differences
over the sum of squared FP32 logits: a relative error, 0 = none),
``agreement`` (percent of images with the FP32 class) and ``top1`` (percent,
when labels are given). The ranking is by ``logit_error``: on a few hundred
images a layer flips a handful of decisions at most, so top-1 alone cannot
order them. The single-layer models run ONNX Runtime's real integer kernels
(a Conv with Q/DQ on its input, weights and output becomes QLinearConv), so a
layer that saturates on this CPU shows up here.

NNCF methods quantise with NNCF's own placement; their ranking uses ONNX
Runtime with the same weight bits (``proxy_method``), and the layers kept in
float are then passed to NNCF as its ``ignored_scope``.

Mixed precision (``search_float_layers``): keep the most sensitive layers in
float until the top-1 drop on the search images is within ``max_drop``
points. The number kept grows 1, 2, 4, ... until the budget holds, then a
binary search finds the fewest; each step quantises the whole model with the
method and measures it. The search images are real training images, not the
calibration ones and not the test set; the export's parity check then
measures the chosen model on the test images.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgecnn.export.quantize import QUANT_METHODS, QuantMethod, layer_nodes, prepare, quantize_onnx, resolve_method

EVAL_BATCH = 256


def onnx_logits(path: Path | str, x: np.ndarray, threads: int = 2, batch: int = EVAL_BATCH,
                optimize: bool = True) -> np.ndarray:
    """Logits of an ONNX file over ``x`` (NCHW float32), ``batch`` rows per call
    (a static-batch file: its batch per call). ``optimize=False`` turns ONNX
    Runtime's graph optimisations off: a Q/DQ model then runs float kernels
    on dequantised tensors (quantisation simulated, no integer kernels)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dim0 = inp.shape[0]
    step = batch if not isinstance(dim0, int) else max(1, dim0)
    outs = []
    for i in range(0, len(x), step):
        chunk = np.ascontiguousarray(x[i:i + step], dtype=np.float32)
        if isinstance(dim0, int) and len(chunk) < dim0:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], dim0 - len(chunk), axis=0)])
            outs.append(sess.run(None, {inp.name: chunk})[0][:len(x) - i])
        else:
            outs.append(sess.run(None, {inp.name: chunk})[0])
    return np.concatenate(outs).reshape(len(x), -1)


def compare(ref: np.ndarray, got: np.ndarray, labels: np.ndarray | None) -> dict[str, float | None]:
    """``logit_error`` (relative squared error), ``agreement`` and ``top1`` (percent)."""
    err = float(((got - ref) ** 2).sum() / max(float((ref ** 2).sum()), 1e-30))
    agree = 100.0 * float((got.argmax(1) == ref.argmax(1)).mean())
    top1 = 100.0 * float((got.argmax(1) == labels).mean()) if labels is not None else None
    return {"logit_error": err, "agreement": agree, "top1": top1}


def proxy_method(method: QuantMethod) -> QuantMethod:
    """The ONNX Runtime method whose single-layer models rank layers for ``method``."""
    if method.tool == "onnxruntime":
        return method
    return QUANT_METHODS.get("reduce-range" if method.weight_bits == 7 else resolve_method("auto").name)


@dataclass
class Sensitivity:
    """Per-layer figures (``rows``, most sensitive first) and the references."""

    method: str
    ranked_with: str
    n_images: int
    reference_top1: float | None
    all_int8: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ranking(self) -> list[str]:
        return [r["layer"] for r in self.rows]


def layer_sensitivity(fp32_path: Path, batches: list[np.ndarray], x: np.ndarray, labels: np.ndarray | None,
                      method: str | QuantMethod | None = None, layers: Sequence[str] | None = None,
                      progress: Callable[[int, int, str], None] | None = None) -> Sensitivity:
    """Rank the layers of ``fp32_path`` (a dynamic-batch FP32 ONNX file) by the
    error each adds when it alone is INT8 (see module doc). ``batches``:
    calibration batches; ``x``/``labels``: the images to measure on."""
    m = resolve_method(method)
    proxy = proxy_method(m)
    with tempfile.TemporaryDirectory(prefix="edgecnn-sens-") as tmp:
        tmp_p = Path(tmp)
        pre = tmp_p / "pre.onnx"
        nodes = layer_nodes(prepare(fp32_path, pre))
        todo = [n for n in nodes if layers is None or n in layers]
        ref = onnx_logits(pre, x)
        cache = tmp_p / "calibration.json"
        full = tmp_p / "all.onnx"
        quantize_onnx(pre, full, batches, proxy, calibration_cache=cache)
        all_int8 = compare(ref, onnx_logits(full, x), labels)
        from edgecnn.export.quantize import ort_quantize

        rows = []
        for i, node in enumerate(todo):
            if progress:
                progress(i, len(todo), node)
            one = tmp_p / "one.onnx"
            ort_quantize(pre, one, batches, proxy, (), cache, quantize_only=[node])
            rows.append({"layer": node, "op": _op_of(pre, node), **compare(ref, onnx_logits(one, x), labels)})
    rows.sort(key=lambda r: -r["logit_error"])
    ref_top1 = 100.0 * float((ref.argmax(1) == labels).mean()) if labels is not None else None
    return Sensitivity(m.name, proxy.name, len(x), ref_top1, all_int8, rows)


_OPS: dict[str, dict[str, str]] = {}


def _op_of(path: Path, node: str) -> str:
    key = str(path)
    if key not in _OPS:
        import onnx

        _OPS.clear()
        _OPS[key] = {n.name: n.op_type for n in onnx.load(key, load_external_data=False).graph.node}
    return _OPS[key].get(node, "?")


@dataclass
class SearchResult:
    keep_float: list[str]
    search_drop: float  # points, on the search images
    reference_top1: float
    top1: float
    steps: list[dict[str, Any]]


def search_float_layers(fp32_path: Path, batches: list[np.ndarray], x: np.ndarray, labels: np.ndarray,
                        ranking: Sequence[str], max_drop: float, method: str | QuantMethod | None = None,
                        log: Callable[[str], None] | None = None) -> SearchResult:
    """The fewest most-sensitive layers (a prefix of ``ranking``) to keep in
    float so that top-1 on ``x`` drops at most ``max_drop`` points (see module
    doc), for an ONNX model quantised with ``method``."""
    m = resolve_method(method)
    ref_top1 = 100.0 * float((onnx_logits(fp32_path, x).argmax(1) == labels).mean())

    def top1_with(keep: list[str]) -> float:
        with tempfile.TemporaryDirectory(prefix="edgecnn-mixed-") as tmp:
            q = Path(tmp) / "q.onnx"
            quantize_onnx(fp32_path, q, batches, m, keep_float=keep)
            return 100.0 * float((onnx_logits(q, x).argmax(1) == labels).mean())

    return search_prefix(ranking, max_drop, ref_top1, top1_with, log)


def search_prefix(ranking: Sequence[str], max_drop: float, ref_top1: float,
                  top1_with: Callable[[list[str]], float], log: Callable[[str], None] | None = None) -> SearchResult:
    """The shortest prefix of ``ranking`` kept in float whose top-1
    (``top1_with(prefix)``, percent) is within ``max_drop`` points of
    ``ref_top1``: 0, then 1, 2, 4, ... layers until the budget holds, then a
    binary search. When even every layer in float misses it, all are kept and
    ``search_drop`` says by how much it missed."""
    steps: list[dict[str, Any]] = []
    results: dict[int, float] = {}

    def drop_with(k: int) -> float:
        if k not in results:
            top1 = top1_with(list(ranking[:k]))
            results[k] = ref_top1 - top1
            steps.append({"float_layers": k, "top1": top1, "drop": results[k]})
            if log:
                log(f"mixed precision: {k} layer(s) in float -> top-1 {top1:.2f}% (drop {results[k]:+.2f} points)")
        return results[k]

    def result(k: int) -> SearchResult:
        return SearchResult(list(ranking[:k]), results[k], ref_top1, ref_top1 - results[k], steps)

    n = len(ranking)
    if drop_with(0) <= max_drop or n == 0:
        return result(0)
    lo, hi, k = 0, None, 1
    while k <= n:
        if drop_with(k) <= max_drop:
            hi = k
            break
        lo = k
        k = n if k < n < k * 2 else k * 2
    if hi is None:
        return result(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if drop_with(mid) <= max_drop:
            hi = mid
        else:
            lo = mid
    return result(hi)


SENSITIVITY_IMAGES = 500  # of the search images, used to rank the layers


def mixed_precision(fp32_path: Path, batches: list[np.ndarray], search: tuple[np.ndarray, np.ndarray],
                    method: QuantMethod, max_drop: float, keep: Sequence[str] = (),
                    log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Rank the layers on the first ``SENSITIVITY_IMAGES`` search images, then
    ``search_float_layers`` on all of them (layers in ``keep`` stay in float
    whatever the search finds). Returns the record's figures, ``float_nodes``
    among them."""
    x, labels = search
    sens = layer_sensitivity(fp32_path, batches, x[:SENSITIVITY_IMAGES], labels[:SENSITIVITY_IMAGES], method)
    ranking = list(keep) + [n for n in sens.ranking if n not in keep]
    found = search_float_layers(fp32_path, batches, x, labels, ranking, max_drop, method, log)
    return mixed_figures(found, ranking, keep, max_drop, len(x), sens.ranked_with)


def mixed_figures(found: SearchResult, ranking: Sequence[str], keep: Sequence[str], max_drop: float,
                  n_search: int, ranked_with: str) -> dict[str, Any]:
    """The record's figures of a mixed-precision search (``float_nodes`` among them)."""
    keep_set = set(found.keep_float) | set(keep)
    return {"float_nodes": [n for n in ranking if n in keep_set], "max_drop": float(max_drop),
            "search_images": int(n_search), "search_top1_reference": found.reference_top1,
            "search_top1": found.top1, "search_drop": found.search_drop,
            "sensitivity_images": int(min(n_search, SENSITIVITY_IMAGES)), "sensitivity_ranked_with": ranked_with,
            "mixed_steps": found.steps, "within_budget": found.search_drop <= max_drop,
            "quantisable_layers": len(ranking)}

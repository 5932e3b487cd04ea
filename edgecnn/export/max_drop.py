"""Whether an INT8 export met ``--max-drop``: the verdict every INT8 export
with a budget carries (``export_model`` calls ``judge``); the chain that
goes on to a QAT fine-tune where PTQ and mixed precision miss it is
``edgecnn.train.max_drop``.

An export *meets* ``--max-drop D`` when its top-1 drop on held-out images is
at most ``D`` points and, for mixed precision, when at most
``MAX_FLOAT_SHARE`` of its quantisable layers stayed in float (beyond that the
"INT8" model is mostly a float model: the search can always meet a budget by
keeping every layer in float). The drop is the parity check's, on the test
images (``top1_drop``), where it measured top-1; else the search's, on
held-out training images (``search_drop``). A QAT step of the chain is judged
against the *original* FP32 model's top-1 on the same test images
(``chain_verdict``).
"""

from __future__ import annotations

from typing import Any, Optional

MAX_FLOAT_SHARE = 0.25  # mixed precision counts as INT8 while at most this share of the quantisable layers is float


def drop_of(metrics: dict[str, Any]) -> tuple[Optional[float], str]:
    """(the held-out top-1 drop in points, where it was measured)."""
    if metrics.get("top1_drop") is not None:
        return float(metrics["top1_drop"]), f"parity test images ({metrics.get('n_images', '?')})"
    if metrics.get("search_drop") is not None:
        return float(metrics["search_drop"]), f"search images ({metrics.get('search_images', '?')} training)"
    return None, "no top-1 measured"


def budget_verdict(metrics: dict[str, Any], max_drop: float, ok: bool) -> dict[str, Any]:
    """The ``max_drop_*`` figures of one INT8 export (see the module doc)."""
    drop, where = drop_of(metrics)
    floats = len(metrics.get("float_nodes") or [])
    layers = metrics.get("quantisable_layers")
    share = floats / layers if layers else (0.0 if floats == 0 else None)
    met = bool(ok and drop is not None and drop <= max_drop and share is not None and share <= MAX_FLOAT_SHARE)
    why = None
    if not met:
        why = ("not exported" if not ok else "no top-1 was measured" if drop is None
               else f"{drop:.2f} points > {max_drop:g}" if drop > max_drop
               else f"{floats} of {layers} layers kept in float (more than {MAX_FLOAT_SHARE:.0%})")
    return {"max_drop": float(max_drop), "max_drop_met": met, "max_drop_measured_on": where,
            "max_drop_float_share": share, **({"max_drop_missed": why} if why else {})}


def judged_drop(metrics: dict[str, Any]) -> Optional[float]:
    """The drop a record's ``--max-drop`` verdict weighed: against the FP32 model for a QAT step of a chain
    (``max_drop_reference_top1``), else ``drop_of``."""
    if metrics.get("max_drop_reference_top1") is not None and metrics.get("top1") is not None:
        return float(metrics["max_drop_reference_top1"]) - float(metrics["top1"])
    return drop_of(metrics)[0]


def attempt_of(metrics: dict[str, Any]) -> dict[str, Any]:
    """One path tried before a chain's QAT step, as its record says."""
    drop, where = drop_of(metrics)
    return {"method": metrics.get("method"), "drop": drop, "measured_on": where,
            "float_nodes": len(metrics.get("float_nodes") or []), "met": metrics.get("max_drop_met"),
            "seconds": metrics.get("export_s")}


def chain_verdict(metrics: dict[str, Any], chain: dict[str, Any], ok: bool) -> dict[str, Any]:
    """A QAT export's record in a ``--max-drop`` chain: its drop against the
    original FP32 model on the same test images, and the attempts before it."""
    m = dict(metrics)
    if chain.get("fp32_top1") is not None and m.get("top1") is not None:
        m["top1_drop"] = float(chain["fp32_top1"]) - float(m["top1"])
    verdict = budget_verdict(m, float(chain["max_drop"]), ok)
    return {**verdict, "max_drop_reference_top1": chain.get("fp32_top1"),
            "max_drop_attempts": list(chain.get("attempts") or []), "qat_seconds": chain.get("qat_seconds")}


def judge(metrics: dict[str, Any], precision: str, options: dict[str, Any], chain: Optional[dict[str, Any]],
          ok: bool) -> dict[str, Any]:
    """The ``max_drop_*`` figures for an export's record (none without a budget)."""
    if precision != "int8" or not (chain or options.get("max_drop") is not None):
        return {}
    return chain_verdict(metrics, chain, ok) if chain else budget_verdict(metrics, float(options["max_drop"]), ok)

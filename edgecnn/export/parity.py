"""Parity: does an exported artifact compute the same function as PyTorch?

The artifact and the PyTorch model (eval mode, float32) see the same N real
images (CIFAR-10 test images by default, resized to the model's input side and
normalised with its mean/std). Figures, all over the N x classes logits:

* ``max_abs_diff`` / ``mean_abs_diff``: absolute logit differences (logit units);
* ``cosine``: mean over images of the cosine similarity of the two logit vectors;
* ``top1_agreement``: percent of images where both pick the same class;
* ``top1`` / ``top1_reference``: accuracy (percent, 0-100, as in every record) of
  the artifact and of PyTorch against the labels, when labels are known;
  ``top1_drop`` = reference - artifact, in points.

Tolerances per precision (``TOLERANCES``), chosen from what each precision
can promise:

* fp32: ``max_abs_diff <= 1e-4 x max(1, largest |PyTorch logit|)``; the same
  arithmetic in another kernel order differs by rounding only, and rounding
  grows with the size of what is summed (measured 1e-7..5e-5 here for ONNX
  Runtime, LiteRT, OpenVINO, ExecuTorch and NCNN; MNN's Winograd / Strassen
  kernels reach 1.3e-4 on logits of magnitude ~10). The bound actually applied
  is recorded as ``max_abs_diff_bound``.
* fp16: ``top1_agreement >= 98 %`` and ``cosine >= 0.999``; half-precision
  weights move logits by ~1e-3 relative, so only near-ties may flip.
* bf16: ``top1_agreement >= 95 %`` and ``cosine >= 0.995``; bfloat16 keeps 8
  mantissa bits (relative rounding 2^-9, 8x coarser than fp16), accumulations
  stay float32 in the runtimes that offer it (OpenVINO on AVX512-BF16 / AMX).
  Chosen from the format, not measured: this machine has no bf16 arithmetic.
* int8 / int8_dynamic: ``top1_agreement >= 90 %`` and ``cosine >= 0.98``;
  8-bit activations move logits by a few percent; a broken quantisation
  (wrong scales, an FP16 overflow) gives agreement near chance (10 % on
  CIFAR-10). The accuracy drop against FP32 is recorded beside (the target is
  <= 2 points for a trained checkpoint); it is judged by the caller, because
  on a few hundred images one image is already a fraction of a point.

Random weights (no checkpoint): a random network's logits are near ties (a
1000-way random classifier moves its top-1 class at the slightest change), so
for fp16 / int8 its top-1 agreement is reported but not judged; cosine is
(``RANDOM_WEIGHTS_CRITERIA``). fp32 keeps its ``max_abs_diff`` bound.

Reference logits that are degenerate (largest magnitude below 1e-6, as with
random weights and untouched BatchNorm statistics) fail validation: every
difference would look tiny and mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

DEGENERATE_LOGITS = 1e-6

RANDOM_WEIGHTS_CRITERIA = ("max_abs_diff", "cosine")  # what is judged for random weights (see module doc)

TOLERANCES: dict[str, dict[str, float]] = {
    "fp32": {"max_abs_diff": 1e-4},
    "fp16": {"top1_agreement": 98.0, "cosine": 0.999},  # agreement in percent
    "bf16": {"top1_agreement": 95.0, "cosine": 0.995},
    "int8": {"top1_agreement": 90.0, "cosine": 0.98},
    "int8_dynamic": {"top1_agreement": 90.0, "cosine": 0.98},
}


@dataclass
class ParityResult:
    metrics: dict[str, Any]
    passed: bool
    failures: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        m = self.metrics
        txt = (f"max|d|={m['max_abs_diff']:.2e} mean|d|={m['mean_abs_diff']:.2e} cos={m['cosine']:.6f} "
               f"agree={m['top1_agreement']:.1f}%")
        if m.get("top1") is not None:
            txt += f" top1={m['top1']:.2f}% (torch {m['top1_reference']:.2f}%)"
        return txt


def compare_logits(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray | None = None,
                   precision: str = "fp32", criteria: tuple[str, ...] | None = None) -> ParityResult:
    """Parity figures and the verdict for ``precision`` (see module doc).

    ``criteria``: the tolerance keys to judge (default: all of the precision's);
    the ones judged are listed in ``metrics["judged_by"]``."""
    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    got = np.asarray(candidate, dtype=np.float64).reshape(len(candidate), -1)
    if ref.shape != got.shape:
        return ParityResult({"n_images": int(len(ref)), "max_abs_diff": float("inf"), "mean_abs_diff": float("inf"),
                             "cosine": 0.0, "top1_agreement": 0.0, "top1": None, "top1_reference": None,
                             "judged_by": ["output_shape"]},
                            False, [f"output shape {got.shape} differs from PyTorch's {ref.shape}"])
    diff = np.abs(ref - got)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    cos = np.where(norms > 0, (ref * got).sum(axis=1) / np.maximum(norms, 1e-300), 0.0)
    m: dict[str, Any] = {
        "n_images": int(len(ref)),
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
        "cosine": float(cos.mean()) if cos.size else 0.0,
        "top1_agreement": 100.0 * float((ref.argmax(1) == got.argmax(1)).mean()),
        "reference_logit_absmax": float(np.abs(ref).max()) if ref.size else 0.0,
        "top1": None,
        "top1_reference": None,
    }
    if not np.all(np.isfinite(got)):
        m["max_abs_diff"] = float("inf")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        m["top1"] = 100.0 * float((got.argmax(1) == labels).mean())
        m["top1_reference"] = 100.0 * float((ref.argmax(1) == labels).mean())
        m["top1_drop"] = m["top1_reference"] - m["top1"]
    failures = []
    if m["reference_logit_absmax"] < DEGENERATE_LOGITS:
        failures.append(f"PyTorch logits are degenerate (max |logit| {m['reference_logit_absmax']:.1e}); "
                        "recalibrate BatchNorm on real images or use a checkpoint")
    tolerances = {k: v for k, v in TOLERANCES.get(precision, TOLERANCES["int8"]).items()
                  if criteria is None or k in criteria}
    m["judged_by"] = sorted(tolerances)
    for key, bound in tolerances.items():
        value = m[key]
        if key == "max_abs_diff":  # relative to the logits' scale (see module doc)
            bound = bound * max(1.0, m["reference_logit_absmax"])
            m["max_abs_diff_bound"] = bound
        ok = value <= bound if key.endswith("diff") else value >= bound
        if not np.isfinite(value) or not ok:
            op = "<=" if key.endswith("diff") else ">="
            failures.append(f"{key} {value:.3g} not {op} {bound:.3g}")
    if m["max_abs_diff"] == float("inf"):
        failures.append("artifact produced non-finite logits")
    # records are strict JSON: a non-finite figure becomes None (the failure says why)
    for key, value in m.items():
        if isinstance(value, float) and not np.isfinite(value):
            m[key] = None
    return ParityResult(m, not failures, failures)


def torch_logits(model: Any, x: Any, batch: int = 64) -> np.ndarray:
    """PyTorch float32 logits of ``x`` (NCHW tensor), in eval mode without gradients."""
    import torch

    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            outs.append(model(x[i:i + batch]).float().cpu().numpy())
    return np.concatenate(outs).reshape(x.shape[0], -1)


def check_artifact(runtime: str, path: Any, x: np.ndarray | Iterable[np.ndarray], reference: np.ndarray,
                   labels: np.ndarray | None, precision: str, batch: int | None,
                   criteria: tuple[str, ...] | None = None,
                   runner_options: dict[str, Any] | None = None) -> ParityResult:
    """Run ``path`` on ``runtime`` over ``x`` (one NCHW array, or chunks of it so a
    large parity set never sits in memory as float32 at once), ``batch`` rows per
    call (None: a whole chunk at once, for dynamic-batch ONNX), and compare with
    ``reference`` logits. ``runner_options``: how to open the runner (the
    settings the exporter chose, e.g. OpenVINO's inference precision)."""
    from edgecnn.export._runners import open_runner, run_batches

    chunks = [x] if isinstance(x, np.ndarray) else x
    if runtime == "tensorrt" and batch is None:
        batch = 1  # the TensorRT runner fixes one shape of a dynamic engine
    runner = None
    outs = []
    try:
        for chunk in chunks:
            if runner is None:
                runner = open_runner(runtime, path, [batch or len(chunk), *chunk.shape[1:]], runner_options)
            outs.append(run_batches(runner, chunk, batch))
    finally:
        if runner is not None:
            runner.close()
    got = np.concatenate(outs) if outs else np.zeros((0, reference.shape[1]), np.float32)
    return compare_logits(reference, got, labels, precision, criteria)

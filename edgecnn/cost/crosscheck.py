"""Cross-check edgecnn's counts with fvcore and ``torch.utils.flop_counter``.

Conventions of the other counters (all converted to MACs here):

- fvcore ``FlopCountAnalysis`` traces with TorchScript and counts one fused
  multiply-add as one "flop", so its numbers are MACs. It counts conv,
  linear/addmm/matmul, batch_norm (2 per element with affine weights, as
  edgecnn), adaptive_avg_pool2d (1 per input element, as edgecnn) and a few
  norms/upsamplings; it silently ignores some ops (relu, cat, view, ...) and
  skips others with a warning (hardswish, hardsigmoid, add, mul, max_pool2d,
  dropout): those are 0 in its totals.
- torch's ``FlopCounterMode`` counts two FLOPs per multiply-add and only for
  convolutions and matrix products (and attention); its figure / 2 is MACs.

Conv and linear MACs must agree exactly with fvcore (and with torch / 2) for
every model fvcore can trace; everything else differs by convention, and each
differing row says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import warnings

import torch
from torch import nn

from edgecnn.cost.engine import CostReport, InputSize, count_cost, normalize_input_size
from edgecnn.errors import require

CONV_LINEAR_FVCORE = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")


@dataclass
class CrossCheckRow:
    name: str
    type: str
    op: str
    edgecnn_macs: int
    fvcore_macs: Optional[int]
    torch_macs: Optional[int]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CrossCheck:
    """Totals per counter (MACs), conv/linear agreement, and the rows that differ."""

    edgecnn: dict[str, int]
    fvcore: dict[str, Any]
    torch: dict[str, Any]
    rows: list[CrossCheckRow] = field(default_factory=list)  # only rows where a counter differs

    @property
    def conv_linear_agree(self) -> bool:
        """edgecnn's conv/linear MACs equal fvcore's and torch's (each where it ran)."""
        ours = self.edgecnn["conv_linear_macs"]
        return all(c.get("conv_linear_macs") in (None, ours) for c in (self.fvcore, self.torch))

    def to_dict(self) -> dict[str, Any]:
        return {"edgecnn": self.edgecnn, "fvcore": self.fvcore, "torch": self.torch,
                "conv_linear_agree": self.conv_linear_agree, "rows": [r.to_dict() for r in self.rows]}


def fvcore_counts(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """fvcore per-operator and per-module counts (MACs); ``error`` if it cannot trace."""
    require("fvcore", "all", "the fvcore cross-check")
    import logging

    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript deprecation and tracer warnings
            fa = FlopCountAnalysis(model, (x,)).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            by_op = dict(fa.by_operator())
        by_module = dict(fa.by_module())
        skipped = {k.replace("aten::", ""): int(v) for k, v in fa.unsupported_ops().items()}
    except Exception as exc:  # noqa: BLE001 - tracing failures are reported, not raised
        return {"error": f"fvcore could not trace the model: {str(exc).splitlines()[0] if str(exc) else exc!r}"}
    conv_linear = sum(int(v) for k, v in by_op.items() if k in CONV_LINEAR_FVCORE)
    return {"conv_linear_macs": conv_linear, "other_macs": int(sum(by_op.values())) - conv_linear,
            "by_operator": {k: int(v) for k, v in by_op.items()}, "skipped_ops": skipped,
            "_by_module": {k: int(v) for k, v in by_module.items()}}


def torch_counts(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """``torch.utils.flop_counter.FlopCounterMode`` counts, converted to MACs (FLOPs / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(x)
    except Exception as exc:  # noqa: BLE001
        return {"error": f"torch FlopCounterMode failed: {str(exc).splitlines()[0] if str(exc) else exc!r}"}
    counts = fc.get_flop_counts()
    flops = int(fc.get_total_flops())
    by_module: dict[str, int] = {}
    root = type(model).__name__
    for key, ops in counts.items():
        if key == "Global":
            continue
        name = key[len(root) + 1:] if key.startswith(root + ".") else ("" if key == root else key)
        by_module[name] = int(sum(ops.values())) // 2
    by_op = {str(op).split(".")[-1]: int(v) // 2 for op, v in counts.get("Global", {}).items()}
    return {"conv_linear_macs": flops // 2, "flops": flops, "by_operator": by_op, "_by_module": by_module}


def _reason(op: str, ours: int, fv: Optional[int], tc: Optional[int], fvcore: dict[str, Any]) -> str:
    parts = []
    skipped = fvcore.get("skipped_ops", {})
    if fv is not None and fv != ours:
        if op in ("conv2d", "conv1d", "conv3d", "linear"):
            parts.append("fvcore disagrees on a conv/linear count (a bug in one of the counters)")
        elif fv == 0 and any(k.rstrip("_") == op for k in skipped):
            parts.append(f"fvcore skips {op} (listed in its unsupported ops)")
        elif fv == 0:
            parts.append(f"fvcore ignores {op} (its ignore list)")
        else:
            parts.append(f"fvcore counts {op} differently ({fv} vs {ours})")
    if tc is not None and tc != ours:
        if op in ("conv2d", "conv1d", "conv3d", "linear"):
            parts.append("torch FlopCounterMode/2 disagrees on a conv/linear count")
        else:
            parts.append("torch FlopCounterMode counts only convolutions and matrix products")
    return "; ".join(parts)


def cross_check(model: nn.Module, input_size: InputSize, report: CostReport | None = None,
                counters: tuple[str, ...] = ("fvcore", "torch")) -> CrossCheck:
    """Count ``model`` with edgecnn, fvcore and torch's flop counter (MACs) and
    compare totals and per-layer figures of every leaf-module row."""
    report = report or count_cost(model, input_size)
    shape = normalize_input_size(model, input_size)
    first = next(iter(model.parameters()), None)
    x = torch.randn(1, *shape, device=first.device if first is not None else "cpu")
    was_training = model.training
    model.eval()
    try:
        fv = fvcore_counts(model, x) if "fvcore" in counters else {"error": "not run"}
        tc = torch_counts(model, x) if "torch" in counters else {"error": "not run"}
    finally:
        model.train(was_training)
    fv_mod = fv.pop("_by_module", None)
    tc_mod = tc.pop("_by_module", None)
    rows = []
    module_names = {n for n, _ in model.named_modules()}
    for r in report.layers:
        if r.name not in module_names:
            continue  # functional rows are compared per operator (by_operator), not per module
        ours = r.macs // report.batch
        fv_v = fv_mod.get(r.name, 0) if fv_mod is not None else None
        tc_v = tc_mod.get(r.name, 0) if tc_mod is not None else None
        if fv_v not in (None, ours) or tc_v not in (None, ours):
            rows.append(CrossCheckRow(r.name, r.type, r.op, ours, fv_v, tc_v, _reason(r.op, ours, fv_v, tc_v, fv)))
    t = report.totals
    b = report.batch
    ours = {"conv_linear_macs": t["conv_linear_macs"] // b, "other_macs": t["other_macs"] // b,
            "total_macs": t["total_macs"] // b}
    return CrossCheck(edgecnn=ours, fvcore=fv, torch=tc, rows=rows)

"""The rows and totals of a cost table, without torch: what the engine
(``edgecnn.cost.engine``), the ONNX and TFLite graph counters and the zoo's
generated table (``edgecnn.cost.zoo_table``) all produce."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence, Union

from edgecnn.errors import InvalidOptionError

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}

InputSize = Union[int, Sequence[int]]


@dataclass
class LayerCost:
    """One row: a leaf module's op, or a functional op in a container's forward.

    ``macs`` for the whole batch; shapes are per sample (no batch dim);
    bytes at the report's precision: ``bytes_read`` = weights/state + input
    activations, ``bytes_written`` = output activations; ``arithmetic_intensity``
    = macs / (bytes_read + bytes_written) in MACs per byte.
    """

    name: str
    type: str
    op: str
    category: str  # conv | linear | other
    input_shape: list[int]
    output_shape: list[int]
    kernel: Optional[list[int]]
    stride: Optional[list[int]]
    groups: Optional[int]
    macs: int
    params: int
    bytes_read: int
    bytes_written: int
    arithmetic_intensity: float
    in_channels: Optional[int] = None
    out_channels: Optional[int] = None
    node: Optional[str] = None  # the node's own name in a model file (ONNX node, TFLite output tensor)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["node"] is None:  # rows of PyTorch modules have no file node
            del d["node"]
        return d


@dataclass
class UnsupportedOp:
    """An op the formula table does not know, where it ran, and how often."""

    op: str
    layers: list[str]
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CostReport:
    layers: list[LayerCost]
    totals: dict[str, Any]
    unsupported: list[UnsupportedOp]
    input_shape: list[int]  # one sample, [C, H, W]
    precision: str
    batch: int
    conventions: str = field(default="MACs: one multiply-accumulate = 1; conv/linear bias adds not counted; "
                                     "other ops in MAC-equivalents (see edgecnn.cost.formulas)")

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": self.input_shape, "precision": self.precision, "batch": self.batch,
                "totals": self.totals, "unsupported": [u.to_dict() for u in self.unsupported],
                "layers": [r.to_dict() for r in self.layers], "conventions": self.conventions}

    def to_record(self, model_name: str, *, device: str = "local", dataset: str | None = None,
                  variant: str | None = None, include_layers: bool = True):
        """An analytic ``cost`` Record (``metrics``: macs = conv/linear MACs,
        other_macs, params, bytes, bytes_read, bytes_written, arithmetic_intensity,
        unsupported_ops, layers)."""
        from edgecnn.records import Record, environment

        t = self.totals
        metrics = {
            "macs": t["conv_linear_macs"], "other_macs": t["other_macs"], "total_macs": t["total_macs"],
            "params": t["params"], "bytes": t["bytes"], "bytes_read": t["bytes_read"],
            "bytes_written": t["bytes_written"], "arithmetic_intensity": t["arithmetic_intensity"],
            "unsupported_ops": [u.to_dict() for u in self.unsupported],
        }
        if include_layers:
            metrics["layers"] = [r.to_dict() for r in self.layers]
        status = "ok"
        error = None
        if self.unsupported:
            error = "ops without a cost formula: " + ", ".join(u.op for u in self.unsupported)
        return Record(kind="cost", model=model_name, status=status, source="analytic", device=device,
                      precision=self.precision, batch=self.batch, input_shape=self.input_shape,
                      dataset=dataset, variant=variant, error=error, metrics=metrics, env=environment())


def bytes_per_element(precision: str) -> int:
    try:
        return BYTES_PER_ELEMENT[precision]
    except KeyError:
        raise InvalidOptionError(f"unknown precision {precision!r}; choose one of "
                                 f"{', '.join(BYTES_PER_ELEMENT)}") from None


def check_batch(batch: int) -> None:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidOptionError(f"batch must be a positive integer, got {batch!r}")


def input_size_dims(input_size: InputSize) -> list[int]:
    """``input_size`` as a list of 1 to 3 positive ints (S, [H, W] or [C, H, W]);
    InvalidOptionError otherwise."""
    if isinstance(input_size, bool):
        raise InvalidOptionError(f"input size must be a positive integer, got {input_size!r}")
    dims = [input_size] if isinstance(input_size, int) else list(input_size)
    if not dims or len(dims) > 3 or any(not isinstance(d, int) or isinstance(d, bool) or d <= 0 for d in dims):
        raise InvalidOptionError(f"input size must be 1 to 3 positive integers (S, HxW or CxHxW), got {input_size!r}")
    return dims


def cost_totals(rows: list[LayerCost], params: int, bpe: int) -> dict[str, Any]:
    """The totals of ``rows`` (``params``: the parameters of the layers that ran, each counted once)."""
    conv_linear = sum(r.macs for r in rows if r.category in ("conv", "linear"))
    other = sum(r.macs for r in rows if r.category not in ("conv", "linear"))
    b_read = sum(r.bytes_read for r in rows)
    b_written = sum(r.bytes_written for r in rows)
    total = b_read + b_written
    return {
        "conv_linear_macs": int(conv_linear),
        "other_macs": int(other),
        "total_macs": int(conv_linear + other),
        "params": int(params),
        "bytes_read": int(b_read),
        "bytes_written": int(b_written),
        "bytes": int(total),
        "arithmetic_intensity": round((conv_linear + other) / total, 4) if total else 0.0,
        "conv_linear_arithmetic_intensity": round(
            conv_linear / max(1, sum(r.bytes_read + r.bytes_written for r in rows
                                     if r.category in ("conv", "linear"))), 4),
        "layers": len(rows),
        "bytes_per_element": bpe,
    }


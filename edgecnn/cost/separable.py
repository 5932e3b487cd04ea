"""The depthwise-separable check (Howard et al., 2017, section 3.1).

A depthwise ``Dk x Dk`` conv on M channels followed by a pointwise 1x1 conv
to N channels costs ``Dk^2*M*Df^2 + M*N*Df^2`` MACs; the standard ``Dk x Dk``
conv from M to N channels it replaces costs ``Dk^2*M*N*Df^2``; the ratio is
``1/N + 1/Dk^2``.

Which Df: the paper assumes stride 1 and "same" padding, so input and output
maps have the same side. With stride s both the depthwise conv and the
standard conv it replaces produce a map of side ``Df_out = (Df_in + 2p - Dk) // s + 1``
and the pointwise conv runs on that map, so every term above uses **Df_out**
(the depthwise conv's output side, ``df`` below; ``df_in`` is kept too).
With that choice the ratio is exactly ``1/N + 1/Dk^2`` at any stride.

``counted_ratio`` = (MACs of the real depthwise row + the real pointwise row,
from the cost table) / (standard conv MACs for the same M, N, Dk, stride
and output map). ``analytic_ratio`` = ``1/N + 1/Dk^2``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from edgecnn.cost.layer_class import layer_class
from edgecnn.cost.rows import CostReport, InputSize, LayerCost
from edgecnn.errors import InvalidOptionError

if TYPE_CHECKING:  # torch loads where a model is counted, not where a cost table's pairs are read
    from torch import nn


@dataclass
class SeparablePair:
    depthwise: str  # layer (module) name of the depthwise conv
    pointwise: str  # layer name of the pointwise conv that consumes it
    m: int  # input channels of the depthwise conv
    n: int  # output channels of the pointwise conv
    dk: int  # depthwise kernel side
    df: int  # side of the map both convs produce (depthwise output; = input side at stride 1)
    stride: int
    df_in: int  # side of the depthwise conv's input map
    macs_depthwise: int
    macs_pointwise: int
    macs_separable: int  # counted: depthwise + pointwise rows
    macs_standard: int  # Dk^2 * M * N * Df_out_h * Df_out_w (per sample)
    analytic_ratio: float  # 1/N + 1/Dk^2
    counted_ratio: float  # macs_separable / macs_standard
    depth_multiplier: int = 1

    @property
    def matches(self) -> bool:
        """Counted ratio equals the formula to 4 decimals (|difference| < 5e-5; comparing
        rounded values would split 0.07125 and 0.07125000000000001)."""
        return abs(self.counted_ratio - self.analytic_ratio) < 5e-5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_record(self, model_name: str, *, input_shape: list[int] | None = None, device: str = "local",
                  variant: str | None = None):
        """An analytic ``separable`` Record; ``variant`` defaults to the depthwise layer name."""
        from edgecnn.records import Record, environment

        metrics = {"m": self.m, "n": self.n, "dk": self.dk, "df": self.df, "df_in": self.df_in,
                   "stride": self.stride, "depthwise_layer": self.depthwise, "pointwise_layer": self.pointwise,
                   "analytic_ratio": self.analytic_ratio, "counted_ratio": self.counted_ratio,
                   "macs_separable": self.macs_separable, "macs_standard": self.macs_standard,
                   "macs_depthwise": self.macs_depthwise, "macs_pointwise": self.macs_pointwise,
                   "depth_multiplier": self.depth_multiplier}
        return Record(kind="separable", model=model_name, source="analytic", device=device,
                      input_shape=input_shape, variant=variant or self.depthwise, metrics=metrics,
                      env=environment())


def layer_variant(m: int, n: int, dk: int, df: int, stride: int = 1) -> str:
    return f"M={m},N={n},Dk={dk},Df={df},stride={stride}"


def _is_depthwise(r: LayerCost) -> bool:
    """A depthwise convolution with a spatial kernel (a 1x1 depthwise conv is no separable block's first half)."""
    return (layer_class(r) == "depthwise" and r.out_channels is not None and r.out_channels % r.groups == 0
            and r.kernel is not None and len(r.kernel) == 2 and max(r.kernel) > 1)


def _is_pointwise(r: LayerCost) -> bool:
    """A 1x1 dense convolution at stride 1 (the second half of a separable block)."""
    return layer_class(r) == "pointwise" and r.stride is not None and all(s == 1 for s in r.stride)


def pairs_from_report(report: CostReport) -> list[SeparablePair]:
    """Every depthwise conv whose output is next consumed by a pointwise conv.

    After a depthwise row, rows are scanned in execution order: non-conv rows
    (BN, activations, SE pooling and gating) are skipped, and so are convs whose
    input is not the depthwise output's shape (the 1x1 convs inside an SE block
    run on a 1x1 map); the first conv on a map of that shape must be a 1x1
    stride-1 conv for the pair to count.
    """
    rows = report.layers
    pairs: list[SeparablePair] = []
    for i, dw in enumerate(rows):
        if not _is_depthwise(dw):
            continue
        for pw in rows[i + 1:]:
            if pw.category != "conv" or pw.input_shape != dw.output_shape:
                continue
            if _is_pointwise(pw):
                pairs.append(_pair(dw, pw, report.batch))
            break
    return pairs


def _pair(dw: LayerCost, pw: LayerCost, batch: int) -> SeparablePair:
    m = int(dw.in_channels or 0)
    n = int(pw.out_channels or 0)
    dk = int(dw.kernel[0])  # type: ignore[index]
    kh, kw = dw.kernel  # type: ignore[misc]
    h_out, w_out = dw.output_shape[-2], dw.output_shape[-1]
    standard = kh * kw * m * n * h_out * w_out
    counted = (dw.macs + pw.macs) // batch
    return SeparablePair(
        depthwise=dw.name, pointwise=pw.name, m=m, n=n, dk=dk, df=int(h_out), stride=int(dw.stride[0]),  # type: ignore[index]
        df_in=int(dw.input_shape[-2]), macs_depthwise=dw.macs // batch, macs_pointwise=pw.macs // batch,
        macs_separable=int(counted), macs_standard=int(standard),
        analytic_ratio=1.0 / n + 1.0 / (kh * kw), counted_ratio=counted / standard if standard else float("nan"),
        depth_multiplier=int((dw.out_channels or m) // max(1, m)),
    )


def separable_pairs(model: nn.Module, input_size: InputSize) -> list[SeparablePair]:
    """Count ``model`` at ``input_size`` and return its depthwise-separable pairs."""
    from edgecnn.cost.engine import count_cost

    return pairs_from_report(count_cost(model, input_size))


def separable_pairs_file(path: str, input_size: InputSize | None = None) -> list[SeparablePair]:
    """The same check on an ONNX or TFLite file: its rows (``count_file``) go
    through ``pairs_from_report`` unchanged. Layer names are the PyTorch module
    names recovered from the file (see ``edgecnn.cost.onnx_graph``)."""
    from edgecnn.cost.files import count_file

    return pairs_from_report(count_file(path, input_size))


def separable_layer_check(m: int, n: int, dk: int, df: int, stride: int = 1) -> SeparablePair:
    """The separable check for one layer shape: M input channels, N output
    channels, a Dk x Dk kernel, a Df x Df **input** map, stride, "same"
    padding ``Dk // 2``. Real layers are built on the ``meta`` device (shapes
    only, no arithmetic) and counted by the same engine as whole models; the
    standard conv is counted the same way."""
    for label, v in (("M", m), ("N", n), ("Dk", dk), ("Df", df), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidOptionError(f"{label} must be a positive integer, got {v!r}")
    from torch import nn

    from edgecnn.cost.engine import count_cost

    pad = dk // 2
    sep = nn.Sequential(nn.Conv2d(m, m, dk, stride, pad, groups=m, bias=False, device="meta"),
                        nn.Conv2d(m, n, 1, bias=False, device="meta"))
    report = count_cost(sep, (m, df, df))
    pairs = pairs_from_report(report)
    if len(pairs) != 1:  # pragma: no cover - the two layers above always pair
        raise RuntimeError(f"expected one separable pair, found {len(pairs)}")
    std = count_cost(nn.Conv2d(m, n, dk, stride, pad, bias=False, device="meta"), (m, df, df))
    pair = pairs[0]
    pair.depthwise, pair.pointwise = "depthwise", "pointwise"
    if std.totals["conv_linear_macs"] != pair.macs_standard:  # pragma: no cover - engine vs closed form
        raise RuntimeError(f"counted standard conv {std.totals['conv_linear_macs']} MACs != closed form "
                           f"{pair.macs_standard}")
    return pair

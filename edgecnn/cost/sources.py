"""The cost of any model source (``edgecnn.models.sources``): PyTorch sources are
traced (``count_cost``), ONNX and TFLite files read (``count_file``), with the
same rows, units, totals and ``unsupported`` list either way."""

from __future__ import annotations

from typing import Any

from edgecnn.cost.engine import CostReport


def count_source(src: Any, precision: str = "fp32", batch: int = 1) -> CostReport:
    """``src``: a ``ModelSource``. Zoo models are counted on the meta device
    (shapes only, the same table, faster); other PyTorch sources on their module."""
    from edgecnn.cost.engine import count_cost

    if not src.is_pytorch:
        from edgecnn.cost.files import count_file

        return count_file(src.path, input_size=src.input_size, precision=precision, batch=batch)
    if src.kind == "zoo":
        from edgecnn.cost.engine import count_model

        return count_model(src.id, src.input_size, precision, batch=batch)
    return count_cost(src.module(), src.input_shape, precision=precision, batch=batch)


def source_fields(src: Any) -> dict[str, Any]:
    """What records say about where a model came from (``model_source``, ``model_spec``)."""
    out: dict[str, Any] = {"model_source": src.label}
    if src.kind != "zoo":
        out["model_spec"] = src.spec
    return out

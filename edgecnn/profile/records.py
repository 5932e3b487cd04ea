"""Record templates shared by the profile steps (local, predicted, remote)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Optional

from edgecnn.export.artifacts import runtime_format
from edgecnn.records import Record, environment


def torch_variant(accel: str, channels_last: bool = False, cuda_graphs: bool = False,
                  compile_mode: Optional[str] = None) -> Optional[str]:
    """The variant of a torch measurement: the accelerator, then the memory
    format, CUDA graphs and torch.compile (``compile``, or ``compile_<mode>``
    for a mode other than the default)."""
    parts = [] if accel == "cpu" else [accel]
    parts += [flag for flag, on in (("channels_last", channels_last), ("cuda_graphs", cuda_graphs)) if on]
    if compile_mode is not None:
        parts.append("compile" if compile_mode == "default" else "compile_" + compile_mode.replace("-", "_"))
    return "+".join(parts) or None


def measurement_variant(opts: Any, runtime: Optional[str] = None) -> Optional[str]:
    """What sets a measurement apart beyond (runtime, precision, batch): the
    accelerator, and the torch runner's memory format / CUDA graphs / compile."""
    if runtime == "torch":
        return torch_variant(opts.accel, opts.channels_last, opts.cuda_graphs, getattr(opts, "compile", None))
    return None if opts.accel == "cpu" else opts.accel


def template(kind: str, model: str, rt: str, device: str, opts: Any, shape: list[int], source: str = "measured",
             variant: Optional[str] = None) -> Record:
    """The identity of a record a step is about to write (status ok, no figures)."""
    return Record(kind=kind, model=model, status="ok", source=source, device=device, runtime=rt,
                  format=runtime_format(rt), precision=opts.precision, batch=opts.batch, input_shape=shape,
                  variant=variant if variant is not None else measurement_variant(opts, rt))


def with_metrics(tmpl: Record, metrics: dict[str, Any], env: Optional[dict[str, Any]] = None, **kw: Any) -> Record:
    """A new record: ``tmpl``'s identity, these figures, this machine's environment."""
    d = {**asdict(tmpl), **kw, "metrics": dict(metrics)}
    d.pop("created_at", None)
    d.pop("env", None)
    return Record(**d, env=environment(env))


def fail(tmpl: Record, status: str, error: str, **metrics: Any) -> Record:
    return with_metrics(tmpl, metrics, status=status, error=error)


def published_accuracy(name: str, input_size: int, num_classes: int, device: str) -> Optional[Record]:
    """The model card's published ImageNet top-1 as an ``accuracy`` record
    (``source="published"``, citation in ``reference``), so the Pareto front has
    an accuracy axis before anything is trained here; None when the card quotes
    none for this input size and class count. A measured accuracy record of
    the same model always takes precedence in the report."""
    from edgecnn.models import get_card

    ref = get_card(name).reference(input_size, num_classes)
    if ref is None or ref.top1 is None:
        return None
    return Record(kind="accuracy", model=name, source="published", device=device, runtime="torch",
                  format="pytorch", precision="fp32", input_shape=[3, input_size, input_size], dataset="imagenet",
                  variant="published", metrics={"top1": ref.top1, "reference": ref.top1_source,
                                                "split": "val", "num_classes": num_classes,
                                                "weights": ref.top1_weights or None},
                  env=environment())


def input_size_of(model: str, opts: Any) -> int:
    """The input side ``model`` (a zoo name or any model source) is profiled at."""
    from edgecnn.models.sources import resolve_source

    return resolve_source(model, input_size=opts.input_size).input_size


def unreachable_record(device: Any, model: str, rt: str, opts: Any, error: str) -> Record:
    """The record of a measurement that could not be made: the device did not answer."""
    size = input_size_of(model, opts)
    tmpl = template("latency", model, rt, device.name, opts, [3, size, size])
    return fail(tmpl, "unreachable", error)

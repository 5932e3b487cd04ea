"""Export formats and precisions as data, and what every exporter receives.

A format is one ``ExportFormat`` entry in ``EXPORTERS`` (name, file suffix,
precisions it can build, the runtime that runs its artifact, the extra to
install, the options it takes). ``export_model`` checks a request against this
table before doing any work, so a precision or option a format cannot take is
refused up front with one line.
"""

from __future__ import annotations

import json

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgecnn.errors import InvalidOptionError
from edgecnn.registry import Registry

# What each precision means; the exporter modules say how they build it.
PRECISIONS: Registry[str] = Registry("precision")
PRECISIONS.add("fp32", "float32 weights and activations")
PRECISIONS.add("fp16", "float16 weights (TFLite: dequantised to float32 at load; TensorRT: FP16 kernels)")
PRECISIONS.add("int8", "full-integer INT8 (static w8a8) calibrated on real training images")
PRECISIONS.add("int8_dynamic", "TFLite dynamic-range INT8: int8 weights, activations quantised at run time")
PRECISIONS.add("bf16", "bfloat16 compute where the CPU has it (OpenVINO: AVX512-BF16 / AMX); the record names "
                       "the precision that ran (inference_precision)")


@dataclass
class ExportContext:
    """Everything an exporter needs, resolved by ``export_model``.

    ``sample`` is one normalised NCHW float32 batch (the export shape);
    ``calibration`` a callable returning normalised NCHW float32 calibration
    batches (real training images) for INT8.
    """

    model: Any  # torch.nn.Module in eval mode, weights loaded
    model_name: str
    input_size: int
    batch: int
    precision: str
    out_path: Path  # the artifact to write (atomically)
    sample: Any  # torch.Tensor
    calibration: Callable[[], list[np.ndarray]]
    metadata: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    # real training images (not the calibration ones) and labels for a mixed-precision search: (NCHW, labels)
    search: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None

    def search_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Normalised NCHW float32 images and their labels for an accuracy search (``max_drop``)."""
        if self.search is None:
            raise InvalidOptionError("a top-1 budget (--max-drop) needs labelled images of the model's classes")
        return self.search()

    def calibration_batches(self) -> list[np.ndarray]:
        """Calibration arrays in batches of ``batch`` for a static-batch model
        (with the ``dynamic_batch`` option: as they come, any batch)."""
        arrays = self.calibration()
        if self.options.get("dynamic_batch"):
            return arrays
        flat = np.concatenate(arrays) if arrays else np.zeros((0,))
        b = self.batch
        return [flat[i:i + b] for i in range(0, len(flat) - b + 1, b)]


@dataclass
class ExportOutput:
    """What an exporter hands back: the artifact, how to run it, extra figures."""

    path: Path
    runtime: str  # the runner that validates it: onnxruntime | litert | tensorrt | openvino | ...
    run_path: Path | None = None  # file the runtime loads, when not ``path`` (TensorRT prepare-only)
    extra_files: list[Path] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # checks of the artifact itself (fail validation)
    validate_as: str | None = None  # precision whose tolerances apply to what runs here (default: the export's)
    # built for a runtime this machine cannot run (a TensorRT-ready ONNX without TensorRT): the record's status
    # is ``prepared`` and its parity figures are labelled with ``runtime``, the runtime that produced them
    prepared: bool = False
    runner_options: dict[str, Any] = field(default_factory=dict)  # how the parity check opens the runner


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str
    precisions: tuple[str, ...]
    runtime: str
    extra: str | None
    options: dict[str, Any]  # option name -> default
    builder: Callable[[ExportContext], ExportOutput]
    description: str = ""
    builds_on: tuple[str, ...] = ()
    # raise before any work (missing runtime, an option value the format cannot take): (precision, options)
    precheck: Callable[[str, dict[str, Any]], None] | None = None

    def check(self, precision: str, options: dict[str, Any]) -> dict[str, Any]:
        """Refuse a precision or option this format cannot take; return options with defaults."""
        if precision not in PRECISIONS:
            close = PRECISIONS.suggest(precision)
            hint = f"; did you mean: {', '.join(close)}?" if close else ""
            raise InvalidOptionError(f"unknown precision {precision!r}{hint} (choose one of "
                                     f"{', '.join(PRECISIONS.list())}; "
                                     "`edgecnn formats` shows which format does which)")
        if precision not in self.precisions:
            others = [f.name for _, f in EXPORTERS.items() if precision in f.precisions]
            hint = f"; {precision} is available with --to {', '.join(others)}" if others else ""
            raise InvalidOptionError(
                f"{self.name} export cannot do precision {precision!r} (it does {', '.join(self.precisions)}){hint}")
        unknown = sorted(k for k, v in options.items() if k not in self.options and v is not None)
        if unknown:
            raise InvalidOptionError(
                f"{self.name} export does not take option(s) {unknown}; "
                f"it takes: {', '.join(sorted(self.options)) or 'none'}")
        resolved = dict(self.options)
        resolved.update({k: v for k, v in options.items() if k in self.options and v is not None})
        return resolved


EXPORTERS: Registry[ExportFormat] = Registry("format")  # listed by `edgecnn formats`


def register_format(fmt: ExportFormat) -> ExportFormat:
    return EXPORTERS.add(fmt.name, fmt)


def artifact_stem(model_name: str, input_size: int, precision: str, batch: int = 1, weights: str | None = None) -> str:
    """``resnet18-32-fp32`` (``-b8`` added for a static batch other than 1; named
    weights as ``resnet18.IMAGENET1K_V1-224-fp32``): the file name shared by
    every format, so artifacts of different batch sizes or weights never
    overwrite each other. A name that is no file name (a factory's
    ``pkg.mod:fn(width=2)``) has its other characters replaced by ``_``."""
    from edgecnn.records import safe_name

    name = f"{model_name}.{weights}" if weights else model_name
    return f"{safe_name(name)}-{input_size}-{precision}" + (f"-b{batch}" if batch != 1 else "")


def embed_metadata(model_proto: Any, metadata: dict[str, Any]) -> None:
    """Store ``metadata`` in ``metadata_props`` (strings; non-strings JSON-encoded)."""
    del model_proto.metadata_props[:]
    for key, value in metadata.items():
        entry = model_proto.metadata_props.add()
        entry.key = str(key)
        entry.value = value if isinstance(value, str) else json.dumps(value)
    model_proto.producer_name = "edgecnn"
    model_proto.doc_string = f"{metadata.get('model')} exported by edgecnn {metadata.get('edgecnn_version')}"

"""What evaluating a checkpoint, an artifact and a pretrained model share: the
result (and the ``accuracy`` record it becomes), the artifact formats, the
class check, the runner an artifact is opened with and its static batch, the
side ImageFolder images are cached at."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgecnn.errors import InvalidOptionError


FORMATS = {".pt": "pytorch", ".pth": "pytorch", ".onnx": "onnx", ".tflite": "tflite", ".engine": "tensorrt",
           ".plan": "tensorrt", ".xml": "openvino", ".pte": "executorch", ".param": "ncnn", ".mnn": "mnn"}


RUNTIME_OF = {"pytorch": "torch", "onnx": "onnxruntime", "tflite": "litert", "tensorrt": "tensorrt",
              "openvino": "openvino", "executorch": "executorch", "ncnn": "ncnn", "mnn": "mnn"}


@dataclass
class EvalResult:
    model: str
    format: str
    precision: str
    dataset: str
    input_size: int
    metrics: dict[str, Any]
    classes: list[str]
    seconds: float
    target: str
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, device: str = "local"):
        from edgecnn.records import Record, environment

        return Record(kind="accuracy", model=self.model, format=self.format, precision=self.precision,
                      runtime=RUNTIME_OF[self.format], dataset=self.dataset, device=device,
                      input_shape=[3, self.input_size, self.input_size], batch=self.extra.get("batch", 1),
                      variant=self.extra.get("variant"),
                      metrics={**self.metrics, "target": self.target, "eval_s": self.seconds,
                               **({"model_source": self.extra["model_source"]} if self.extra.get("model_source")
                                  else {})},
                      env=environment())


def cache_side(dataset: str, input_size: int) -> int | None:
    """The square side ImageFolder images are stored at for a model of
    ``input_size``: None (native) for CIFAR and CIFAR-size models; for
    ImageNet-size ones the classic resize-256-for-224 ratio, so the centre
    crop of ``eval_crop`` 0.875 lands on ``input_size``."""
    from edgecnn.models._registry import is_cifar_size
    from edgecnn.train.recipes import get_recipe

    if dataset != "imagefolder" or is_cifar_size(input_size):
        return None
    return int(round(input_size / get_recipe("default").eval_crop))


def check_classes(where: str, model_classes: list[str] | None, ds_name: str, data_classes: list[str]) -> None:
    """One line when the model's classes are not the dataset's (count, then names and order)."""
    if not model_classes:
        return
    if len(model_classes) != len(data_classes):
        raise InvalidOptionError(f"{where} has {len(model_classes)} classes, {ds_name} has {len(data_classes)}")
    if list(model_classes) != list(data_classes):
        i = next(i for i, (a, b) in enumerate(zip(model_classes, data_classes)) if a != b)
        raise InvalidOptionError(f"{where} was trained on other classes than {ds_name}: class {i} is "
                                 f"{model_classes[i]!r} in the model, {data_classes[i]!r} in the data")


def fixed_batch(runner) -> int | None:
    """The batch an artifact with a static batch dimension needs (None: dynamic)."""
    inner = getattr(runner, "runner", runner)  # the quantised-I/O wrapper keeps the runner inside
    shape = getattr(inner, "input_shape", None)
    if shape and shape[0] is not None and int(shape[0]) > 0:
        return int(shape[0])
    return None


def open_runner(fmt: str, path: Path, input_shape: list[int]):
    """A loaded runner for the artifact (``infer``, ``close``), as the export parity
    check opens it; ``input_shape`` fixes a dynamic TensorRT input."""
    from edgecnn.export._runners import open_runner as _open

    return _open(RUNTIME_OF[fmt], path, input_shape)
